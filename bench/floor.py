"""The ceiling of ``bench.ingest``: a bare Flask app that only streams an upload to S3.

``python -m bench.ingest --app floor`` runs this app under gunicorn in place of the archive.
It reads the multipart body the way the archive does (``MultipartStream``, the file's bytes
taken raw) and stores the file with ``put_streamed``, with no authentication, database, audit
entry or deadline check: its API/raw ratio is the most any upload endpoint on this stack and
machine can reach, and the archive's ratio is read against it.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import os

from flask import Flask, request

from archive.services.streaming import MultipartStream, boundary_of
from archive.storage.s3 import S3ObjectStore

app = Flask(__name__)
_store = S3ObjectStore(os.environ["ARCHIVE_S3_ENDPOINT"], os.environ["ARCHIVE_S3_ACCESS_KEY"],
                       os.environ["ARCHIVE_S3_SECRET_KEY"], os.environ.get("ARCHIVE_S3_BUCKET", "case-archive"))
_until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
_numbers = itertools.count()


@app.post("/api/cases/<case_id>/documents")
def upload(case_id: str):
    parts = MultipartStream(request.stream, boundary_of(request.content_type or "") or b"",
                            content_length=request.content_length)
    parts.until_file()
    length = parts.file_length_hint
    if length is None or not parts.begin_raw():
        return json.dumps({"error": "length unknown"}), 400
    put = _store.put_streamed(f"floor/{os.getpid()}/{next(_numbers)}", parts, length,
                              {"filename": parts.filename or ""}, "application/octet-stream", _until)
    parts.rest()
    return json.dumps({"version_id": put.version_id, "sha256": put.sha256}), 201


@app.post("/api/cases")
def create_case():
    return json.dumps({"id": "floor"}), 201


@app.post("/api/cases/<case_id>/stages")
def record_stage(case_id: str):
    return json.dumps({}), 201


@app.get("/api/health")
def health():
    return "ok"
