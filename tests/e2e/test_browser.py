"""The web pages in a real browser: Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import threading

import pytest

from archive.auth.accounts import create_user
from archive.demo.documents import make_pdf
from tests.conftest import drain, new_case, upload

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
PASSWORD = "浏览器测试密码-Browser1"


@pytest.fixture
def server(app, archive, client):
    """The app on a real HTTP server on 127.0.0.1, with a clerk and one indexed decision."""
    from waitress import create_server

    with archive.sessions() as s:
        create_user(s, "zhao", "agency_clerk", "A-SJJ", password=PASSWORD)
        s.commit()
    case = new_case(client)
    upload(client, case["id"], make_pdf("行政处罚决定书", ["本机关决定：责令停产停业，并处罚款人民币五万元。"]))
    drain(archive)
    srv = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=srv.run, daemon=True).start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is required for the browser tests (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pg = browser.new_page(locale="zh-CN")
        messages: list[str] = []
        pg.on("console", lambda m: messages.append(m.text))
        pg.console_messages = messages  # type: ignore[attr-defined]
        yield pg
        browser.close()


def test_clerk_logs_in_and_finds_a_decision(server, page, tmp_path):
    page.goto(server + "/")
    assert page.url.startswith(server + "/login")
    page.fill("input[name=username]", "zhao")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("[role=alert]")
    page.fill("input[name=username]", "zhao")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")
    assert "zhao" in page.inner_text("header")
    page.fill("input[name=q]", "停产停业")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("mark")
    assert page.inner_text("mark") == "停产停业"
    assert "共 1 份文书" in page.inner_text(".total")
    assert "津武市监罚〔2026〕12号" in page.inner_text(".hits")
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
    page.fill("input[name=q]", '"停产')
    page.press("input[name=q]", "Enter")
    assert "引号不成对" in page.inner_text("[role=alert]")
    page.click("header button")
    page.wait_for_url(server + "/login")


def _login(page, server, username):
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")


def test_each_role_sees_its_to_do_list(server, page, app, archive, client):
    """A reviewer sees the files assigned to them; the district office sees the pending
    amendment; the agency's legal unit sees its level-1 warnings."""
    import io

    from tests.conftest import client_as, record_stage

    with archive.sessions() as s:
        create_user(s, "pc_li", "reviewer", "B-SJJ", password=PASSWORD)
        create_user(s, "wq_fzb", "district_office", "120114", password=PASSWORD)
        create_user(s, "sj_fz", "agency_legal", "A-SJJ", password=PASSWORD)
        s.commit()
    case = client.get("/api/cases").get_json()["cases"][0]
    record_stage(client, case["id"], "filing", "2026-03-02T10:00:00+08:00")  # its approval never uploaded
    plan = client.post("/api/sampling/plans", json={
        "name": "第一季度抽查", "period_start": "2026-01-01", "period_end": "2026-03-31", "kinds": ["penalty"],
        "count": 1, "reviewers_per_file": 1, "max_load": 5, "review_deadline": "2099-06-30"}).get_json()
    client.post(f"/api/sampling/plans/{plan['id']}/freeze")
    with archive.sessions() as s:  # only pc_li may review (the other test reviewer is unassigned here)
        from sqlalchemy import update

        from archive.models import User

        s.execute(update(User).where(User.role == "reviewer", User.username != "pc_li").values(active=False))
        s.commit()
    drawn = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "2026-04-01"}).get_json()
    assert [a["reviewer"] for a in drawn["assignments"]] == ["pc_li"]
    with archive.sessions() as s:
        from sqlalchemy import select

        from archive.models import Document

        doc_id = s.scalars(select(Document.id).where(Document.case_id == case["id"])).first()
    r = client_as(app, "clerk_a").post(f"/api/documents/{doc_id}/amendments", data={
        "reason": "金额笔误", "file": (io.BytesIO(make_pdf("更正", ["罚款三万元"])), "更正.pdf")},
        content_type="multipart/form-data")
    assert r.status_code == 201

    _login(page, server, "pc_li")
    todo = page.inner_text("section.todo")
    assert "评查任务" in todo and case["number"] in todo and "2099-06-30" in todo
    with page.expect_response(lambda resp: resp.url.endswith("/binder.pdf")) as info:
        page.evaluate("url => fetch(url)", page.get_attribute("section.todo a:has-text('案卷 PDF')", "href"))
    assert info.value.status == 200
    page.click("header button")
    page.wait_for_url(server + "/login")

    _login(page, server, "wq_fzb")
    todo = page.inner_text("section.todo")
    assert "待审批的更正申请" in todo and "金额笔误" in todo
    page.click("header button")
    page.wait_for_url(server + "/login")

    _login(page, server, "sj_fz")
    todo = page.inner_text("section.todo")
    assert "一级预警" in todo and case["number"] in todo and "立案" not in page.inner_text("section.todo h2")
    assert not [m for m in page.console_messages if "Content Security Policy" in m]


