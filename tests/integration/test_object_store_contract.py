"""The object-store port's contract, run against a real SeaweedFS (no mocks): the embedded
``weed mini`` and a cluster of separate processes (master, three volume servers with replication
001, filer, S3 gateway)."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os

import pytest

from archive.storage.base import ObjectLocked, ObjectNotFound, StorageUnavailable
from archive.storage.s3 import S3ObjectStore

SOON = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
META = {"filename": "行政处罚决定书（津武市监罚〔2026〕12号）.pdf", "case-number": "津武市监罚〔2026〕12号",
        "sha256": "0" * 64}


@pytest.fixture(params=["mini", "cluster"])
def store(request):
    from tests.conftest import make_store

    server = request.getfixturevalue("seaweed" if request.param == "mini" else "seaweed_cluster")
    return make_store(server.endpoint)


def put(store, key, data: bytes, meta=META):
    return store.put(key, io.BytesIO(data), len(data), meta, "application/pdf", SOON)


def read(store, key, version=None, **kw) -> bytes:
    return b"".join(store.open(key, version, **kw))


def test_put_stat_get_round_trip_with_chinese_metadata(store):
    res = put(store, "cases/c1/documents/d1", b"%PDF-1.7 hello")
    info = store.stat("cases/c1/documents/d1", res.version_id)
    assert info.size == 14 and info.version_id == res.version_id
    assert info.metadata == {k.lower(): v for k, v in META.items()}
    assert read(store, "cases/c1/documents/d1", res.version_id) == b"%PDF-1.7 hello"


def test_every_put_is_a_new_version_and_old_versions_stay_readable(store):
    v1 = put(store, "k", b"first").version_id
    v2 = put(store, "k", b"second").version_id
    assert v1 != v2
    assert read(store, "k", v1) == b"first" and read(store, "k", v2) == b"second"
    assert sorted(v for k, v in store.keys() if k == "k") == sorted([v1, v2])


def test_retention_is_set_and_refuses_deletion(store):
    v = put(store, "locked", b"evidence").version_id
    info = store.stat("locked", v)
    assert info.retention_mode == "GOVERNANCE" and info.retain_until > dt.datetime.now(dt.timezone.utc)
    with pytest.raises(ObjectLocked):
        store.remove_version("locked", v)
    assert read(store, "locked", v) == b"evidence"


def test_legal_hold_on_and_off(store):
    v = put(store, "held", b"x").version_id
    store.set_legal_hold("held", v, True)
    assert store.stat("held", v).legal_hold is True
    store.set_legal_hold("held", v, False)
    assert store.stat("held", v).legal_hold is False


def test_multipart_upload_streams_and_reads_back_ranges(store):
    data = os.urandom(12 * 1024 * 1024 + 123)
    res = put(store, "big", data)
    assert "-" in res.etag  # a multipart ETag, not an MD5: the archive keeps its own SHA-256
    assert hashlib.sha256(read(store, "big", res.version_id)).digest() == hashlib.sha256(data).digest()
    assert read(store, "big", res.version_id, offset=5 * 1024 * 1024 - 3, length=10) == \
        data[5 * 1024 * 1024 - 3: 5 * 1024 * 1024 + 7]


def test_missing_objects_and_versions_raise_not_found(store):
    with pytest.raises(ObjectNotFound):
        store.stat("nope")
    v = put(store, "here", b"x").version_id
    with pytest.raises(ObjectNotFound):
        store.stat("here", "0" * len(v))


def test_ensure_bucket_is_idempotent(store):
    store.ensure_bucket()
    store.ensure_bucket()
    store.ping()


def test_unreachable_store_raises_unavailable():
    from tests.conftest import ACCESS, SECRET
    from archive.storage.seaweed import pick_ports

    dead = S3ObjectStore(f"127.0.0.1:{pick_ports(1)[0]}", ACCESS, SECRET, "some-bucket")
    with pytest.raises(StorageUnavailable):
        dead.ping()
    with pytest.raises(StorageUnavailable):
        put(dead, "k", b"x")


class Trickle:
    """A stream that gives its bytes in small, uneven reads, as a request body arrives."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self.data, self.pos, self.fail_after = data, 0, fail_after

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise ConnectionResetError("the client went away")
        n = min(n if n >= 0 else len(self.data), 70_001)
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def _versions(store, key):
    return [v for k, v in store.keys(key) if k == key]


def test_put_streamed_stores_exactly_the_bytes_and_their_sha256(store):
    data = os.urandom(600_000)  # read in uneven pieces
    seen = []
    res = store.put_streamed("checked/ok", Trickle(data), len(data), META, "application/pdf", SOON, verify=seen.append)
    digest = hashlib.sha256(data).hexdigest()
    assert res.sha256 == digest and seen == [digest]
    info = store.stat("checked/ok", res.version_id)
    assert info.size == len(data) and info.retention_mode == "GOVERNANCE"
    assert info.metadata["case-number"] == META["case-number"]
    assert read(store, "checked/ok", res.version_id) == data


@pytest.mark.parametrize("case", ["more", "fewer", "verify refuses", "stream fails"])
def test_put_streamed_stores_nothing_unless_the_bytes_are_whole_and_accepted(store, case):
    """The last bytes wait for the end of the stream and ``verify``: a stream longer or shorter
    than announced, refused, or failing mid-way aborts the request."""
    from archive.storage.base import LengthMismatch

    data = os.urandom(700_000)
    length, stream, verify, error = len(data), Trickle(data), None, LengthMismatch
    if case == "more":
        length -= 1
    elif case == "fewer":
        length += 1
    elif case == "verify refuses":
        def verify(sha256):
            raise ValueError("not the declared SHA-256")
        error = ValueError
    else:
        stream, error = Trickle(data, fail_after=400_000), ConnectionResetError
    with pytest.raises(error):
        store.put_streamed(f"checked/{case}", stream, length, META, "application/pdf", SOON, verify=verify)
    assert _versions(store, f"checked/{case}") == []
    with pytest.raises(ObjectNotFound):
        store.stat(f"checked/{case}")
