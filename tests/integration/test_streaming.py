"""Streaming ingest (issue 17, part 3): the request body goes to the object store while it
arrives, hashed on the way; a large file is a multipart upload whose SHA-256 and size follow in
a receipt; too large, a wrong declared hash or a client that goes away leaves no row and no
visible object, and no multipart upload behind."""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import threading
import time

import pytest
from sqlalchemy import func, select

from archive.digests import sm3_hex
from archive.models import Document
from tests.conftest import client_as, new_case, record_stage

PART = 5 * 1024**2


@pytest.fixture
def app(make_app):
    return make_app(PART_SIZE=PART, MAX_UPLOAD_BYTES=30 * 1024**2)


@pytest.fixture
def case(app, archive, tokens):
    client = client_as(app, "city")
    c = new_case(client)
    assert record_stage(client, c["id"], "investigation", "2026-03-05T10:00:00+08:00").status_code == 201
    return c


def _clerk(app):
    return client_as(app, "clerk_a")


def _body(data: bytes, *, sha256: str | None = None, fields_first: bool = True, filename="现场照片.bin"):
    fields = {"stage": "investigation", "form": "inquiry_record"}
    if sha256:
        fields["sha256"] = sha256
    return {**fields, "file": (io.BytesIO(data), filename)} if fields_first else {"file": (io.BytesIO(data), filename), **fields}


def _wire(data: bytes, *, sha256: str | None = None, epilogue: bytes = b"") -> dict:
    """The upload as browsers, curl and urllib3 send it: the file last, then only the closing
    delimiter, so that the server can tell the file's length from the request's. An
    ``epilogue`` after the delimiter (allowed, rarely sent) makes that guess wrong."""
    from urllib3 import encode_multipart_formdata

    fields = {"stage": "investigation", "form": "inquiry_record", **({"sha256": sha256} if sha256 else {}),
              "file": ("现场照片.jpg", data, "image/jpeg")}
    body, content_type = encode_multipart_formdata(fields)
    assert body.endswith(b"--\r\n")
    return {"data": body + epilogue, "content_type": content_type}


def _state(archive):
    with archive.sessions() as s:
        rows = s.scalar(select(func.count()).select_from(Document))
    objects = [k for k, _ in archive.store.keys("cases/") if "/documents/" in k or "/receipts/" in k]
    uploads = list(archive.store.client._list_multipart_uploads(archive.store.bucket).uploads)
    return rows, objects, uploads


def _verified(archive, doc_id: str):
    """Run the upload's verify job (the worker's): the version read back, its receipt written."""
    from archive.models import FixityEvent
    from archive.worker import drain

    drain(archive.sessions, archive.store, archive.index, settings=archive.ingest_settings)
    with archive.sessions() as s:
        return [e.result for e in s.scalars(select(FixityEvent).where(FixityEvent.document_id == doc_id))]


def test_a_large_file_is_a_multipart_upload_with_a_receipt(app, archive, case):
    data = os.urandom(2 * PART + 12345)  # three parts
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", data=_body(data), content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["sha256"] == hashlib.sha256(data).hexdigest() and doc["size"] == len(data)
    assert doc["sm3"] == sm3_hex(data)  # beside SHA-256, in the same pass over the parts
    with archive.sessions() as s:
        row = s.get(Document, doc["id"])
        key, version = row.object_key, row.version_id
    meta = archive.store.stat(key, version).metadata
    assert meta["sha256-in"] == "receipt" and not meta.get("sha256")  # sent with the first part
    from archive.services.ingest import receipt_key
    from archive.storage.base import ObjectNotFound
    with pytest.raises(ObjectNotFound):  # written by the verify job, after the version was read back
        archive.store.stat(receipt_key(case["id"], doc["id"], version))
    assert _verified(archive, doc["id"]) == ["ok"]
    receipt = json.loads(b"".join(archive.store.open(receipt_key(case["id"], doc["id"], version))))
    assert receipt["sha256"] == doc["sha256"] and receipt["size"] == len(data) and receipt["sm3"] == doc["sm3"]
    assert hashlib.sha256(b"".join(archive.store.open(key, version))).hexdigest() == doc["sha256"]
    from archive.services.rebuild import _document_versions
    [(v, resolved)] = _document_versions(archive.store, key)  # rebuild reads the receipt
    assert v == version and resolved["sha256"] == doc["sha256"] and resolved["size"] == str(len(data))
    assert resolved["sm3"] == doc["sm3"]
    from archive.services.fixity import check_document

    with archive.sessions() as s:  # the fixity round reads it like any other
        events = check_document(s, archive.store, s.get(Document, doc["id"]), row.uploaded_at)
    assert [e.result for e in events] == ["ok"]
    assert _verified(archive, doc["id"]) == ["ok"]  # done once: no second receipt
    assert len([v for k, v in archive.store.keys(receipt_key(case["id"], doc["id"], version))]) == 1


