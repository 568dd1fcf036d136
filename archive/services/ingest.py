"""Ingest: a received file goes to object storage first, then the database, then the index queue."""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Callable

from sqlalchemy.orm import Session

from archive.errors import DuplicateFile, TooLarge, ValidationFailed
from archive.extraction import detect_media_type
from archive.extraction.detect import DOCX
from archive.jobs import enqueue
from archive.models import Case, Document, new_id
from archive.services.cases import check_recorded
from archive.clock import SHANGHAI, now as server_now
from archive.services.objects import (  # noqa: F401  (the names ingest's callers know it by)
    MAX_FILENAME, METADATA_SCHEMA, HashingSpool, IngestSettings, clean_filename, object_key, object_metadata,
    receipt_key, retain_until,
)
from archive.services import examinations
from archive.services.renditions import enqueue_for
from archive.services.streaming import declared_met
from archive.storage.base import ObjectStore, PutResult
from forms import load_catalog

log = logging.getLogger(__name__)
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
def ingest(session: Session, store: ObjectStore, settings: IngestSettings, case: Case, *,
           stage: str, form: str, filename: str | None, spool: HashingSpool,
           expected_sha256: str | None = None, uploader: str | None = None,
           clock: Callable[[], dt.datetime] = server_now,
           before_commit: Callable[[Session, Document], None] | None = None,
           allow_duplicate: bool = False) -> Document:
    """Store one document. Nothing is recorded unless the object was stored first; if the
    database commit fails after that, the object stays and ``archive reconcile`` reports it.
    A file the case holds already is refused before a byte is stored (DuplicateFile) unless
    ``allow_duplicate``."""
    check_upload(case, stage, form)
    if spool.size == 0:
        raise ValidationFailed("empty file", {"file": ["the file is empty"]})
    if spool.size > settings.max_bytes:
        raise TooLarge(f"file larger than {settings.max_bytes} bytes")
    declared_met(checked_sha256(expected_sha256), spool.sha256)
    if not allow_duplicate:
        refuse_duplicate(session, case, spool.sha256)
    spool.seek(0)
    media_type = detect_media_type(spool)
    spool.seek(0)
    doc = _new_document(case, stage, form, filename, media_type, spool.size, spool.sha256, clock(), uploader)
    doc.sm3 = spool.sm3
    completed = next((s.completed_at for s in case.stages if s.stage == stage), None)
    put = store.put(doc.object_key, spool, spool.size, object_metadata(case, doc, completed),
                    media_type, settings.until(doc.uploaded_at, case.procedure))
    return _catalogue(session, store, case, doc, put, before_commit, allow_duplicate=allow_duplicate)


def refuse_duplicate(session: Session, case: Case, sha256: str) -> None:
    """DuplicateFile when a document of ``case`` holds a file with this SHA-256 already (any of
    its versions' current bytes): the same file is not stored twice unless the uploader says so."""
    from sqlalchemy import select

    from archive.labels import form_name

    if not sha256:
        return
    found = session.scalars(select(Document).where(Document.case_id == case.id, Document.sha256 == sha256)
                            .order_by(Document.uploaded_at).limit(1)).first()
    if found is None:
        return
    when = found.uploaded_at.astimezone(SHANGHAI)
    said = (f"此文件已于 {when:%Y-%m-%d %H:%M} 上传为《{form_name(found.form_code)}》（{found.filename}）；"
            "如确需再次上传，请勾选“仍要上传”（API：allow_duplicate=true）")
    raise DuplicateFile("the file is stored in this case already / " + said, {"file": [said]},
                        duplicate_of={"id": found.id, "filename": found.filename, "form": found.form_code,
                                      "form_name": form_name(found.form_code),
                                      "stage": found.stage, "uploaded_at": when.isoformat(), "sha256": found.sha256})


def check_upload(case: Case, stage: str, form: str) -> None:
    """What is checked before a byte is stored: the stage is recorded, the form is one of it."""
    check_recorded(case, stage)
    catalog = load_catalog()
    if form not in catalog:
        raise ValidationFailed("unknown form", {"form": [f"no form {form!r} in the catalog (GET /api/forms)"]})
    if stage not in catalog[form].stages:
        raise ValidationFailed("form not used at this stage",
                               {"form": [f"{catalog[form].name} belongs to {', '.join(catalog[form].stages)}"]})


