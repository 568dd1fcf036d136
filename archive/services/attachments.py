"""Files that come with a record other than a case (a complaint's letters, a task's replies):
stored write-once like documents — the object first, as a retained version never overwritten,
then the row — and read back checked against their SHA-256."""
from __future__ import annotations

import datetime as dt

from archive.errors import TooLarge, ValidationFailed
from archive.clock import now as server_now


def store_file(store, settings, row, *, key_prefix: str, metadata: dict[str, str], by: str,
               filename: str | None, spool, now: dt.datetime | None = None, name: str | None = None):
    """Fill ``row`` (a model with the attachment columns) from ``spool`` and store the bytes
    under ``<key_prefix>/<name or row.id>``; the caller adds the row."""
    from archive.extraction.detect import detect_media_type
    from archive.services.objects import clean_filename

    if spool.size == 0:
        raise ValidationFailed("empty file", {"file": ["the file is empty"]})
    if spool.size > settings.max_bytes:
        raise TooLarge(f"file larger than {settings.max_bytes} bytes")
    spool.seek(0)
    media_type = detect_media_type(spool)
    spool.seek(0)
    at = now or server_now()
    row.filename, row.media_type, row.size, row.sha256 = clean_filename(filename), media_type, spool.size, spool.sha256
    row.uploaded_by, row.uploaded_at = by, at
    row.object_key = f"{key_prefix}/{name or row.id}"
    put = store.put(row.object_key, spool, spool.size, {
        **metadata, "filename": row.filename, "sha256": row.sha256, "uploaded-at": at.isoformat(), "uploaded-by": by},
        media_type, settings.until(at, None))
    row.version_id = put.version_id
    return row
