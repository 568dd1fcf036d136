"""鉴定与销毁: a filed case whose retention period has ended is on the district office's 到期鉴定
list; it is kept longer (a new period, with reason) or its disposal is proposed, approved by
another office role, refused while a complaint holds it, and carried out only once every stored
version's object lock has passed — leaving a 销毁清册 entry that search, fixity, reconcile and
rebuild understand. The archive's clock is frozen; the archival rules and object lock are short
(years of one and two, seconds of object lock), as the issue asks."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archive.services import disposal
from archive.cli import main
from archive.demo.documents import make_pdf
from archive.models import Appraisal, ArchivalFile, AuditEntry, Document, Job
from archive.services.archivalrules import RULES_FILE
from tests.conftest import authorize, client_as, concurrently, drain, new_case, record_stage, upload
from tests.integration.test_archival import FORMS

UTC = dt.timezone.utc
BEFORE_END = dt.datetime(2014, 6, 1, 2, tzinfo=UTC)  # the D30 (here: 2 years) period of a 2012 case runs to 2014-12-31
AFTER_END = dt.datetime(2015, 3, 2, 2, tzinfo=UTC)
STAGES = {"filing": "2012-03-02T10:00:00+08:00", "investigation": "2012-03-10T10:00:00+08:00",
          "review": "2012-03-15T10:00:00+08:00", "decision": "2012-03-20T10:00:00+08:00",
          "execution": "2012-03-25T10:00:00+08:00", "closing": "2012-03-30T10:00:00+08:00"}


@pytest.fixture
def world(make_app, tmp_path):
    rules = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    rules["retention"]["periods"]["D30"]["years"] = 2  # short retention settings (the issue's)
    rules["retention"]["periods"]["D10"]["years"] = 1
    path = tmp_path / "archival-short.json"
    path.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    app = make_app(ARCHIVAL_RULES=str(path), RETENTION_SECONDS=2)
    authorize(app)
    return app, app.extensions["archive"], app.test_client()


@pytest.fixture
def frozen(monkeypatch):
    """The clock appraisal reads (``disposal.now``), set by the test."""
    at = {"now": AFTER_END}
    monkeypatch.setattr(disposal, "now", lambda: at["now"])
    return at


def filed_2012_case(app, archive_, client, number: str) -> dict:
    """A general-procedure case closed in 2012, its documents uploaded, filed (D30: to 2014-12-31)."""
    case = new_case(client, number=number, opened_on="2012-03-02")
    for stage, at in STAGES.items():
        assert record_stage(client, case["id"], stage, at).status_code == 201
    docs = []
    for stage, form, title in FORMS:
        r = upload(client, case["id"], make_pdf(title, [f"{number}：{title}。销毁检索词甲乙丙"]),
                   filename=f"{title}.pdf", stage=stage, form=form)
        assert r.status_code == 201, r.get_json()
        docs.append(r.get_json())
    drain(archive_)
    r = client_as(app, "clerk_a").post(f"/api/cases/{case['id']}/archive")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["retain_until"] == "2014-12-31"
    drain(archive_)
    case["documents"] = docs
    return case


def wait_out_locks(store, prefix: str, keep: frozenset[str] = frozenset()) -> None:
    """Wait until every version under ``prefix`` (but ``keep``) is out of its object lock — a few
    seconds here; the store's clock decides, so the wait ends when the latest lock does."""
    ends = [store.stat(k, v).retain_until for k, v in store.keys(prefix) if k not in keep]
    latest = max((e for e in ends if e is not None), default=None)
    if latest is not None:
        time.sleep(max(0.0, (latest - dt.datetime.now(UTC)).total_seconds()) + 0.1)


def dispose_until_done(archive_, case_id: str) -> None:
    """Run the queue until the disposal is carried out: once the locks of the case's versions
    have run out, the waiting job is due at once."""
    wait_out_locks(archive_.store, f"cases/{case_id}/")
    for _ in range(3):
        with archive_.sessions() as s:
            s.execute(Job.__table__.update().where(Job.kind == "dispose", Job.done_at.is_(None))
                      .values(next_attempt_at=None))  # (it waits to the second the lock ends: due now)
            s.commit()
        drain(archive_)
        with archive_.sessions() as s:
            if s.get(ArchivalFile, case_id).status == "disposed":
                return
    raise AssertionError("the disposal was not carried out")


def _due(app, who="district_a"):
    r = client_as(app, who).get("/api/appraisal/due")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["cases"]


