"""The catalog from the object store alone: case manifests, disaster rebuild, reconcile repair.

Every case has a manifest object ``cases/<id>/case.json`` (a new version whenever the case or
its stages change) holding the case, its stages and its agency's organisation chain; every
document version carries its description in its own S3 metadata (``object_metadata``). From
these two, ``rebuild`` recreates organisations, cases, stages, documents and their earlier
versions in an empty database. Not rebuilt: accounts, the audit trail, warnings, amendment
requests, sampling and complaints (they live in the database and its backups only).
"""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.digests import Digests
from archive.jobs import enqueue as queue_job
from archive.services import archivalrecord, examinations
from archive.models import Case, CasePeriod, Document, DocumentVersion, Organisation, Stage
from archive.clock import now as server_now
from archive.services.ingest import IngestSettings
from archive.storage.base import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)
MANIFEST_SCHEMA = "case-archive/case/1"


def manifest_key(case_id: str) -> str:
    return f"cases/{case_id}/case.json"


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_manifest(session: Session, case: Case) -> dict:
    chain: list[dict] = []
    code: str | None = case.agency_code
    while code:
        org = session.get(Organisation, code)
        if org is None or any(o["code"] == org.code for o in chain):
            break
        chain.append({"code": org.code, "name": org.name, "level": org.level, "parent": org.parent_code})
        code = org.parent_code
    stages = session.scalars(select(Stage).where(Stage.case_id == case.id).order_by(Stage.id)).all()
    periods = session.scalars(select(CasePeriod).where(CasePeriod.case_id == case.id).order_by(CasePeriod.id)).all()
    return {
        "schema": MANIFEST_SCHEMA, "id": case.id, "number": case.number, "agency": case.agency_code,
        "kind": case.kind, "procedure": case.procedure, "power": case.power_code, "party_name": case.party_name,
        "party_id": case.party_id, "party_type": case.party_type, "sector": case.sector, "summary": case.summary,
        "opened_on": _iso(case.opened_on), "created_at": _iso(case.created_at),
        "penalty_types": json.loads(case.penalty_types or "[]"), "fine_amount": case.fine_amount,
        "stages": [{"stage": s.stage, "completed_at": _iso(s.completed_at), "recorded_at": _iso(s.recorded_at),
                    "recorded_by": s.recorded_by} for s in stages],
        "organisations": list(reversed(chain)),
        "periods": [{"kind": p.kind, "days": p.days, "start_on": _iso(p.start_on), "end_on": _iso(p.end_on),
                     "approved_by": p.approved_by, "reason": p.reason, "recorded_by": p.recorded_by,
                     "recorded_at": _iso(p.recorded_at)} for p in periods],
    }


def write_manifest(session: Session, store: ObjectStore, settings: IngestSettings, case: Case) -> str:
    """Store a new version of the case's manifest; returns its version id."""
    m = case_manifest(session, case)
    body = json.dumps(m, ensure_ascii=False, sort_keys=True).encode("utf-8")
    stages = ",".join(s["stage"] for s in m["stages"]) + f";periods={len(m['periods'])}"
    put = store.put(manifest_key(case.id), io.BytesIO(body), len(body),
                    {"schema": MANIFEST_SCHEMA, "case-id": case.id, "stages": stages}, "application/json",
                    settings.until(server_now(), case.procedure))
    return put.version_id


def _read_json(store: ObjectStore, key: str, version_id: str | None = None) -> dict:
    return json.loads(b"".join(store.open(key, version_id)).decode("utf-8"))


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _ensure_orgs(session: Session, chain: list[dict]) -> None:
    for o in chain:
        if session.get(Organisation, o["code"]) is None:
            session.add(Organisation(code=o["code"], name=o["name"], level=o["level"], parent_code=o.get("parent")))
            session.flush()


