"""Each role's day in the browser (Debian's Chromium via Playwright), with a screenshot of every
page in ``test-screenshots/`` (kept after the run, ignored by git; ARCHIVE_SCREENSHOTS moves it).

These run on SQLite only: the pages call the same services as the API, whose database
behaviour the integration tests check on SQLite and PostgreSQL (``test_pages_db.py`` too)."""
from __future__ import annotations

import datetime as dt
import os
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.auth.accounts import set_password
from archive.demo.documents import make_docx, make_pdf
from archive.models import User
from tests.conftest import drain, new_case

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
PASSWORD = "浏览器测试密码-Browser1"
SHOTS = Path(os.environ.get("ARCHIVE_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "test-screenshots")


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'archive.sqlite3'}"


@pytest.fixture
def live(app, archive, tokens):
    """The app on a real HTTP server on 127.0.0.1 with its background workers (text extraction
    and indexing; OCR), and a password for every test account."""
    from waitress import create_server

    from archive.worker import Worker
    from archive.ocr.jobs import OcrWorker

    with archive.sessions() as s:
        for user in s.scalars(select(User)):
            set_password(s, user, PASSWORD)
        s.commit()
    worker = Worker(archive.sessions, archive.store, archive.index, archive.extract_limits, 0.2, 3600.0)
    worker.start()
    ocr_worker = OcrWorker(archive.sessions, archive.store, archive.ocr_runner, 0.2)  # its process starts with a scan
    ocr_worker.start()
    srv = create_server(app, host="127.0.0.1", port=0, threads=6)
    threading.Thread(target=srv.run, daemon=True).start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()
    worker.stop()
    worker.join(10)
    ocr_worker.stop()
    ocr_worker.join(10)


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is required for the browser tests (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


class Person:
    """One user's browser tab: logs in, goes places, leaves screenshots, collects CSP errors."""

    def __init__(self, browser, server: str, username: str, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.server = server
        self.username = username
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text))
        self.page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        self.page.on("response", lambda r: self.console.append(f"HTTP {r.status} {r.url}")
                     if r.status >= 400 or r.request.method == "POST" else None)

    def login(self) -> "Person":
        self.page.goto(self.server + "/login")
        self.page.fill("input[name=username]", self.username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.server + "/")
        return self

    def go(self, path: str):
        return self.page.goto(self.server + path)

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000  # a real picture, not an empty page
        return path

    def wait(self, selector: str, timeout: float = 30.0):
        """wait_for_selector that says what the page's console said when it times out."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            return self.page.wait_for_selector(selector, timeout=timeout * 1000, state="attached")
        except PlaywrightTimeout:
            text = self.page.inner_text("main") if self.page.query_selector("main") else ""
            raise AssertionError(f"{selector} not on {self.page.url} after {timeout} s; console: {self.console}; "
                                 f"page: {text[:1500]}") from None

    def no_script_errors(self) -> None:
        bad = [m for m in self.console if "Content Security Policy" in m or m.startswith("page error")]
        assert not bad, bad


def until(page, js: str, timeout: float = 30.0) -> None:
    """Wait until the expression ``js`` is true in the page (polled through evaluate: the page's
    CSP forbids the eval that ``wait_for_function`` uses, and it must stay forbidden)."""
    import time

    end = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({js})"):
        if time.monotonic() > end:
            raise AssertionError(f"still false after {timeout} s: {js}")
        time.sleep(0.1)


def _local_input(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M")


def _working_days_ago(n: int) -> tuple[dt.datetime, bool]:
    """(10:00 Beijing time on the working day ``n`` working days before today, today is a working day)."""
    from archive.deadlines.store import load_calendar  # the package's calendar for the current year
    from archive.clock import SHANGHAI

    from archive.db import make_engine, make_sessionmaker

    engine = make_engine("sqlite://")
    from archive.models import Base

    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as s:
        cal = load_calendar(s)
    today = day = dt.datetime.now(SHANGHAI).date()
    while n:
        day -= dt.timedelta(days=1)
        if cal.is_working_day(day):
            n -= 1
    return dt.datetime.combine(day, dt.time(10, 0), SHANGHAI), cal.is_working_day(today)


def _big_pdf(mb: int) -> bytes:
    """A real PDF of about ``mb`` megabytes: a text page and a scan-like image of noise."""
    import io

    from PIL import Image

    from archive.casefile.fonts import cjk_fpdf

    side = int((mb * 1024 * 1024 / 3) ** 0.5)
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    png = io.BytesIO()
    noise.save(png, format="PNG", compress_level=1)
    pdf = cjk_fpdf()
    pdf.add_page()
    pdf.set_font("cjk", size=14)
    pdf.multi_cell(0, 10, "立案审批表\n经审查，符合立案条件，同意立案调查。承办人：张三、李四。")
    pdf.image(io.BytesIO(png.getvalue()), x=10, y=60, w=120)
    return bytes(pdf.output())


def test_a_clerks_day(live, browser, tmp_path, archive):
    """Creates a case, records a stage, uploads a multi-megabyte PDF and a DOCX with progress
    bars moving, sees the late-upload warning and the text extracted, retries a failed file
    without re-sending the others, and finds the documents by a Chinese word."""
    clerk = Person(browser, live, "clerk_a").login()
    # the header names the person and the organisation (the role in its title, to keep one line at 1280 px)
    assert "武清区市场监督管理局" in clerk.page.inner_text("header")
    assert "经办人员" in clerk.page.get_attribute("header a.who", "title")
    assert "agency_clerk" not in clerk.page.inner_text("body") and "A-SJJ" not in clerk.page.inner_text("header")
    nav = clerk.page.inner_text("nav.nav")
    assert all(x in nav for x in ("工作台", "案件", "检索", "预警", "更正", "新建案件"))
    clerk.shot("clerk-01-home")

    # 创建案件: errors next to the fields, in Chinese
    clerk.page.click("nav.nav >> text=新建案件")
    clerk.page.fill("input[name=number]", "")
    clerk.page.fill("input[name=party_id]", "12345")
    clerk.page.click("button:has-text('创建案件')")
    assert clerk.page.locator("label.field.invalid").count() >= 2
    assert "必填" in clerk.page.inner_text("label.field:has(input[name=number])")
    assert "不是有效的统一社会信用代码或身份证号码" in clerk.page.inner_text("label.field:has(input[name=party_id])")
    clerk.shot("clerk-02-new-case-errors")
    clerk.page.fill("input[name=number]", "津武市监罚〔2026〕77号")
    clerk.page.fill("input[name=party_name]", "天津宏泰食品有限公司")
    clerk.page.fill("input[name=party_id]", "91120222300417765H")
    clerk.page.fill("textarea[name=summary]", "销售超过保质期的食品")
    clerk.page.fill("input[name=power]", "SJ-FOOD-124")
    filed, working_today = _working_days_ago(3)
    clerk.page.fill("input[name=opened_on]", filed.date().isoformat())  # opened the day it was filed
    clerk.page.click("button:has-text('创建案件')")
    clerk.page.wait_for_url(re.compile(r".*/cases/[0-9a-f]+$"))
    case_url = clerk.page.url
    assert "案件 津武市监罚〔2026〕77号 已创建" in clerk.page.inner_text(".flash")

    # record the filing, three working days ago: due the working day after (one working day), so
    # today's uploads are late by the working days since: 2, or 1 on a day off
    late_days = 2 if working_today else 1
    clerk.page.select_option("#stage-form select[name=stage]", "filing")
    assert clerk.page.is_hidden("#stage-form .decision-only")
    clerk.page.fill("#stage-form input[name=completed_at]", _local_input(filed))
    clerk.page.click("#stage-form button[type=submit]")
    clerk.page.wait_for_selector("#stage-filing.done")
    assert "上传期限" in clerk.page.inner_text("#stage-filing")
    assert "✗ 《立案审批表》（缺）" in clerk.page.inner_text("#stage-filing .required")

    # upload: a 6 MB PDF, watched with a throttled connection so the bar visibly moves
    pdf = tmp_path / "立案审批表.pdf"
    pdf.write_bytes(_big_pdf(6))
    docx = tmp_path / "案件来源登记表.docx"
    docx.write_bytes(make_docx("案件来源登记表", ["群众举报：某超市销售过期的婴幼儿奶粉，请求查处。"]))
    cdp = clerk.context.new_cdp_session(clerk.page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 5, "downloadThroughput": -1,
                                                  "uploadThroughput": 3 * 1024 * 1024})
    clerk.page.evaluate("""() => { window.progressSeen = [];
        new MutationObserver(ms => ms.forEach(m => { if (m.target.tagName === 'PROGRESS')
            window.progressSeen.push(Number(m.target.getAttribute('value'))); }))
          .observe(document.getElementById('upload-list'), {subtree: true, attributes: true, attributeFilter: ['value']}); }""")
    clerk.page.select_option("#upload-stage", "filing")
    options = clerk.page.eval_on_selector_all("#upload-form-code option:not([disabled])", "os => os.map(o => o.textContent)")
    assert "立案审批表" in options and "现场检查笔录" not in options  # only the forms of the filing stage
    clerk.page.select_option("#upload-form-code", "filing_approval")
    clerk.page.set_input_files("#upload-form input[type=file]", str(pdf))
    clerk.page.click("#upload-form button[type=submit]")
    clerk.page.wait_for_selector("#upload-list li.sending")
    clerk.page.wait_for_selector("#upload-list li.stored", timeout=60000)
    seen = clerk.page.evaluate("window.progressSeen")
    assert any(0 < v < 100 for v in seen), seen  # the bar moved through intermediate values
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    item = clerk.page.locator("#upload-list li.stored").first
    assert "SHA-256" in item.inner_text()
    until(clerk.page, "document.querySelector('#upload-list li.stored .text').textContent.includes('已提取全文')", 30)
    assert "逾期上传" in item.inner_text() and "《立案审批表》" in item.inner_text()

    # the DOCX and a second file in one go; the first attempt of the second file fails (network),
    # and only that file is sent again
    other = tmp_path / "举报记录.docx"
    other.write_bytes(make_docx("举报记录", ["来电反映奶粉过期问题，已登记。"]))
    sent: list[str] = []
    clerk.page.on("request", lambda r: sent.append(r.post_data_buffer.decode("latin-1")[:4000])
                  if r.method == "POST" and "/documents" in r.url and r.post_data_buffer else None)
    failed_once = {"done": False}

    def fail_first_of_other(route):
        body = route.request.post_data_buffer or b""
        if not failed_once["done"] and "举报记录".encode() in body:
            failed_once["done"] = True
            route.abort("connectionreset")
        else:
            route.continue_()

    clerk.page.route("**/api/cases/*/documents", fail_first_of_other)
    clerk.page.select_option("#upload-form-code", "case_source")
    clerk.page.set_input_files("#upload-form input[type=file]", [str(docx), str(other)])
    clerk.page.click("#upload-form button[type=submit]")
    clerk.page.wait_for_selector("#upload-list li.failed")
    assert "失败" in clerk.page.inner_text("#upload-list li.failed")
    until(clerk.page, "document.querySelectorAll('#upload-list li.stored').length === 2")
    clerk.shot("clerk-03-upload-one-failed")
    before = len(sent)
    clerk.page.click("#upload-list li.failed button.retry")
    until(clerk.page, "document.querySelectorAll('#upload-list li.stored').length === 3")
    assert len(sent) == before + 1 and "举报记录".encode().decode("latin-1") in sent[-1]  # only that file again
    clerk.page.unroute("**/api/cases/*/documents")
    until(clerk.page, "[...document.querySelectorAll('#upload-list .text')].every(t => t.textContent.includes('已提取全文'))", 30)
    clerk.shot("clerk-04-uploads-done")

    # the case page after a reload: documents in the timeline, late by working days
    clerk.page.goto(case_url)
    filing = clerk.page.inner_text("#stage-filing")
    assert "✓ 《立案审批表》" in filing and f"逾期 {late_days} 个工作日" in filing
    warnings = clerk.page.inner_text("section:has(#h-warnings)")
    assert "逾期上传" in warnings and "filing" not in warnings
    clerk.shot("clerk-05-case-page")

    # search by a Chinese word: the DOCX, with the case and agency, and its pages
    drain(archive)
    clerk.page.click("nav.nav >> text=检索")
    clerk.page.fill("input[name=q]", "婴幼儿奶粉")
    clerk.page.press("input[name=q]", "Enter")
    clerk.page.wait_for_selector("ol.hits li")
    assert "共 1 份文书" in clerk.page.inner_text(".total")
    hit = clerk.page.inner_text("ol.hits li")
    assert "津武市监罚〔2026〕77号" in hit and "武清区市场监督管理局" in hit and "立案" in hit
    assert clerk.page.inner_text("ol.hits mark") == "婴幼儿奶粉"
    clerk.shot("clerk-06-search")
    clerk.page.click("ol.hits li .title a")
    clerk.page.wait_for_selector(".preview pre.text")
    assert "婴幼儿奶粉" in clerk.page.inner_text(".preview")
    clerk.shot("clerk-07-docx-page")

    # the PDF's page: drawn by pdf.js
    clerk.page.goto(case_url)
    clerk.page.click("#stage-filing a:has-text('立案审批表.pdf')")
    clerk.wait(".pdf-view[data-rendered]")
    assert clerk.page.get_attribute(".pdf-view", "data-rendered") == "1"
    meta = clerk.page.inner_text(".facts")
    assert "行为发生时间" in meta and "归档接收时间" in meta and "已提取全文" in meta
    clerk.shot("clerk-08-pdf-page")
    clerk.no_script_errors()


def _case_with_document(client, number: str, stage_at: str):
    from tests.conftest import new_case, record_stage, upload

    case = new_case(client, number=number)
    assert record_stage(client, case["id"], "filing", stage_at).status_code == 201
    r = upload(client, case["id"], make_pdf("立案审批表", ["同意立案。罚款金额为人民币伍万元。"]), filename="立案审批表.pdf",
               stage="filing", form="case_source")
    assert r.status_code == 201
    return case, r.get_json()


def test_legal_staff_and_the_district_office_handle_warnings_and_an_amendment(live, browser, app, archive, client):
    """Level 1 by the agency's legal staff, level 2 by the district office; the district approves
    an amendment the clerk asked for in the browser: a new version, the old one still readable."""
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import escalate
    filed, _ = _working_days_ago(2)  # its warning is new: still level 1 today
    one, doc = _case_with_document(client, "津武市监罚〔2026〕81号", filed.isoformat())
    two, _ = _case_with_document(client, "津武市监罚〔2026〕82号", "2026-09-01T10:00:00+08:00")
    with archive.sessions() as s:  # the second case's warning was not handled in time: level 2
        from archive.models import WarningRecord

        w2 = s.scalars(select(WarningRecord).where(WarningRecord.case_id == two["id"],
                                                   WarningRecord.rule == "missing_documents")).one()
        # raised a while ago and its handling time ran out an hour ago (a warning raised today has
        # three working days): one level up, nothing else
        from archive.clock import now as server_now

        w2.due_at = server_now() - dt.timedelta(hours=1)
        s.commit()
        assert escalate(s, load_rules(), load_calendar(s), server_now()) == 1

    legal = Person(browser, live, "legal_a").login()
    todo = legal.page.inner_text("section.todo")
    assert "一级预警（待处理）" in todo and "津武市监罚〔2026〕81号" in todo and "《立案审批表》" in todo
    legal.shot("legal-01-home")
    legal.page.click("section.todo a:has-text('津武市监罚〔2026〕81号')")
    legal.page.wait_for_selector("h1:has-text('预警')")
    assert "由执法机关法制审核人员处理" in legal.page.inner_text("main")
    legal.page.click("button:has-text('确认处理')")  # an empty note is refused, in Chinese
    assert "请写明处理情况" in legal.page.inner_text(".field-error")
    legal.page.fill("textarea[name=note]", "已督促承办人当日补传立案审批表")
    legal.page.click("button:has-text('确认处理')")
    legal.page.wait_for_selector(".flash:has-text('预警已处理')")
    assert "已督促承办人当日补传立案审批表" in legal.page.inner_text("ol.history")
    legal.shot("legal-02-warning-handled")
    # the level-2 warning is listed but not hers to handle
    legal.go("/warnings?level=2")
    assert "津武市监罚〔2026〕82号" in legal.page.inner_text("table.warnings")
    assert legal.page.locator("table.warnings form.handle").count() == 0
    legal.no_script_errors()

    # the clerk asks for an amendment from the document page
    clerk = Person(browser, live, "clerk_a").login()
    clerk.go(f"/documents/{doc['id']}")
    clerk.page.click("button:has-text('提交更正申请')")
    assert "请写明更正理由" in clerk.page.inner_text("main") and "请选择更正后的文件" in clerk.page.inner_text("main")
    clerk.page.fill("textarea[name=reason]", "罚款金额笔误：伍万元应为叁万元")
    clerk.page.set_input_files("input[name=file]", files=[{"name": "立案审批表（更正）.pdf", "mimeType": "application/pdf",
                                                          "buffer": make_pdf("立案审批表", ["同意立案。罚款金额为人民币叁万元。"])}])
    clerk.page.click("button:has-text('提交更正申请')")
    clerk.page.wait_for_selector(".flash:has-text('更正申请已提交')")
    assert "待审批" in clerk.page.inner_text("main")
    clerk.no_script_errors()

    district = Person(browser, live, "district_a").login()
    todo = district.page.inner_text("section.todo")
    assert "二级预警（待处理）" in todo and "津武市监罚〔2026〕82号" in todo and "81号" not in todo
    assert "待审批的更正申请" in todo and "罚款金额笔误" in todo
    district.shot("district-01-home")
    district.page.click("section.todo a:has-text('津武市监罚〔2026〕82号')")
    district.page.fill("textarea[name=note]", "已约谈执法机关负责人，责令三日内补齐")
    district.page.click("button:has-text('确认处理')")
    district.page.wait_for_selector(".flash:has-text('预警已处理')")
    history = district.page.inner_text("ol.history")
    assert "升级为二级预警" in history and "已约谈执法机关负责人" in history
    district.shot("district-02-warning-handled")

    district.go("/")
    district.page.click("section.todo a:has-text('罚款金额笔误')")
    district.page.wait_for_selector(".compare")
    until(district.page, "document.querySelectorAll('.pdf-view[data-rendered=\"1\"]').length === 2", 30)
    district.shot("district-03-amendment-compare")
    district.page.click("button:has-text('批准更正')")
    district.page.wait_for_selector(".flash:has-text('已批准')")
    assert "新增第 2 版" in district.page.inner_text(".facts")
    district.page.click(".facts a:has-text('立案审批表')")
    versions = district.page.inner_text("table.versions")
    assert "第 2 版（当前）" in versions and "第 1 版" in versions and "district_a" in versions and "罚款金额笔误" in versions
    district.shot("district-04-document-versions")
    old = district.page.evaluate(f"fetch('/api/documents/{doc['id']}/content?version=1').then(r => r.status)")
    assert old == 200  # the superseded version stays readable
    district.no_script_errors()

    # the requester is told the outcome on the home page
    clerk.go("/")
    assert "已批准（第 2 版）" in clerk.page.inner_text("section.todo")


def test_another_agencys_case_is_the_chinese_404_and_pages_fit_a_tablet(live, browser, client):
    case, doc = _case_with_document(client, "津武市监罚〔2026〕91号", "2026-11-02T10:00:00+08:00")
    other = Person(browser, live, "clerk_b").login()
    for path in (f"/cases/{case['id']}", f"/documents/{doc['id']}", "/cases/0000", "/no/such/page"):
        resp = other.go(path)
        assert resp.status == 404, path
        assert "找不到这个页面" in other.page.inner_text("main") and "{" not in other.page.inner_text("main")
    other.shot("other-agency-404")
    assert other.go("/cases/new").status == 200
    assert other.go("/warnings").status == 200 and "91号" not in other.page.inner_text("main")

    # a 768 px tablet: no sideways scrolling on the pages a clerk uses
    tablet = Person(browser, live, "clerk_a", width=768, height=1024).login()
    for name, path in (("home", "/"), ("cases", "/cases"), ("case", f"/cases/{case['id']}"),
                       ("document", f"/documents/{doc['id']}"), ("warnings", "/warnings"), ("search", "/search?q=立案")):
        tablet.go(path)
        overflow = tablet.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)
        tablet.shot(f"tablet-{name}")
    tablet.no_script_errors()


def test_the_system_administrator_sees_the_calendar_alert_and_the_city_office_undecided_deadlines(
        live, browser, client, archive):
    from archive.deadlines.service import missing_calendar_years

    with archive.sessions() as s:
        missing = missing_calendar_years(s)
    assert missing, "the test expects next year's holiday calendar to be missing (published late in a year)"
    case, _ = _case_with_document(client, "津武市监罚〔2026〕95号", "2026-11-16T10:00:00+08:00")
    admin = Person(browser, live, "sysadmin").login()  # the calendar is configuration: the 系统管理员's
    alert = admin.page.inner_text("section.todo .card.alert")
    assert f"缺少 {missing[-1]} 年节假日安排" in alert
    admin.shot("sysadmin-01-home-calendar-alert")
    admin.no_script_errors()
    city = Person(browser, live, "city").login()
    assert not city.page.locator("section.todo .card.alert").count()
    city.go(f"/cases/{case['id']}")
    assert "期限待定" in city.page.inner_text("#period")  # 90 days from 16 Nov run into next year
    assert "calendar" not in city.page.inner_text("main")
    city.shot("city-02-case-undecided-deadline")
    city.no_script_errors()


def test_a_photographed_record_is_read_by_ocr_and_found_by_the_complaint_handler(live, browser, tmp_path, client):
    """The clerk uploads a phone photograph of an on-site record on the case page: it is stored at
    once, then read by OCR in the background; the document page shows the recognised text and
    its confidence, and the complaint handler finds it by a phrase printed on it."""
    from archive.demo.scans import photo, render_page
    from tests.conftest import new_case, record_stage

    case = new_case(client, number="津武市监罚〔2026〕66号")
    assert record_stage(client, case["id"], "investigation", "2026-03-10T10:00:00+08:00").status_code == 201
    page, _ = render_page("现场笔录", ["检查地点：天津市武清区杨村街道光明道十八号。执法人员已出示执法证件。",
                                   "检查情况：冷藏柜内存放超过保质期的鲜牛奶十二箱，已予以先行登记保存。"], height_inches=4.2)
    shot = tmp_path / "现场笔录照片.jpg"
    shot.write_bytes(photo(page))

    clerk = Person(browser, live, "clerk_a").login()
    clerk.go(f"/cases/{case['id']}")
    clerk.page.select_option("#upload-stage", "investigation")
    clerk.page.select_option("#upload-form-code", "onsite_record")
    clerk.page.set_input_files("#upload-form input[type=file]", str(shot))
    clerk.page.click("#upload-form button[type=submit]")
    clerk.page.wait_for_selector("#upload-list li.stored", timeout=60000)
    line = "document.querySelector('#upload-list li.stored .text').textContent"
    until(clerk.page, f"{line}.includes('已识别文字（OCR）')", 180)
    assert "平均置信度" in clerk.page.inner_text("#upload-list li.stored .text")
    clerk.shot("ocr-01-upload-read")
    clerk.page.click("#upload-list li.stored a")
    clerk.page.wait_for_selector("pre.ocr-text")
    assert "光明道十八号" in clerk.page.inner_text("pre.ocr-text")
    confidence = clerk.page.inner_text("dd.ocr-confidence")
    assert re.fullmatch(r"\d{2,3}%", confidence) and int(confidence[:-1]) >= 80, confidence
    assert clerk.page.locator(".preview img").count() == 1  # the photograph itself beside its text
    clerk.shot("ocr-02-document-page")
    clerk.no_script_errors()

    handler = Person(browser, live, "complaints_a").login()
    handler.go("/search?q=" + "鲜牛奶十二箱")
    handler.page.wait_for_selector("ol.hits li")
    assert "共 1 份文书" in handler.page.inner_text(".total")
    assert handler.page.inner_text("ol.hits mark") == "鲜牛奶十二箱"
    assert "津武市监罚〔2026〕66号" in handler.page.inner_text("ol.hits li")
    handler.shot("ocr-03-search-hit")
    handler.no_script_errors()


def test_the_district_office_reads_the_performance_ratio_and_an_agency_sees_only_itself(live, browser, client, archive):
    from archive.services.powers import import_powers
    from tests.conftest import new_case

    rows = [("A-SJJ", f"SJ-{i}", f"市场监管职权{i}", "penalty" if i % 2 else "inspection") for i in range(1, 6)] + \
           [("A-YJJ", f"YJ-{i}", f"应急管理职权{i}", "penalty") for i in range(1, 4)]
    with archive.sessions() as s:
        import_powers(s, [{"agency": a, "code": c, "name": n, "category": k, "legal_basis": "《某法》第一条"}
                          for a, c, n, k in rows])
        s.commit()
    year = dt.date.today().year
    for i, power in enumerate(("SJ-1", "SJ-2", "SJ-3")):
        new_case(client, number=f"津武市监罚〔{year}〕{700 + i}号", power=power, opened_on=f"{year}-01-0{i + 2}")
    district = Person(browser, live, "district_a").login()
    district.page.click("nav.nav >> text=统计")
    district.page.wait_for_selector("table.performance")
    table = district.page.inner_text("table.performance")
    assert "武清区市场监督管理局" in table and "60.0%" in table and "达标" in table
    assert "武清区应急管理局" in table and "零履职" in table
    assert district.page.locator("table.performance meter").count() == 2
    district.page.click("table.performance tr:has-text('武清区市场监督管理局') >> text=未履职的职权")
    district.page.wait_for_selector("#never")
    assert "未履职的职权（2 项）" in district.page.inner_text("#never")
    assert "市场监管职权4" in district.page.inner_text("main") and "市场监管职权5" in district.page.inner_text("main")
    district.shot("stats-01-performance-district")
    district.no_script_errors()

    clerk = Person(browser, live, "clerk_a").login()
    clerk.go("/stats/performance")
    rows_seen = clerk.page.locator("table.performance tbody tr").count()
    assert rows_seen == 1 and "武清区市场监督管理局" in clerk.page.inner_text("table.performance")
    clerk.shot("stats-02-performance-agency")


def test_the_monthly_scores_with_charts_and_the_briefing_for_a_district_and_an_agency(
        live, browser, client, archive, monkeypatch, tmp_path):
    import io

    import docx

    from tests.integration.test_scores import seed_month

    seed_month(archive, client, monkeypatch, tmp_path)
    district = Person(browser, live, "district_a").login()
    district.page.click("nav.nav >> text=统计")
    district.page.click("nav.tabs >> text=月度考评")
    district.wait("table.scores")
    district.go("/stats/scores?month=2026-10")
    district.wait("table.scores")
    assert "武清区 月度考评（2026 年 10 月）" in district.page.inner_text("h1")
    row = district.page.inner_text("table.scores tr:has-text('武清区市场监督管理局')")
    assert "61.75" in row and "75.0%" in row and "上传 4，逾期 1" in row and "评查 2 件，均分 77.5" in row
    assert "本月无数据" in district.page.inner_text("table.scores tr:has-text('武清区应急管理局')")
    assert "北辰区" not in district.page.inner_text("table.scores")
    assert "上传及时率 25" in district.page.inner_text("p.formula")
    # the three charts load as pictures
    until(district.page, "[...document.querySelectorAll('.charts img')].every(i => i.complete && i.naturalWidth > 600)")
    assert district.page.locator(".charts img").count() == 3
    assert "二级" in district.page.inner_text("main >> table.list >> nth=1")
    district.shot("stats-03-scores-district")
    district.page.click("nav.tabs >> text=日常使用")
    district.wait("table.daily-use")
    assert "武清区应急管理局" in district.page.inner_text("table.daily-use")
    district.shot("stats-06-daily-use-district")
    district.go("/stats/scores?month=2026-10")
    district.wait("table.scores")
    with district.page.expect_download() as dl:
        district.page.click("text=Word（DOCX，含图表）")
    d = docx.Document(io.BytesIO(open(dl.value.path(), "rb").read()))
    assert "武清区行政执法监督月度简报" in d.paragraphs[0].text and len(d.inline_shapes) == 3
    district.no_script_errors()

    clerk = Person(browser, live, "clerk_a").login()
    clerk.go("/stats/scores?month=2026-10")
    clerk.wait("table.scores")
    assert clerk.page.locator("table.scores tbody tr").count() == 1
    assert "武清区市场监督管理局" in clerk.page.inner_text("table.scores")
    until(clerk.page, "[...document.querySelectorAll('.charts img')].every(i => i.complete && i.naturalWidth > 600)")
    clerk.shot("stats-04-scores-agency")
    assert clerk.go("/stats/scores?month=2026-10&district=120113").status == 404
    assert clerk.page.locator("form.threshold").count() == 0

    city = Person(browser, live, "city").login()
    city.go("/stats/performance?year=2026")
    city.page.fill("form.threshold input[name=percent]", "45")
    city.page.fill("form.threshold input[name=note]", "2026 年度依法行政考核方案")
    city.page.click("form.threshold button")
    city.wait("p.flash.ok")
    assert "2026 年履职比例达标线已设为 45%" in city.page.inner_text("p.flash.ok")
    assert "2026 年达标线 45% 由市司法局设定（2026 年度依法行政考核方案）" in city.page.inner_text("main")
    assert "达标" in city.page.inner_text("table.performance tr:has-text('武清区市场监督管理局')")
    city.page.fill("form.threshold input[name=percent]", "六十")
    city.page.click("form.threshold button")
    city.wait("p.flash.error")
    assert "百分比数字" in city.page.inner_text("p.flash.error")
    city.shot("stats-05-threshold-city")
    city.no_script_errors()


def test_basic_information_a_change_request_from_an_agency_approved_by_the_district(
        live, browser, client, archive, tmp_path):
    from archive.services.powers import import_powers

    with archive.sessions() as s:
        import_powers(s, [{"agency": "A-SJJ", "code": f"SJ-{i}", "name": f"市场监管职权{i}", "category": "penalty",
                           "legal_basis": "《某法》第一条"} for i in range(1, 4)])
        s.commit()
    # the district office imports officers; a file with bad rows is refused whole, in Chinese
    district = Person(browser, live, "district_a").login()
    district.go("/stats/performance")
    district.page.click("nav.tabs >> text=基础信息")
    district.wait("h1:has-text('基础信息')")
    district.page.click("nav.subtabs >> text=执法人员")
    district.page.click("details.import summary")
    bad = tmp_path / "执法人员.csv"
    bad.write_text("agency,name,certificate_no,valid_until\nA-SJJ,张明,12010001,2029-12-31\n"
                   "A-SJJ,李华,12010001,2030-02-30\nB-SJJ,王强,12010003,2029-01-01\n", encoding="utf-8")
    district.page.set_input_files("details.import input[type=file]", str(bad))
    district.page.click("details.import button[type=submit]")
    district.wait("ul.row-errors")
    errors = district.page.inner_text("div.flash.error")
    assert "有 2 行不符合要求，整个文件未导入" in errors
    assert "第 3 行" in errors and "有效期至应为日期" in errors and "与第 2 行的执法证号重复" in errors
    assert "第 4 行" in errors and "不在您的管辖范围内" in errors
    district.shot("basic-01-import-errors")
    good = tmp_path / "officers.csv"
    good.write_text("agency,name,certificate_no,valid_until\nA-SJJ,张明,12010001,2029-12-31\n"
                    "A-SJJ,李华,12010002,2020-01-31\n", encoding="utf-8")
    assert district.page.locator("details.import[open]").count() == 1  # kept open with the errors
    district.page.set_input_files("details.import input[type=file]", str(good))
    district.page.click("details.import button[type=submit]")
    district.wait("p.flash.ok")
    assert "新增 2 条" in district.page.inner_text("p.flash.ok")
    assert "已过期" in district.page.inner_text("table.registry tr:has-text('李华')")

    # the agency asks for a change of its powers, reported late
    clerk = Person(browser, live, "clerk_a").login()
    clerk.go("/basic-info?kind=powers")
    clerk.wait("table.registry")
    assert clerk.page.locator("table.registry tbody tr").count() == 3
    clerk.page.click("details.import summary")
    change = tmp_path / "职权变更.csv"
    change.write_text("agency,code,name,category,legal_basis,action\n"
                      "A-SJJ,SJ-4,对网络食品交易违法的处罚,penalty,《食品安全法》第一百三十一条,\n"
                      "A-SJJ,SJ-2,对无证生产经营的处罚,penalty,《食品安全法》第一百二十二条,\n"
                      "A-SJJ,SJ-3,,,,删除\n", encoding="utf-8")
    clerk.page.set_input_files("details.import input[type=file]", str(change))
    from archive.clock import SHANGHAI

    twenty_days_ago = (dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=20)).isoformat()
    clerk.page.fill("details.import input[name=effective_on]", twenty_days_ago)
    clerk.page.fill("details.import textarea[name=reason]", "机构改革，职权划转")
    clerk.page.click("details.import button[type=submit]")
    clerk.wait("h1:has-text('基础信息变更申请')")
    assert "系统已生成迟报预警" in clerk.page.inner_text("p.flash")
    assert [clerk.page.inner_text(f"table.diff tbody tr:nth-child({i}) td.status") for i in (1, 2, 3)] == ["新增", "修改", "删除"]
    assert "迟报" in clerk.page.inner_text("dl.facts") and clerk.page.locator("form.decision").count() == 0
    clerk.shot("basic-02-change-request-agency")
    clerk.go("/basic-info?kind=powers")
    assert clerk.page.locator("table.registry tbody tr").count() == 3  # unchanged until approved

    # the district office finds it on its 工作台 and approves; the agency's powers change
    district.go("/")
    assert "待审批的基础信息变更" in district.page.inner_text("main") and "职权变更，机构改革" in district.page.inner_text("main")
    district.page.click("nav.nav >> text=统计")
    district.page.click("nav.tabs >> text=基础信息")
    district.page.click("nav.subtabs >> text=变更申请")
    district.wait("table.changes")
    assert "迟报" in district.page.inner_text("table.changes")
    district.shot("basic-05-change-list-district")
    district.page.click("table.changes >> text=申请")
    district.wait("form.decision")
    district.shot("basic-03-change-review-district")
    district.page.click("form.decision button[value=approve]")
    district.wait("p.flash.ok")
    assert "新增 1 条，修改 1 条，删除 1 条" in district.page.inner_text("p.flash.ok")
    assert "已批准" in district.page.inner_text("dl.facts")
    clerk.go("/basic-info?kind=powers")
    table = clerk.page.inner_text("table.registry")
    assert "对网络食品交易违法的处罚" in table and "对无证生产经营的处罚" in table and "市场监管职权3" not in table
    # the late report is a warning the agency's legal staff handle like any other
    legal = Person(browser, live, "legal_a").login()
    legal.go("/warnings?rule=late_basic_info_change")
    legal.wait("table.warnings")
    assert "基础信息" in legal.page.inner_text("table.warnings") and "迟报 20 日" in legal.page.inner_text("table.warnings")
    legal.shot("basic-04-late-warning")
    for person in (district, clerk, legal):
        person.no_script_errors()


def test_a_task_assigned_answered_sent_back_and_accepted_in_the_browser(live, browser, client, archive, tmp_path):
    from tests.conftest import new_case

    case = new_case(client, number="津武市监罚〔2026〕801号")
    letter = tmp_path / "交办函.pdf"
    letter.write_bytes(make_pdf("交办函", ["请核查该案处罚是否适当。"]))
    district = Person(browser, live, "district_a").login()
    district.page.click("nav.nav >> text=交办转办")
    district.page.click("text=＋ 新建交办")
    district.wait("form[aria-label=新建任务]")
    district.page.select_option("select[name=assignee]", "A-SJJ")
    district.page.fill("input[name=due_days]", "3")
    district.page.fill("input[name=subject]", "核查处罚裁量")
    district.page.fill("textarea[name=text]", "请核查该案罚款数额是否符合裁量基准，并书面答复。")
    district.page.fill("textarea[name=cases]", case["number"])
    district.page.set_input_files("input[name=file]", str(letter))
    district.shot("tasks-00-new-district")
    district.page.click("form[aria-label=新建任务] button[type=submit]")
    district.wait("ol.steps")
    assert "已交办：核查处罚裁量" in district.page.inner_text("p.flash.ok")
    assert case["number"] in district.page.inner_text("dl.facts") and "交办函.pdf" in district.page.inner_text("ol.steps")
    task_url = district.page.url
    district.go("/tasks?box=assigned")
    assert "核查处罚裁量" in district.page.inner_text("table.tasks") and "武清区市场监督管理局" in district.page.inner_text("table.tasks")
    district.shot("tasks-03-outbox-district")

    clerk = Person(browser, live, "clerk_a").login()
    assert "待办理的交办任务" in clerk.page.inner_text("main") and "核查处罚裁量" in clerk.page.inner_text("main")
    clerk.page.click("main >> text=核查处罚裁量")
    clerk.wait("form[aria-label=答复]")
    clerk.page.fill("form[aria-label=答复] textarea[name=text]", "经核查，罚款数额符合裁量基准。")
    clerk.page.click("form[aria-label=答复] button[type=submit]")
    clerk.wait("p.flash.ok")
    assert "已答复" in clerk.page.inner_text("dl.facts")
    clerk.shot("tasks-01-answered-agency")

    district.go("/")
    assert "待审核的任务答复" in district.page.inner_text("main")
    district.page.goto(task_url)
    district.page.click("form[aria-label=审核] button[value=send_back]")
    district.wait("form.decision .field-error")  # next to the field, the form kept
    assert "退回时请写明理由" in district.page.inner_text("form.decision .field-error")
    district.page.fill("form[aria-label=审核] textarea[name=reason]", "请附裁量基准的条款。")
    district.page.click("form[aria-label=审核] button[value=send_back]")
    district.wait("p.flash.ok")
    assert "已退回" in district.page.inner_text("dl.facts")

    clerk.page.goto(task_url)
    clerk.page.fill("form[aria-label=答复] textarea[name=text]", "已补充裁量基准第三条。")
    clerk.page.click("form[aria-label=答复] button[type=submit]")
    clerk.wait("p.flash.ok")
    district.page.goto(task_url)
    district.page.click("form[aria-label=审核] button[value=accept]")
    district.wait("p.flash.ok")
    assert "已办结" in district.page.inner_text("dl.facts")
    actions = [li.split(" · ")[0] for li in district.page.locator("ol.steps > li").all_inner_texts()]
    assert actions == ["交办", "答复", "退回", "答复", "办结"]
    district.shot("tasks-02-accepted-district")

    other = Person(browser, live, "clerk_ay").login()
    other.go("/tasks")
    assert "没有任务" in other.page.inner_text("main")
    assert other.page.goto(task_url).status == 404
    for person in (district, clerk, other):
        person.no_script_errors()


def test_the_district_office_reviews_a_major_case_filing(live, browser, client, archive, app):
    from tests.integration.test_filings import major_case, officers

    officers(app)
    late = major_case(client, "津武市监罚〔2026〕951号", review_before=False, decided_days_ago=11)
    district = Person(browser, live, "district_a").login()
    assert "待审查的重大案件备案" in district.page.inner_text("main")
    district.page.click("nav.nav >> text=备案审查")
    district.wait("table.filings")
    district.shot("filings-00-queue")
    district.page.click(f"table.filings >> text={late['number']}")
    district.wait("table.checklist")
    text = district.page.inner_text("table.checklist")
    assert "未登记法制审核环节" in text and "第 11 日" in text and "待人工判断" in text
    district.page.fill("input[name=certificate]", "12011400321")
    district.page.click("form[aria-label=核验法制审核人员] button")
    district.wait("table.checklist")
    assert "孙丽" in district.page.inner_text("table.checklist")
    district.shot("filings-01-checklist")
    district.page.fill("form.checklist textarea[name=note]", "请补正法制审核程序。")
    district.page.click("form.checklist button[type=submit]")
    district.wait("p.flash.ok")
    assert "交办执法机关整改" in district.page.inner_text("p.flash.ok")
    assert "发现问题" in district.page.inner_text("dl.facts")
    district.page.click("dl.facts >> text=整改任务")
    district.wait("ol.steps")
    assert "未登记法制审核环节" in district.page.inner_text("ol.steps")
    clerk = Person(browser, live, "clerk_a").login()
    assert f"重大案件备案审查问题整改：{late['number']}" in clerk.page.inner_text("main")
    for person in (district, clerk):
        person.no_script_errors()


def test_the_system_administrator_loads_next_years_holidays_in_the_browser(live, browser, archive):
    from archive.deadlines.service import missing_calendar_years

    with archive.sessions() as s:
        missing = missing_calendar_years(s)
    year = missing[0] if missing else dt.date.today().year + 1
    saturday = dt.date(year, 1, 4)
    while saturday.weekday() != 5:
        saturday += dt.timedelta(days=1)
    city = Person(browser, live, "sysadmin").login()
    city.page.click("nav.nav >> text=节假日安排")
    city.wait("form.calendar-form")
    city.page.fill("input[name=year]", str(year))
    city.page.fill("textarea[name=holidays]", f"一、元旦：1月1日至3日放假调休，共3天。{saturday.month}月{saturday.day}日上班。\n"
                                              "二、春节：2月10日至2月16日放假，共7天。\n三、国庆节：10月1日至7日放假。")
    city.page.click("button[value=preview]")
    city.wait(".calendar-preview")
    assert "放假 17 天，调休上班 1 天" in city.page.inner_text(".calendar-preview h2")
    assert city.page.locator(f"td.holiday[title='{year}-10-07']").count() == 1
    assert city.page.locator(f"td.workday[title='{saturday.isoformat()}']").count() == 1
    city.shot("sysadmin-20-calendar-preview")
    city.page.click("button[value=save]")
    city.wait(".flash")
    assert f"{year} 年节假日安排已保存" in city.page.inner_text(".flash")
    assert str(year) in city.page.inner_text("table.years")
    city.shot("sysadmin-21-calendar-saved")
    city.no_script_errors()


def test_the_system_administrator_creates_and_disables_an_agency_account(live, browser):
    district = Person(browser, live, "sysadmin").login()
    district.page.click("nav.nav >> text=账号")
    district.wait("table.accounts")
    district.page.fill("input[name=username]", "wq_sjj_li")
    district.page.fill("input[name=display_name]", "李娜")
    district.page.select_option("select[name=role]", "agency_clerk")
    district.page.select_option("select[name=scope_code]", "A-SJJ")
    district.page.click("button:has-text('创建账号')")
    district.wait(".shown-password")
    password = district.page.inner_text("code.password")
    assert len(password) >= 12 and "wq_sjj_li" in district.page.inner_text("table.accounts")
    district.shot("sysadmin-10-account-created")
    newcomer = Person(district.page.context.browser, live, "wq_sjj_li")
    newcomer.page.goto(live + "/login")
    newcomer.page.fill("input[name=username]", "wq_sjj_li")
    newcomer.page.fill("input[name=password]", password)
    newcomer.page.click("button[type=submit]")
    newcomer.page.wait_for_url(live + "/")
    assert "李娜" in newcomer.page.inner_text("header")
    row = "table.accounts tr:has-text('wq_sjj_li')"
    district.page.reload()
    assert district.page.inner_text(f"{row} >> td >> nth=5") == "1"  # one live session
    district.page.click(f"{row} >> button:has-text('停用')")
    district.wait(".flash")
    assert "已停用" in district.page.inner_text(row)
    district.shot("sysadmin-11-account-disabled")
    newcomer.page.reload()
    assert newcomer.page.url.startswith(live + "/login")  # the session ended with the account
    district.no_script_errors()


def test_a_wrong_filing_date_corrected_by_request_and_approval_in_the_browser(live, browser, client):
    case = new_case(client, number="津武市监罚〔2026〕520号", opened_on="2026-03-05")
    clerk = Person(browser, live, "clerk_a").login()
    clerk.go(f"/cases/{case['id']}")
    clerk.wait("form.correction-form")
    clerk.page.select_option("form.correction-form select[name=field]", "opened_on")
    clerk.page.fill("form.correction-form input[name=new_value]", "2026-03-02")
    clerk.page.click("form.correction-form button[type=submit]")  # no reason: said next to the field
    clerk.wait("form.correction-form .field-error")
    assert "请写明更正理由" in clerk.page.inner_text("form.correction-form")
    clerk.page.fill("form.correction-form textarea[name=reason]", "立案审批表载明 3 月 2 日立案，录入有误")
    clerk.page.click("form.correction-form button[type=submit]")
    clerk.wait(".flash")
    assert "更正申请已提交" in clerk.page.inner_text(".flash")
    assert "待审批" in clerk.page.inner_text("#corrections")
    clerk.shot("clerk-10-case-correction-requested")
    district = Person(browser, live, "district_a").login()
    assert "案件信息更正（立案/检查日期）" in district.page.inner_text("section.todo")
    district.go("/amendments")
    district.wait("table.case-corrections")
    row = "table.case-corrections tr:has-text('津武市监罚〔2026〕520号')"
    assert "2026-03-05 → 2026-03-02" in district.page.inner_text(row)
    district.shot("district-12-case-correction-pending")
    district.page.click(f"{row} >> button[value=approve]")
    district.wait(".flash")
    assert "已批准" in district.page.inner_text(".flash")
    clerk.go(f"/cases/{case['id']}")
    clerk.wait("#corrections")
    assert "2026-03-02" in clerk.page.inner_text("dl.facts")
    assert "批准" in clerk.page.inner_text("#corrections")
    clerk.shot("clerk-11-case-corrected")
    clerk.no_script_errors()
    district.no_script_errors()