def test_a_due_case_is_proposed_approved_by_another_office_and_destroyed_leaving_its_register(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕7号")
    key_prefix = f"cases/{case['id']}/"
    stored_before = list(archive_.store.keys(key_prefix))
    assert len(stored_before) >= len(FORMS)

    frozen["now"] = BEFORE_END
    assert _due(app) == []
    frozen["now"] = AFTER_END
    due = _due(app)
    assert [d["case_id"] for d in due] == [case["id"]]
    assert due[0]["retain_until"] == "2014-12-31" and due[0]["retention_name"] == "定期30年" and not due[0]["held"]
    assert _due(app, "city")[0]["case_id"] == case["id"]
    assert _due(app, "district_b") == []  # another district's office does not see it
    assert client_as(app, "clerk_a").get("/api/appraisal/due").status_code == 403
    assert client_as(app, "auditor").get("/api/appraisal/due").status_code == 403

    district = client_as(app, "district_a")
    assert district.post(f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": " "}).status_code == 422
    assert client_as(app, "district_b").post(f"/api/appraisal/cases/{case['id']}/dispose",
                                             json={"reason": "x"}).status_code == 404
    r = district.post(f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": "保管期满，经鉴定无继续保存价值"})
    assert r.status_code == 201, r.get_json()
    proposal = r.get_json()
    assert proposal["status"] == "proposed" and proposal["proposed_by"] == "district_a"
    assert district.post(f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": "再提"}).status_code == 409
    # keeping longer is refused while a disposal is open
    assert district.post(f"/api/appraisal/cases/{case['id']}/keep",
                         json={"period": "D10", "reason": "x"}).status_code == 409

    decision = f"/api/appraisal/disposals/{proposal['id']}/decision"
    assert district.post(decision, json={"approve": True}).status_code == 403  # not the proposer's role
    assert client_as(app, "city").post(decision, json={"approve": False}).status_code == 422  # a refusal says why
    r = client_as(app, "city").post(decision, json={"approve": True, "note": "同意销毁"})
    assert r.status_code == 200, r.get_json()
    approved = r.get_json()
    assert approved["status"] == "approved" and approved["decided_by"] == "city"
    assert client_as(app, "city").post(decision, json={"approve": True}).status_code == 409  # decided once
    register = approved["register"]
    originals = {d["id"]: (d["sha256"], d["size"]) for d in case["documents"]}
    assert {d["document_id"]: (d["sha256"], d["size"]) for d in register["documents"]} == originals
    assert register["archival_no"] == proposal["archival_no"] and register["approved_by"] == "city"

    dispose_until_done(archive_, case["id"])
    assert list(archive_.store.keys(key_prefix)) == []  # every version of the case, no bypass
    doc = case["documents"][0]
    r = client_as(app, "clerk_a").get(f"/api/documents/{doc['id']}/content")
    assert r.status_code == 410 and "销毁" in r.get_json()["message"]
    meta = client_as(app, "clerk_a").get(f"/api/documents/{doc['id']}").get_json()
    assert meta["sha256"] == doc["sha256"]  # the row stays, as the register lists it
    found = client_as(app, "district_a").get("/api/search", query_string={"q": "销毁检索词甲乙丙"}).get_json()
    assert found["total"] == 0
    listed = client_as(app, "city").get("/api/appraisal/disposals", query_string={"status": "disposed"}).get_json()
    entry = listed["appraisals"][0]
    assert entry["status"] == "disposed" and entry["disposed_at"] and entry["register"]["disposed_at"]
    assert len(entry["register_sha256"]) == 64
    assert client_as(app, "district_b").get(f"/api/appraisal/disposals/{proposal['id']}").status_code == 404
    with archive_.sessions() as s:
        from archive.services import fixity, reconcile
        from archive.deadlines.rules import load_rules
        from archive.deadlines.store import load_calendar

        report = fixity.run(s, archive_.store, load_rules(), load_calendar(s), dt.datetime.now(UTC))
        assert report.failures == []
        assert reconcile.reconcile(s, archive_.store).missing == []
        assert all(d.disposed_at is not None and d.text_content is None
                   for d in s.scalars(select(Document).where(Document.case_id == case["id"])))
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target_id == case["id"])
                                                 .order_by(AuditEntry.seq))]
    assert actions[-3:] == ["archive.dispose_propose", "archive.dispose_approve", "archive.dispose"]
    assert _due(app) == []


def test_keep_longer_moves_the_end_with_its_reason(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕8号")
    district = client_as(app, "district_a")
    url = f"/api/appraisal/cases/{case['id']}/keep"
    frozen["now"] = BEFORE_END
    assert district.post(url, json={"period": "D10", "reason": "尚有价值"}).status_code == 409  # not due yet
    frozen["now"] = AFTER_END
    assert district.post(url, json={"period": "X9", "reason": "尚有价值"}).status_code == 422
    assert district.post(url, json={"period": "D10", "reason": ""}).status_code == 422
    assert client_as(app, "clerk_a").post(url, json={"period": "D10", "reason": "x"}).status_code == 403
    r = district.post(url, json={"period": "D10", "reason": "涉及信访事项，延长保管"})
    assert r.status_code == 201, r.get_json()
    kept = r.get_json()
    assert (kept["until_before"], kept["until_after"], kept["retention_after"]) == ("2014-12-31", "2015-12-31", "D10")
    assert _due(app) == []
    assert district.post(url, json={"period": "D10", "reason": "再延"}).status_code == 409  # no longer due
    history = client_as(app, "clerk_a").get(f"/api/appraisal/cases/{case['id']}").get_json()["appraisals"]
    assert [(a["kind"], a["reason"]) for a in history] == [("keep", "涉及信访事项，延长保管")]
    drain(archive_)  # the retain job writes the archival record with the new end
    from archive.services.archivalrecord import newest, record_key

    record = newest(archive_.store, record_key(case["id"]))
    assert record["file"]["retain_until"] == "2015-12-31" and record["appraisals"][0]["kind"] == "keep"
    frozen["now"] = dt.datetime(2016, 1, 5, tzinfo=UTC)
    assert [d["case_id"] for d in _due(app)] == [case["id"]]  # due again when the new period ends


def test_an_open_complaint_blocks_the_proposal_the_approval_and_the_disposal(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕9号")
    handler = client_as(app, "complaints_a")
    body = {"received_at": "2014-11-20T09:00:00+08:00", "complainant": "王某", "text": "反映处罚有误",
            "case_id": case["id"]}
    c1 = handler.post("/api/complaints", json=body)
    assert c1.status_code == 201, c1.get_json()
    assert _due(app)[0]["held"] is True
    district = client_as(app, "district_a")
    r = district.post(f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": "保管期满"})
    assert r.status_code == 409 and "投诉" in r.get_json()["errors"]["case"][0]
    handler.post(f"/api/complaints/{c1.get_json()['id']}/close", json={"handling": "核实", "outcome": "不属实"})
    proposal = district.post(f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": "保管期满"}).get_json()
    # a complaint about the case arrives before the approval: refused
    c2 = handler.post("/api/complaints", json=body).get_json()
    decision = f"/api/appraisal/disposals/{proposal['id']}/decision"
    assert client_as(app, "city").post(decision, json={"approve": True}).status_code == 409
    handler.post(f"/api/complaints/{c2['id']}/close", json={"handling": "核实", "outcome": "不属实"})
    assert client_as(app, "city").post(decision, json={"approve": True}).status_code == 200
    # and one after the approval: the job waits, removing nothing, until it is closed
    c3 = handler.post("/api/complaints", json=body).get_json()
    wait_out_locks(archive_.store, f"cases/{case['id']}/")  # the seconds of object lock pass: only the hold is in the way
    drain(archive_)
    stored = list(archive_.store.keys(f"cases/{case['id']}/"))
    assert stored, "nothing may be removed while a complaint holds the case"
    with archive_.sessions() as s:
        a = s.scalar(select(Appraisal).where(Appraisal.case_id == case["id"], Appraisal.kind == "dispose"))
        assert a.status == "approved" and "投诉" in a.waiting
        job = s.scalar(select(Job).where(Job.kind == "dispose", Job.done_at.is_(None)))
        assert job is not None and job.attempts == 0  # waiting spends no attempt
    handler.post(f"/api/complaints/{c3['id']}/close", json={"handling": "核实", "outcome": "不属实"})
    dispose_until_done(archive_, case["id"])
    assert list(archive_.store.keys(f"cases/{case['id']}/")) == []


def test_a_version_still_under_object_lock_stops_the_whole_disposal(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕10号")
    doc = case["documents"][2]
    until = dt.datetime.now(UTC) + dt.timedelta(days=1)
    archive_.store.extend_retention(f"cases/{case['id']}/documents/{doc['id']}", doc["version_id"], until)
    district = client_as(app, "district_a")
    proposal = district.post(f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": "保管期满"}).get_json()
    assert client_as(app, "city").post(f"/api/appraisal/disposals/{proposal['id']}/decision",
                                       json={"approve": True}).status_code == 200
    wait_out_locks(archive_.store, f"cases/{case['id']}/",  # every other version's lock has passed
                   keep=frozenset({f"cases/{case['id']}/documents/{doc['id']}"}))
    before = sorted(archive_.store.keys(f"cases/{case['id']}/"))
    drain(archive_)
    assert sorted(archive_.store.keys(f"cases/{case['id']}/")) == before  # nothing removed, not even the free ones
    assert client_as(app, "clerk_a").get(f"/api/documents/{case['documents'][0]['id']}/content").status_code == 200
    with archive_.sessions() as s:
        a = s.scalar(select(Appraisal).where(Appraisal.case_id == case["id"], Appraisal.kind == "dispose"))
        assert a.status == "approved" and "保留期" in a.waiting
        job = s.scalar(select(Job).where(Job.kind == "dispose", Job.done_at.is_(None)))
        assert job.next_attempt_at >= until  # tried again when that lock ends
    view = client_as(app, "city").get(f"/api/appraisal/disposals/{proposal['id']}").get_json()
    assert "保留期" in view["waiting"]


def test_concurrent_keep_longer_decisions_move_the_end_once(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕17号")
    results = concurrently(4, lambda i: client_as(app, "district_a").post(
        f"/api/appraisal/cases/{case['id']}/keep", json={"period": "D10", "reason": f"延长 {i}"}).status_code)
    assert sorted(results) == [201, 409, 409, 409], results
    with archive_.sessions() as s:
        assert s.get(ArchivalFile, case["id"]).retain_until == dt.date(2015, 12, 31)  # moved once, not four times
        assert len(s.scalars(select(Appraisal).where(Appraisal.case_id == case["id"])).all()) == 1


def test_concurrent_proposals_and_approvals_happen_once(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕11号")
    results = concurrently(4, lambda i: client_as(app, "district_a").post(
        f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": f"保管期满 {i}"}).status_code)
    assert sorted(results) == [201, 409, 409, 409], results
    proposal = client_as(app, "city").get("/api/appraisal/disposals").get_json()["appraisals"][0]
    results = concurrently(4, lambda i: client_as(app, "city").post(
        f"/api/appraisal/disposals/{proposal['id']}/decision", json={"approve": True}).status_code)
    assert sorted(results) == [200, 409, 409, 409], results
    with archive_.sessions() as s:
        assert s.scalar(select(Job.id).where(Job.kind == "dispose").order_by(Job.id.desc()).offset(1)) is None
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "archive.dispose_approve")).all()) == 1


def test_rebuild_restores_the_filing_the_appraisals_and_the_tombstone(world, frozen, database_url, tmp_path,
                                                                      monkeypatch, make_app):
    from tests.integration.test_write_once import point_cli_at_rebuild, second_database

    app, archive_, client = world
    gone = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕12号")
    kept = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕13号")
    district = client_as(app, "district_a")
    assert district.post(f"/api/appraisal/cases/{kept['id']}/keep",
                         json={"period": "D30", "reason": "典型案例"}).status_code == 201
    proposal = district.post(f"/api/appraisal/cases/{gone['id']}/dispose", json={"reason": "保管期满"}).get_json()
    client_as(app, "city").post(f"/api/appraisal/disposals/{proposal['id']}/decision", json={"approve": True})
    dispose_until_done(archive_, gone["id"])
    drain(archive_)
    with archive_.sessions() as s:
        before = {r.case_id: (r.archival_no, r.status, r.retain_until, r.piece) for r in s.scalars(select(ArchivalFile))}
    with second_database(database_url, tmp_path) as url:
        point_cli_at_rebuild(monkeypatch, archive_, url, tmp_path / "rebuilt-index")
        monkeypatch.setenv("ARCHIVE_ARCHIVAL_RULES", archive_.config["ARCHIVAL_RULES"])
        r = CliRunner().invoke(main, ["rebuild", "--from-storage"])
        assert r.exit_code == 0, r.output
        rebuilt = make_app(DATABASE_URL=url, S3_BUCKET=archive_.config["S3_BUCKET"],
                           INDEX_DIR=str(tmp_path / "rebuilt-index"), ARCHIVAL_RULES=archive_.config["ARCHIVAL_RULES"])
        authorize(rebuilt)
        again = rebuilt.extensions["archive"]
        drain(again)
        with again.sessions() as s:
            after = {r.case_id: (r.archival_no, r.status, r.retain_until, r.piece)
                     for r in s.scalars(select(ArchivalFile))}
            docs = s.scalars(select(Document).where(Document.case_id == gone["id"])).all()
            assert {d.id: (d.sha256, d.size) for d in docs} == {d["id"]: (d["sha256"], d["size"])
                                                                 for d in gone["documents"]}
            assert all(d.disposed_at is not None for d in docs)
            kinds = sorted((a.case_id, a.kind, a.status) for a in s.scalars(select(Appraisal)))
        assert kinds == sorted([(kept["id"], "keep", "done"), (gone["id"], "dispose", "disposed")])
        city = client_as(rebuilt, "city")
        assert city.get(f"/api/documents/{gone['documents'][0]['id']}/content").status_code == 410
        assert city.get(f"/api/documents/{kept['documents'][0]['id']}/content").status_code == 200
        entry = city.get("/api/appraisal/disposals", query_string={"status": "disposed"}).get_json()["appraisals"]
        assert entry[0]["register"]["archival_no"] == proposal["archival_no"]
        # the next filing takes the next 件号, not a number of the restored ones
        third = filed_2012_case(rebuilt, again, rebuilt.test_client(), "津武市监罚〔2012〕14号")
        with again.sessions() as s:
            assert s.get(ArchivalFile, third["id"]).piece == max(p for *_, p in before.values()) + 1
        again.engine.dispose()
    assert after == before


def test_the_pages_show_the_due_list_the_approval_and_the_register(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕15号")
    district = client_as(app, "district_a")
    page = district.get("/appraisal")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "到期鉴定" in html and case["number"] in html and "提出销毁" in html and "延长保管" in html
    assert client_as(app, "clerk_a").get("/appraisal").status_code == 403
    r = district.post(f"/appraisal/cases/{case['id']}/dispose", data={"reason": ""})
    assert r.status_code == 303
    with archive_.sessions() as s:
        assert s.scalar(select(Appraisal.id)) is None  # an empty reason files nothing
    district.post(f"/appraisal/cases/{case['id']}/dispose", data={"reason": "保管期满，无保存价值"})
    a = client_as(app, "city").get("/api/appraisal/disposals").get_json()["appraisals"][0]
    html = client_as(app, "city").get(f"/appraisal/disposals/{a['id']}").get_data(as_text=True)
    assert "批准销毁" in html and case["documents"][0]["sha256"] in html  # what would be destroyed
    assert "批准销毁" not in district.get(f"/appraisal/disposals/{a['id']}").get_data(as_text=True).split("</h1>")[1]
    client_as(app, "city").post(f"/appraisal/disposals/{a['id']}/decision", data={"approve": "1", "note": "同意"})
    dispose_until_done(archive_, case["id"])
    html = district.get("/appraisal/register").get_data(as_text=True)
    assert a["archival_no"] in html and "7 份" in html
    html = client_as(app, "clerk_a").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "已销毁" in html and "保管期满，无保存价值" in html
    html = client_as(app, "clerk_a").get(f"/documents/{case['documents'][0]['id']}").get_data(as_text=True)
    assert "经鉴定销毁" in html and "下载原件" not in html


def test_the_offices_workbench_lists_what_waits_for_appraisal(world, frozen):
    app, archive_, client = world
    case = filed_2012_case(app, archive_, client, "津武市监罚〔2012〕16号")
    html = client_as(app, "district_a").get("/").get_data(as_text=True)
    assert "档案鉴定" in html and "保管期满待鉴定" in html and case["number"] in html
    assert "保管期满待鉴定" not in client_as(app, "district_b").get("/").get_data(as_text=True)
    client_as(app, "district_a").post(f"/api/appraisal/cases/{case['id']}/dispose", json={"reason": "保管期满"})
    assert "保管期满待鉴定" not in client_as(app, "district_a").get("/").get_data(as_text=True)
    city = client_as(app, "city").get("/").get_data(as_text=True)
    assert "审批销毁" in city and "保管期满" in city
    frozen["now"] = BEFORE_END
    assert "审批销毁" in client_as(app, "city").get("/").get_data(as_text=True)  # a proposal waits whatever the day