def restore_case(session: Session, store: ObjectStore, case_id: str, doc_meta: dict | None = None,
                 manifest: dict | None = None) -> Case:
    """The case from its manifest (given: from a disposed case's archival record), or, lacking
    one, from a document's metadata."""
    m = manifest
    if m is None:
        try:
            m = _read_json(store, manifest_key(case_id))
        except ObjectNotFound:
            m = None
    if m is not None:
        _ensure_orgs(session, m["organisations"])
        case = Case(id=m["id"], number=m["number"], agency_code=m["agency"], kind=m["kind"], procedure=m["procedure"],
                    power_code=m["power"], party_name=m["party_name"], party_id=m["party_id"],
                    party_type=m["party_type"], sector=m["sector"], summary=m["summary"],
                    opened_on=dt.date.fromisoformat(m["opened_on"]), created_at=_dt(m["created_at"]),
                    penalty_types=json.dumps(m["penalty_types"]), fine_amount=m["fine_amount"],
                    changed_at=server_now())
        session.add(case)
        for s in m["stages"]:
            session.add(Stage(case_id=case.id, stage=s["stage"], completed_at=_dt(s["completed_at"]),
                              recorded_at=_dt(s["recorded_at"]), recorded_by=s["recorded_by"]))
        for p in m.get("periods", []):
            session.add(CasePeriod(case_id=case.id, kind=p["kind"], days=p["days"],
                                   start_on=dt.date.fromisoformat(p["start_on"]) if p["start_on"] else None,
                                   end_on=dt.date.fromisoformat(p["end_on"]) if p["end_on"] else None,
                                   approved_by=p["approved_by"], reason=p["reason"], recorded_by=p["recorded_by"],
                                   recorded_at=_dt(p["recorded_at"])))
        session.flush()
        return case
    if doc_meta is None:
        raise ObjectNotFound(f"no manifest for case {case_id}")
    agency = doc_meta["agency"]
    _ensure_orgs(session, [{"code": agency, "name": agency, "level": "agency", "parent": None}])
    case = Case(id=case_id, number=doc_meta["case-number"], agency_code=agency, kind=doc_meta["kind"],
                procedure=doc_meta["procedure"], power_code=doc_meta.get("power", ""),
                party_name=doc_meta.get("party-name", ""), party_id=doc_meta.get("party-id", ""),
                opened_on=dt.date.fromisoformat(doc_meta["opened-on"]), created_at=server_now(),
                changed_at=server_now())
    session.add(case)
    session.flush()
    return case


def _document_versions(store: ObjectStore, key: str) -> list[tuple[str, dict]]:
    """(version id, metadata) of the archive's own versions of a document key, oldest first."""
    out = []
    for k, version in store.keys(key):
        if k != key:
            continue
        meta = store.stat(key, version).metadata
        if meta.get("schema") == "case-archive/1" and meta.get("sha256-in") == "receipt":
            meta = _with_receipt(store, key, version, meta)
        if meta.get("schema") == "case-archive/1" and meta.get("sha256"):
            out.append((version, meta))
    return sorted(out, key=lambda vm: int(vm[1].get("version-no") or 1))


def _with_receipt(store: ObjectStore, key: str, version: str, meta: dict) -> dict:
    """A streamed version's metadata completed by its receipt (SHA-256 and size, written by the
    ``verify`` job once it read the version back); lacking the receipt (the database was lost
    before the job ran), from its bytes."""
    from archive.services.ingest import receipt_key

    meta = dict(meta)
    try:
        receipt = _read_json(store, receipt_key(meta["case-id"], meta["doc-id"], version))
        meta["sha256"], meta["size"] = receipt["sha256"], str(receipt["size"])
        if receipt.get("sm3"):
            meta["sm3"] = receipt["sm3"]
    except (ObjectNotFound, KeyError, ValueError):
        meta = _hashed(store, key, version, meta)
    return meta


def _hashed(store: ObjectStore, key: str, version: str, meta: dict) -> dict:
    """``meta`` with the SHA-256, SM3 and size of the version's bytes."""
    digest, size = Digests(), 0
    for chunk in store.open(key, version):
        digest.update(chunk)
        size += len(chunk)
    return {**meta, "sha256": digest.sha256, "sm3": digest.sm3, "size": str(size)}


