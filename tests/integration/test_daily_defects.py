"""Defects users met every day (issue 26), each with the test that failed before its fix."""
from __future__ import annotations

import re

import pytest

from archive.demo.documents import make_pdf
from tests.conftest import client_as, drain, new_case, record_stage, upload


@pytest.fixture
def decided(app, client):
    """A case of agency A with a decision completed 2026-03-20 whose PDF is indexed."""
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    doc = upload(client, case["id"], make_pdf("行政处罚决定书", ["决定：责令停产停业，并处罚款。"]),
                 filename="决定书.pdf").get_json()
    drain(app.extensions["archive"])
    return case, doc


# -- 1. no input answers 500 -------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["tantivy", "whoosh"])
def test_a_date_filter_open_at_one_end_works_in_the_api_and_the_page(make_app, engine):
    from tests.conftest import authorize

    app = make_app(SEARCH_ENGINE=engine)
    authorize(app)
    city = client_as(app, "city")
    case = new_case(city)
    assert record_stage(city, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    upload(city, case["id"], make_pdf("行政处罚决定书", ["决定：责令停产停业。"]), filename="决定书.pdf")
    drain(app.extensions["archive"])
    for query, total in (({"from": "2026-03-01"}, 1), ({"to": "2026-03-19"}, 0), ({"to": "2026-03-20"}, 1),
                         ({"from": "2026-03-21"}, 0)):
        r = city.get("/api/search", query_string={"q": "停产停业", **query})
        assert r.status_code == 200, (query, r.get_json())
        assert r.get_json()["total"] == total, query
        page = city.get("/search", query_string={"q": "停产停业", **query})
        assert page.status_code == 200, query
        assert re.search(r"共 <strong>(\d+)</strong> 份文书", page.get_data(as_text=True)).group(1) == str(total)


def test_a_month_outside_the_archives_years_is_a_422_naming_the_field(app, client, tokens):
    city = client_as(app, "city")
    for path in ("/api/stats/scores", "/api/stats/daily-use", "/api/reports/monthly"):
        for month in ("0001-01", "9270-12", "1999-12", "2200-01"):
            r = city.get(path, query_string={"month": month})
            assert r.status_code == 422, (path, month, r.status_code)
            body = r.get_json()
            message = str(body["errors"])
            assert "month" in message and "月份应在" in message, body
        assert city.get(path, query_string={"month": "2026-02"}).status_code == 200, path
    # the page falls back to the last whole month instead of failing
    assert city.get("/stats/scores", query_string={"month": "0001-01"}).status_code == 200


def test_without_a_chinese_font_binders_and_charts_answer_503_and_health_says_why(app, client, decided,
                                                                                monkeypatch):
    from archive.casefile import fonts
    from archive.services import charts

    case, _ = decided
    assert client.get("/api/health").get_json()["font"]["ok"] is True

    def no_font():
        raise fonts.FontMissing("no Chinese font (test)")

    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    monkeypatch.setattr(charts, "font_family", no_font)
    binder = client.get(f"/api/cases/{case['id']}/binder.pdf")
    assert binder.status_code == 503, binder.status_code
    assert "中文字体" in binder.get_json()["message"]
    chart = client.get("/stats/charts/scores.png", query_string={"month": "2026-03"})
    assert chart.status_code == 503 and "中文字体" in chart.get_data(as_text=True)
    health = client.get("/api/health").get_json()
    assert health["font"]["ok"] is False and "fonts-noto-cjk" in health["font"]["error"]
    assert health["status"] == "degraded"
