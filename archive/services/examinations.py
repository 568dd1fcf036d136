"""The examination of each stored version of a document, after the upload's answer (the
``examine`` job): its format (siegfried/PRONOM, OFD by the archive's rule), whether it is
encrypted or needs a password, where it stands in the format policy (``forms/formats.json``)
and the signatures and seals inside it, verified offline. Recorded once per version; derived
data that ``archive examine`` makes again."""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive.casefile.formats import OFD_MIME, identify, judge, protection, suffix_for
from archive.casefile.ofdsign import ofd_signatures
from archive.casefile.signatures import PASSED, load_roots, pdf_signatures
from archive.clock import now as server_now
from archive.db import insert_once
from archive.jobs import enqueue
from archive.models import Document, DocumentVersion, Examination
from archive.storage.base import ObjectStore
from forms import load_format_policy

log = logging.getLogger(__name__)
PROTECTION = {"": "", "encrypted": "已加密（可打开，有权限限制）", "password": "受密码保护（无法打开）"}
POLICY = {"master": "符合格式策略（执法文书正本）", "evidence": "证据材料（任何格式均保存）",
          "outside": "不符合格式策略"}


@dataclass(frozen=True)
class ExamineSettings:
    """The trust roots of PDF signatures (``ARCHIVE_TRUST_ROOTS``) and the format policy file."""

    trust_roots: str = ""
    policy_path: str = ""


def settings_of(cfg: dict) -> ExamineSettings:
    return ExamineSettings(cfg.get("TRUST_ROOTS", "") or "", cfg.get("FORMAT_POLICY", "") or "")


def enqueue_for(session: Session, doc: Document) -> None:
    """Queue the examination of the document's current version (in the caller's transaction)."""
    enqueue(session, "examine", doc.id, {"version_id": doc.version_id})


def of_version(session: Session, doc_id: str, version_id: str) -> Examination | None:
    return session.scalar(select(Examination).where(Examination.document_id == doc_id,
                                                    Examination.version_id == version_id))


def examine(sessions: sessionmaker[Session], store: ObjectStore, es: ExamineSettings, doc_id: str,
            version_id: str | None = None) -> Examination | None:
    """Examine one version (the current one when ``version_id`` is None), once: a second run
    finds the row. A store that fails raises (the job is retried)."""
    with sessions() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            return None
        version_id = version_id or doc.version_id
        done = of_version(s, doc_id, version_id)
        if done is not None:
            return done
        if version_id == doc.version_id:
            key, filename = doc.object_key, doc.filename
        else:
            old = s.scalar(select(DocumentVersion).where(DocumentVersion.document_id == doc_id,
                                                         DocumentVersion.version_id == version_id))
            if old is None:
                return None
            key, filename = old.object_key, old.filename
        form_code = doc.form_code
    work = Path(tempfile.mkdtemp(prefix="examine-"))
    try:
        path = work / f"file{suffix_for(filename)}"
        with open(path, "wb") as out:
            for chunk in store.open(key, version_id):
                out.write(chunk)
        row = _examined(path, form_code, es)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row.document_id, row.version_id = doc_id, version_id
    # another worker may have recorded it meanwhile: its row stands
    return insert_once(sessions, row, lambda s: of_version(s, doc_id, version_id))


def _examined(path: Path, form_code: str, es: ExamineSettings) -> Examination:
    fmt = identify(path)
    standing = judge(load_format_policy(es.policy_path or None), form_code, fmt)
    locked = protection(path, fmt)
    signatures = []
    if fmt.mime == "application/pdf" and locked != "password":
        signatures = pdf_signatures(path, load_roots(es.trust_roots))
    elif fmt.mime == OFD_MIME:
        signatures = ofd_signatures(path)
    return Examination(puid=fmt.puid, format_name=fmt.name[:255], format_version=fmt.version[:64],
                       format_mime=fmt.mime[:120], format_basis=fmt.basis[:500], format_class=standing.format_class,
                       policy=standing.policy, policy_reason=standing.reason, protection=locked,
                       signatures=json.dumps([sig.view() for sig in signatures], ensure_ascii=False),
                       signatures_failed=sum(1 for sig in signatures if sig.result != PASSED),
                       examined_at=server_now())


def view(row: Examination | None) -> dict:
    """The examination as the API and the page show it (``status: pending`` before it ran)."""
    if row is None:
        return {"status": "pending", "format": None, "signatures": []}
    return {"status": "done",
            "format": {"puid": row.puid, "name": row.format_name, "version": row.format_version, "mime": row.format_mime},
            "format_class": row.format_class, "policy": row.policy, "policy_label": POLICY.get(row.policy, row.policy),
            "policy_reason": row.policy_reason, "protection": row.protection,
            "protection_label": PROTECTION.get(row.protection, row.protection),
            "signatures": json.loads(row.signatures or "[]"), "examined_at": row.examined_at.isoformat()}


def current_view(session: Session, doc: Document) -> dict:
    return view(of_version(session, doc.id, doc.version_id))


def of_case(session: Session, doc_ids: list[str]) -> dict[tuple[str, str], Examination]:
    """{(document id, version id): examination} of the given documents' versions."""
    if not doc_ids:
        return {}
    return {(e.document_id, e.version_id): e for e in
            session.scalars(select(Examination).where(Examination.document_id.in_(doc_ids)))}


def formats_of(session: Session, docs: list[Document]) -> dict[str, tuple[str, str, str]]:
    """{document id: (PUID, name, version)} of the documents' current versions that were examined."""
    found = of_case(session, [d.id for d in docs])
    return {d.id: (e.puid, e.format_name, e.format_version) for d in docs
            if (e := found.get((d.id, d.version_id))) is not None}


def queue(session: Session, which: str, doc_id: str | None = None) -> int:
    """``archive examine``: queue the current versions without an examination (``missing``),
    every current version again (``all``: the old rows are replaced, e.g. after new trust roots
    or a new policy), or one document."""
    q = select(Document)
    if doc_id is not None:
        q = q.where(Document.id == doc_id)
    n = 0
    for doc in session.scalars(q):
        row = of_version(session, doc.id, doc.version_id)
        if row is not None and which == "missing":
            continue
        if row is not None:
            session.delete(row)
        enqueue_for(session, doc)
        n += 1
    session.commit()
    return n


def summary(session: Session) -> dict[str, int]:
    """Of the documents' current versions: examined, pending, outside the policy, encrypted or
    protected by a password, and with a signature that failed (the usability check's counts)."""
    total = session.scalar(select(func.count()).select_from(Document)) or 0
    current = (Examination.document_id == Document.id) & (Examination.version_id == Document.version_id)
    examined, outside, protected, failed = session.execute(select(
        func.count(), func.count().filter(Examination.policy == "outside"),
        func.count().filter(Examination.protection != ""),
        func.count().filter(Examination.signatures_failed > 0)).select_from(Examination).join(Document, current)).one()
    return {"examined": examined, "pending": max(total - examined, 0), "outside_policy": outside,
            "protected": protected, "signatures_not_verified": failed}
