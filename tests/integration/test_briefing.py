"""The monthly briefing (月度简报) on SQLite and PostgreSQL: the DOCX opens with python-docx and
holds the ranking with the right figures and the three charts; LibreOffice turns it into a PDF
whose text and chart labels are Chinese (a page is kept as PNG to look at); CSV and XLSX carry
the same figures; the command line and the API; the scope of each role."""
from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import docx
import openpyxl
import pytest
from click.testing import CliRunner

from archive.cli import main
from archive.services import charts
from tests.conftest import client_as
from tests.integration.test_scores import NOW, seed_month

SHOTS = Path(os.environ.get("ARCHIVE_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "test-screenshots")


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr("archive.api.stats.now", lambda: NOW)
    return NOW


def report(app, who, **query):
    return client_as(app, who).get("/api/reports/monthly", query_string=query)


def ranking(document) -> list[list[str]]:
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "排名")
    return [[c.text for c in row.cells] for row in table.rows]


def test_the_briefing_as_docx_csv_and_xlsx(app, archive, client, orgs, monkeypatch, tmp_path, clock):
    seed_month(archive, client, monkeypatch, tmp_path)
    r = report(app, "city", month="2026-10")
    assert r.status_code == 200, r.get_json()
    assert r.mimetype.endswith("wordprocessingml.document")
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    d = docx.Document(io.BytesIO(r.data))
    text = "\n".join(p.text for p in d.paragraphs)
    assert "天津市行政执法监督月度简报" in text and "（2026年10月）" in text
    assert "统计期间：2026年10月01日至2026年10月31日" in text
    assert "上传文书 5 份，其中逾期 1 份" in text  # A-SJJ's four and B-SJJ's one
    rows = ranking(d)
    assert rows[0] == ["排名", "单位名称", "总分", "上传及时率", "文书齐全率", "预警处置及时率", "案卷评查得分", "履职比例"]
    body = {row[1]: row for row in rows[1:]}
    assert body["武清区市场监督管理局"] == ["2", "武清区市场监督管理局", "61.75", "75.0%", "50.0%", "50.0%", "77.5%", "50.0%"]
    # B-SJJ: one upload on time, no stage, no warning, no review, its one power exercised: 100
    assert body["北辰区市场监督管理局"] == ["1", "北辰区市场监督管理局", "100.00", "100.0%", "—", "100.0%", "—", "100.0%"]
    assert body["武清区应急管理局"][:3] == ["—", "武清区应急管理局", "—"]
    assert len(d.inline_shapes) == 3  # the three charts
    pictures = [p for p in d.part.related_parts.values() if p.content_type == "image/png"]
    assert len(pictures) == 3 and all(p.blob[:8] == b"\x89PNG\r\n\x1a\n" and len(p.blob) > 5000 for p in pictures)
    assert "本月无升至二级以上的预警" not in text  # the level-2 warning is notable
    notable = next(t for t in d.tables if t.rows[0].cells[0].text == "级别")
    assert [c.text for c in notable.rows[1].cells][:3] == ["二级", "武清区市场监督管理局", "案〔2026〕2号"]

    r = report(app, "city", month="2026-10", format="csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    header, by_code = table[0], {row[1]: dict(zip(table[0], row)) for row in table[1:]}
    assert header[:5] == ["排名", "单位代码", "单位名称", "所属区", "总分"]
    a = by_code["A-SJJ"]
    assert (a["排名"], a["总分"], a["上传文书"], a["逾期上传"], a["评查平均分"], a["升至二级"]) == ("2", "61.75", "4", "1", "77.5", "1")
    assert a["上传及时率（得分率）"] == "0.75" and a["上传及时率（得分）"] == "18.75"

    r = report(app, "city", month="2026-10", format="xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["考评排名", "总体情况", "预警趋势", "需关注预警"]
    sheet = {row[1]: row for row in wb["考评排名"].iter_rows(min_row=2, values_only=True)}
    assert sheet["A-SJJ"][0] == 2 and sheet["A-SJJ"][4] == 61.75 and sheet["A-SJJ"][5] == 0.75
    trend = list(wb["预警趋势"].iter_rows(values_only=True))
    assert trend[0] == ("月份", "一级", "二级", "三级") and len(trend) == 13
    assert trend[-1] == ("2026-10", 3, 1, 0) and trend[-2] == ("2026-09", 2, 0, 0)

    # scope: a district office's briefing is its own district, titled with it; agencies see themselves
    d = docx.Document(io.BytesIO(report(app, "district_b", month="2026-10").data))
    assert "北辰区行政执法监督月度简报" in d.paragraphs[0].text
    assert [row[1] for row in ranking(d)[1:]] == ["北辰区市场监督管理局"]
    d = docx.Document(io.BytesIO(report(app, "clerk_a", month="2026-10").data))
    assert [row[1] for row in ranking(d)[1:]] == ["武清区市场监督管理局"]
    assert report(app, "district_a", month="2026-10", district="120113").status_code == 404
    assert report(app, "reviewer", month="2026-10").status_code == 403
    assert report(app, "city", month="2026-10", format="pdf").status_code == 422
    assert report(app, "city", month="2026/10").status_code == 422


def test_the_briefing_page_printed_by_libreoffice_shows_chinese(app, archive, client, orgs, monkeypatch, tmp_path,
                                                                 clock):
    from archive.casefile.bundle import find_soffice

    soffice = find_soffice(archive.config["LIBREOFFICE"])
    assert soffice, "LibreOffice is required here (bin/setup test installs it)"
    seed_month(archive, client, monkeypatch, tmp_path)
    monkeypatch.setenv("ARCHIVE_DATABASE_URL", archive.config["DATABASE_URL"])
    monkeypatch.setenv("ARCHIVE_DATA_DIR", archive.config["DATA_DIR"])
    out = tmp_path / "brief.docx"
    r = CliRunner().invoke(main, ["report", "monthly", "--month", "2026-10", "--district", "120114", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 agencies, 1 scored" in r.output
    profile = tmp_path / "lo-profile"
    subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{profile}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(out)], check=True, capture_output=True,
                   timeout=180)
    pdf = tmp_path / "brief.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "武清区行政执法监督月度简报" in text and "考评排名" in text and "需关注的预警" in text
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) - 2 >= 3  # the three charts made it into the PDF
    # the fonts LibreOffice embedded for the text are CJK fonts, not a fallback without the glyphs
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts, fonts
    SHOTS.mkdir(exist_ok=True)
    for page in (1, 2):
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                        str(SHOTS / f"briefing-page{page}-{archive.engine.dialect.name}")], check=True)
    assert (SHOTS / f"briefing-page1-{archive.engine.dialect.name}.png").stat().st_size > 10_000
    bad = CliRunner().invoke(main, ["report", "monthly", "--month", "2026-13"])
    assert bad.exit_code != 0 and "不是月份" in bad.output
    bad = CliRunner().invoke(main, ["report", "monthly", "--month", "2026-10", "--district", "A-SJJ"])
    assert bad.exit_code != 0 and "no district A-SJJ" in bad.output


def test_a_chart_in_a_font_without_chinese_is_refused_not_boxed(monkeypatch):
    """The check that keeps empty boxes out of the charts can fail: in a Latin-only font it does."""
    monkeypatch.setattr(charts, "font_family", lambda: "DejaVu Sans")
    rows = [{"name": "武清区市场监督管理局", "score": 80.0}]
    with pytest.raises(charts.MissingGlyphs):
        charts.scores_chart(rows, "各单位考评得分")
    monkeypatch.undo()
    assert charts.scores_chart(rows, "各单位考评得分")[:4] == b"\x89PNG"
