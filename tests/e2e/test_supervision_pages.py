"""The supervision pages in Chromium: the city office plans, freezes and draws (the 验证说明
page's selection recomputed here with hmac), a reviewer scores two files on screen beside the
binder, the results page shows the grades, an auditor verifies the audit chain."""
from __future__ import annotations

import hashlib
import hmac

from archive.demo.documents import make_pdf
from tests.e2e.test_pages import Person, _case_with_document, browser, database_url, live, until  # noqa: F401

SEED = "2026-11-27 双色球 03 11 17 22 28 31 + 09"


def test_a_plan_drawn_in_the_browser_can_be_recomputed_and_reviewers_score_on_screen(live, browser, client):  # noqa: F811
    cases = [_case_with_document(client, f"津武市监罚〔2026〕{n}号", "2026-03-02T10:00:00+08:00")[0] for n in (61, 62)]

    city = Person(browser, live, "city").login()
    city.page.click("nav.nav >> text=抽查")
    city.page.click("text=新建抽查计划")
    city.page.click("button:has-text('创建计划')")  # nothing filled in: errors next to the fields
    assert "必填" in city.page.inner_text("label.field:has(input[name=name])")
    city.page.fill("input[name=name]", "2026年第一季度行政处罚案卷抽查")
    city.page.fill("input[name=period_start]", "2026-01-01")
    city.page.fill("input[name=period_end]", "2026-03-31")
    city.page.fill("input[name=count]", "2")
    city.page.fill("input[name=reviewers_per_file]", "1")
    city.page.fill("input[name=review_deadline]", "2099-12-31")
    city.page.click("button:has-text('创建计划')")
    city.page.wait_for_selector(".flash:has-text('抽查计划已创建')")
    city.page.click("button:has-text('冻结案卷名单')")
    city.page.wait_for_selector("table.strata")
    digests = city.page.input_value("#digests")
    assert "武清区市场监督管理局（A-SJJ）·行政处罚 2 份" in digests and "/penalty" not in digests
    assert city.page.is_visible("#copy-digests")
    city.shot("city-11-plan-frozen")
    city.page.fill("input[name=seed]", SEED)
    city.page.click("button:has-text('抽取并分配评查人员')")
    city.page.wait_for_selector("#sample")
    assert all(c["number"] in city.page.inner_text("#sample") for c in cases)
    city.shot("city-12-plan-drawn")

    city.page.click("a.button:has-text('验证说明')")
    city.page.wait_for_selector("#verified")
    populations = city.page.evaluate(
        "() => fetch(document.querySelector('a[href$=\"populations.json\"]').href).then(r => r.json())")
    stratum = next(s for s in populations["strata"] if s["agency"] == "A-SJJ")
    numbers = sorted(stratum["population"])
    assert hashlib.sha256("\n".join(numbers).encode()).hexdigest() == stratum["digest"]
    mine = sorted(numbers, key=lambda n: hmac.new(SEED.encode(), n.encode(), hashlib.sha256).hexdigest())[:stratum["k"]]
    assert "、".join(mine) in city.page.inner_text("#result")
    assert SEED in city.page.inner_text("#snippet")
    city.shot("city-13-verify")
    city.no_script_errors()

    reviewer = Person(browser, live, "reviewer").login()
    assert "评查任务" in reviewer.page.inner_text("nav.nav") and "案件" not in reviewer.page.inner_text("nav.nav")
    reviewer.page.click("nav.nav >> text=评查任务")
    assert "共 2 份案卷，已提交 0 份" in reviewer.page.inner_text("main")
    reviewer.shot("reviewer-01-list")
    first, second = mine
    reviewer.page.click(f"table.list a:has-text('{first}')")
    until(reviewer.page, "document.getElementById('total').textContent !== '—'")  # the scoring script runs
    reviewer.wait(".pdf-view[data-rendered]", timeout=60)
    assert int(reviewer.page.get_attribute(".pdf-view", "data-rendered")) >= 2  # cover, contents, documents
    reviewer.page.check("input[name=veto_V2]")
    assert reviewer.page.inner_text("#grade").startswith("不合格")
    reviewer.page.click("button:has-text('提交评分')")  # a veto needs its reason
    reviewer.wait("form#score-form .field-error")
    assert "否决须写明理由" in reviewer.page.inner_text("form#score-form")
    reviewer.page.fill("input[name=veto_reason_V2]", "缺少现场检查笔录，违法事实无证据支持")
    reviewer.page.click("button:has-text('提交评分')")
    reviewer.wait(".flash:has-text('评分已提交')")
    assert "0 分，不合格" in reviewer.page.inner_text(".flash")
    reviewer.shot("reviewer-02-vetoed")

    reviewer.go("/reviews")
    reviewer.page.click(f"table.list a:has-text('{second}')")
    reviewer.wait("#total")  # the review page has loaded (a busy machine is slow to navigate)
    until(reviewer.page, "document.getElementById('total') && document.getElementById('total').textContent !== '—'")
    reviewer.page.fill("input[name=points_C2]", "25")
    assert reviewer.page.inner_text("#grade") == "扣分超出该项上限"
    reviewer.page.fill("input[name=reason_C2]", "询问笔录未记录告知事项")
    reviewer.page.click("button:has-text('提交评分')")  # over the item's maximum: refused, in Chinese
    reviewer.wait("form#score-form .field-error")
    assert "此项最多扣 20 分" in reviewer.page.inner_text("form#score-form")
    reviewer.page.click("button:has-text('保存草稿')")  # a draft keeps what was typed
    reviewer.wait(".flash:has-text('草稿已保存')")
    assert reviewer.page.input_value("input[name=points_C2]") == "25"
    reviewer.page.fill("input[name=points_C2]", "5")
    reviewer.page.fill("input[name=points_F1]", "2")
    reviewer.page.fill("input[name=reason_F1]", "封面未填写结案日期")
    assert reviewer.page.inner_text("#total") == "93" and reviewer.page.inner_text("#grade") == "优秀"
    reviewer.wait(".pdf-view[data-rendered]", timeout=60)
    reviewer.shot("reviewer-03-scoring")
    # A full-page screenshot resizes the page and the scroll settles afterwards, so a mouse click
    # right after it can land beside the button: the button is pressed from the keyboard here.
    reviewer.page.locator("button:has-text('提交评分')").press("Enter")
    reviewer.wait(".flash:has-text('评分已提交')")
    assert "93 分，优秀" in reviewer.page.inner_text(".flash")
    # a file not assigned to the reviewer: the Chinese 404
    unassigned, doc = _case_with_document(client, "津武市监罚〔2026〕64号", "2026-03-02T10:00:00+08:00")  # after the freeze
    for path in (f"/cases/{unassigned['id']}", f"/documents/{doc['id']}"):
        resp = reviewer.go(path)
        assert resp.status == 404 and "找不到这个页面" in reviewer.page.inner_text("main")
    reviewer.no_script_errors()

    city.go("/sampling")
    city.page.click("a:has-text('评查结果')")
    files = city.page.inner_text("table.files")
    assert "不合格" in files and "优秀" in files and "缺少现场检查笔录" in files
    assert "C2 " in files and "扣 5 分" in files and "F1 使用规范执法文书格式 扣 2 分" in files  # items by name
    city.shot("city-14-results")

    auditor = Person(browser, live, "auditor").login()
    auditor.page.click("nav.nav >> text=审计")
    auditor.page.click("button:has-text('校验哈希链')")
    auditor.page.wait_for_selector("#chain")
    assert "哈希链完整" in auditor.page.inner_text("#chain")
    assert "review.submit" in auditor.page.inner_text("table.audit") or auditor.page.locator("a[rel=next]").count()
    auditor.shot("auditor-01-audit")
    auditor.go("/fixity")
    assert "存证检查" in auditor.page.inner_text("h1")
    auditor.shot("auditor-02-fixity")
    auditor.no_script_errors()