def test_a_small_file_of_unknown_length_is_one_request_with_its_full_metadata(app, archive, case):
    data = "询问笔录：当事人承认销售过期食品。".encode("utf-8") * 100
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", **_wire(data, epilogue=b"\r\nepilogue\r\n"))
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    with archive.sessions() as s:
        row = s.get(Document, doc["id"])
        meta = archive.store.stat(row.object_key, row.version_id).metadata
    assert meta["sha256"] == hashlib.sha256(data).hexdigest() and meta["size"] == str(len(data))
    assert meta["sm3"] == row.sm3 == doc["sm3"] == sm3_hex(data)
    assert "sha256-in" not in meta and row.media_type == "text/plain"


def test_a_file_within_one_part_goes_to_the_store_while_it_arrives(app, archive, case):
    """Its length is known from the request's: one PUT sent as the bytes arrive. Its SHA-256,
    known after the last byte, is in the row; the verify job reads the version back, checks it
    and writes the receipt that a rebuild reads."""
    data = b"\xff\xd8\xff\xe0" + os.urandom(PART // 2)  # a JPEG's start
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", **_wire(data))
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    digest = hashlib.sha256(data).hexdigest()
    assert doc["sha256"] == digest and doc["size"] == len(data) and doc["media_type"] == "image/jpeg"
    assert doc["sm3"] == sm3_hex(data)  # hashed by the store's streaming PUT in the same pass
    with archive.sessions() as s:
        row = s.get(Document, doc["id"])
        key, version = row.object_key, row.version_id
    info = archive.store.stat(key, version)
    assert info.metadata["sha256-in"] == "receipt" and not info.metadata.get("sha256")
    assert info.metadata["size"] == str(len(data))
    assert hashlib.sha256(b"".join(archive.store.open(key, version))).hexdigest() == digest
    assert _verified(archive, doc["id"]) == ["ok"]
    from archive.services.ingest import receipt_key
    receipt = json.loads(b"".join(archive.store.open(receipt_key(case["id"], doc["id"], version))))
    assert receipt == {"doc-id": doc["id"], "version-id": version, "sha256": digest, "sm3": doc["sm3"], "size": len(data)}
    from archive.services.rebuild import _document_versions
    [(v, resolved)] = _document_versions(archive.store, key)
    assert v == version and resolved["sha256"] == digest and resolved["size"] == str(len(data))
    assert resolved["sm3"] == doc["sm3"]


def test_a_version_that_does_not_read_back_as_received_is_reported_and_gets_no_receipt(app, archive, case, monkeypatch):
    """Verify-after-write: bytes damaged between the archive and the store (here: the store
    is given other bytes than were hashed) are found by the verify job, which records the damage
    and warns the district office as the fixity round does, and writes no receipt."""
    from archive.models import WarningRecord
    from archive.services.ingest import receipt_key
    from archive.storage.base import ObjectNotFound

    real = archive.store._send_unsigned

    def damaging(method, key, headers, body):
        return real(method, key, headers, (bytes(b ^ 1 for b in chunk[:1]) + chunk[1:] for chunk in body))

    monkeypatch.setattr(archive.store, "_send_unsigned", damaging)
    data = b"\xff\xd8\xff\xe0" + os.urandom(300_000)
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", **_wire(data))
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()  # what arrived
    assert _verified(archive, doc["id"]) == ["damaged"]
    with archive.sessions() as s:
        version = s.get(Document, doc["id"]).version_id
        rules = s.scalars(select(WarningRecord.rule).where(WarningRecord.case_id == case["id"])).all()
    assert "fixity_damaged" in rules
    with pytest.raises(ObjectNotFound):
        archive.store.stat(receipt_key(case["id"], doc["id"], version))


def test_a_wrong_length_guess_or_a_store_failure_on_the_way_stores_the_file_from_memory(app, archive, case, monkeypatch):
    """The file is not the guessed length (an epilogue follows the closing delimiter), or the
    store's connection breaks mid-body: what was read is kept and stored in one request."""
    import urllib3

    data = os.urandom(PART // 3)
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", **_wire(data, epilogue=b"\r\n"))
    assert r.status_code == 201 and r.get_json()["sha256"] == hashlib.sha256(data).hexdigest()
    with archive.sessions() as s:
        row = s.get(Document, r.get_json()["id"])
    assert "sha256-in" not in archive.store.stat(row.object_key, row.version_id).metadata
    real = archive.store._send_unsigned
    broke = []

    def breaks(method, key, headers, body):
        next(body), next(body)  # some bytes went out, then the connection broke
        broke.append(key)
        raise urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))

    def refused(method, key, headers, body):  # as AWS S3 refuses an object-lock PUT without Content-MD5
        broke.append(key)
        return real(method, key, {**headers, "x-amz-object-lock-mode": "NOT-A-MODE"}, body)

    for failure in (breaks, refused):
        broke.clear()
        monkeypatch.setattr(archive.store, "_send_unsigned", failure)
        sent = data + f"\n# {failure.__name__}".encode()  # (the same file twice would be a duplicate)
        r = _clerk(app).post(f"/api/cases/{case['id']}/documents", **_wire(sent))
        assert r.status_code == 201 and broke, r.get_json()
        doc = r.get_json()
        assert doc["sha256"] == hashlib.sha256(sent).hexdigest()
        with archive.sessions() as s:
            row = s.get(Document, doc["id"])
        meta = archive.store.stat(row.object_key, row.version_id).metadata
        assert meta["sha256"] == doc["sha256"] and "sha256-in" not in meta
        assert b"".join(archive.store.open(row.object_key, row.version_id)) == sent
        assert [v for k, v in archive.store.keys(row.object_key) if k == row.object_key] == [row.version_id]
    monkeypatch.setattr(archive.store, "_send_unsigned", real)