def restore_document(session: Session, store: ObjectStore, key: str, versions: list[tuple[str, dict]], *,
                     enqueue: bool = True) -> Document:
    """A document row (the newest version) and its earlier versions, from metadata alone;
    queued for indexing unless the caller reindexes everything afterwards (``rebuild``)."""
    current_version, meta = versions[-1]
    first_meta = versions[0][1]
    doc = Document(id=meta["doc-id"], case_id=meta["case-id"], stage=meta["stage"], form_code=meta["form"],
                   filename=meta["filename"], media_type=meta["media-type"], size=int(meta["size"]),
                   sha256=meta["sha256"], sm3=meta.get("sm3") or None, object_key=key, version_id=current_version,
                   uploaded_at=_dt(first_meta["uploaded-at"]), uploader=first_meta.get("uploader") or None,
                   text_status="pending", version_no=int(meta.get("version-no") or 1))
    session.add(doc)
    session.flush()
    for (version, m), (_, later) in zip(versions[:-1], versions[1:]):
        session.add(DocumentVersion(
            document_id=doc.id, version_no=int(m.get("version-no") or 1), object_key=key, version_id=version,
            filename=m["filename"], media_type=m["media-type"], size=int(m["size"]), sha256=m["sha256"], sm3=m.get("sm3") or None,
            uploaded_at=_dt(m.get("amended-at") or m["uploaded-at"]), uploader=m.get("uploader") or None,
            superseded_at=_dt(later.get("amended-at")) or server_now(),
            amendment_id=int(later["amendment-id"]) if later.get("amendment-id") else None))
    if enqueue:
        queue_job(session, "versions" if len(versions) > 1 else "upsert", doc.id)
    return doc


@dataclass
class RebuildReport:
    cases: int = 0
    documents: int = 0
    versions: int = 0
    renditions: int = 0
    problems: list[str] = field(default_factory=list)


def rebuild(session: Session, store: ObjectStore) -> RebuildReport:
    """Fill an empty database from the object store. Refuses a database that holds cases."""
    if session.scalar(select(func.count()).select_from(Case)):
        raise RuntimeError("the database holds cases already: rebuild fills an empty one")
    report = RebuildReport()
    records = archivalrecord.all_records(store)
    gone = {case_id for case_id, r in records.items() if r["file"]["status"] in ("disposing", "disposed")}
    doc_keys: dict[str, set[str]] = {}
    rendition_keys: dict[str, list[tuple[str, str]]] = {}
    case_ids: set[str] = set()
    for key, version in store.keys("cases/"):
        parts = key.split("/")
        if len(parts) >= 3:
            case_ids.add(parts[1])
        if len(parts) == 4 and parts[2] == "documents":
            doc_keys.setdefault(parts[1], set()).add(key)
        if len(parts) == 5 and parts[2] == "renditions":
            rendition_keys.setdefault(parts[1], []).append((key, version))
    for case_id in sorted(gone):  # 销毁 (or under way): from the tombstone in the archival record
        _restore_disposed(session, store, records[case_id], report)
        session.commit()
    for case_id in sorted(case_ids - gone):
        keys = sorted(doc_keys.get(case_id, ()))
        versions = {k: _document_versions(store, k) for k in keys}
        versions = {k: v for k, v in versions.items() if v}
        first_meta = next((v[0][1] for v in versions.values()), None)
        try:
            restore_case(session, store, case_id, first_meta)
        except ObjectNotFound:
            if keys:
                report.problems.append(f"case {case_id}: no manifest and no document metadata")
            continue
        report.cases += 1
        if first_meta is not None and not session.scalar(select(func.count()).select_from(Stage)
                                                         .where(Stage.case_id == case_id)):
            # no manifest: the stages that documents name, with the times their metadata carries
            for v in versions.values():
                m = v[0][1]
                if m.get("completed-at") and not session.scalar(select(Stage.id).where(
                        Stage.case_id == case_id, Stage.stage == m["stage"])):
                    session.add(Stage(case_id=case_id, stage=m["stage"], completed_at=_dt(m["completed-at"]),
                                      recorded_at=_dt(m["completed-at"])))
                    session.flush()
        for key, v in versions.items():
            doc = restore_document(session, store, key, v, enqueue=False)  # the reindex that follows covers it
            examinations.enqueue_for(session, doc)  # derived: the worker identifies and verifies it again
            report.documents += 1
            report.versions += len(v)
        report.renditions += _restore_renditions(session, store, rendition_keys.get(case_id, []))
        if case_id in records:
            _restore_archival(session, records[case_id])
        session.commit()
    _restore_counters(session)
    session.commit()
    return report


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _restore_archival(session: Session, record: dict) -> None:
    """归档 and 鉴定 of a case from its archival record."""
    from archive.models import Appraisal, ArchivalFile

    f = record["file"]
    session.add(ArchivalFile(case_id=record["case_id"], agency_code=f["agency_code"], year=f["year"],
                             retention=f["retention"], piece=f["piece"], archival_no=f["archival_no"],
                             retain_until=_date(f["retain_until"]), status=f["status"], filed_at=_dt(f["filed_at"]),
                             filed_by=f["filed_by"], metadata_json=json.dumps(f.get("metadata") or {},
                                                                              ensure_ascii=False, sort_keys=True)))
    for a in record.get("appraisals", []):
        session.add(Appraisal(case_id=record["case_id"], kind=a["kind"], status=a["status"],
                              archival_no=a["archival_no"], retention_before=a["retention_before"],
                              until_before=_date(a["until_before"]), retention_after=a["retention_after"],
                              until_after=_date(a["until_after"]), reason=a["reason"], proposed_by=a["proposed_by"],
                              proposed_role=a["proposed_role"], proposed_at=_dt(a["proposed_at"]),
                              decided_by=a["decided_by"], decided_role=a["decided_role"],
                              decided_at=_dt(a["decided_at"]), decision_note=a["decision_note"] or "",
                              disposed_at=_dt(a["disposed_at"]), register=json.dumps(a.get("register") or {},
                                                                                    ensure_ascii=False),
                              register_sha256=a.get("register_sha256") or ""))
    session.flush()