def test_a_complaint_handled_end_to_end(live, browser, client, archive):  # noqa: F811
    case, doc = _case_with_document(client, "津武市监罚〔2026〕71号", "2026-03-02T10:00:00+08:00")
    from tests.conftest import drain

    drain(archive)
    handler = Person(browser, live, "complaints_a").login()
    assert "投诉举报" in handler.page.inner_text("nav.nav")
    handler.page.click("nav.nav >> text=投诉举报")
    handler.page.click("text=登记投诉举报")
    handler.page.fill("input[name=complainant]", "王某")
    handler.page.fill("input[name=contact]", "13800000000")
    handler.page.fill("textarea[name=case_numbers]", "津武市监罚〔2026〕999号")
    handler.page.fill("textarea[name=text]", "反映宏泰食品公司被罚款后仍在销售过期食品，处罚不到位。")
    handler.page.click("button:has-text('登记')")
    assert "没有找到案号 津武市监罚〔2026〕999号" in handler.page.inner_text("main")
    handler.page.fill("textarea[name=case_numbers]", "")
    handler.page.set_input_files("input[name=file]", files=[{"name": "举报信.pdf", "mimeType": "application/pdf",
                                                            "buffer": make_pdf("举报信", ["反映宏泰食品公司销售过期食品。"])}])
    handler.page.click("button:has-text('登记')")
    handler.wait(".flash:has-text('投诉举报已登记')")
    assert "举报信.pdf" in handler.page.inner_text("#attachments")
    status = handler.page.evaluate("() => fetch(document.querySelector('#attachments a').href).then(r => r.status)")
    assert status == 200
    handler.page.click("a.button:has-text('在档案中检索')")
    handler.page.fill("input[name=q]", "罚款金额")
    handler.page.press("input[name=q]", "Enter")
    handler.wait("ol.hits li")
    assert "投诉举报 第" in handler.page.inner_text(".context")
    handler.shot("complaint-01-search")
    handler.page.click("ol.hits li button.link-case")
    handler.wait(".flash:has-text('已关联')")
    assert "已关联到此投诉（保全中）" in handler.page.inner_text("ol.hits")
    handler.page.click(".context a")
    assert "保全中（不可删除）" in handler.page.inner_text("#cases")
    with archive.sessions() as s:  # the object store holds the case's document under legal hold
        from archive.models import Document

        d = s.get(Document, doc["id"])
        assert archive.store.stat(d.object_key, d.version_id).legal_hold
    import datetime as dt

    from archive.clock import SHANGHAI

    today = dt.datetime.now(SHANGHAI).date().isoformat()
    handler.page.fill("#steps input[name=done_on]", "2026-01-01")  # before the complaint came in: refused
    handler.page.fill("#steps textarea[name=text]", "x")
    handler.page.click("button:has-text('添加办理记录')")
    handler.wait("#steps .field-error")
    assert "不能早于收到投诉的日期" in handler.page.inner_text("#steps")
    for day, text in ((today, "调阅案卷，核对处罚决定书"), (today, "约谈执法机关承办人")):
        handler.page.fill("#steps input[name=done_on]", day)
        handler.page.fill("#steps textarea[name=text]", text)
        handler.page.click("button:has-text('添加办理记录')")
        handler.wait(".flash:has-text('办理记录已添加')")
    history = handler.page.inner_text("#steps ol.history")
    assert today in history and "调阅案卷" in history and "约谈执法机关承办人" in history
    handler.shot("complaint-02-page")
    handler.page.fill("textarea[name=handling]", "调阅案卷并约谈承办人，核实处罚已执行。")
    handler.page.fill("textarea[name=outcome]", "反映情况部分属实，已责令整改。")
    handler.page.locator("button:has-text('办结')").press("Enter")
    handler.wait(".flash:has-text('已办结')")
    assert "已办结" in handler.page.inner_text(".page-head") and "已解除" in handler.page.inner_text("#cases")
    with archive.sessions() as s:
        d = s.get(Document, doc["id"])
        assert not archive.store.stat(d.object_key, d.version_id).legal_hold
    handler.page.emulate_media(media="print")
    handler.shot("complaint-03-print")
    assert handler.page.is_hidden("header.bar") and handler.page.is_hidden("#steps form") if \
        handler.page.query_selector("#steps form") else handler.page.is_hidden("header.bar")
    handler.no_script_errors()
