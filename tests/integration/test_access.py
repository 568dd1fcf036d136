"""Roles and scope: every route × every role × in-scope and out-of-scope objects."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from archive.demo.documents import make_pdf
from archive.models import AuditEntry
from tests.conftest import ACCOUNTS, client_as, drain, new_case, upload

PDF_A = make_pdf("行政处罚决定书", ["武清区案件：责令停产停业，罚款五万元。"])
PDF_B = make_pdf("行政处罚决定书", ["北辰区案件：责令停产停业，吊销营业执照。"])

# Which of the two cases each account may see, and whether it may write to case A.
SEES = {"clerk_a": {"A"}, "clerk_ay": set(), "clerk_b": {"B"}, "legal_a": {"A"},
        "district_a": {"A"}, "district_b": {"B"}, "city": {"A", "B"}, "reviewer": set(),
        "complaints_a": {"A"}, "auditor": {"A", "B"},
        # 三权分立: the administrators open no case file, and may not even search or list them
        "sysadmin": set(), "secadmin": set(), "auditadmin": set()}
ADMINS = {"sysadmin", "secadmin", "auditadmin"}
WRITES_A = {"clerk_a": "filing", "legal_a": "investigation"}


@pytest.fixture
def world(app, client, archive):
    a = new_case(client)
    b = new_case(client, number="津辰市监罚〔2026〕3号", agency="B-SJJ")
    da = upload(client, a["id"], PDF_A).get_json()
    db_ = upload(client, b["id"], PDF_B).get_json()
    drain(archive)
    return {"A": a, "B": b, "docs": {"A": da, "B": db_}}


def refusals(archive) -> int:
    with archive.sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "access.refused"))


@pytest.mark.parametrize("who", [a[0] for a in ACCOUNTS])
def test_route_role_scope_matrix(app, archive, world, who):
    c = client_as(app, who)
    sees = SEES[who]
    for key in ("A", "B"):
        case, doc = world[key], world["docs"][key]
        expected = 200 if key in sees else 404
        before = refusals(archive)
        assert c.get(f"/api/cases/{case['id']}").status_code == expected, (who, key)
        assert c.get(f"/api/documents/{doc['id']}").status_code == expected, (who, key)
        content = c.get(f"/api/documents/{doc['id']}/content")
        assert content.status_code == expected, (who, key)
        if expected == 404:
            assert content.get_json()["code"] == 404 and PDF_A[:20] not in content.data
            assert refusals(archive) == before + 3  # every refusal is in the audit trail

    # search: counts, hits and snippets only from what the caller may see
    if who in ADMINS:
        for path in ("/api/search?q=停产停业", "/api/cases"):
            r = c.get(path)
            assert r.status_code == 403 and "武清区案件" not in r.get_data(as_text=True), (who, path)
        assert c.get("/api/audit").status_code == (200 if who == "auditadmin" else 403)
        return
    r = c.get("/api/search", query_string={"q": "停产停业"}).get_json()
    assert r["total"] == len(sees), who
    assert {h["document_id"] for h in r["hits"]} == {world["docs"][k]["id"] for k in sees}
    text = str(r)
    assert ("武清区案件" in text) == ("A" in sees) and ("北辰区案件" in text) == ("B" in sees)
    assert c.get("/api/search", query_string={"q": "吊销营业执照"}).get_json()["total"] == ("B" in sees)

    listed = c.get("/api/cases").get_json()
    assert {x["number"] for x in listed["cases"]} == {world[k]["number"] for k in sees}

    # writes to case A
    a_id = world["A"]["id"]
    stage = WRITES_A.get(who, "closing")
    wrote = c.post(f"/api/cases/{a_id}/stages", json={"stage": stage, "completed_at": "2026-03-03T10:00:00+08:00"})
    form = {"filing": "filing_approval", "investigation": "inquiry_record"}.get(stage, "filing_approval")
    up = c.post(f"/api/cases/{a_id}/documents", content_type="multipart/form-data",  # into the stage just recorded
                data={"stage": stage if who in WRITES_A else "filing", "form": form,
                      "file": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf")})
    create = c.post("/api/cases", json={"number": f"津武市监罚〔2026〕{who}号", "agency": "A-SJJ",
                                        "kind": "penalty", "opened_on": "2026-03-01", "power": "SJ-FOOD-124"})
    if who in WRITES_A:
        assert (wrote.status_code, up.status_code, create.status_code) == (201, 201, 201)
    elif "A" in sees:
        assert (wrote.status_code, up.status_code, create.status_code) == (403, 403, 403)
        assert wrote.get_json()["message"]
    else:
        assert (wrote.status_code, up.status_code) == (404, 404) and create.status_code == 403

    # the audit trail is for auditors
    assert c.get("/api/audit").status_code == (200 if who == "auditor" else 403)
    for path in ("/api/organisations", "/api/forms", "/api/openapi.json"):
        assert c.get(path).status_code == 200, path


def test_every_route_but_health_and_login_needs_credentials(app, world):
    anon = client_as(app, None)
    doc = world["docs"]["A"]["id"]
    case = world["A"]["id"]
    for method, path in [("get", "/api/cases"), ("post", "/api/cases"), ("get", f"/api/cases/{case}"),
                         ("post", f"/api/cases/{case}/stages"), ("post", f"/api/cases/{case}/documents"),
                         ("get", f"/api/documents/{doc}"), ("get", f"/api/documents/{doc}/content"),
                         ("get", "/api/search?q=罚款"), ("get", "/api/forms"), ("get", "/api/organisations"),
                         ("get", "/api/audit"), ("get", "/api/openapi.json")]:
        r = getattr(anon, method)(path)
        assert r.status_code == 401, (method, path)
        assert r.get_json()["code"] == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert anon.get("/api/health").status_code == 200
    assert anon.get("/login").status_code == 200
    home = anon.get("/")
    assert home.status_code == 302 and "/login" in home.headers["Location"]
    bad = anon.get("/api/cases", headers={"Authorization": "Bearer arc_nope_nope"})
    assert bad.status_code == 401 and "arc_nope" not in bad.get_data(as_text=True)
