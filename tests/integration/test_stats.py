"""Basic information and the performance ratio (履职比例), on SQLite and PostgreSQL: a
hand-computed example (an agency exactly at the threshold, one with no records, one below,
one without basic information), the scope of each role, the drill-down, and imports refused
whole with the bad rows named."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from archive.cli import main
from archive.models import Power
from tests.conftest import client_as, new_case

HEADER = "agency,code,name,category,legal_basis\n"
POWERS = HEADER + "".join([
    # A-SJJ: five powers; three exercised in 2026 → 3/5 = 60 %, exactly the threshold: pass
    "A-SJJ,SJ-1,对销售过期食品的处罚,penalty,《食品安全法》第一百二十四条\n",
    "A-SJJ,SJ-2,对无证经营的处罚,penalty,《食品安全法》第一百二十二条\n",
    "A-SJJ,SJ-3,食品经营日常检查,inspection,《食品安全法》第一百一十条\n",
    "A-SJJ,SJ-4,对虚假广告的处罚,penalty,《广告法》第五十五条\n",
    "A-SJJ,SJ-5,对计量违法的处罚,penalty,《计量法》第二十六条\n",
    # A-YJJ: two powers, no record: 0, inaction
    "A-YJJ,YJ-1,安全生产检查,inspection,《安全生产法》第六十五条\n",
    "A-YJJ,YJ-2,对未落实安全责任的处罚,penalty,《安全生产法》第九十四条\n",
    # B-SJJ: four powers, one exercised: 25 %, fail
    "B-SJJ,BS-1,对销售过期食品的处罚,penalty,《食品安全法》第一百二十四条\n",
    "B-SJJ,BS-2,食品经营日常检查,inspection,《食品安全法》第一百一十条\n",
    "B-SJJ,BS-3,对无证经营的处罚,penalty,《食品安全法》第一百二十二条\n",
    "B-SJJ,BS-4,对计量违法的处罚,penalty,《计量法》第二十六条\n",
])


def cli_env(monkeypatch, archive):
    monkeypatch.setenv("ARCHIVE_DATABASE_URL", archive.config["DATABASE_URL"])
    monkeypatch.setenv("ARCHIVE_DATA_DIR", archive.config["DATA_DIR"])
    return CliRunner()


def load_powers(monkeypatch, archive, tmp_path, text=POWERS, name="powers.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return cli_env(monkeypatch, archive).invoke(main, ["powers", "import", str(path)])


def powers_in_db(archive) -> int:
    with archive.sessions() as s:
        return s.scalar(select(func.count()).select_from(Power)) or 0


def performance(app, who, **query):
    r = client_as(app, who).get("/api/stats/performance", query_string=query)
    return r.status_code, r.get_json()


def test_the_ratio_of_each_agency_by_hand(app, archive, client, orgs, monkeypatch, tmp_path):
    n = iter(range(100, 200))
    # recorded before the powers were listed (afterwards a case must name a listed power)
    new_case(client, number=f"案〔2026〕{next(n)}号", agency="A-SJJ", power="NOT-LISTED", opened_on="2026-06-01")
    new_case(client, number=f"案〔2026〕{next(n)}号", agency="A-YJJ", power="SJ-5", opened_on="2026-06-01")  # A-SJJ's code
    r = load_powers(monkeypatch, archive, tmp_path)
    assert r.exit_code == 0 and "imported 11 powers" in r.output, r.output
    for agency, power, opened, kind in [
        ("A-SJJ", "SJ-1", "2026-03-02", "penalty"), ("A-SJJ", "SJ-1", "2026-04-02", "penalty"),  # twice: counts once
        ("A-SJJ", "SJ-2", "2026-05-06", "penalty"), ("A-SJJ", "SJ-3", "2026-06-01", "inspection"),
        ("A-SJJ", "SJ-4", "2025-12-30", "penalty"),  # the year before: not this year's
        ("B-SJJ", "BS-2", "2026-02-01", "inspection"),
    ]:
        new_case(client, number=f"案〔2026〕{next(n)}号", agency=agency, power=power, opened_on=opened, kind=kind)
    status, got = performance(app, "city", year=2026)
    assert status == 200 and got["threshold"] == 0.6 and got["from"] == "2026-01-01"
    rows = {a["agency"]: a for a in got["agencies"]}
    assert (rows["A-SJJ"]["powers"], rows["A-SJJ"]["exercised"], rows["A-SJJ"]["ratio"], rows["A-SJJ"]["status"]) \
        == (5, 3, 0.6, "pass")
    assert (rows["A-YJJ"]["powers"], rows["A-YJJ"]["exercised"], rows["A-YJJ"]["ratio"], rows["A-YJJ"]["status"]) \
        == (2, 0, 0.0, "inaction")
    assert (rows["B-SJJ"]["powers"], rows["B-SJJ"]["exercised"], rows["B-SJJ"]["ratio"], rows["B-SJJ"]["status"]) \
        == (4, 1, 0.25, "fail")
    last_year = {a["agency"]: a for a in performance(app, "city", year=2025)[1]["agencies"]}
    assert (last_year["A-SJJ"]["exercised"], last_year["A-SJJ"]["status"]) == (1, "fail")

    # the drill-down: which powers were never exercised
    status, one = performance(app, "district_a", year=2026, agency="A-SJJ")
    assert status == 200 and [p["code"] for p in one["agencies"][0]["never_exercised"]] == ["SJ-4", "SJ-5"]

    # scope: an agency sees itself, a district its agencies, the city all; others are refused
    assert [a["agency"] for a in performance(app, "clerk_a", year=2026)[1]["agencies"]] == ["A-SJJ"]
    assert [a["agency"] for a in performance(app, "district_a", year=2026)[1]["agencies"]] == ["A-SJJ", "A-YJJ"]
    assert [a["agency"] for a in performance(app, "district_b", year=2026)[1]["agencies"]] == ["B-SJJ"]
    assert performance(app, "clerk_a", year=2026, agency="B-SJJ")[0] == 404  # another agency: not there
    assert performance(app, "district_a", year=2026, agency="B-SJJ")[0] == 404
    assert performance(app, "reviewer", year=2026)[0] == 403
    assert performance(app, "complaints_a", year=2026)[0] == 403
    assert performance(app, "city", year=1999)[0] == 422


def test_an_agency_without_basic_information_is_named_not_counted(app, archive, client, orgs, monkeypatch, tmp_path):
    assert load_powers(monkeypatch, archive, tmp_path, HEADER + "A-SJJ,SJ-1,对销售过期食品的处罚,penalty,\n").exit_code == 0
    rows = {a["agency"]: a for a in performance(app, "district_a", year=2026)[1]["agencies"]}
    assert rows["A-YJJ"] == {"agency": "A-YJJ", "name": "武清区应急管理局", "powers": 0, "exercised": 0,
                             "ratio": None, "status": "no_powers"}


def test_a_file_with_bad_rows_is_refused_whole_with_row_numbers(app, archive, orgs, monkeypatch, tmp_path):
    bad = HEADER + "".join([
        "A-SJJ,SJ-1,对销售过期食品的处罚,penalty,依据\n",       # row 2: fine
        "X-NONE,SJ-2,对无证经营的处罚,penalty,依据\n",          # row 3: unknown agency
        "A-SJJ,SJ-3,食品经营日常检查,patrol,依据\n",             # row 4: unknown category
        "A-SJJ,SJ-1,重复,penalty,依据\n",                      # row 5: same agency and code as row 2
        "A-SJJ,,无编码,penalty,依据\n",                        # row 6: no code
    ])
    r = load_powers(monkeypatch, archive, tmp_path, bad)
    assert r.exit_code == 1
    assert "4 bad row(s); nothing was imported" in r.output
    # each row's problem in Chinese, then in English
    for line in ("row 3: 没有编码为 X-NONE 的执法机关 / unknown agency 'X-NONE'", "row 4: 类别应为",
                 "/ category must be one of", "row 5: 与第 2 行的执法机关编码、编码重复 / the same agency and code as row 2",
                 "row 6: 编码为空或超过 64 个字符 / code is empty"):
        assert line in r.output, (line, r.output)
    assert "row 2:" not in r.output
    assert powers_in_db(archive) == 0  # nothing half-imported
    missing = load_powers(monkeypatch, archive, tmp_path, "agency,code\nA-SJJ,SJ-1\n", name="short.csv")
    assert missing.exit_code == 1 and "lacks the column(s) name, category" in missing.output


def test_xlsx_import_and_reimport_updates_by_agency_and_code(app, archive, orgs, monkeypatch, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["code", "agency", "name", "category", "legal_basis"])  # any column order
    ws.append(["SJ-1", "A-SJJ", "对销售过期食品的处罚", "penalty", "《食品安全法》"])
    ws.append(["SJ-2", "A-SJJ", "对无证经营的处罚", "Penalty", None])
    path = tmp_path / "powers.xlsx"
    wb.save(path)
    runner = cli_env(monkeypatch, archive)
    r = runner.invoke(main, ["powers", "import", str(path)])
    assert r.exit_code == 0 and "imported 2 powers" in r.output, r.output
    again = runner.invoke(main, ["powers", "import", str(path)])
    assert again.exit_code == 0 and powers_in_db(archive) == 2
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not a workbook")
    refused = runner.invoke(main, ["powers", "import", str(junk)])
    assert refused.exit_code == 1 and "not a readable XLSX file" in refused.output


def test_a_case_under_a_power_the_agency_does_not_have_is_refused(app, archive, client, orgs, monkeypatch, tmp_path):
    """Once an agency's powers are listed, a case names one of them; an agency without a list
    is not held to one yet."""
    from tests.conftest import _clerk_headers

    assert load_powers(monkeypatch, archive, tmp_path).exit_code == 0
    body = {"number": "津武市监罚〔2026〕301号", "agency": "A-SJJ", "kind": "penalty", "procedure": "general",
            "power": "SJ-9", "party_name": "天津宏泰食品有限公司", "party_id": "91120222300417765H",
            "summary": "销售过期食品", "opened_on": "2026-03-02"}
    r = client.post("/api/cases", json=body, headers=_clerk_headers(client, "A-SJJ"))
    assert r.status_code == 422 and "职权清单" in r.get_json()["errors"]["power"][0]
    assert client.post("/api/cases", json=body | {"power": "SJ-1"}, headers=_clerk_headers(client, "A-SJJ")).status_code == 201
    page = client_as(app, "clerk_a").get("/stats/performance?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "履职比例" in html and "武清区市场监督管理局" in html and "北辰区" not in html


def test_the_performance_page_for_each_role(app, archive, client, orgs, monkeypatch, tmp_path):
    assert load_powers(monkeypatch, archive, tmp_path).exit_code == 0
    new_case(client, number="案〔2026〕401号", agency="A-SJJ", power="SJ-1", opened_on="2026-03-02")
    district = client_as(app, "district_a").get("/stats/performance?year=2026&agency=A-SJJ").get_data(as_text=True)
    assert "武清区应急管理局" in district and "零履职" in district and "北辰区市场监督管理局" not in district
    assert "未履职的职权（4 项）" in district and "对虚假广告的处罚" in district
    assert client_as(app, "district_a").get("/stats/performance?agency=B-SJJ").status_code == 404
    assert client_as(app, "reviewer").get("/stats/performance").status_code == 403
    assert "统计" in client_as(app, "city").get("/").get_data(as_text=True).split("<main>")[0]


def test_concurrent_imports_of_one_file_leave_each_power_once(app, archive, orgs):
    """Eight imports of the same list at once: each power is stored once; an import that lost
    the race is refused with a message to run it again, never half-applied."""

    from archive.errors import Conflict
    from archive.services.powers import import_powers
    from tests.integration.test_hardening import concurrently

    rows = [dict(zip(("agency", "code", "name", "category", "legal_basis"), line.split(",")))
            for line in POWERS.strip().splitlines()[1:]]

    def run(_i):
        with archive.sessions() as s:
            n = import_powers(s, rows)
            s.commit()
            return n

    results = concurrently(8, run)
    assert all(r == 11 or isinstance(r, Conflict) for r in results), results
    assert any(r == 11 for r in results)
    assert powers_in_db(archive) == 11
    with archive.sessions() as s:
        assert s.scalar(select(func.count(func.distinct(Power.agency_code + Power.code))).select_from(Power)) == 11
