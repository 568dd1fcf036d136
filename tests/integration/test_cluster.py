"""The archive on a SeaweedFS cluster (master, three volume servers with replication 001, filer,
S3 gateway; separate processes on loopback): with one volume server stopped every stored document
is still read back whole and new uploads are still accepted; after its restart all is readable."""
from __future__ import annotations

import hashlib
import os

import pytest

from tests.conftest import ACCESS, SECRET, authorize, client_as, new_case, upload


@pytest.fixture
def cluster(tmp_path):
    from archive.storage.cluster import SeaweedCluster

    c = SeaweedCluster(tmp_path / "cluster", ACCESS, SECRET)
    c.start()
    yield c
    c.stop(grace=1.0)


def test_a_volume_server_down_loses_nothing(make_app, cluster):
    app = make_app(S3_ENDPOINT=cluster.endpoint)
    authorize(app)
    client = client_as(app, "city")
    case = new_case(client, number="津武市监罚〔2026〕700号")
    stored = {}
    for i, size in enumerate([30_000, 250_000, 1_200_000, 6_000_000] + [50_000 + i for i in range(8)]):
        data = b"%PDF-1.4\n" + os.urandom(size)
        r = upload(client, case["id"], data, filename=f"证据{i}.pdf", stage="investigation", form="other_evidence")
        assert r.status_code == 201, r.get_json()
        stored[r.get_json()["id"]] = hashlib.sha256(data).hexdigest()

    def all_readable() -> None:
        for doc_id, digest in stored.items():
            r = client.get(f"/api/documents/{doc_id}/content")
            assert r.status_code == 200 and hashlib.sha256(r.data).hexdigest() == digest, doc_id

    cluster.stop_one("volume1")
    assert cluster.procs["volume1"].poll() is not None
    all_readable()
    data = b"%PDF-1.4\n" + os.urandom(400_000)
    r = upload(client, case["id"], data, filename="停机期间上传.pdf", stage="investigation", form="other_evidence")
    assert r.status_code == 201, r.get_json()
    stored[r.get_json()["id"]] = hashlib.sha256(data).hexdigest()
    all_readable()
    cluster.start_one("volume1")
    all_readable()
