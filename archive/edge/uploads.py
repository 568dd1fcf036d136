"""Files that arrive in a request, handed to the application layer as hashing spools."""
from __future__ import annotations

from archive.errors import MISSING_FILENAME, ValidationFailed
from archive.services.objects import HashingSpool


def received_file(upload, max_bytes: int) -> HashingSpool:
    """The uploaded part as a hashing spool (small parts may arrive in memory); it must be named."""
    if not upload.filename:
        raise ValidationFailed("file has no filename", {"file": [MISSING_FILENAME]})
    spool = upload.stream
    if not isinstance(spool, HashingSpool):
        spool = HashingSpool.from_stream(upload.stream, max_bytes)
    return spool


def received_files(uploads, max_bytes: int) -> list[tuple[str, HashingSpool]]:
    """(filename, spool) of each named file of a form; unnamed (empty) inputs are left out."""
    return [(u.filename, received_file(u, max_bytes)) for u in uploads if u.filename]
