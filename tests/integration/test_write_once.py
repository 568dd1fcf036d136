"""Write-once records: amendments and versions, fixity, retention and legal hold, complaints,
disaster rebuild and reconcile (real SeaweedFS; SQLite and PostgreSQL)."""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from minio.deleteobjects import DeleteObject
from sqlalchemy import select

from archive.cli import main
from archive.demo.documents import make_pdf
from archive.models import AuditEntry, Document, FixityEvent, WarningRecord
from archive.storage.base import ObjectLocked
from tests.conftest import ACCESS, SECRET, authorize, client_as, damage_on_volume, drain, new_case, record_stage, upload

ORIGINAL = make_pdf("行政处罚决定书", ["本机关决定：罚款人民币伍万元整，责令停产停业。"])
CORRECTED = make_pdf("行政处罚决定书（更正）", ["本机关决定：罚款人民币叁万元整，责令改正。"])


def amend(app, doc_id, data=CORRECTED, reason="罚款金额笔误", who="clerk_a"):
    return client_as(app, who).post(f"/api/documents/{doc_id}/amendments", data={
        "reason": reason, "file": (io.BytesIO(data), "更正决定书.pdf")}, content_type="multipart/form-data")


@pytest.fixture
def decided(app, client):
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    doc = upload(client, case["id"], ORIGINAL).get_json()
    return case, doc


def test_amendment_is_approved_by_the_supervising_level_only(app, client, archive, decided):
    case, doc = decided
    r = amend(app, doc["id"])
    assert r.status_code == 201, r.get_json()
    a = r.get_json()
    assert a["status"] == "pending" and a["sha256"] == hashlib.sha256(CORRECTED).hexdigest()
    assert amend(app, doc["id"]).status_code == 409  # one pending request at a time
    assert amend(app, doc["id"], who="clerk_b").status_code == 404  # another district's agency
    url = f"/api/amendments/{a['id']}/decision"
    assert client_as(app, "clerk_a").post(url, json={"approve": True}).status_code == 403  # the requester
    assert client_as(app, "legal_a").post(url, json={"approve": True}).status_code == 403  # an agency user
    assert client_as(app, "district_b").post(url, json={"approve": True}).status_code == 404
    assert client_as(app, "city").post(url, json={"approve": True}).status_code == 403  # not the supervising level
    pending = client_as(app, "district_a").get("/api/amendments?status=pending").get_json()["amendments"]
    assert [x["id"] for x in pending] == [a["id"]]
    ok = client_as(app, "district_a").post(url, json={"approve": True, "note": "核实无误"})
    assert ok.status_code == 200 and ok.get_json()["new_version_no"] == 2
    assert client_as(app, "district_a").post(url, json={"approve": False, "note": "x"}).status_code == 409
    # both versions are stored, listed and readable with their checksums
    versions = client.get(f"/api/documents/{doc['id']}/versions").get_json()["versions"]
    assert [(v["version"], v["current"], v["sha256"]) for v in versions] == [
        (1, False, hashlib.sha256(ORIGINAL).hexdigest()), (2, True, hashlib.sha256(CORRECTED).hexdigest())]
    assert client.get(f"/api/documents/{doc['id']}/content?version=1").data == ORIGINAL
    assert client.get(f"/api/documents/{doc['id']}/content").data == CORRECTED
    assert client.get(f"/api/documents/{doc['id']}/content?version=7").status_code == 404
    assert client.get(f"/api/documents/{doc['id']}").get_json()["sha256"] == hashlib.sha256(CORRECTED).hexdigest()
    # the store refuses to delete the retained earlier version
    with pytest.raises(ObjectLocked):
        archive.store.remove_version(f"cases/{case['id']}/documents/{doc['id']}",
                                     versions[0]["version_id"])
    # the index shows the current version and finds the old one on request
    drain(archive)
    current = client.get("/api/search", query_string={"q": "叁万元"}).get_json()
    assert [(h["document_id"], h["version"], h["current"]) for h in current["hits"]] == [(doc["id"], 2, True)]
    assert client.get("/api/search", query_string={"q": "伍万元"}).get_json()["total"] == 0
    old = client.get("/api/search", query_string={"q": "伍万元", "versions": "all"}).get_json()
    assert [(h["document_id"], h["version"], h["current"]) for h in old["hits"]] == [(doc["id"], 1, False)]
    assert "伍万元" in "".join(old["hits"][0]["highlights"]["content"]).replace("<mark>", "").replace("</mark>", "")