@pytest.mark.parametrize("size, wire", [(PART // 2, False), (PART // 2, True), (2 * PART + 1, False)])
def test_a_wrong_declared_hash_leaves_nothing(app, archive, case, size, wire):
    before = _state(archive)
    data = os.urandom(size)
    body = _wire(data, sha256="0" * 64) if wire else {"data": _body(data, sha256="0" * 64),
                                                       "content_type": "multipart/form-data"}
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", **body)
    assert r.status_code == 422 and "sha256" in r.get_json()["errors"], r.get_json()
    assert _state(archive) == before  # no row, no object, no multipart upload left open


def test_a_file_over_the_limit_is_refused_while_it_arrives(app, archive, case):
    before = _state(archive)
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", data=_body(os.urandom(31 * 1024**2)),
                         content_type="multipart/form-data")
    assert r.status_code == 413
    assert _state(archive) == before


def test_fields_after_the_file_still_work(app, archive, case):
    data = os.urandom(PART + 7)
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", data=_body(data, fields_first=False),
                         content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["sha256"] == hashlib.sha256(data).hexdigest()


def _begin_upload(app, case, port: int, size: int) -> socket.socket:
    """A connection that has sent an upload's headers and fields, announcing a file of ``size``
    bytes as the last part; the caller sends some of it, then goes away."""
    boundary = "streamtestboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"stage\"\r\n\r\ninvestigation\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"form\"\r\n\r\ninquiry_record\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode()
    total = len(head) + size + len(f"\r\n--{boundary}--\r\n")
    token = app.config["TEST_TOKENS"]["clerk_a"]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall((f"POST /api/cases/{case['id']}/documents HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                  f"Content-Length: {total}\r\n\r\n").encode() + head)
    return sock


def test_a_client_that_goes_away_mid_upload_leaves_nothing(app, archive, case):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        before = _state(archive)
        sock = _begin_upload(app, case, server.server_port, 3 * PART + 100)
        sent = 0
        while sent < PART + PART // 2:  # the first part has gone to the store; then the client vanishes
            sock.sendall(os.urandom(256 * 1024))
            sent += 256 * 1024
        end = time.monotonic() + 30
        while not _state(archive)[2]:  # the multipart upload is open: bytes went on before the end
            assert time.monotonic() < end, "no multipart upload was started while the body arrived"
            time.sleep(0.1)
        sock.close()
        end = time.monotonic() + 30
        while _state(archive)[2] and time.monotonic() < end:  # the server notices and aborts
            time.sleep(0.2)
        assert _state(archive) == before
    finally:
        server.shutdown()


def _multipart(file: bytes, after: bytes = b"", epilogue: bytes = b"") -> tuple[bytes, bytes]:
    boundary = b"rawboundary42"
    body = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"stage\"\r\n\r\ninvestigation\r\n"
            b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + file + b"\r\n" + after +
            b"--" + boundary + b"--\r\n" + epilogue)
    return body, boundary


@pytest.mark.parametrize("shape", ["last part", "a field after it", "an epilogue", "a lookalike inside"])
def test_the_file_read_raw_is_the_file_the_decoder_reads(shape):
    """``begin_raw`` takes the file's bytes without the decoder; whenever the guessed length is
    wrong it refuses (NotLastPart) before its last bytes, and ``rewind`` lets the decoder read
    the very same file from its first byte."""
    from archive.services.streaming import MultipartStream, NotLastPart, read_full

    rng = __import__("random").Random(7)
    data = rng.randbytes(3 * 1024**2 + 17)
    after = b"--rawboundary42\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\nabc\r\n" \
        if shape == "a field after it" else b""
    if shape == "a lookalike inside":  # a near-delimiter straddling two reads must not stop it
        data = data[:1024**2 - 5] + b"\r\n--rawboundary4" + data[1024**2 + 10:]
    body, boundary = _multipart(data, after, b"\r\n" if shape == "an epilogue" else b"")
    parts = MultipartStream(io.BytesIO(body), boundary, content_length=len(body))
    assert parts.until_file() == {"stage": "investigation"}
    assert parts.begin_raw()
    if shape in ("last part", "a lookalike inside"):
        assert read_full(parts, 10 * 1024**2) == data and parts.read(1) == b""
        assert parts.rest() == {"stage": "investigation"}
        return
    got = []
    with pytest.raises(NotLastPart):
        while True:
            chunk = parts.read(1024**2)
            assert chunk, "ended without NotLastPart"
            got.append(chunk)
    assert sum(map(len, got)) < len(data) + 1  # its last bytes were never given
    parts.rewind()
    assert read_full(parts, 10 * 1024**2) == data
    fields = parts.rest()
    assert fields.get("sha256") == ("abc" if after else None)


def test_a_field_after_the_file_sends_it_through_the_decoder(app, archive, case):
    data = b"\xff\xd8\xff\xe0" + os.urandom(PART // 4)
    body, boundary = _multipart(data, b"--rawboundary42\r\nContent-Disposition: form-data; name=\"form\"\r\n\r\n"
                                      b"inquiry_record\r\n")
    body = body.replace(b"name=\"stage\"\r\n\r\ninvestigation\r\n", b"name=\"stage\"\r\n\r\ninvestigation\r\n"
                        b"--rawboundary42\r\nContent-Disposition: form-data; name=\"form\"\r\n\r\ninquiry_record\r\n")
    r = _clerk(app).post(f"/api/cases/{case['id']}/documents", data=body,
                         content_type="multipart/form-data; boundary=rawboundary42")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["sha256"] == hashlib.sha256(data).hexdigest() and r.get_json()["size"] == len(data)
    with archive.sessions() as s:
        row = s.get(Document, r.get_json()["id"])
    assert b"".join(archive.store.open(row.object_key, row.version_id)) == data
    assert "sha256-in" not in archive.store.stat(row.object_key, row.version_id).metadata


def test_a_delimiter_split_between_two_reads_is_found():
    from archive.services.streaming import MultipartStream, NotLastPart, read_full

    data = bytes(range(256)) * 4
    after = b"--rawboundary42\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\nabc\r\n"
    body, boundary = _multipart(data, after)
    for step in (3, 7, 11):  # reads of a few bytes: the delimiter falls across them somewhere
        parts = MultipartStream(io.BytesIO(body), boundary, chunk=5, content_length=len(body))
        parts.until_file()
        assert parts.begin_raw()
        with pytest.raises(NotLastPart):
            while parts.read(step):
                pass
        parts.rewind()
        assert read_full(parts, 4096) == data and parts.rest()["sha256"] == "abc"


def test_a_client_that_goes_away_while_its_file_streams_to_the_store_leaves_nothing(app, archive, case, monkeypatch):
    """The PUT of a file sent while it arrives is aborted with the request: no version."""
    from werkzeug.serving import make_server

    real, started = archive.store.put_streamed, threading.Event()

    def watched(*args, **kwargs):
        started.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(archive.store, "put_streamed", watched)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        before = _state(archive)
        sock = _begin_upload(app, case, server.server_port, PART // 2)
        sock.sendall(b"\xff\xd8\xff\xe0" + os.urandom(PART // 4))
        assert started.wait(30), "the file was not sent to the store while it arrived"
        time.sleep(0.5)
        sock.close()
        time.sleep(2)  # the server notices, the PUT is cut short
        assert _state(archive) == before
        assert not [v for k, v in archive.store.keys("cases/") if k.startswith(f"cases/{case['id']}/documents/")]
    finally:
        server.shutdown()
