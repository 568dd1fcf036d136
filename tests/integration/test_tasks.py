"""Supervision tasks (交办/转办) on SQLite and PostgreSQL, with SeaweedFS: a task's whole life
(assign with a case and a file, answer, send back, answer again, accept) with every step in the
audit trail; the scope of each role; an overdue task's warning climbing like any other; a
transfer from the city to a district; exactly one decision under concurrent clicks."""
from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select

from archive.models import AuditEntry, SupervisionTask, WarningRecord
from tests.conftest import client_as, concurrently, new_case

PDF = b"%PDF-1.4\n% task attachment\n"


def assign(app, who="district_a", **fields):
    body = {"assignee": "A-SJJ", "subject": "核查投诉反映的过期食品问题", "text": "请于期限内核查并答复。",
            "due_days": "5", "cases": "", **fields}
    files = body.pop("files", [])
    data = dict(body)
    if files:
        data["file"] = [(io.BytesIO(content), name) for name, content in files]
    return client_as(app, who).post("/api/tasks", data=data, content_type="multipart/form-data")


def test_a_task_from_assignment_to_acceptance(app, archive, client, orgs):
    case = new_case(client, number="津武市监罚〔2026〕501号")
    r = assign(app, cases=f"{case['number']}\n", files=[("交办函.pdf", PDF)])
    assert r.status_code == 201, r.get_json()
    task = r.get_json()
    assert (task["kind"], task["status"], task["assignee"], task["assigner"]) == ("assign", "assigned", "A-SJJ", "120114")
    assert [c["number"] for c in task["cases"]] == [case["number"]] and task["due_at"] is not None
    first = task["steps"][0]
    assert first["action"] == "assign" and [f["filename"] for f in first["attachments"]] == ["交办函.pdf"]
    tid = task["id"]
    # the file is stored write-once and read back checked
    got = client_as(app, "clerk_a").get(f"/api/tasks/{tid}/attachments/{first['attachments'][0]['id']}")
    assert got.status_code == 200 and got.data == PDF

    # scope: the agency and the district see it; another agency and another district do not
    assert [t["id"] for t in client_as(app, "clerk_a").get("/api/tasks").get_json()["tasks"]] == [tid]
    assert [t["id"] for t in client_as(app, "district_a").get("/api/tasks?role=assigned").get_json()["tasks"]] == [tid]
    assert client_as(app, "clerk_ay").get("/api/tasks").get_json()["tasks"] == []
    assert client_as(app, "clerk_ay").get(f"/api/tasks/{tid}").status_code == 404
    assert client_as(app, "clerk_b").get(f"/api/tasks/{tid}").status_code == 404
    assert client_as(app, "district_b").get(f"/api/tasks/{tid}").status_code == 404
    assert client_as(app, "city").get(f"/api/tasks/{tid}").status_code == 200  # the city supervises all

    answer = lambda who, text, files=(): client_as(app, who).post(  # noqa: E731
        f"/api/tasks/{tid}/answer", data={"text": text, "file": [(io.BytesIO(c), n) for n, c in files]},
        content_type="multipart/form-data")
    decide = lambda who, **body: client_as(app, who).post(f"/api/tasks/{tid}/decision", json=body)  # noqa: E731
    assert decide("district_a", accept=True).status_code == 409  # nothing to accept yet
    assert answer("district_a", "我来答").status_code == 403  # not the assignee
    r = answer("legal_a", "已核查，涉事商户已下架过期食品。", [("核查报告.pdf", PDF + b"1")])
    assert r.status_code == 200 and r.get_json()["status"] == "answered"
    assert answer("clerk_a", "再答一次").status_code == 409  # the round is answered
    assert decide("clerk_a", accept=True).status_code == 403  # the assignee does not decide
    assert decide("district_a", accept=False).status_code == 422  # a send-back needs a reason
    r = decide("district_a", accept=False, reason="未附处罚决定书，请补充。")
    assert r.status_code == 200 and r.get_json()["status"] == "sent_back"
    r = answer("clerk_a", "已补充处罚决定书。", [("处罚决定书.pdf", PDF + b"2")])
    assert r.status_code == 200 and r.get_json()["status"] == "answered"
    r = decide("district_a", accept=True, reason="同意办结")
    assert r.status_code == 200
    done = r.get_json()
    assert done["status"] == "accepted" and done["closed_at"] is not None
    assert [s["action"] for s in done["steps"]] == ["assign", "answer", "send_back", "answer", "accept"]
    assert [len(s["attachments"]) for s in done["steps"]] == [1, 1, 0, 1, 0]
    assert decide("district_a", accept=False, reason="再议").status_code == 409
    with archive.sessions() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "task",
                                                            AuditEntry.target_id == str(tid)).order_by(AuditEntry.seq)).all()
    assert [a for a in actions if a.startswith("task.") and a != "task.attachment"] == [
        "task.create", "task.answer", "task.send_back", "task.answer", "task.accept"]


