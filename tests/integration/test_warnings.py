"""Warnings end to end: scan once per fact, handle at the right level, escalate 1 → 2 → 3."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archive.cli import main
from archive.deadlines.rules import load_rules
from archive.deadlines.store import load_calendar
from archive.deadlines.warnings import escalate, scan
from archive.models import WarningEscalation, WarningRecord
from archive.clock import SHANGHAI
from tests.conftest import client_as, new_case, record_stage, upload


def at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=SHANGHAI)


@pytest.fixture
def late_case(client, monkeypatch):
    """A penalty case filed on Friday 6 Nov 2026 whose filing approval has not been uploaded,
    recorded (and so first checked) on Tuesday 10 Nov at 08:00."""
    monkeypatch.setattr("archive.deadlines.warnings.server_now", lambda: at("2026-11-10 08:00"))
    case = new_case(client)
    assert record_stage(client, case["id"], "filing", "2026-11-06T10:00:00+08:00").status_code == 201
    return case


def _scan(archive, now):
    with archive.sessions() as s:
        return scan(s, load_rules(), load_calendar(s), now)


def _escalate(archive, now):
    with archive.sessions() as s:
        return escalate(s, load_rules(), load_calendar(s), now)


def test_case_answer_shows_upload_deadlines_and_lateness(client, late_case):
    stage = client.get(f"/api/cases/{late_case['id']}").get_json()["stages"][0]
    # filed Friday 6 Nov: one working day, so Monday 9 Nov, end of day
    assert stage["upload_due_at"] == "2026-11-09T23:59:59.999999+08:00"
    assert stage["late"] is None  # nothing uploaded yet
    upload(client, late_case["id"], b"%PDF-1.4 filing", stage="filing", form="filing_approval")
    stage = client.get(f"/api/cases/{late_case['id']}").get_json()["stages"][0]
    assert stage["late"] is True  # uploaded today, weeks after


def test_calendar_missing_shows_on_the_case(client):
    case = new_case(client, number="津武市监检〔2026〕9号", kind="inspection")
    assert record_stage(client, case["id"], "inspection", "2026-11-20T10:00:00+08:00").status_code == 201
    stage = client.get(f"/api/cases/{case['id']}").get_json()["stages"][0]
    # 3 working days after 20 Nov 2026 stay in 2026: known
    assert stage["upload_due_at"] == "2026-11-25T23:59:59.999999+08:00"


def test_scan_stores_each_fact_once_and_handled_ones_never_return(app, archive, late_case):
    # recording the stage evaluated the case at once: the missing filing approval (due 9 Nov);
    # the 90-day decision deadline falls in 2027, a year with no calendar yet: undecided, and a
    # system alert (health), not a warning on the case
    assert _scan(archive, at("2026-11-10 09:00")).new == 0
    assert _scan(archive, at("2026-11-11 09:00")).new == 0
    legal = client_as(app, "legal_a")
    listed = legal.get("/api/warnings").get_json()
    assert sorted(x["rule"] for x in listed["warnings"]) == ["missing_documents"]
    w = next(x for x in listed["warnings"] if x["rule"] == "missing_documents")
    assert (w["rule"], w["level"], w["status"]) == ("missing_documents", 1, "open")
    # due at the end of Monday 9 Nov, raised when the stage was recorded on Tuesday 10 Nov: three
    # working days from then to handle it (not from the fact, or it would be born overdue): Friday 13 Nov
    assert w["opened_at"].startswith("2026-11-09T23:59:59")
    assert w["due_at"] == "2026-11-13T23:59:59.999999+08:00"
    # the clerk cannot handle it, the district cannot handle a level-1 warning, others do not see it
    assert client_as(app, "clerk_a").post(f"/api/warnings/{w['id']}/handle", json={"note": "x"}).status_code == 403
    assert client_as(app, "district_a").post(f"/api/warnings/{w['id']}/handle", json={"note": "x"}).status_code == 403
    assert client_as(app, "clerk_b").post(f"/api/warnings/{w['id']}/handle", json={"note": "x"}).status_code == 404
    assert client_as(app, "clerk_b").get("/api/warnings").get_json()["total"] == 0
    assert legal.post(f"/api/warnings/{w['id']}/handle", json={"note": " "}).status_code == 422
    done = legal.post(f"/api/warnings/{w['id']}/handle", json={"note": "已督促承办人补传立案审批表"})
    assert done.status_code == 200 and done.get_json()["handled_by"] == "legal_a"
    assert legal.post(f"/api/warnings/{w['id']}/handle", json={"note": "again"}).status_code == 409
    assert _scan(archive, at("2026-11-20 09:00")).new == 0
    assert _escalate(archive, at("2026-12-31 09:00")) == 0  # handled: it never climbs
    with archive.sessions() as s:
        handled = s.get(WarningRecord, w["id"])
        assert (handled.level, handled.status) == (1, "handled")
    audit = client_as(app, "auditor").get("/api/audit", query_string={"action": "warning.handle"}).get_json()
    assert audit["entries"][0]["detail"]["note"] == "已督促承办人补传立案审批表"


def test_escalation_replayed_across_days(app, archive, late_case, monkeypatch):
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    run = lambda *a: CliRunner().invoke(main, ["warnings", *a])
    assert "0 new" in run("scan", "--now", "2026-11-10T09:00:00+08:00").output  # stored when recorded
    assert "escalated 0" in run("escalate", "--now", "2026-11-13T20:00:00+08:00").output
    assert "escalated 1" in run("escalate", "--now", "2026-11-14T08:00:00+08:00").output
    with archive.sessions() as s:
        w = s.scalars(select(WarningRecord)).one()
        assert w.level == 2 and w.due_at == at("2026-11-18 23:59:59.999999")  # Mon 16, Tue 17, Wed 18
    summary = client_as(app, "district_a").get("/api/warnings/summary").get_json()
    assert summary == [{"agency": "A-SJJ", "level_1": 0, "level_2": 1, "level_3": 0}]
    assert "escalated 0" in run("escalate", "--now", "2026-11-14T09:00:00+08:00").output
    assert "escalated 1" in run("escalate", "--now", "2026-12-01T09:00:00+08:00").output
    assert "escalated 0" in run("escalate", "--now", "2026-12-31T09:00:00+08:00").output  # 3 is the top
    with archive.sessions() as s:
        steps = s.scalars(select(WarningEscalation).order_by(WarningEscalation.level)).all()
        assert [(e.level, e.at) for e in steps] == [(2, at("2026-11-13 23:59:59.999999")),
                                                   (3, at("2026-11-18 23:59:59.999999"))]
    assert client_as(app, "district_a").post(f"/api/warnings/{w.id}/handle", json={"note": "x"}).status_code == 403
    assert client_as(app, "city").post(f"/api/warnings/{w.id}/handle", json={"note": "已责令区和执法机关处理"}).status_code == 200


def test_concurrent_escalation_by_two_processes(app, archive, client):
    for i in range(12):
        c = new_case(client, number=f"津武市监罚〔2026〕{200 + i}号")
        record_stage(client, c["id"], "filing", "2026-11-06T10:00:00+08:00")
    _scan(archive, at("2026-11-10 09:00"))
    with archive.sessions() as s:  # the missing document of each case (the calendar is a system alert)
        assert s.scalar(select(func.count()).select_from(WarningRecord)) == 12
    env = dict(os.environ, ARCHIVE_DATA_DIR=archive.config["DATA_DIR"], ARCHIVE_DATABASE_URL=archive.config["DATABASE_URL"])
    cmd = [sys.executable, "-m", "archive.cli", "warnings", "escalate", "--now", "2026-12-31T09:00:00+08:00"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with archive.sessions() as s:
        per_level = s.execute(select(WarningEscalation.warning_id, WarningEscalation.level, func.count())
                              .group_by(WarningEscalation.warning_id, WarningEscalation.level)).all()
        assert len(per_level) == 24 and all(n == 1 for _, _, n in per_level)
        assert {w.level for w in s.scalars(select(WarningRecord))} == {3}


def test_decision_records_penalties_and_the_case_shows_if_it_is_major(app, archive, client):
    case = new_case(client, number="津武应急罚〔2026〕8号", agency="A-YJJ", party_type="citizen", sector="")
    clerk = {"Authorization": "Bearer " + app.config["TEST_TOKENS"]["agency_clerk@A-YJJ"]}
    url = f"/api/cases/{case['id']}/stages"
    bad = client.post(url, json={"stage": "filing", "completed_at": "2026-03-02T10:00:00+08:00", "fine_amount": 500},
                      headers=clerk)
    assert bad.status_code == 422
    assert client.post(url, json={"stage": "filing", "completed_at": "2026-03-02T10:00:00+08:00"},
                       headers=clerk).status_code == 201
    r = client.post(url, json={"stage": "decision", "completed_at": "2026-03-20T10:00:00+08:00",
                               "penalty_types": ["fine"], "fine_amount": 1500}, headers=clerk)
    assert r.status_code == 201, r.get_json()
    body = client.get(f"/api/cases/{case['id']}").get_json()
    assert body["major"] is True and body["fine_amount"] == 1500 and body["penalty_types"] == ["fine"]
    assert body["party_type"] == "citizen"
    _scan(archive, at("2026-04-20 10:00"))
    with archive.sessions() as s:
        rules = set(s.scalars(select(WarningRecord.rule).where(WarningRecord.case_id == case["id"])))
    assert {"major_without_review", "major_not_filed", "stage_out_of_order"} <= rules


def test_incremental_scan_looks_only_at_changed_or_due_cases(archive, client):
    from archive.models import Case
    from archive.clock import now as server_now

    quiet = new_case(client, number="津武市监罚〔2026〕300号")
    record_stage(client, quiet["id"], "filing", "2026-03-02T10:00:00+08:00")
    upload(client, quiet["id"], b"%PDF-1.4 a", stage="filing", form="filing_approval")
    busy = new_case(client, number="津武市监罚〔2026〕301号")
    record_stage(client, busy["id"], "filing", "2026-03-02T10:00:00+08:00")
    upload(client, busy["id"], b"%PDF-1.4 b", stage="filing", form="filing_approval")

    def inc(now):
        with archive.sessions() as s:
            return scan(s, load_rules(), load_calendar(s), now, incremental=True)

    # every change through the API was evaluated at once, so nothing is left for the scan
    assert inc(server_now()).cases == 0
    with archive.sessions() as s:  # a change that did not come through the API (an import, say)
        s.get(Case, busy["id"]).changed_at = server_now()
        s.commit()
    assert inc(server_now()).cases == 1                          # the changed case only
    assert inc(server_now()).cases == 0                                    # the changed case only
    # both were filed in March, so no deadline is pending for them; a case filed now has its
    # upload deadline ahead, and is looked at again once that passes
    fresh = new_case(client, number="津武市监罚〔2026〕302号")
    filed = server_now().astimezone(SHANGHAI).replace(microsecond=0)
    record_stage(client, fresh["id"], "filing", filed.isoformat())
    t2 = server_now()
    assert inc(t2).cases == 0  # checked when the stage was recorded
    with archive.sessions() as s:
        due = s.get(Case, fresh["id"]).next_check_at
    assert due is not None and due > t2
    assert inc(due - dt.timedelta(seconds=1)).cases == 0
    assert inc(due + dt.timedelta(seconds=1)).cases == 1         # its deadline passed: checked again


def test_a_late_upload_is_a_warning_at_upload_time(app, client):
    case = new_case(client, number="津武市监罚〔2026〕400号")
    record_stage(client, case["id"], "filing", "2026-11-02T10:00:00+08:00")  # due Tuesday 3 Nov
    r = upload(client, case["id"], b"%PDF-1.4 late", stage="filing", form="filing_approval")
    assert r.status_code == 201
    found = client_as(app, "legal_a").get("/api/warnings", query_string={"rule": "late_upload"}).get_json()
    assert found["total"] == 1 and found["warnings"][0]["case_id"] == case["id"]
    assert found["warnings"][0]["fact_due_at"] == "2026-11-03T23:59:59.999999+08:00"


def test_extension_and_suspension_of_the_decision_period(app, archive, client):
    case = new_case(client, opened_on="2026-03-02")
    assert record_stage(client, case["id"], "filing", "2026-03-02T10:00:00+08:00").status_code == 201
    clerk = client_as(app, "clerk_a")
    url = f"/api/cases/{case['id']}/periods"
    shown = client.get(f"/api/cases/{case['id']}").get_json()["decision_period"]
    assert shown["due_at"].startswith("2026-06-01T23:59:59") and shown["extension_days"] == 0
    assert clerk.post(url, json={"kind": "extension", "days": 0, "approved_by": "张局长", "reason": "案情复杂"}).status_code == 422
    assert client_as(app, "district_a").post(url, json={"kind": "extension", "days": 30, "approved_by": "x",
                                                         "reason": "y"}).status_code == 403
    r = clerk.post(url, json={"kind": "extension", "days": 30, "approved_by": "张局长", "reason": "案情复杂"})
    assert r.status_code == 201, r.get_json()
    assert client.get(f"/api/cases/{case['id']}").get_json()["decision_period"]["due_at"].startswith("2026-06-30")
    s = clerk.post(url, json={"kind": "suspension", "start_on": "2026-04-10", "approved_by": "张局长",
                              "reason": "当事人下落不明，中止调查"}).get_json()
    assert clerk.post(url, json={"kind": "suspension", "start_on": "2026-04-12", "approved_by": "张局长",
                                 "reason": "again"}).status_code == 422  # one open suspension at a time
    assert client.get(f"/api/cases/{case['id']}").get_json()["decision_period"] == {
        "extension_days": 30, "suspended_days": 0, "suspended": True, "due_at": None}
    assert _scan(archive, at("2026-08-01 10:00")).new == 0  # suspended: never overdue
    assert clerk.post(f"{url}/{s['id']}/end", json={"end_on": "2026-04-01"}).status_code == 422
    assert clerk.post(f"{url}/{s['id']}/end", json={"end_on": "2026-04-20"}).status_code == 200
    assert clerk.post(f"{url}/{s['id']}/end", json={"end_on": "2026-04-21"}).status_code == 409
    shown = client.get(f"/api/cases/{case['id']}").get_json()["decision_period"]
    assert (shown["suspended_days"], shown["suspended"]) == (10, False)
    assert shown["due_at"].startswith("2026-07-10")  # 2 Mar + 90 + 30 + 10 days
    assert _scan(archive, at("2026-07-10 23:00")).new == 0
    _scan(archive, at("2026-07-11 00:00:01"))
    with archive.sessions() as s:
        rules = s.scalars(select(WarningRecord.rule).where(WarningRecord.case_id == case["id"])).all()
    assert "decision_overdue" in rules
    assert [p["kind"] for p in client.get(url).get_json()["periods"]] == ["extension", "suspension"]


def test_a_missing_form_uploaded_late_resolves_its_warning_and_the_late_upload_warning_stays(app, client, late_case):
    legal = client_as(app, "legal_a")
    w = legal.get("/api/warnings").get_json()["warnings"]
    assert [(x["rule"], x["status"]) for x in w] == [("missing_documents", "open")]
    assert "“立案”环节缺少必需文书《立案审批表》" in w[0]["message"]
    upload(client, late_case["id"], b"%PDF-1.4 approval", stage="filing", form="filing_approval")
    after = {x["rule"]: x for x in legal.get("/api/warnings").get_json()["warnings"]}
    assert after["missing_documents"]["status"] == "resolved"
    assert after["missing_documents"]["id"] == w[0]["id"]  # the same record: its history stays
    assert "resolved by upload" in after["missing_documents"]["handled_note"]
    assert after["late_upload"]["status"] == "open" and "《立案审批表》逾期上传" in after["late_upload"]["message"]
    # a resolved warning is not handled again, and never climbs
    assert legal.post(f"/api/warnings/{w[0]['id']}/handle", json={"note": "x"}).status_code == 409
    assert legal.get("/api/warnings", query_string={"status": "resolved"}).get_json()["total"] == 1


def test_health_is_degraded_while_a_needed_calendar_year_is_missing(app, client, archive):
    from archive.deadlines.service import missing_calendar_years

    with archive.sessions() as s:
        missing = missing_calendar_years(s)
    health = app.test_client().get("/api/health")
    assert health.status_code == 200  # degraded, not down
    body = health.get_json()
    assert body["status"] == ("degraded" if missing else "ok")
    assert body["calendar"]["missing"] == [f"calendar missing for {y}" for y in missing]