def checked_sha256(expected_sha256: str | None) -> str | None:
    """A declared SHA-256, normalised; refused unless it is 64 hexadecimal digits."""
    if expected_sha256 is None:
        return None
    expected = expected_sha256.strip().lower()
    if not SHA256_HEX.match(expected):
        raise ValidationFailed("sha256 must be 64 hexadecimal digits", {"sha256": ["not a SHA-256 hex digest"]})
    return expected


def ingest_stream(session: Session, store: ObjectStore, settings: IngestSettings, case: Case, *,
                  stage: str, form: str, filename: str | None, source: Any,
                  expected_sha256: str | None = None, uploader: str | None = None,
                  clock: Callable[[], dt.datetime] = server_now,
                  before_commit: Callable[[Session, Document], None] | None = None,
                  allow_duplicate: bool = False) -> Document:
    """Store one document read from ``source`` as it arrives (``source.read(n)``).

    When ``source`` knows how long the file must be (``file_length_hint``: the file is the
    request's last part) and it fits in one part, the bytes go to the store while they arrive
    (``put_streamed``): one request, its last bytes held back until the file has ended and a
    declared SHA-256 is met. If the guess was wrong or the store failed on the way, the
    multipart decoder reads the file again from its first byte (what was taken is kept), and
    it is stored as below.

    Otherwise a file that fits in one part is read whole into memory, then stored with one
    request and its full metadata. A larger one goes into a multipart upload part by part.

    A version sent before its SHA-256 was known (streamed, multipart) says ``sha256-in:
    receipt`` in its metadata: the ``verify`` job committed with its row reads it back, checks
    its SHA-256 against the row's (recorded as a fixity check) and writes the receipt object
    beside it (``receipt_key``), from which a rebuild takes the SHA-256.

    Too large, a SHA-256 other than the declared one, or a client that goes away: the request
    or multipart upload is aborted, and no row and no visible object remain. The row is
    committed only after the object.

    A file the case holds already (DuplicateFile, unless ``allow_duplicate``) is refused before
    it is stored when its SHA-256 is known in time: declared, read whole, or streamed (checked
    before its last bytes leave). A larger one sent without its SHA-256 is refused at the
    commit, under the case's lock; its stored version is then an orphan ``archive reconcile``
    reports."""
    import io

    from archive.services.streaming import HashingReader, Prefixed, read_full
    from archive.storage.base import LengthMismatch, StorageError

    check_upload(case, stage, form)
    expected = checked_sha256(expected_sha256)
    if expected and not allow_duplicate:
        refuse_duplicate(session, case, expected)

    def verify(sha256: str) -> None:  # before the last bytes of a streamed file leave
        declared_met(expected, sha256)
        if not allow_duplicate:
            refuse_duplicate(session, case, sha256)
    part = store.part_size
    completed = next((s.completed_at for s in case.stages if s.stage == stage), None)
    hint = getattr(source, "file_length_hint", None)
    if store.stream_puts and hint is not None and 0 < hint <= min(part, settings.max_bytes) \
            and source.begin_raw():
        try:
            streamed = _put_streamed(store, settings, case, stage, form, filename, source, hint, verify,
                                     completed, clock, uploader)
        except (LengthMismatch, StorageError) as exc:  # (a store that is down refuses the next try too)
            log.info("upload to case %s not streamed (%s): read whole instead", case.id, exc)
            streamed = None
        if streamed is not None:
            return _catalogue(session, store, case, *streamed, before_commit, verify=True,
                              allow_duplicate=allow_duplicate)
        source.rewind()  # from the file's first byte again, through the multipart decoder
    reader = HashingReader(source, settings.max_bytes, expected)
    head = read_full(reader, part + 1)
    whole = len(head) <= part  # then read_full met the end, where the declared SHA-256 was checked
    media_type = detect_media_type(io.BytesIO(head)) if whole else detect_media_type_head(head)
    doc = _new_document(case, stage, form, filename, media_type, reader.size if whole else 0,
                        reader.sha256 if whole else (expected or ""), clock(), uploader)
    doc.sm3 = reader.sm3 if whole else None
    if whole and not allow_duplicate:
        refuse_duplicate(session, case, doc.sha256)
    until = settings.until(doc.uploaded_at, case.procedure)
    meta = object_metadata(case, doc, completed)
    if whole:
        put = store.put(doc.object_key, io.BytesIO(head), len(head), meta, media_type, until, sha256=doc.sha256)
    else:
        meta["size"] = ""
        meta["sha256-in"] = "receipt"
        put = store.put(doc.object_key, Prefixed(head, reader), -1, meta, media_type, until)  # type: ignore[arg-type]
        doc.size, doc.sha256, doc.sm3 = reader.size, reader.sha256, reader.sm3
    return _catalogue(session, store, case, doc, put, before_commit, verify=not whole,
                      allow_duplicate=allow_duplicate)