def test_a_preview_without_pdfjs_says_so_with_the_download_link(server, page, archive, tmp_path):
    """An install whose static files lack pdf.js (a package built without bin/build-assets)
    says so in Chinese next to the download link, instead of "loading" forever."""
    from sqlalchemy import select

    from archive.models import Document

    with archive.sessions() as s:
        doc_id = s.scalars(select(Document.id)).first()
    _login(page, server, "zhao")
    page.route("**/vendor/pdfjs/**", lambda route: route.fulfill(status=404, body="not here"))
    page.goto(f"{server}/documents/{doc_id}")
    page.wait_for_selector(".pdf-view[data-rendered=error]", timeout=30_000)
    note = page.inner_text(".pdf-view .unavailable")
    assert "未安装 PDF 预览组件" in note and "下载" in note
    assert page.get_attribute(".pdf-view .unavailable a", "href").endswith(f"/documents/{doc_id}/content") or \
        page.get_attribute(".pdf-view .unavailable a", "href") == page.get_attribute(".pdf-view", "data-src")
    assert "正在加载" not in page.inner_text(".pdf-view")
    page.screenshot(path=str(tmp_path / "no-pdfjs.png"), full_page=True)
    page.unroute("**/vendor/pdfjs/**")
    page.reload()
    page.wait_for_selector(".pdf-view canvas.pdf-page", timeout=30_000)  # with it, the pages are drawn


def test_a_docx_is_previewed_by_its_pdfa_rendition(server, page, app, archive, client):
    """A DOCX shows 转换中 until its PDF/A rendition is made; then pdf.js draws the rendition's
    pages, with a note that it is the long-term copy and the original stays as it was."""
    from archive.demo.documents import make_docx
    from tests.e2e.test_pages import SHOTS

    case = new_case(client, number="津武市监罚〔2026〕88号")
    doc_id = upload(client, case["id"], make_docx("询问笔录", ["问：你叫什么名字？", "答：我叫王某。"]),
                    filename="询问笔录.docx", stage="filing", form="filing_approval").get_json()["id"]
    drain(archive)
    _login(page, server, "zhao")
    page.goto(f"{server}/documents/{doc_id}")
    assert "转换中" in page.inner_text(".doc-preview") and "你叫什么名字" in page.inner_text(".doc-preview")
    drain(archive, renditions=True)
    page.reload()
    page.wait_for_selector(".pdf-view canvas.pdf-page", timeout=30_000)
    assert page.get_attribute(".pdf-view", "data-src") == f"/api/documents/{doc_id}/rendition"
    assert "PDF/A 转换件" in page.inner_text(".doc-preview") and "文字与原件一致" in page.inner_text(".doc-preview")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "document-docx-rendition.png"), full_page=True)


def test_an_ofd_is_previewed_and_its_seal_verified_on_its_page(server, page, app, archive, client):
    """An OFD decision sealed with an electronic seal: the page names its format, shows the seal
    验证通过 (chain not checked) and previews the archive's PDF/A rendition with pdf.js; the same
    file changed by one byte after sealing says 签章后文件被修改."""
    from archive.demo import ofd
    from tests.e2e.test_pages import SHOTS

    case = new_case(client, number="津武市监罚〔2026〕89号")
    sealed = ofd.sealed([["行政处罚决定书", "当事人：天津宏泰食品有限公司", "罚款人民币伍仟元整"]])
    ids = [upload(client, case["id"], data, filename=name, stage="decision", form="penalty_decision").get_json()["id"]
           for name, data in (("决定书.ofd", sealed),
                              ("决定书-改.ofd", ofd.changed(sealed, "Doc_0/Pages/Page_0/Content.xml",
                                                          "伍仟".encode(), "陆仟".encode())))]
    drain(archive, renditions=True)
    _login(page, server, "zhao")
    page.goto(f"{server}/documents/{ids[0]}")
    page.wait_for_selector(".pdf-view canvas.pdf-page", timeout=30_000)
    assert page.get_attribute(".pdf-view", "data-src") == f"/api/documents/{ids[0]}/rendition"
    facts = page.inner_text(".doc-meta")
    assert "OFD 版式文档" in facts and "符合格式策略" in facts
    row = page.inner_text("table.signatures")
    assert "电子印章（GB/T 38540）" in row and "测试区市场监督管理局行政执法专用章" in row and "验证通过" in row
    assert "证书链未验证" in row
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "document-ofd-sealed.png"), full_page=True)
    page.goto(f"{server}/documents/{ids[1]}")
    assert "签章后文件被修改" in page.inner_text("table.signatures")
    page.screenshot(path=str(SHOTS / "document-ofd-changed-after-sealing.png"), full_page=True)


def test_a_password_set_by_the_office_is_changed_at_the_first_login_with_the_notice(server, page, app):
    """With the forced change on (as in production): the clerk whose password the office set is
    led to 修改密码 with the notice of the previous login, is told the rules in Chinese when the
    new one is too weak, sets a good one and lands where they were going."""
    from tests.e2e.test_pages import SHOTS

    app.config["FORCE_PASSWORD_CHANGE"] = True
    try:
        page.goto(server + "/cases")
        page.fill("input[name=username]", "zhao")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server + "/password**")
        # the notice of the previous login is on the first page after the login
        assert "由管理员设置或系统生成" in page.inner_text("main") and "这是您的首次登录" in page.inner_text("main")
        page.fill("input[name=current]", PASSWORD)
        page.fill("input[name=new]", "weakpassword")
        page.fill("input[name=again]", "weakpassword")
        page.click("form.password-change button[type=submit]")
        assert "至少三类" in page.inner_text("main")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "password-change-rules.png"), full_page=True)
        page.fill("input[name=current]", PASSWORD)
        page.fill("input[name=new]", "我的新密码-Wq2026x")
        page.fill("input[name=again]", "我的新密码-Wq2026x")
        page.click("form.password-change button[type=submit]")
        page.wait_for_url(server + "/cases")
        assert "密码已修改" in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "password-changed-notice.png"), full_page=True)
    finally:
        app.config["FORCE_PASSWORD_CHANGE"] = False