def test_a_rejection_is_kept_with_its_reason_and_changes_nothing(app, client, decided):
    _, doc = decided
    a = amend(app, doc["id"]).get_json()
    url = f"/api/amendments/{a['id']}/decision"
    assert client_as(app, "district_a").post(url, json={"approve": False}).status_code == 422  # no reason
    r = client_as(app, "district_a").post(url, json={"approve": False, "note": "更正依据不足"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    listed = client.get("/api/amendments?status=rejected").get_json()["amendments"]
    assert [(x["id"], x["decision_note"], x["decided_by"]) for x in listed] == [(a["id"], "更正依据不足", "district_a")]
    assert [v["version"] for v in client.get(f"/api/documents/{doc['id']}/versions").get_json()["versions"]] == [1]
    assert client.get(f"/api/documents/{doc['id']}/content").data == ORIGINAL


def _bypass_delete(store, key, version_id) -> list:
    """What an S3 administrator can do in governance mode: delete, bypassing governance."""
    return list(store.client.remove_objects(store.bucket, [DeleteObject(key, version_id)], bypass_governance_mode=True))


def _fixity(archive, doc_ids=None):
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.services import fixity
    from archive.clock import now

    with archive.sessions() as s:
        return fixity.run(s, archive.store, load_rules(), load_calendar(s), now(), doc_ids=doc_ids)


def test_fixity_finds_altered_missing_and_damaged_objects(app, client, archive, seaweed, monkeypatch):
    case = new_case(client)
    marker = os.urandom(16).hex().encode()
    payloads = {name: marker + name.encode() + os.urandom(200_000) for name in ("a", "b", "c", "d")}
    docs = {name: upload(client, case["id"], data, filename=f"{name}.bin", stage="investigation",
                         form="evidence_extraction").get_json() for name, data in payloads.items()}
    report = _fixity(archive)
    assert report.ok == 4 and not report.failures
    key = {n: f"cases/{case['id']}/documents/{d['id']}" for n, d in docs.items()}
    store = archive.store
    # a: a new version written behind the archive's back
    store.client.put_object(store.bucket, key["a"], io.BytesIO(b"forged"), 6)
    # b: the version removed with the administrator's governance bypass
    assert _bypass_delete(store, key["b"], docs["b"]["version_id"]) == []
    # c: the volume damaged on disk, its checksum rewritten (bit rot only SHA-256 finds)
    damage_on_volume(seaweed, marker + b"c", 5000)
    report = _fixity(archive)
    results = {(f["document_id"], f["result"]) for f in report.failures}
    assert (docs["a"]["id"], "altered") in results
    assert (docs["b"]["id"], "missing") in results
    assert (docs["c"]["id"], "damaged") in results
    assert not any(d == docs["d"]["id"] for d, _ in results)
    with archive.sessions() as s:
        warnings = s.scalars(select(WarningRecord).where(WarningRecord.rule.like("fixity_%"))).all()
        assert {(w.rule, w.level) for w in warnings} == {("fixity_altered", 2), ("fixity_missing", 2),
                                                         ("fixity_damaged", 2)}
        assert s.scalar(select(sa.func.count()).select_from(FixityEvent)) >= 8
    _fixity(archive)  # re-running stores each warning once
    with archive.sessions() as s:
        assert s.scalar(select(sa.func.count()).select_from(WarningRecord).where(
            WarningRecord.rule.like("fixity_%"))) == 3
    rep = client_as(app, "district_a").get("/api/fixity/report").get_json()
    assert rep["latest_results"]["missing"] == 1 and rep["latest_results"]["damaged"] == 1
    assert {f["document_id"] for f in rep["failures"]} == {docs["a"]["id"], docs["b"]["id"], docs["c"]["id"]}
    assert client_as(app, "district_b").get("/api/fixity/report").get_json()["failures"] == []
    assert client_as(app, "clerk_a").get("/api/fixity/report").status_code == 403
    for k in ("DATA_DIR", "DATABASE_URL", "S3_ENDPOINT", "S3_BUCKET"):
        monkeypatch.setenv("ARCHIVE_" + k, str(archive.config[k]))
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", SECRET)
    r = CliRunner().invoke(main, ["fixity", "--all"])
    assert r.exit_code == 1 and "MISSING" in r.output and "checked" in r.output, r.output


def test_retention_follows_the_procedure(app, client, archive):
    general = new_case(client, number="津武市监罚〔2026〕1号")
    summary = new_case(client, number="津武市监罚〔2026〕2号", procedure="summary")
    years = {}
    for case in (general, summary):
        d = upload(client, case["id"], ORIGINAL).get_json()
        r = archive.store.client.get_object_retention(archive.store.bucket, f"cases/{case['id']}/documents/{d['id']}",
                                                      version_id=d["version_id"])
        years[case["procedure"]] = (r.retain_until_date.year - dt.date.today().year)
    assert years == {"general": 100, "summary": 30}


def _held(store, key, version):
    return store.client.is_object_legal_hold_enabled(store.bucket, key, version_id=version)


def test_complaints_put_and_lift_legal_hold(app, client, archive, decided):
    case, doc = decided
    key = f"cases/{case['id']}/documents/{doc['id']}"
    handler = client_as(app, "complaints_a")
    assert client_as(app, "clerk_a").post("/api/complaints", json={}).status_code == 422  # fields checked first
    assert client_as(app, "clerk_a").post("/api/complaints", json={
        "received_at": "2026-11-20T09:00:00+08:00", "complainant": "王某", "text": "x"}).status_code == 403
    body = {"received_at": "2026-11-20T09:00:00+08:00", "complainant": "王某", "text": "反映处罚决定金额有误",
            "case_id": case["id"]}
    c1 = handler.post("/api/complaints", json=body)
    assert c1.status_code == 201, c1.get_json()
    c1 = c1.get_json()
    assert c1["cases"][0]["held"] is True and c1["district"] == "120114"
    assert _held(archive.store, key, doc["version_id"])
    # a held version cannot be deleted even with the administrator's governance bypass
    assert _bypass_delete(archive.store, key, doc["version_id"]) != []
    # a document uploaded while the case is held is held too
    later = upload(client, case["id"], ORIGINAL + b"\n% the receipt", filename="送达回证.pdf", form="service_receipt").get_json()
    later_key = f"cases/{case['id']}/documents/{later['id']}"
    assert _held(archive.store, later_key, later["version_id"])
    c2 = handler.post("/api/complaints", json={**body, "case_id": None, "agency": "A-SJJ"}).get_json()
    drain(archive)
    found = handler.get("/api/search", query_string={"q": "天津宏泰食品有限公司", "complaint": c2["id"]}).get_json()
    assert found["total"] >= 1
    assert handler.post(f"/api/complaints/{c2['id']}/links", json={"case_id": case["id"]}).status_code == 201
    assert client_as(app, "district_b").get(f"/api/complaints/{c2['id']}").status_code == 404  # another district
    r = handler.post(f"/api/complaints/{c1['id']}/close", json={"handling": "调阅案卷核实", "outcome": "不属实"})
    assert r.status_code == 200 and r.get_json()["status"] == "closed"
    assert _held(archive.store, key, doc["version_id"])  # the second complaint still names it
    assert handler.post(f"/api/complaints/{c1['id']}/close", json={"handling": "x", "outcome": "y"}).status_code == 409
    handler.post(f"/api/complaints/{c2['id']}/close", json={"handling": "调阅案卷核实", "outcome": "已答复"})
    assert not _held(archive.store, key, doc["version_id"])
    assert not _held(archive.store, later_key, later["version_id"])
    listed = handler.get("/api/complaints?status=closed").get_json()["complaints"]
    assert {x["id"] for x in listed} == {c1["id"], c2["id"]}
    with archive.sessions() as s:
        searches = [json.loads(e.detail) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action == "search", AuditEntry.actor == "complaints_a"))]
    assert any(d.get("complaint") == c2["id"] for d in searches)


