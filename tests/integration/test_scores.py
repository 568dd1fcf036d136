"""Monthly scoring (月度考评), on SQLite and PostgreSQL: a hand-computed month with every
component (uploads on time at the month's edges in Shanghai time, stages with and without their
forms, warnings handled at each level, reviews of two files, the performance ratio), the formula
from the configuration, the scope of each role, and the year's own threshold."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from archive.models import Case, Document, PerformanceThreshold, Review, SamplingPlan, Stage, WarningRecord
from archive.services import scores as scoring
from archive.clock import SHANGHAI
from tests.conftest import authorize, client_as, concurrently, new_case
from tests.integration.test_stats import HEADER, load_powers

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time, as aware UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def seed_month(archive, client, monkeypatch, tmp_path) -> dict[str, str]:
    """October 2026 for A-SJJ by hand; A-YJJ does nothing; B-SJJ (district B) has one upload."""
    powers = HEADER + ("A-SJJ,SJ-1,对销售过期食品的处罚,penalty,依据\nA-SJJ,SJ-2,对无证经营的处罚,penalty,依据\n"
                       "B-SJJ,BS-1,食品经营日常检查,inspection,依据\n")
    assert load_powers(monkeypatch, archive, tmp_path, powers).exit_code == 0
    a1 = new_case(client, number="案〔2026〕1号", agency="A-SJJ", power="SJ-1", opened_on="2026-09-01")["id"]
    a2 = new_case(client, number="案〔2026〕2号", agency="A-SJJ", power="SJ-1", opened_on="2026-10-01")["id"]
    b1 = new_case(client, number="案〔2026〕3号", agency="B-SJJ", power="BS-1", opened_on="2026-10-01",
                  kind="inspection")["id"]
    with archive.sessions() as s:
        def doc(case_id, when, stage="filing"):
            d = Document(case_id=case_id, stage=stage, form_code="filing_approval", filename="x.pdf",
                         media_type="application/pdf", size=1, sha256="0" * 64, object_key="k", version_id="v",
                         uploaded_at=when, text_status="indexed")
            s.add(d)
            s.flush()
            return d.id
        # uploads: four in October (the first second and the last minute count), one after
        late_doc = doc(a1, at("2026-10-01T00:00:00"))
        doc(a1, at("2026-10-15T09:00:00"))
        doc(a2, at("2026-10-20T09:00:00"))
        doc(a2, at("2026-10-31T23:59:00"))
        doc(a2, at("2026-11-01T00:00:00"))   # November's
        doc(a1, at("2026-09-30T23:59:59"))   # September's
        doc(b1, at("2026-10-10T09:00:00"), stage="inspection")
        # stages completed in October: two, one of them still lacking its forms
        s.add(Stage(case_id=a1, stage="investigation", completed_at=at("2026-10-09T10:00:00")))
        s.add(Stage(case_id=a2, stage="filing", completed_at=at("2026-10-01T10:00:00")))
        s.add(Stage(case_id=a1, stage="filing", completed_at=at("2026-09-01T10:00:00")))  # September's

        def warning(case_id, rule, key, opened, level=1, status="open", due=None, handled=None, agency="A-SJJ"):
            s.add(WarningRecord(rule=rule, fact_key=key, case_id=case_id, agency_code=agency, stage="filing",
                                message="…", level=level, status=status, opened_at=opened, due_at=due,
                                handled_at=handled, handled_by="x" if handled else None))
        # handled at level 1 in time: credit 1
        warning(a1, "late_upload", f"doc:{late_doc}", at("2026-10-01T00:00:00"), status="handled",
                due=at("2026-10-09T00:00:00"), handled=at("2026-10-08T00:00:00"))
        # open at level 1 and past its due: decided, credit 0
        warning(a1, "missing_documents", "missing:investigation", at("2026-10-12T00:00:00"), due=at("2026-10-15T00:00:00"))
        # climbed to level 2, handled there in time: credit 0.5
        warning(a2, "decision_overdue", "decision_overdue", at("2026-10-03T00:00:00"), level=2, status="handled",
                due=at("2026-10-20T00:00:00"), handled=at("2026-10-19T00:00:00"))
        # open at level 1, due after now: pending, not counted
        warning(a2, "stage_out_of_order", "order:x", at("2026-10-30T00:00:00"), due=at("2026-12-30T00:00:00"))
        # September's: not October's
        warning(a1, "stage_out_of_order", "order:y", at("2026-09-30T23:00:00"), due=at("2026-10-02T00:00:00"))
        # a resolved missing-documents warning of the other stage: the forms came, the stage is complete
        warning(a2, "missing_documents", "missing:filing", at("2026-09-15T00:00:00"), status="resolved",
                due=at("2026-09-20T00:00:00"), handled=at("2026-09-21T00:00:00"))
        plan = SamplingPlan(name="2026 抽查", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 9, 30),
                            kinds='["penalty"]', review_deadline=dt.date(2026, 10, 31), created_by="city", status="drawn")
        s.add(plan)
        s.flush()
        for case_id, number, reviewer, score, when in [
            (a1, "案〔2026〕1号", "r1", 80.0, at("2026-10-10T10:00:00")),
            (a1, "案〔2026〕1号", "r2", 90.0, at("2026-10-11T10:00:00")),   # file 1: 85
            (a2, "案〔2026〕2号", "r1", 70.0, at("2026-10-12T10:00:00")),   # file 2: 70 → mean 77.5
            (a2, "案〔2026〕2号", "r3", 10.0, at("2026-11-02T10:00:00")),   # November's
        ]:
            s.add(Review(plan_id=plan.id, case_id=case_id, case_number=number, agency_code="A-SJJ", reviewer=reviewer,
                         rank="x", due_on=dt.date(2026, 10, 31), status="submitted", submitted_at=when, score=score,
                         grade="合格"))
        # the month is made by hand: a deadline scan (a live worker's first round) must not add to it
        from sqlalchemy import update

        s.execute(update(Case).where(Case.id.in_([a1, a2, b1])).values(
            checked_at=dt.datetime.now(dt.timezone.utc), next_check_at=None))
        s.commit()
    return {"a1": a1, "a2": a2, "b1": b1}


def month_scores(app, who, **query):
    r = client_as(app, who).get("/api/stats/scores", query_string=query)
    return r.status_code, r.get_json()


NOW = at("2026-11-27T12:00:00")


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr("archive.api.stats.now", lambda: NOW)
    return NOW


def test_a_month_scored_by_hand(app, archive, client, orgs, monkeypatch, tmp_path, clock):
    seed_month(archive, client, monkeypatch, tmp_path)
    status, got = month_scores(app, "district_a", month="2026-10")
    assert status == 200, got
    assert (got["from"], got["to"]) == ("2026-10-01", "2026-10-31")
    assert got["formula"]["weights"] == {"on_time": 25, "completeness": 20, "warnings": 20, "reviews": 20, "performance": 15,
                                         "daily_use": 0, "officers": 0}
    assert got["formula"]["weighted"] == ["on_time", "completeness", "warnings", "reviews", "performance"]
    rows = {r["agency"]: r for r in got["agencies"]}
    assert set(rows) == {"A-SJJ", "A-YJJ"}  # district A's agencies only
    a = rows["A-SJJ"]["components"]
    assert (a["on_time"]["uploaded"], a["on_time"]["late"], a["on_time"]["rate"]) == (4, 1, 0.75)
    assert (a["completeness"]["stages"], a["completeness"]["incomplete"], a["completeness"]["rate"]) == (2, 1, 0.5)
    w = a["warnings"]
    assert (w["opened"], w["decided"], w["pending"], w["rate"]) == (4, 3, 1, 0.5)
    assert w["levels"] == {"1": {"reached": 4, "in_time": 1}, "2": {"reached": 1, "in_time": 1},
                           "3": {"reached": 0, "in_time": 0}}
    assert (a["reviews"]["files"], a["reviews"]["mean_score"], a["reviews"]["rate"]) == (2, 77.5, 0.775)
    assert (a["performance"]["powers"], a["performance"]["exercised"], a["performance"]["rate"]) == (2, 1, 0.5)
    # 25×0.75 + 20×0.5 + 20×0.5 + 20×0.775 + 15×0.5 = 18.75 + 10 + 10 + 15.5 + 7.5
    assert [a[k]["points"] for k in scoring.COMPONENTS] == [18.75, 10.0, 10.0, 15.5, 7.5, 0.0, None]
    assert a["officers"] == {"rate": None, "acts": 0, "flawed": 0, "weight": 0, "points": None}  # before the rules checked officers
    assert a["daily_use"]["rate"] == 0.0  # nobody logged in to the web pages in October
    assert rows["A-SJJ"]["score"] == 61.75 and rows["A-SJJ"]["rank"] == 1
    # A-YJJ: no powers, no uploads, no stages, no files, no warnings: no score, no rank
    y = rows["A-YJJ"]
    assert y["score"] is None and y["rank"] is None
    assert all(y["components"][k]["rate"] is None for k in ("on_time", "completeness", "reviews", "performance"))
    assert y["components"]["daily_use"]["rate"] == 0.0  # it has a clerk, who never logged in


def test_the_formula_comes_from_the_configuration(make_app, monkeypatch, tmp_path, clock):
    app = make_app(SCORE_WEIGHTS="on_time=1,reviews=1", SCORE_WARNING_CREDIT="1=1,2=1")
    archive = app.extensions["archive"]
    authorize(app)
    seed_month(archive, client_as(app, "city"), monkeypatch, tmp_path)
    status, got = month_scores(app, "city", month="2026-10")
    rows = {r["agency"]: r for r in got["agencies"]}
    a = rows["A-SJJ"]
    # (0.75 + 0.775) / 2; the components of weight 0 earn no points
    assert a["score"] == 76.25 and a["components"]["completeness"]["points"] == 0.0
    assert a["components"]["warnings"]["rate"] == round(2 / 3, 4)  # level 2 in time now earns 1
    # B-SJJ: one upload on time, no reviews: on_time alone
    assert rows["B-SJJ"]["score"] == 100.0 and [r["agency"] for r in got["agencies"]][:2] == ["B-SJJ", "A-SJJ"]
    with pytest.raises(ValueError, match="unknown component"):
        make_app(SCORE_WEIGHTS="speed=1")
    with pytest.raises(ValueError, match="at least one weight"):
        make_app(SCORE_WEIGHTS="on_time=0")
    with pytest.raises(ValueError, match="credit from 0 to 1"):
        make_app(SCORE_WARNING_CREDIT="1=2")


def test_scores_respect_the_scope(app, archive, client, orgs, monkeypatch, tmp_path, clock):
    seed_month(archive, client, monkeypatch, tmp_path)
    assert [r["agency"] for r in month_scores(app, "clerk_a", month="2026-10")[1]["agencies"]] == ["A-SJJ"]
    assert [r["agency"] for r in month_scores(app, "district_b", month="2026-10")[1]["agencies"]] == ["B-SJJ"]
    city = month_scores(app, "city", month="2026-10")[1]["agencies"]
    assert {r["agency"] for r in city} == {"A-SJJ", "A-YJJ", "B-SJJ"}
    only_b = month_scores(app, "city", month="2026-10", district="120113")[1]["agencies"]
    assert [r["agency"] for r in only_b] == ["B-SJJ"]
    assert month_scores(app, "district_a", month="2026-10", district="120113")[0] == 404
    assert month_scores(app, "reviewer", month="2026-10")[0] == 403
    assert month_scores(app, "city", month="2026-13")[0] == 422
    assert month_scores(app, "city", month="十月")[0] == 422


def test_a_year_has_its_own_threshold(app, archive, client, orgs, monkeypatch, tmp_path, clock):
    seed_month(archive, client, monkeypatch, tmp_path)
    city = client_as(app, "city")
    r = city.put("/api/stats/thresholds/2026", json={"threshold": 0.45, "note": "2026 年度考核方案"})
    assert r.status_code == 200, r.get_json()
    got = city.get("/api/stats/performance", query_string={"year": 2026}).get_json()
    rows = {a["agency"]: a for a in got["agencies"]}
    assert got["threshold"] == 0.45 and rows["A-SJJ"]["status"] == "pass"  # 1 of 2: 50 %
    assert city.get("/api/stats/performance", query_string={"year": 2025}).get_json()["threshold"] == 0.6
    listed = city.get("/api/stats/thresholds").get_json()
    assert listed["default"] == 0.6 and [(y["year"], y["threshold"]) for y in listed["years"]] == [(2026, 0.45)]
    for bad in (0, 1.5, 0.12345, "六成"):
        r = city.put("/api/stats/thresholds/2026", json={"threshold": bad})
        assert r.status_code == 422, bad
    assert client_as(app, "district_a").put("/api/stats/thresholds/2026", json={"threshold": 0.9}).status_code == 403
    assert client_as(app, "clerk_a").put("/api/stats/thresholds/2026", json={"threshold": 0.9}).status_code == 403
    with archive.sessions() as s:
        assert float(s.get(PerformanceThreshold, 2026).threshold) == 0.45


def test_two_offices_setting_a_new_year_at_once_leave_one_row(app, archive, orgs):
    """The first setting of a year, twice at once: one row, no error, one of the two values."""
    values = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
    results = [r.status_code for r in concurrently(6, lambda i: client_as(app, "city").put(
        "/api/stats/thresholds/2027", json={"threshold": values[i]}))]
    assert results == [200] * 6
    with archive.sessions() as s:
        rows = s.scalars(select(PerformanceThreshold)).all()
        assert len(rows) == 1 and float(rows[0].threshold) in {0.5, 0.55, 0.6, 0.65, 0.7, 0.75}