def test_what_a_task_may_name(app, archive, client, orgs):
    new_case(client, number="津武应急罚〔2026〕1号", agency="A-YJJ")
    new_case(client, number="津辰市监罚〔2026〕2号", agency="B-SJJ")
    r = assign(app, cases="津武应急罚〔2026〕1号、不存在的案号")
    assert r.status_code == 422
    assert "津武应急罚〔2026〕1号" in r.get_json()["errors"]["cases"][0] and "不存在的案号" in r.get_json()["errors"]["cases"][0]
    assert assign(app, assignee="B-SJJ").status_code == 422  # another district's agency
    assert assign(app, assignee="120113").status_code == 422  # a district office does not assign to a district
    assert assign(app, due_days="0").status_code == 422
    assert assign(app, who="clerk_a").status_code == 403
    assert assign(app, who="reviewer").status_code == 403
    # the city transfers to a district office, with the district's cases
    r = assign(app, who="city", assignee="120113", cases="津辰市监罚〔2026〕2号")
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert t["kind"] == "transfer" and [c["number"] for c in t["cases"]] == ["津辰市监罚〔2026〕2号"]
    assert [x["id"] for x in client_as(app, "district_b").get("/api/tasks").get_json()["tasks"]] == [t["id"]]
    assert client_as(app, "district_a").get(f"/api/tasks/{t['id']}").status_code == 404
    assert client_as(app, "clerk_b").get(f"/api/tasks/{t['id']}").status_code == 404  # the district's, not the agency's
    assert assign(app, who="city", assignee="A-SJJ").status_code == 422  # the city transfers to districts
    # a task from a complaint links to it; another district's office cannot use that complaint
    complaint = client_as(app, "complaints_a").post("/api/complaints", json={
        "received_at": "2026-09-01T09:00:00+08:00", "complainant": "王某", "text": "反映超市销售过期食品",
        "agency": "A-SJJ"}).get_json()
    r = assign(app, complaint=str(complaint["id"]))
    assert r.status_code == 201 and r.get_json()["complaint_id"] == complaint["id"]
    r = assign(app, who="district_b", assignee="B-SJJ", complaint=str(complaint["id"]))
    assert r.status_code == 422 and "complaint" in r.get_json()["errors"]


def test_an_overdue_task_raises_a_warning_that_climbs(app, archive, client, orgs):
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import escalate
    from archive.services.rounds import run_checks

    agency_task = assign(app, due_days="1").get_json()
    district_task = assign(app, who="city", assignee="120114", due_days="1").get_json()
    answered = assign(app, due_days="1").get_json()
    assert client_as(app, "clerk_a").post(f"/api/tasks/{answered['id']}/answer", data={"text": "已办"},
                                          content_type="multipart/form-data").status_code == 200
    with archive.sessions() as s:
        due = s.get(SupervisionTask, agency_task["id"]).due_at
    later = due + dt.timedelta(minutes=1)
    run_checks(archive.sessions, later)
    run_checks(archive.sessions, later)  # twice: still one warning per task
    with archive.sessions() as s:
        warnings = {w.fact_key: w for w in s.scalars(select(WarningRecord).where(WarningRecord.rule == "task_overdue"))}
    assert set(warnings) == {f"task:{agency_task['id']}", f"task:{district_task['id']}"}  # not the answered one
    on_agency, on_district = warnings[f"task:{agency_task['id']}"], warnings[f"task:{district_task['id']}"]
    assert (on_agency.agency_code, on_agency.level, on_agency.case_id) == ("A-SJJ", 1, None)
    assert (on_district.agency_code, on_district.level) == ("120114", 2)  # a district's own warning starts at its level
    # the agency's legal staff see theirs; the district office sees its own; another district neither
    seen = lambda who: {w["id"] for w in client_as(app, who).get(  # noqa: E731
        "/api/warnings", query_string={"rule": "task_overdue"}).get_json()["warnings"]}
    assert seen("legal_a") == {on_agency.id}
    assert seen("district_a") == {on_agency.id, on_district.id}
    assert seen("district_b") == set()
    assert client_as(app, "district_a").post(f"/api/warnings/{on_district.id}/handle",
                                             json={"note": "已督促，正在办理"}).status_code == 200
    # not handled in time, the agency's climbs to the district like any other warning
    with archive.sessions() as s:
        w = s.get(WarningRecord, on_agency.id)
        escalate(s, load_rules(), load_calendar(s), w.due_at + dt.timedelta(minutes=1))
        assert s.get(WarningRecord, on_agency.id).level == 2
    assert client_as(app, "clerk_a").get(f"/api/tasks/{agency_task['id']}").get_json()["overdue_warning"] == on_agency.id


def test_two_decisions_at_once_leave_one(app, archive, orgs):
    t = assign(app).get_json()
    assert client_as(app, "clerk_a").post(f"/api/tasks/{t['id']}/answer", data={"text": "已办"},
                                          content_type="multipart/form-data").status_code == 200
    statuses = [r.status_code for r in concurrently(6, lambda i: client_as(app, "district_a").post(
        f"/api/tasks/{t['id']}/decision", json={"accept": i % 2 == 0, "reason": "同意" if i % 2 == 0 else "请补充"}))]
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409], statuses
    steps = client_as(app, "district_a").get(f"/api/tasks/{t['id']}").get_json()["steps"]
    assert [s["action"] for s in steps][:2] == ["assign", "answer"] and len(steps) == 3


def test_two_answers_at_once_leave_one_and_overdue_checks_at_once_one_warning(app, archive, orgs):
    from archive.services.rounds import run_checks

    t = assign(app, due_days="1").get_json()
    statuses = [r.status_code for r in concurrently(4, lambda i: client_as(app, "clerk_a" if i % 2 else "legal_a").post(
        f"/api/tasks/{t['id']}/answer", data={"text": f"答复{i}"}, content_type="multipart/form-data"))]
    assert sorted(statuses) == [200, 409, 409, 409], statuses
    steps = client_as(app, "district_a").get(f"/api/tasks/{t['id']}").get_json()["steps"]
    assert [s["action"] for s in steps] == ["assign", "answer"]

    late = assign(app, due_days="1").get_json()
    with archive.sessions() as s:
        due = s.get(SupervisionTask, late["id"]).due_at
    concurrently(4, lambda i: run_checks(archive.sessions, due + dt.timedelta(minutes=1)))
    with archive.sessions() as s:
        found = s.scalars(select(WarningRecord).where(WarningRecord.rule == "task_overdue",
                                                      WarningRecord.fact_key == f"task:{late['id']}")).all()
    assert len(found) == 1