@contextlib.contextmanager
def second_database(database_url: str, tmp_path: Path):
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
        return
    name = "archive_r_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def point_cli_at_rebuild(monkeypatch, archive, database_url: str, index_dir) -> None:
    """The CLI's configuration: the archive's object store, a second database and index."""
    for k in ("DATA_DIR", "S3_ENDPOINT", "S3_BUCKET"):
        monkeypatch.setenv("ARCHIVE_" + k, str(archive.config[k]))
    monkeypatch.setenv("ARCHIVE_DATABASE_URL", database_url)
    monkeypatch.setenv("ARCHIVE_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", SECRET)


QUERIES = ["罚款", "叁万元", "天津宏泰食品有限公司", "询问笔录", "-罚款 笔录"]


def renditions_of(archive) -> list[tuple]:
    from archive.models import Rendition

    with archive.sessions() as s:
        return sorted((r.document_id, r.source_version_id, r.status, r.object_key, r.version_id, r.sha256, r.size)
                      for r in s.scalars(sa.select(Rendition)))


def formats_of(archive) -> list[tuple]:
    """The examinations of the documents' current versions (derived: made again after a rebuild)."""
    from archive.models import Document, Examination

    with archive.sessions() as s:
        return sorted(s.execute(sa.select(Examination.document_id, Examination.version_id, Examination.puid,
                                          Examination.policy, Examination.signatures_failed).join(
            Document, (Document.id == Examination.document_id) & (Document.version_id == Examination.version_id))).all())


