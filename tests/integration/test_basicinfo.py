"""Basic information on SQLite and PostgreSQL: officers and inspection plans imported by the
district office (bad files refused whole, every bad row named; scope), an agency's change request
that changes nothing until its district office approves it (differences shown, exactly one
decision under concurrent clicks), and a change reported more than 15 days late raising a warning
on the agency that is handled and escalated like any other."""
from __future__ import annotations

import datetime as dt
import io

from click.testing import CliRunner
from sqlalchemy import func, select

from archive.cli import main
from archive.models import BasicInfoChange, InspectionPlan, Officer, Power, WarningRecord
from archive.clock import SHANGHAI
from tests.conftest import client_as, concurrently
from tests.integration.test_stats import POWERS, load_powers

OFFICERS = ("agency,name,certificate_no,valid_from,valid_until\n"
            "A-SJJ,张明,12010001,2024-01-01,2029-12-31\n"
            "A-SJJ,李华,12010002,,2026-12-15\n"
            "A-YJJ,王强,12010003,2023-05-01,2028-04-30\n")
PLANS = ("agency,code,name,year,power_code,planned,start_on,end_on\n"
         "A-SJJ,JH-1,2026年食品经营日常检查计划,2026,SJ-3,120,2026-01-01,2026-12-31\n"
         "A-SJJ,JH-2,2026年计量专项检查,2026,SJ-5,,2026-03-01,2026-06-30\n")


def post_table(app, who, kind, text, name="table.csv"):
    return client_as(app, who).post(f"/api/basic-info/{kind}/import", data={"file": (io.BytesIO(text.encode()), name)},
                                    content_type="multipart/form-data")