def _put_streamed(store: ObjectStore, settings: IngestSettings, case: Case, stage: str, form: str,
                  filename: str | None, source: Any, length: int, verify: Callable[[str], None],
                  completed: dt.datetime | None, clock: Callable[[], dt.datetime],
                  uploader: str | None) -> tuple[Document, PutResult] | None:
    """The file sent to the store while it arrives (``ingest_stream``); None for a ZIP, which
    is told apart by its directory at its end and so is read whole."""
    import io

    from archive.extraction.detect import SNIFF
    from archive.services.streaming import Prefixed, read_full

    head = read_full(source, min(SNIFF, length))
    if not head or head.startswith(b"PK\x03\x04"):
        return None
    media_type = detect_media_type(io.BytesIO(head))
    doc = _new_document(case, stage, form, filename, media_type, length, "", clock(), uploader)
    meta = object_metadata(case, doc, completed)
    meta["sha256-in"] = "receipt"
    put = store.put_streamed(doc.object_key, Prefixed(head, source), length, meta, media_type,
                             settings.until(doc.uploaded_at, case.procedure),
                             verify=verify)
    doc.sha256, doc.sm3 = put.sha256, put.sm3 or None
    return doc, put


def _new_document(case: Case, stage: str, form: str, filename: str | None, media_type: str, size: int,
                  sha256: str, uploaded_at: dt.datetime, uploader: str | None) -> Document:
    doc = Document(id=new_id(), case_id=case.id, stage=stage, form_code=form,
                   filename=clean_filename(filename), media_type=media_type, size=size, sha256=sha256,
                   uploaded_at=uploaded_at, uploader=uploader, text_status="pending")
    doc.object_key = object_key(case.id, doc.id)
    return doc


def detect_media_type_head(head: bytes) -> str:
    """The media type from the first part of a large file: a DOCX is a ZIP whose first entries
    are its content types and the ``word/`` part (Word writes them first)."""
    import io

    if head.startswith(b"PK\x03\x04") and b"[Content_Types].xml" in head and b"word/" in head:
        return DOCX
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return detect_media_type(io.BytesIO(head))


def _catalogue(session: Session, store: ObjectStore, case: Case, doc: Document, put,
               before_commit: Callable[[Session, Document], None] | None = None,
               verify: bool = False, allow_duplicate: bool = False) -> Document:
    """The row of a stored document, its hold, its extraction job (and ``verify`` job) and what
    ``before_commit`` adds (the upload's audit entry), in one commit."""
    doc.version_id = put.version_id
    uploaded_at = doc.uploaded_at
    from archive.db import lock_row
    from archive.services.holds import hold_new

    # The case row is locked before the hold is decided, as a complaint link locks it before it
    # holds the case's versions: either the link sees this document or this upload sees the link.
    lock_row(session, Case, case.id)
    if not allow_duplicate:
        # under the case's lock: of two uploads of one file at once, the second sees the first
        try:
            refuse_duplicate(session, case, doc.sha256)
        except DuplicateFile:
            session.rollback()
            log.warning("duplicate of a file in case %s refused after storing %s version %s: `archive "
                        "reconcile` will report it as an orphan", case.id, doc.object_key, put.version_id)
            raise
    hold_new(session, store, case.id, doc.object_key, put.version_id)
    case.changed_at = uploaded_at  # the next incremental warning scan looks at it again
    session.add(doc)
    enqueue(session, "extract", doc.id)  # any worker reads the text, then the index writer indexes it
    enqueue_for(session, doc)  # an editable document: its PDF/A rendition, made in the background
    examinations.enqueue_for(session, doc)  # format, encryption, policy and signatures, after the answer
    if verify:
        enqueue(session, "verify", doc.id)
    if before_commit is not None:
        before_commit(session, doc)
    try:
        session.commit()
    except Exception:
        session.rollback()
        log.error("database commit failed after storing %s version %s: `archive reconcile` will "
                  "report it as an orphan", doc.object_key, doc.version_id)
        raise
    return doc
