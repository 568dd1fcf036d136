"""The operations manual in the browser: /help lists every role's chapter; each chapter shows
its sections with their screenshots (loaded); the header's 帮助 opens the caller's section
about the page; a new user's 工作台 links to the chapter; the PDF of a chapter opens."""
from __future__ import annotations

import io

from archive import manual
from tests.e2e.test_browser import _login, page, server  # noqa: F401  (fixtures)
from tests.e2e.test_security_pages import _shot


def test_help_shows_every_roles_chapter_with_its_screenshots_and_the_pdf_opens(server, page):
    _login(page, server, "zhao")
    welcome = page.locator(".welcome")
    assert "操作手册" in welcome.inner_text()  # a new user's 工作台
    welcome.locator("a").click()
    page.wait_for_selector("section.manual-section")
    assert page.url.endswith("/help/agency_clerk")
    page.goto(server + "/cases")
    page.click("header .help-link")
    page.wait_for_selector("section#cases")
    assert page.url.endswith("/help/agency_clerk#cases")
    page.goto(server + "/help")
    names = page.locator("ul.chapters li").all_inner_texts()
    assert len(names) == len(manual.roles())
    _shot(page, "help-index.png")
    for role in manual.roles():
        page.goto(server + f"/help/{role}")
        chapter = manual.chapter(role)
        sections = page.locator("section.manual-section")
        assert sections.count() == len(chapter["sections"])
        broken = page.evaluate("Array.from(document.images).filter(i => i.loading === 'lazy')"
                               ".map(i => { i.loading = 'eager'; return i.src; })")
        page.wait_for_load_state("networkidle")
        bad = page.evaluate("Array.from(document.querySelectorAll('section.manual-section img'))"
                            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken and not bad, (role, bad)
    page.goto(server + "/help/district_office")
    _shot(page, "help-chapter-district.png")
    response = page.request.get(server + "/help/agency_clerk.pdf")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(response.body()))
    assert len(reader.pages) > len(manual.chapter("agency_clerk")["sections"])
    assert "经办人员" in reader.pages[0].extract_text().replace("\x00", "")
