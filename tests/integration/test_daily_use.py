"""Daily-use tracking on SQLite and PostgreSQL: logins per working day of each organisation's
users, where a login on a holiday neither counts nor leaves a missed day and a make-up Saturday
is a working day to be missed; the first look at a warning by someone who handles it; the rate
as a component of the monthly scoring; the scope."""
from __future__ import annotations

import datetime as dt

from archive import audit
from archive.models import WarningRecord
from archive.clock import SHANGHAI
from tests.conftest import client_as, new_case

UTC = dt.timezone.utc
WORKING_OCT_2026 = [8, 9, 10, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 26, 27, 28, 29, 30]  # the 10th: make-up Saturday


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


def login(archive, who: str, when: dt.datetime) -> None:
    with archive.sessions() as s:
        audit.append(s, "auth.login", actor=who, role="x", clock=lambda: when)
        s.commit()


def use(app, who, **query):
    r = client_as(app, who).get("/api/stats/daily-use", query_string={"month": "2026-10", **query})
    return r.status_code, r.get_json()


def test_logins_per_working_day_and_the_first_look_at_warnings(app, archive, client, orgs, monkeypatch):
    monkeypatch.setattr("archive.api.stats.now", lambda: dt.datetime(2026, 11, 27, 4, tzinfo=UTC))
    for day in WORKING_OCT_2026:
        if day != 10:  # the make-up Saturday is missed
            login(archive, "clerk_a" if day % 2 else "legal_a", at(day))
    login(archive, "clerk_a", at(3))            # a holiday: welcome, not counted
    login(archive, "clerk_a", at(14, 18))       # twice the same day: one day
    for day in range(1, 8):                     # the National Day holidays only
        login(archive, "clerk_ay", at(day))
    login(archive, "district_a", at(8))
    login(archive, "reviewer", at(9))           # not an organisation's user
    case = new_case(client, number="津武市监罚〔2026〕600号")
    with archive.sessions() as s:
        for opened, seen in ((at(12), at(12, 15)), (at(13), None)):
            s.add(WarningRecord(rule="late_upload", fact_key=f"doc:{opened.day}", case_id=case["id"],
                                agency_code="A-SJJ", message="逾期上传", level=1, status="open", opened_at=opened,
                                first_seen_at=seen, first_seen_by="legal_a" if seen else None))
        s.commit()

    status, got = use(app, "district_a")
    assert status == 200, got
    assert len(got["working_days"]) == 18 and "2026-10-10" in got["working_days"] and "2026-10-03" not in got["working_days"]
    rows = {r["code"]: r for r in got["organisations"]}
    assert set(rows) == {"120114", "A-SJJ", "A-YJJ"}
    a = rows["A-SJJ"]
    assert (a["users"], a["working_days"], a["days_used"], a["rate"]) == (2, 18, 17, round(17 / 18, 4))
    assert a["missed"] == ["2026-10-10"] and a["other_days"] == ["2026-10-03"]
    assert a["warnings"] == {"opened": 2, "seen": 1, "unseen": 1, "median_hours": 6.0}
    y = rows["A-YJJ"]
    assert (y["days_used"], y["rate"], len(y["missed"])) == (0, 0.0, 18)  # holidays are not missed days
    assert y["other_days"] == [f"2026-10-0{d}" for d in range(1, 8)]
    assert (rows["120114"]["users"], rows["120114"]["days_used"]) == (1, 1)

    # scope: an agency sees itself; another district its own
    assert [r["code"] for r in use(app, "clerk_a")[1]["organisations"]] == ["A-SJJ"]
    assert {r["code"] for r in use(app, "district_b")[1]["organisations"]} == {"120113", "B-SJJ"}
    assert use(app, "reviewer")[0] == 403
    assert use(app, "district_a", district="120113")[0] == 404

    # the rate is a component of the monthly scoring, weighted when configured
    scores = client_as(app, "district_a").get("/api/stats/scores", query_string={"month": "2026-10"}).get_json()
    sj = next(r for r in scores["agencies"] if r["agency"] == "A-SJJ")
    assert sj["components"]["daily_use"]["rate"] == round(17 / 18, 4) and sj["components"]["daily_use"]["weight"] == 0

    page = client_as(app, "district_a").get("/stats/daily-use?month=2026-10", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "武清区应急管理局" in page.get_data(as_text=True)
    assert "10-10" in page.get_data(as_text=True)


def _open_warning(archive, client, number: str, fact: str) -> int:
    """A level-1 late-upload warning on a new case of A-SJJ; its id."""
    case = new_case(client, number=number)
    with archive.sessions() as s:
        w = WarningRecord(rule="late_upload", fact_key=fact, case_id=case["id"], agency_code="A-SJJ",
                          message="逾期上传", level=1, status="open", opened_at=dt.datetime.now(UTC))
        s.add(w)
        s.commit()
        return w.id


def test_the_first_look_is_recorded_for_those_who_handle_the_level(app, archive, client, orgs):
    wid = _open_warning(archive, client, "津武市监罚〔2026〕601号", "doc:x")
    html = {"Accept": "text/html"}
    assert client_as(app, "clerk_a").get(f"/warnings/{wid}", headers=html).status_code == 200   # not its handler
    assert client_as(app, "district_a").get(f"/warnings/{wid}", headers=html).status_code == 200  # not its level
    with archive.sessions() as s:
        assert s.get(WarningRecord, wid).first_seen_at is None
    assert client_as(app, "legal_a").get(f"/warnings/{wid}", headers=html).status_code == 200
    with archive.sessions() as s:
        first = s.get(WarningRecord, wid)
        assert first.first_seen_by == "legal_a" and first.first_seen_at is not None
        seen_at = first.first_seen_at
    assert client_as(app, "legal_a").get(f"/warnings/{wid}", headers=html).status_code == 200
    with archive.sessions() as s:
        assert s.get(WarningRecord, wid).first_seen_at == seen_at  # the first look stays


def test_the_first_look_is_kept_when_two_look_at_once(app, archive, client, orgs):
    from tests.conftest import concurrently

    wid = _open_warning(archive, client, "津武市监罚〔2026〕602号", "doc:y")
    out = concurrently(4, lambda i: client_as(app, "legal_a").get(f"/warnings/{wid}", headers={"Accept": "text/html"}))
    assert [r.status_code for r in out] == [200] * 4
    with archive.sessions() as s:
        first = s.get(WarningRecord, wid)
        assert first.first_seen_by == "legal_a" and first.first_seen_at is not None