def snapshot(client, case_ids):
    out = {"cases": {}, "search": {}}
    for cid in case_ids:
        c = client.get(f"/api/cases/{cid}").get_json()
        docs = sorted((d["id"], d["sha256"], d["filename"], d["stage"], d["form"], d["size"])
                      for s in c["stages"] for d in s["documents"])
        versions = {d[0]: [(v["version"], v["sha256"], v["version_id"], v["stored_at"]) for v in
                           client.get(f"/api/documents/{d[0]}/versions").get_json()["versions"]] for d in docs}
        out["cases"][c["number"]] = {"stages": [(s["stage"], s["completed_at"]) for s in c["stages"]],
                                     "docs": docs, "versions": versions, "decision_period": c.get("decision_period"),
                                     "fields": {k: c[k] for k in ("agency", "kind", "procedure", "party_name",
                                                                  "party_id", "opened_on", "summary")}}
    for q in QUERIES:
        for versions in ("current", "all"):
            hits = client.get("/api/search", query_string={"q": q, "versions": versions, "per_page": 100}).get_json()
            out["search"][f"{q}/{versions}"] = sorted((h["document_id"], h["version"]) for h in hits["hits"])
    return out


def test_rebuild_from_storage_gives_the_same_catalog_and_search(app, client, archive, database_url, tmp_path,
                                                                monkeypatch, make_app):
    from tests.integration.test_sampling import _case_with_documents

    case, _ = _case_with_documents(client)
    other = new_case(client, number="津武应急罚〔2026〕5号", agency="A-YJJ", procedure="summary")
    record_stage(client, other["id"], "filing", "2026-04-01T09:00:00+08:00")
    assert client_as(app, "clerk_ay").post(f"/api/cases/{other['id']}/periods", json={
        "kind": "extension", "days": 30, "approved_by": "李局长", "reason": "案情复杂"}).status_code == 201
    d = upload(client, other["id"], ORIGINAL, filename="立案审批表.pdf", stage="filing", form="filing_approval").get_json()
    a = client_as(app, "clerk_ay").post(f"/api/documents/{d['id']}/amendments", data={
        "reason": "更正", "file": (io.BytesIO(CORRECTED), "立案审批表（更正）.pdf")},
        content_type="multipart/form-data").get_json()
    assert client_as(app, "district_a").post(f"/api/amendments/{a['id']}/decision",
                                             json={"approve": True}).status_code == 200
    drain(archive, renditions=True)
    before = snapshot(client, [case["id"], other["id"]])
    before["renditions"] = renditions_of(archive)
    before["formats"] = formats_of(archive)
    assert len(before["renditions"]) == 1  # the DOCX's
    assert len(before["formats"]) == 5
    assert before["search"]["叁万元/current"] and before["search"]["罚款/all"] != before["search"]["罚款/current"]
    with second_database(database_url, tmp_path) as url:
        point_cli_at_rebuild(monkeypatch, archive, url, tmp_path / "rebuilt-index")
        r = CliRunner().invoke(main, ["rebuild", "--from-storage"])
        assert r.exit_code == 0 and "rebuilt 2 cases, 5 documents (6 versions), 1 renditions" in r.output, r.output
        again = CliRunner().invoke(main, ["rebuild", "--from-storage"])
        assert again.exit_code != 0 and "empty" in again.output
        rebuilt = make_app(DATABASE_URL=url, S3_BUCKET=archive.config["S3_BUCKET"],
                           INDEX_DIR=str(tmp_path / "rebuilt-index"))
        authorize(rebuilt)
        drain(rebuilt.extensions["archive"])  # the examinations, queued by the rebuild, are made again
        after = snapshot(client_as(rebuilt, "city"), [case["id"], other["id"]])
        after["renditions"] = renditions_of(rebuilt.extensions["archive"])
        after["formats"] = formats_of(rebuilt.extensions["archive"])
        rebuilt.extensions["archive"].engine.dispose()
    assert after == before


