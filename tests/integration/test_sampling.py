"""Sampling plans, the verifiable draw, reviewer access, bundles and scoring, end to end
(real SeaweedFS; SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import zipfile

import bagit
import docx
import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import select, update

from archive.cli import main
from archive.demo.documents import make_docx, make_pdf
from archive.models import AuditEntry, Review, SampleStratum
from tests.conftest import client_as, new_case, record_stage, upload

REVIEWERS = [("rev_a", "A-SJJ"), ("rev_ay", "A-YJJ"), ("rev_b", "B-SJJ"), ("rev_b2", "B-SJJ"), ("rev_x", None),
             ("reviewer", None)]  # the last one comes with every test's accounts
PLAN = {"name": "2026年第三季度行政处罚案卷抽查", "period_start": "2026-07-01", "period_end": "2026-09-30",
        "kinds": ["penalty"], "count": 2, "min_per_stratum": 0, "reviewers_per_file": 2, "max_load": 5,
        "review_deadline": "2099-12-31"}


@pytest.fixture
def reviewers(app, tokens):
    from archive.auth.accounts import create_user, issue_token

    with app.extensions["archive"].sessions() as s:
        for username, agency in REVIEWERS[:-1]:
            tokens[username] = issue_token(s, create_user(s, username, "reviewer", agency)).token
        s.commit()
    return tokens


def cases_in_period(client, n_a=5, n_ay=1, n_b=3):
    made = {}
    for agency, n, prefix in (("A-SJJ", n_a, "津武市监罚"), ("A-YJJ", n_ay, "津武应急罚"), ("B-SJJ", n_b, "津辰市监罚")):
        for i in range(n):
            c = new_case(client, number=f"{prefix}〔2026〕{100 + i}号", agency=agency, opened_on=f"2026-08-{i + 1:02d}")
            made[c["number"]] = c
    new_case(client, number="津武市监罚〔2026〕9号", agency="A-SJJ", opened_on="2026-06-30")  # before the period
    new_case(client, number="津武市监查〔2026〕1号", agency="A-SJJ", kind="inspection", opened_on="2026-08-01")
    return made


def by_hand(seed, numbers, k):
    return sorted(numbers, key=lambda n: hmac.new(seed.encode(), n.encode(), hashlib.sha256).hexdigest())[:k]


def test_plan_freeze_draw_verify(app, client, reviewers, monkeypatch):
    made = cases_in_period(client)
    district = client_as(app, "district_a")
    assert district.post("/api/sampling/plans", json=PLAN).status_code == 403
    bad = client.post("/api/sampling/plans", json={**PLAN, "rate": 0.5})
    assert bad.status_code == 422 and "count" in bad.get_json()["errors"]
    plan = client.post("/api/sampling/plans", json=PLAN).get_json()
    frozen = client.post(f"/api/sampling/plans/{plan['id']}/freeze").get_json()
    strata = {f"{s['agency']}/{s['kind']}": s for s in frozen["strata"]}
    assert set(strata) == {"A-SJJ/penalty", "A-YJJ/penalty", "B-SJJ/penalty"}
    a = strata["A-SJJ/penalty"]
    assert a["population"] == sorted(n for n in made if n.startswith("津武市监罚"))
    assert a["digest"] == hashlib.sha256("\n".join(a["population"]).encode()).hexdigest()
    assert strata["A-YJJ/penalty"]["k"] == 1  # only one file there
    # a file stored after the freeze never changes the draw
    new_case(client, number="津武市监罚〔2026〕999号", agency="A-SJJ", opened_on="2026-09-01")
    seed = "2026-10-08 体彩排列3 092"
    drawn = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": seed})
    assert drawn.status_code == 200, drawn.get_json()
    drawn = drawn.get_json()
    for s in drawn["strata"]:
        assert s["sample"] == by_hand(seed, s["population"], s["k"])
        assert "津武市监罚〔2026〕999号" not in s["population"]
    # every file has two reviewers, never of its own agency
    by_file: dict[str, list[str]] = {}
    agency_of = dict(REVIEWERS)
    for a_ in drawn["assignments"]:
        by_file.setdefault(a_["case_number"], []).append(a_["reviewer"])
        assert agency_of[a_["reviewer"]] != a_["agency"]
    assert sorted(by_file) == sorted(n for s in drawn["strata"] for n in s["sample"])
    assert all(len(v) == 2 for v in by_file.values())
    # the seed is in the audit trail, and the digests were recorded before it
    archive = app.extensions["archive"]
    with archive.sessions() as s:
        actions = [(e.action, json.loads(e.detail)) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "sampling_plan").order_by(AuditEntry.seq))]
    names = [x for x, _ in actions]
    assert names.index("sample.freeze") < names.index("sample.draw")
    assert actions[names.index("sample.draw")][1]["seed"] == seed
    # a draw is never repeated
    assert client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "other"}).status_code == 409
    # the CLI recomputes it; a tampered sample is reported
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    ok = CliRunner().invoke(main, ["sample", "verify", str(plan["id"])])
    assert ok.exit_code == 0 and "recomputes exactly" in ok.output, ok.output
    with archive.sessions() as s:
        st = s.scalars(select(SampleStratum).where(SampleStratum.plan_id == plan["id"],
                                                   SampleStratum.agency_code == "B-SJJ")).one()
        st.selected = json.dumps(sorted(json.loads(st.population))[:2], ensure_ascii=False)
        s.commit()
    bad = CliRunner().invoke(main, ["sample", "verify", str(plan["id"])])
    if by_hand(seed, json.loads(st.population), 2) != sorted(json.loads(st.population))[:2]:
        assert bad.exit_code == 1 and "B-SJJ/penalty: sample" in bad.output


def test_same_population_and_seed_same_draw_across_plans(app, client, reviewers, monkeypatch):
    cases_in_period(client, n_a=8, n_ay=0, n_b=0)
    archive = app.extensions["archive"]
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    plan = {**PLAN, "district": "120114", "count": 3}
    p1 = client.post("/api/sampling/plans", json=plan).get_json()
    p2 = client.post("/api/sampling/plans", json=plan).get_json()
    p3 = client.post("/api/sampling/plans", json=plan).get_json()
    frozen = CliRunner().invoke(main, ["sample", "freeze", str(p1["id"])])
    assert frozen.exit_code == 0 and "A-SJJ/penalty: 8 files, take 3, sha256 " in frozen.output, frozen.output
    assert CliRunner().invoke(main, ["sample", "freeze", str(p1["id"])]).exit_code != 0  # frozen already
    r = CliRunner().invoke(main, ["sample", "draw", str(p1["id"]), "--seed", "417092"])
    assert r.exit_code == 0, r.output
    # the district's own office may draw a plan of its district
    d2 = client_as(app, "district_a").post(f"/api/sampling/plans/{p2['id']}/draw", json={"seed": "417092"})
    assert d2.status_code == 200, d2.get_json()
    assert client_as(app, "district_b").post(f"/api/sampling/plans/{p3['id']}/draw",
                                             json={"seed": "x"}).status_code == 404
    d3 = client.post(f"/api/sampling/plans/{p3['id']}/draw", json={"seed": "417093"}).get_json()
    g1, g2 = client.get(f"/api/sampling/plans/{p1['id']}").get_json(), d2.get_json()
    assert [s["sample"] for s in g1["strata"]] == [s["sample"] for s in g2["strata"]]
    assert [(a["case_number"], a["reviewer"]) for a in g1["assignments"]] == \
        [(a["case_number"], a["reviewer"]) for a in g2["assignments"]]
    a1 = next(s for s in g1["strata"] if s["agency"] == "A-SJJ")
    a3 = next(s for s in d3["strata"] if s["agency"] == "A-SJJ")
    assert a1["sample"] != a3["sample"]
    empty = next(s for s in g1["strata"] if s["agency"] == "A-YJJ")
    assert (empty["population_size"], empty["k"], empty["sample"]) == (0, 0, [])


def test_a_pool_that_cannot_meet_the_constraints_refuses_the_draw(app, client, reviewers):
    cases_in_period(client, n_a=3, n_ay=0, n_b=0)
    plan = client.post("/api/sampling/plans", json={**PLAN, "count": 3, "reviewers_per_file": 2,
                                                      "max_load": 1}).get_json()
    rev = client_as(app, "rev_b")
    assert rev.post("/api/reviews/conflicts", json={"agency": "A-SJJ", "reason": "配偶在该局任职"}).status_code == 201
    r = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "1"})
    assert r.status_code == 422
    body = r.get_json()
    problems = body["errors"]["A-SJJ/penalty"]
    assert "own agency 1" in problems[0] and "declared conflict 1" in problems[0]
    assert any("at the load limit 1" in p for p in problems)
    got = client.get(f"/api/sampling/plans/{plan['id']}").get_json()
    assert got["status"] == "frozen" and got["seed"] is None and got["assignments"] == []
    # the page says the same figures in Chinese (from the refusal's figures, not its English text)
    page = client_as(app, "city").post(f"/sampling/{plan['id']}/draw", data={"seed": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "评查人员不足" in html
    assert "需要 2 名评查人员" in html and "本机关 1 名，声明回避 1 名" in html and "needs" not in html


def test_reviewer_sees_assigned_files_only_until_the_deadline(app, client, reviewers):
    made = cases_in_period(client, n_a=3, n_ay=0, n_b=0)
    one = made["津武市监罚〔2026〕100号"]
    up = upload(client, one["id"], make_pdf("行政处罚决定书", ["责令改正"]), stage="decision")
    assert up.status_code == 201
    doc_id = up.get_json()["id"]
    plan = client.post("/api/sampling/plans", json={**PLAN, "count": 1, "reviewers_per_file": 1}).get_json()
    drawn = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "s"}).get_json()
    (assignment,) = drawn["assignments"]
    reviewer = client_as(app, assignment["reviewer"])
    others = [n for n in made if n != assignment["case_number"]]
    assert reviewer.get(f"/api/cases/{assignment['case_id']}").status_code == 200
    assert reviewer.get(f"/api/cases/{made[others[0]]['id']}").status_code == 404
    assert reviewer.post(f"/api/cases/{assignment['case_id']}/stages",
                         json={"stage": "closing", "completed_at": "2026-09-01T10:00:00+08:00"}).status_code == 403
    mine = reviewer.get("/api/reviews?mine=1").get_json()["reviews"]
    assert [r["case_number"] for r in mine] == [assignment["case_number"]]
    if assignment["case_id"] == one["id"]:
        assert reviewer.get(f"/api/documents/{doc_id}/content").status_code == 200
    else:
        assert reviewer.get(f"/api/documents/{doc_id}/content").status_code == 404
    other_reviewer = next(u for u, _ in REVIEWERS if u != assignment["reviewer"])
    assert client_as(app, other_reviewer).get(f"/api/cases/{assignment['case_id']}").status_code == 404
    archive = app.extensions["archive"]
    with archive.sessions() as s:
        accesses = s.scalars(select(AuditEntry).where(AuditEntry.action == "review.access",
                                                      AuditEntry.actor == assignment["reviewer"])).all()
        assert accesses and all(e.target_id == assignment["case_id"] for e in accesses)
        s.execute(update(Review).values(due_on=dt.date(2020, 1, 1)))
        s.commit()
    assert reviewer.get(f"/api/cases/{assignment['case_id']}").status_code == 404
    late = reviewer.post(f"/api/reviews/{assignment['review_id']}", json={"vetoed": [], "deductions": []})
    assert late.status_code == 403


def _case_with_documents(client):
    case = new_case(client, number="津武市监罚〔2026〕77号", opened_on="2026-08-03")
    for stage, at in (("filing", "2026-08-03T10:00:00+08:00"), ("investigation", "2026-08-10T10:00:00+08:00"),
                      ("decision", "2026-08-20T10:00:00+08:00")):
        assert record_stage(client, case["id"], stage, at).status_code == 201
    parts = [("decision", "penalty_decision", "行政处罚决定书.pdf", make_pdf("行政处罚决定书", ["罚款五万元"], pages=2)),
             ("filing", "filing_approval", "立案审批表.pdf", make_pdf("立案审批表", ["同意立案"])),
             ("investigation", "inquiry_record", "询问笔录.docx", make_docx("询问笔录", ["问：你叫什么名字？"])),
             ("investigation", "onsite_record", "现场笔录.pdf", make_pdf("现场笔录", ["现场检查"], pages=3))]
    for stage, form, name, data in parts:
        r = upload(client, case["id"], data, filename=name, stage=stage, form=form)
        assert r.status_code == 201, r.get_json()
    return case, parts


def test_bundle_is_a_valid_bag_in_filing_order(app, client, tmp_path):
    case, parts = _case_with_documents(client)
    r = client.get(f"/api/cases/{case['id']}/bundle")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    zipfile.ZipFile(io.BytesIO(r.data)).extractall(tmp_path)
    bag = bagit.Bag(str(tmp_path / f"case-{case['id']}"))
    bag.validate()  # raises on any difference
    assert bag.info["External-Identifier"] == case["number"]
    assert bag.info["Payload-Oxum"] == f"{sum(len(p[3]) for p in parts)}.{len(parts)}"
    names = sorted(bag.payload_files())
    assert [n.split("/")[1] for n in names] == ["02-filing", "03-investigation", "03-investigation", "05-decision"]
    assert names[1].endswith("询问笔录.docx") and names[2].endswith("现场笔录.pdf")  # upload order in a stage
    # a tampered payload fails validation (the check can fail)
    (tmp_path / f"case-{case['id']}" / names[0]).write_bytes(b"changed")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(tmp_path / f"case-{case['id']}")).validate()


def _outline(reader):
    def walk(items, depth=0):
        for it in items:
            if isinstance(it, list):
                yield from walk(it, depth + 1)
            else:
                yield depth, it.title, reader.get_destination_page_number(it)

    return list(walk(reader.outline))


def test_binder_pages_and_bookmarks_without_libreoffice(app, client, archive):
    archive.config["LIBREOFFICE"] = "off"
    case, parts = _case_with_documents(client)
    r = client.get(f"/api/cases/{case['id']}/binder.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    pdf_pages = sum(len(PdfReader(io.BytesIO(p[3])).pages) for p in parts if p[2].endswith(".pdf"))
    toc_text = reader.pages[1].extract_text().replace("\x00", "")
    assert "卷内目录" in toc_text and "附件" in toc_text
    assert len(reader.pages) == 1 + 1 + pdf_pages  # cover, one page of contents, the parts
    outline = _outline(reader)
    assert [t for d, t, _ in outline if d == 0] == ["封面", "卷内目录", "立案", "调查取证", "处罚决定"]
    docs = {t: page for d, t, page in outline if d == 1}
    assert set(docs) == {"立案审批表.pdf", "〔附件〕询问笔录.docx", "现场笔录.pdf", "行政处罚决定书.pdf"}
    assert docs["立案审批表.pdf"] == 2 and docs["现场笔录.pdf"] == 3 and docs["行政处罚决定书.pdf"] == 6
    assert "现场笔录" in reader.pages[3].extract_text().replace("\x00", "")


def test_binder_converts_docx_with_libreoffice(app, client, archive, tmp_path):
    from archive.casefile.bundle import find_soffice

    assert find_soffice(archive.config["LIBREOFFICE"]), "LibreOffice is required here (bin/setup test installs it)"
    case, parts = _case_with_documents(client)
    from tests.conftest import drain

    drain(archive, renditions=True)  # the DOCX's PDF/A rendition, made in the background
    reader = PdfReader(io.BytesIO(client.get(f"/api/cases/{case['id']}/binder.pdf").data))
    pdf_pages = sum(len(PdfReader(io.BytesIO(p[3])).pages) for p in parts if p[2].endswith(".pdf"))
    docs = {t: page for d, t, page in _outline(reader) if d == 1}
    assert set(docs) == {"立案审批表.pdf", "询问笔录.docx", "现场笔录.pdf", "行政处罚决定书.pdf"}
    docx_pages = len(reader.pages) - 2 - pdf_pages
    assert docx_pages >= 1
    # filing order: 立案 (1 page), then 询问笔录 (converted), then 现场笔录
    assert docs["立案审批表.pdf"] == 2 and docs["询问笔录.docx"] == 3 and docs["现场笔录.pdf"] == 3 + docx_pages
    assert "你叫什么名字" in reader.pages[3].extract_text().replace("\x00", "")
    # an independent reader (poppler) finds a well-formed file with the same pages and outline
    import subprocess

    path = tmp_path / "binder.pdf"
    path.write_bytes(client.get(f"/api/cases/{case['id']}/binder.pdf").data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    import re

    assert re.search(rf"^Pages:\s+{len(reader.pages)}$", info.stdout, re.M) and "rror" not in info.stderr, info.stderr
    text = subprocess.run(["pdftotext", "-f", "4", "-l", "4", str(path), "-"], capture_output=True, text=True,
                          check=True)
    assert "你叫什么名字" in text.stdout and "rror" not in text.stderr


def test_review_scoring_and_results(app, client, reviewers):
    cases_in_period(client, n_a=2, n_ay=0, n_b=2)
    plan = client.post("/api/sampling/plans", json={**PLAN, "count": 1, "reviewers_per_file": 1}).get_json()
    drawn = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "7"}).get_json()
    by_agency = {a["agency"]: a for a in drawn["assignments"]}
    a, b = by_agency["A-SJJ"], by_agency["B-SJJ"]
    ra, rb = client_as(app, a["reviewer"]), client_as(app, b["reviewer"])
    if a["reviewer"] != b["reviewer"]:
        assert rb.post(f"/api/reviews/{a['review_id']}", json={}).status_code == 404  # not theirs
    bad = ra.post(f"/api/reviews/{a['review_id']}", json={"deductions": [{"item": "F1", "points": 9, "reason": "x"}]})
    assert bad.status_code == 422
    ok = ra.post(f"/api/reviews/{a['review_id']}", json={
        "deductions": [{"item": "F3", "points": 2, "reason": "页码不连续"}, {"item": "C2", "points": 10, "reason": "证据不足"}]})
    assert ok.status_code == 200, ok.get_json()
    assert (ok.get_json()["score"], ok.get_json()["grade"]) == (88.0, "合格")
    assert ra.post(f"/api/reviews/{a['review_id']}", json={}).status_code == 409
    veto = rb.post(f"/api/reviews/{b['review_id']}", json={"vetoed": ["V6"], "note": "仅一名执法人员签名"})
    assert (veto.get_json()["score"], veto.get_json()["grade"]) == (0.0, "不合格")
    res = client.get(f"/api/sampling/plans/{plan['id']}/results").get_json()
    agencies = {r["code"]: r for r in res["agencies"]}
    assert agencies["A-SJJ"]["mean_score"] == 88.0 and agencies["A-SJJ"]["grades"]["合格"] == 1
    assert agencies["B-SJJ"]["grades"]["不合格"] == 1
    districts = {r["code"]: r for r in res["districts"]}
    assert districts["120114"]["files"] == 1 and districts["120113"]["mean_score"] == 0.0
    # the district office sees its own agencies' results only
    mine = client_as(app, "district_a").get(f"/api/sampling/plans/{plan['id']}/results").get_json()
    assert {f["agency"] for f in mine["files"]} == {"A-SJJ"}
    csv_text = client.get(f"/api/sampling/plans/{plan['id']}/results?format=csv").data.decode("utf-8-sig")
    assert a["case_number"] in csv_text and "不合格" in csv_text
    report = docx.Document(io.BytesIO(client.get(f"/api/sampling/plans/{plan['id']}/results?format=docx").data))
    text = "\n".join(p.text for p in report.paragraphs) + "".join(
        c.text for t in report.tables for row in t.rows for c in row.cells)
    assert PLAN["name"] in text and a["case_number"] in text and "88.00" in text