def count(archive, model) -> int:
    with archive.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_officers_and_plans_imported_by_the_district_office(app, archive, orgs, monkeypatch, tmp_path):
    assert load_powers(monkeypatch, archive, tmp_path).exit_code == 0
    r = post_table(app, "district_a", "officers", OFFICERS)
    assert r.status_code == 200 and r.get_json() == {"added": 3, "updated": 0, "removed": 0}, r.get_json()
    r = post_table(app, "district_a", "plans", PLANS)
    assert r.status_code == 200 and r.get_json()["added"] == 2
    # re-import: one changed, one removed
    r = post_table(app, "district_a", "officers", "agency,name,certificate_no,valid_until,action\n"
                                                  "A-SJJ,李华,12010002,2031-12-15,\nA-YJJ,王强,12010003,,删除\n")
    assert r.get_json() == {"added": 0, "updated": 1, "removed": 1}
    listed = client_as(app, "clerk_a").get("/api/basic-info/officers").get_json()
    assert [(e["certificate_no"], e["valid_until"]) for e in listed["entries"]] == [
        ("12010001", "2029-12-31"), ("12010002", "2031-12-15")]
    assert client_as(app, "district_b").get("/api/basic-info/officers").get_json()["total"] == 0
    plans = client_as(app, "district_a").get("/api/basic-info/plans", query_string={"agency": "A-SJJ"}).get_json()
    assert [(e["code"], e["planned"]) for e in plans["entries"]] == [("JH-1", "120"), ("JH-2", "")]

    bad = ("agency,name,certificate_no,valid_from,valid_until\n"
           "A-SJJ,赵六,12010009,2024-01-01,2029-12-31\n"      # row 2: fine
           "A-SJJ,钱七,12010010,2024-13-01,2029-12-31\n"      # row 3: no such date
           "A-SJJ,孙八,12010009,,2029-12-31\n"                # row 4: the certificate of row 2
           "B-SJJ,周九,12010011,,2029-12-31\n"                # row 5: another district's agency
           "A-SJJ,吴十,12010012,2030-01-01,2029-12-31\n")     # row 6: ends before it starts
    r = post_table(app, "district_a", "officers", bad)
    assert r.status_code == 422
    body = r.get_json()
    assert "4 bad row(s); nothing was imported" in body["message"]
    assert set(body["errors"]) == {"row 3", "row 4", "row 5", "row 6"}
    assert "valid_from must be a date" in body["errors"]["row 3"][0]
    assert "the same certificate_no as row 2" in body["errors"]["row 4"][0]
    assert "outside your scope" in body["errors"]["row 5"][0]
    assert "valid_from is after valid_until" in body["errors"]["row 6"][0]
    assert count(archive, Officer) == 2  # nothing half-imported
    r = post_table(app, "district_a", "plans", "agency,code,name,year,power_code,start_on,end_on\n"
                                               "A-SJJ,JH-3,计划,2026,YJ-1,2026-07-01,2026-06-01\n")
    assert r.status_code == 422
    assert {e.split(" / ")[1].split(" is")[0] for e in r.get_json()["errors"]["row 2"]} == {"start_on", "power_code 'YJ-1'"}
    assert {e.split(" / ")[0] for e in r.get_json()["errors"]["row 2"]} == {"开始日期晚于结束日期", "职权编码 YJ-1 不在该单位的职权清单中"}
    # XLSX works the same, and the roles that may not import are refused
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["agency", "code", "name", "year", "power_code", "planned", "start_on", "end_on"])
    wb.active.append(["A-YJJ", "YJ-JH-1", "安全生产检查计划", 2026, "YJ-1", 40, dt.date(2026, 1, 1), dt.date(2026, 12, 31)])
    buf = io.BytesIO()
    wb.save(buf)
    r = client_as(app, "district_a").post("/api/basic-info/plans/import", data={"file": (io.BytesIO(buf.getvalue()), "plans.xlsx")},
                                          content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["added"] == 1, r.get_json()
    assert post_table(app, "clerk_a", "officers", OFFICERS).status_code == 403
    assert post_table(app, "reviewer", "officers", OFFICERS).status_code == 403
    assert client_as(app, "district_a").get("/api/basic-info/rivers").status_code == 404
    # the command line imports the same tables
    monkeypatch.setenv("ARCHIVE_DATABASE_URL", archive.config["DATABASE_URL"])
    monkeypatch.setenv("ARCHIVE_DATA_DIR", archive.config["DATA_DIR"])
    path = tmp_path / "officers.csv"
    path.write_text("agency,name,certificate_no,valid_until\nB-SJJ,郑一,12020001,2030-01-01\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["basic-info", "import", "officers", str(path)])
    assert r.exit_code == 0 and "officers: 1 added, 0 updated, 0 removed" in r.output, r.output


def submit(app, who, kind, text, effective_on, reason="机构改革，职权调整"):
    return client_as(app, who).post("/api/basic-info/changes", data={
        "kind": kind, "effective_on": effective_on, "reason": reason,
        "file": (io.BytesIO(text.encode()), "变更.csv")}, content_type="multipart/form-data")


def _days_ago(n: int) -> str:
    return (dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=n)).isoformat()


CHANGE = ("agency,code,name,category,legal_basis,action\n"
          "A-SJJ,SJ-6,对网络食品交易违法的处罚,penalty,《食品安全法》第一百三十一条,\n"   # new
          "A-SJJ,SJ-2,对无证生产经营的处罚,penalty,《食品安全法》第一百二十二条,\n"     # renamed
          "A-SJJ,SJ-5,,,,remove\n")                                                      # removed


def powers_of(archive, agency) -> dict[str, str]:
    with archive.sessions() as s:
        return {p.code: p.name for p in s.scalars(select(Power).where(Power.agency_code == agency))}


def test_a_change_request_waits_for_the_district_office(app, archive, orgs, monkeypatch, tmp_path):
    assert load_powers(monkeypatch, archive, tmp_path, POWERS).exit_code == 0
    before = powers_of(archive, "A-SJJ")
    r = submit(app, "clerk_a", "powers", CHANGE, _days_ago(5))
    assert r.status_code == 201, r.get_json()
    change = r.get_json()
    assert (change["status"], change["late"], change["warning_id"], change["rows"]) == ("pending", False, None, 3)
    assert powers_of(archive, "A-SJJ") == before  # nothing changes before the approval
    detail = client_as(app, "district_a").get(f"/api/basic-info/changes/{change['id']}").get_json()
    assert [(d["row"]["code"], d["change"], d["fields"]) for d in detail["differences"]] == [
        ("SJ-6", "新增", []), ("SJ-2", "修改", ["name"]), ("SJ-5", "删除", [])]
    assert client_as(app, "district_b").get(f"/api/basic-info/changes/{change['id']}").status_code == 404
    queue = client_as(app, "district_a").get("/api/basic-info/changes", query_string={"status": "pending"}).get_json()
    assert [c["id"] for c in queue["changes"]] == [change["id"]]
    assert client_as(app, "district_b").get("/api/basic-info/changes").get_json()["changes"] == []
    decide = f"/api/basic-info/changes/{change['id']}/decision"
    assert client_as(app, "clerk_a").post(decide, json={"approve": True}).status_code == 403
    assert client_as(app, "city").post(decide, json={"approve": True}).status_code == 403
    assert client_as(app, "district_a").post(decide, json={"approve": False}).status_code == 422  # no reason
    r = client_as(app, "district_a").post(decide, json={"approve": True, "note": "同意"})
    assert r.status_code == 200 and r.get_json()["applied"] == {"added": 1, "updated": 1, "removed": 1}
    after = powers_of(archive, "A-SJJ")
    assert after["SJ-6"] == "对网络食品交易违法的处罚" and after["SJ-2"] == "对无证生产经营的处罚" and "SJ-5" not in after
    assert client_as(app, "district_a").post(decide, json={"approve": False, "note": "再议"}).status_code == 409
    # an agency's request may only name itself, and bad rows are refused whole
    r = submit(app, "clerk_a", "powers", "agency,code,name,category\nA-YJJ,YJ-9,名称,penalty\nA-SJJ,SJ-7,名称,patrol\n",
               _days_ago(1))
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"row 2", "row 3"}
    assert "may only name A-SJJ" in r.get_json()["errors"]["row 2"][0]
    assert submit(app, "district_a", "powers", CHANGE, _days_ago(1)).status_code == 403
    # rejected: nothing applied
    r = submit(app, "clerk_a", "officers", "agency,name,certificate_no,valid_until\nA-SJJ,新人,12019999,2030-01-01\n",
               _days_ago(2))
    rid = r.get_json()["id"]
    r = client_as(app, "district_a").post(f"/api/basic-info/changes/{rid}/decision",
                                          json={"approve": False, "note": "证件号有误，请核对"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected" and r.get_json()["applied"] is None
    assert count(archive, Officer) == 0


def test_a_change_reported_late_raises_a_warning_that_climbs(app, archive, orgs, monkeypatch, tmp_path):
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import escalate

    assert load_powers(monkeypatch, archive, tmp_path, POWERS).exit_code == 0
    on_time = submit(app, "clerk_a", "powers", CHANGE, _days_ago(15)).get_json()
    assert on_time["late"] is False and on_time["warning_id"] is None  # 15 days: not yet late
    late = submit(app, "clerk_a", "powers", CHANGE, _days_ago(16)).get_json()
    assert late["late"] is True and late["warning_id"] is not None
    listed = client_as(app, "legal_a").get("/api/warnings", query_string={"rule": "late_basic_info_change"}).get_json()
    assert [w["id"] for w in listed["warnings"]] == [late["warning_id"]]
    w = listed["warnings"][0]
    assert w["case_id"] is None and w["level"] == 1 and w["agency"] == "A-SJJ" and "迟报 16 日" in w["message"]
    assert client_as(app, "district_b").get("/api/warnings", query_string={
        "rule": "late_basic_info_change"}).get_json()["warnings"] == []
    # not handled in time, it climbs to the district like any other warning
    with archive.sessions() as s:
        due = s.get(WarningRecord, late["warning_id"]).due_at
        assert due is not None
        moved = escalate(s, load_rules(), load_calendar(s), due + dt.timedelta(minutes=1))
        assert moved >= 1
        assert s.get(WarningRecord, late["warning_id"]).level == 2
    r = client_as(app, "district_a").post(f"/api/warnings/{late['warning_id']}/handle", json={"note": "已约谈，要求按时报送"})
    assert r.status_code == 200, r.get_json()
    # the warning list page and the warning's own page show it without a case
    page = client_as(app, "district_a").get("/warnings", headers={"Accept": "text/html"})
    assert page.status_code == 200
    page = client_as(app, "district_a").get(f"/warnings/{late['warning_id']}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and f"基础信息变更申请 {late['id']}".encode() in page.data


def test_two_decisions_at_once_apply_the_request_once(app, archive, orgs, monkeypatch, tmp_path):
    assert load_powers(monkeypatch, archive, tmp_path, POWERS).exit_code == 0
    change = submit(app, "clerk_a", "powers", CHANGE, _days_ago(3)).get_json()
    statuses = [r.status_code for r in concurrently(6, lambda i: client_as(app, "district_a").post(
        f"/api/basic-info/changes/{change['id']}/decision",
        json={"approve": i % 2 == 0, "note": "同意" if i % 2 == 0 else "不同意"}))]
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409], statuses
    with archive.sessions() as s:
        c = s.get(BasicInfoChange, change["id"])
        powers = {p.code for p in s.scalars(select(Power).where(Power.agency_code == "A-SJJ"))}
    assert c.status in ("approved", "rejected")
    assert ("SJ-6" in powers) == (c.status == "approved") and ("SJ-5" in powers) == (c.status == "rejected")
    assert count(archive, InspectionPlan) == 0