def test_reconcile_repairs_a_crash_between_object_write_and_commit(app, client, archive, monkeypatch):
    from sqlalchemy.orm import Session

    case = new_case(client)
    record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00")
    real_commit = Session.commit
    calls = {"n": 0}

    def crash(self):  # (the upload's audit entry and deadline check flushed the row already)
        if any(isinstance(o, Document) for o in [*self.new, *self.identity_map.values()]):
            calls["n"] += 1
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
        return real_commit(self)

    monkeypatch.setattr(Session, "commit", crash)
    with pytest.raises(sa.exc.OperationalError):  # the test client lets the 500's cause through
        upload(client, case["id"], ORIGINAL, filename="崩溃时的决定书.pdf")
    monkeypatch.setattr(Session, "commit", real_commit)
    assert calls["n"] == 1
    for k in ("DATA_DIR", "DATABASE_URL", "S3_ENDPOINT", "S3_BUCKET", "INDEX_DIR"):
        monkeypatch.setenv("ARCHIVE_" + k, str(archive.config[k]))
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", SECRET)
    report = CliRunner().invoke(main, ["reconcile"])
    assert report.exit_code == 1 and "orphan" in report.output and "崩溃时的决定书.pdf" in report.output
    fixed = CliRunner().invoke(main, ["reconcile", "--repair"])
    assert fixed.exit_code == 0 and "catalogued" in fixed.output and "consistent" in fixed.output, fixed.output
    drain(archive)
    docs = client.get(f"/api/cases/{case['id']}").get_json()["stages"][0]["documents"]
    assert [d["filename"] for d in docs] == ["崩溃时的决定书.pdf"]
    assert docs[0]["sha256"] == hashlib.sha256(ORIGINAL).hexdigest()
    assert client.get("/api/search", query_string={"q": "伍万元"}).get_json()["total"] == 1