def _restore_disposed(session: Session, store: ObjectStore, record: dict, report: "RebuildReport") -> None:
    """A destroyed case (or one whose disposal was under way): the case from the manifest in
    its tombstone, its documents as the 销毁清册 lists them (destroyed: no bytes, no text; under
    way: the ``dispose`` job is queued again and finishes the removal)."""
    m = record.get("manifest")
    case_id = record["case_id"]
    if not m:
        report.problems.append(f"case {case_id}: archival record without its manifest")
        return
    restore_case(session, store, case_id, manifest=m)
    report.cases += 1
    for d in record.get("documents", []):
        disposed = _dt(d.get("disposed_at"))
        session.add(Document(id=d["id"], case_id=case_id, stage=d["stage"], form_code=d["form_code"],
                             filename=d["filename"], media_type=d["media_type"], size=d["size"], sha256=d["sha256"],
                             sm3=d.get("sm3"), object_key=d["object_key"], version_id=d["version_id"],
                             uploaded_at=_dt(d["uploaded_at"]), uploader=d.get("uploader"),
                             version_no=d.get("version_no") or 1, disposed_at=disposed,
                             text_status="disposed" if disposed else "pending"))
        report.documents += 1
    session.flush()
    _restore_archival(session, record)
    if record["file"]["status"] == "disposing":
        queue_job(session, "dispose", case_id)


def _restore_counters(session: Session) -> None:
    """件号 go on from the highest restored within each agency, year and retention period."""
    from archive.models import ArchivalCounter, ArchivalFile

    for agency, year, retention, last in session.execute(
            select(ArchivalFile.agency_code, ArchivalFile.year, ArchivalFile.retention, func.max(ArchivalFile.piece))
            .group_by(ArchivalFile.agency_code, ArchivalFile.year, ArchivalFile.retention)):
        session.add(ArchivalCounter(agency_code=agency, year=year, retention=retention, last=last))
    session.flush()


def _restore_renditions(session: Session, store: ObjectStore, objects: list[tuple[str, str]]) -> int:
    """The rendition rows, from their objects' metadata (the checks are made again by
    ``archive renditions``: derived data; a rendition whose document is gone is left alone)."""
    from archive.models import Document, Rendition

    n = 0
    for key, version in objects:
        info = store.stat(key, version)
        meta = info.metadata
        if meta.get("kind") != "rendition" or session.get(Document, meta.get("doc-id", "")) is None:
            continue
        if session.scalar(select(Rendition.id).where(Rendition.document_id == meta["doc-id"],
                                                     Rendition.source_version_id == meta.get("source-version"))):
            continue
        session.add(Rendition(document_id=meta["doc-id"], source_version_id=meta.get("source-version", ""),
                              status="done", object_key=key, version_id=version, sha256=meta.get("sha256"),
                              size=info.size, pdfa_problems="", reason="", made_at=server_now()))
        session.flush()
        n += 1
    return n