def test_rolling_fixity_checks_the_least_recently_checked_first(app, client, archive):
    from archive.services.fixity import rolling_round
    from archive.clock import now

    case = new_case(client)
    ids = [upload(client, case["id"], make_pdf(f"证据{i}", [f"第{i}份"]), filename=f"{i}.pdf", stage="investigation",
                  form="evidence_extraction").get_json()["id"] for i in range(3)]
    # one round every 12 hours, every object within a day: 2 documents a round
    first = rolling_round(archive.sessions, archive.store, now(), 43200, 1)
    second = rolling_round(archive.sessions, archive.store, now(), 43200, 1)
    assert (first.checked, second.checked) == (2, 2) and not first.failures
    with archive.sessions() as s:
        checked = {d: [e.checked_at for e in s.scalars(select(FixityEvent).where(FixityEvent.document_id == d))]
                   for d in ids}
    assert all(checked[d] for d in ids)  # the third document came first in the second round
    assert sorted(len(v) for v in checked.values()) == [1, 1, 2]


def test_reconcile_rewrites_a_stale_case_manifest(app, client, archive, monkeypatch):
    from archive.models import Stage
    from archive.clock import now
    from archive.services.rebuild import manifest_key

    case = new_case(client)
    with archive.sessions() as s:  # a stage committed while the manifest write failed
        s.add(Stage(case_id=case["id"], stage="filing", completed_at=now(), recorded_at=now()))
        s.commit()
    for k in ("DATA_DIR", "DATABASE_URL", "S3_ENDPOINT", "S3_BUCKET", "INDEX_DIR"):
        monkeypatch.setenv("ARCHIVE_" + k, str(archive.config[k]))
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", SECRET)
    r = CliRunner().invoke(main, ["reconcile", "--repair"])
    assert r.exit_code == 0 and f"{manifest_key(case['id'])}: manifest written" in r.output, r.output
    manifest = json.loads(b"".join(archive.store.open(manifest_key(case["id"]))))
    assert [s["stage"] for s in manifest["stages"]] == ["filing"]
    again = CliRunner().invoke(main, ["reconcile", "--repair"])
    assert "manifest written" not in again.output


def test_a_complaint_received_in_the_future_is_refused(app, client):
    r = client_as(app, "complaints_a").post("/api/complaints", json={
        "received_at": "2099-01-01T09:00:00+08:00", "complainant": "王某", "text": "反映问题"})
    assert r.status_code == 422 and "received_at" in r.get_json()["errors"]
    assert client_as(app, "complaints_a").get("/api/complaints").get_json()["complaints"] == []


def test_fixity_sample_checks_that_many_documents(app, client, archive, monkeypatch):
    case = new_case(client)
    for i in range(3):
        upload(client, case["id"], make_pdf(f"证据{i}", ["x"]), filename=f"{i}.pdf", stage="investigation",
               form="evidence_extraction")
    for k in ("DATA_DIR", "DATABASE_URL", "S3_ENDPOINT", "S3_BUCKET"):
        monkeypatch.setenv("ARCHIVE_" + k, str(archive.config[k]))
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", SECRET)
    r = CliRunner().invoke(main, ["fixity", "--sample", "2"])
    assert r.exit_code == 0 and "checked 2 object versions: 2 ok, 0 failed" in r.output, r.output
    with archive.sessions() as s:
        assert s.scalar(select(sa.func.count(sa.distinct(FixityEvent.document_id)))) == 2
