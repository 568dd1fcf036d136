"""Demo data: 武清区 with its agencies, 36 cases and their documents (some uploaded late)."""
from __future__ import annotations

import datetime as dt
import io
import random
from typing import Any, Callable

from archive.demo import ofd
from archive.demo.documents import FontMissing, make_docx, make_pdf
from archive.demo.scans import scanned_pdf
from archive.services.powers import import_powers
from archive.extension import Archive
from archive.worker import drain, examine_settings
from archive.services import basicinfo
from archive.services import cases as case_service
from archive.clock import SHANGHAI, now as server_now
from archive.services.ingest import HashingSpool, ingest
from archive.services.orgs import import_orgs

ORGS: list[dict[str, Any]] = [
    {"code": "120000", "name": "天津市", "level": "city", "parent": None},
    {"code": "120114", "name": "武清区", "level": "district", "parent": "120000"},
    {"code": "120113", "name": "北辰区", "level": "district", "parent": "120000"},
    {"code": "120114-SJJ", "name": "武清区市场监督管理局", "level": "agency", "parent": "120114"},
    {"code": "120114-YJJ", "name": "武清区应急管理局", "level": "agency", "parent": "120114"},
    {"code": "120114-STJ", "name": "天津市武清区生态环境局", "level": "agency", "parent": "120114"},
    {"code": "120114-CGW", "name": "武清区城市管理综合执法局", "level": "agency", "parent": "120114"},
    {"code": "120114-YCJD", "name": "武清区杨村街道办事处", "level": "agency", "parent": "120114"},
    {"code": "120114-DLZ", "name": "武清区大良镇人民政府", "level": "agency", "parent": "120114"},
    {"code": "120113-SJJ", "name": "北辰区市场监督管理局", "level": "agency", "parent": "120113"},
]

ABBR = {"120114-SJJ": "津武市监", "120114-YJJ": "津武应急", "120114-STJ": "津武环",
        "120114-CGW": "津武城管", "120114-YCJD": "津武杨街", "120114-DLZ": "津武大良",
        "120113-SJJ": "津辰市监"}

PARTIES = [
    ("天津市武清区鑫盛达商贸有限公司", "91120222MA05K3LX2Q"), ("天津宏泰食品有限公司", "91120222300417765H"),
    ("天津市恒通物流有限公司", "91120222MA06B8PT5Y"), ("天津津武化工有限公司", "911202227001234567"),
    ("武清区杨村镇鑫鑫超市", "92120222MA05T1DK8N"), ("天津绿源环保科技有限公司", "91120222MA07CM4R1U"),
    ("天津市武清区顺达建材经营部", "92120222L12345678X"), ("张某某", "120222198503127714"),
    ("李某", "12022219900815301X"), ("天津众诚餐饮管理有限公司", "91120222MA05P9WQ3B"),
]

VIOLATIONS: list[dict[str, Any]] = [
    dict(agency="120114-SJJ", fact="销售超过保质期的食品，货值金额三千二百元", basis="《中华人民共和国食品安全法》第一百二十四条第一款第（五）项",
         penalty="没收违法所得，并处罚款人民币五万元", fine=50000, power="SJ-FOOD-124"),
    dict(agency="120114-SJJ", fact="未取得食品经营许可从事食品经营活动", basis="《中华人民共和国食品安全法》第一百二十二条",
         penalty="没收违法所得和违法经营的食品，并处罚款人民币一万元", fine=10000, power="SJ-FOOD-122"),
    dict(agency="120114-YJJ", fact="未按照规定对从业人员进行安全生产教育和培训，且未如实记录安全生产教育和培训情况",
         basis="《中华人民共和国安全生产法》第九十七条第（三）项、第（四）项", penalty="责令限期改正，处罚款人民币三万元", fine=30000, power="YJ-AQSC-97"),
    dict(agency="120114-YJJ", fact="生产经营场所存在重大事故隐患，经责令整改仍未消除",
         basis="《中华人民共和国安全生产法》第一百零二条", penalty="责令停产停业整顿，并处罚款人民币十万元", fine=100000, power="YJ-AQSC-102"),
    dict(agency="120114-STJ", fact="通过逃避监管的方式超标排放水污染物", basis="《中华人民共和国水污染防治法》第八十三条第（三）项",
         penalty="责令改正，处罚款人民币二十万元", fine=200000, power="ST-WATER-83"),
    dict(agency="120114-STJ", fact="建设项目未依法进行环境影响评价擅自开工建设", basis="《中华人民共和国环境影响评价法》第三十一条",
         penalty="责令停止建设，处罚款人民币八万元", fine=80000, power="ST-EIA-31"),
    dict(agency="120114-CGW", fact="未经批准擅自设置大型户外广告设施", basis="《天津市市容和环境卫生管理条例》第六十一条",
         penalty="责令限期拆除，处罚款人民币五千元", fine=5000, power="CG-SR-61"),
    dict(agency="120114-CGW", fact="在城市道路上擅自堆放建筑材料，影响市容", basis="《天津市市容和环境卫生管理条例》第五十四条",
         penalty="责令改正，处罚款人民币二百元", fine=200, power="CG-SR-54"),
    dict(agency="120114-YCJD", fact="占用城市道路从事经营活动，经劝阻拒不改正", basis="《天津市市容和环境卫生管理条例》第五十三条",
         penalty="处罚款人民币五百元", fine=500, power="JD-SR-53"),
    dict(agency="120114-DLZ", fact="未经批准在农用地上擅自建设临时建筑物", basis="《中华人民共和国土地管理法》第七十七条",
         penalty="责令限期拆除，恢复土地原状，处罚款人民币二万元", fine=20000, power="DL-LAND-77"),
    dict(agency="120113-SJJ", fact="生产销售不符合保障人体健康安全标准的产品", basis="《中华人民共和国产品质量法》第四十九条",
         penalty="吊销营业执照，没收违法生产销售的产品，并处罚款人民币六万元", fine=60000, power="SJ-PQ-49"),
]

# Powers in the agencies' basic information that the demo's cases never use: the 履职比例
# page then shows agencies above, at and below the threshold.
IDLE_POWERS = {
    "120114-SJJ": [("SJ-AD-55", "对发布虚假广告的处罚", "penalty", "《中华人民共和国广告法》第五十五条"),
                   ("SJ-JC-01", "食品经营日常监督检查", "inspection", "《中华人民共和国食品安全法》第一百一十条")],
    "120114-YJJ": [("YJ-JC-01", "安全生产监督检查", "inspection", "《中华人民共和国安全生产法》第六十五条"),
                   ("YJ-AQSC-99", "对未按规定设置安全警示标志的处罚", "penalty", "《中华人民共和国安全生产法》第九十九条"),
                   ("YJ-WHP-93", "对危险化学品违法储存的处罚", "penalty", "《危险化学品安全管理条例》第八十条")],
    "120114-STJ": [("ST-AIR-99", "对超标排放大气污染物的处罚", "penalty", "《中华人民共和国大气污染防治法》第九十九条")],
    "120114-CGW": [("CG-JC-01", "市容环境卫生日常检查", "inspection", "《天津市市容和环境卫生管理条例》")],
    "120114-YCJD": [("JD-JC-01", "辖区综合执法巡查", "inspection", "《天津市街道综合执法暂行办法》"),
                    ("JD-SR-40", "对擅自设置户外广告的处罚", "penalty", "《天津市市容和环境卫生管理条例》第四十条")],
    "120114-DLZ": [("DL-JC-01", "农村宅基地和土地利用巡查", "inspection", "《中华人民共和国土地管理法》")],
}


def demo_powers() -> list[dict[str, str]]:
    """The demo agencies' powers: those their cases use, and some they never exercised."""
    rows = {(v["agency"], v["power"]): {"agency": v["agency"], "code": v["power"], "name": f"对{v['fact'].split('，')[0]}的处罚"[:200],
                                        "category": "penalty", "legal_basis": v["basis"]} for v in VIOLATIONS}
    for agency, idle in IDLE_POWERS.items():
        for code, name, category, basis in idle:
            rows[(agency, code)] = {"agency": agency, "code": code, "name": name, "category": category, "legal_basis": basis}
    return list(rows.values())


OFFICERS = [("王建国", "12011400123"), ("刘晓燕", "12011400456"), ("赵志强", "12011400789"), ("孙丽", "12011400321")]
MORE_OFFICERS = ["陈立新", "杨帆", "周敏", "吴海涛", "郑红", "冯建军", "褚晓丽", "卫东", "蒋文", "沈洁", "韩磊", "朱静"]


def demo_basic_info(year: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Officers (the market regulator's four named in its documents; one certificate lapsed
    elsewhere) and this year's inspection plan of each agency that lists an inspection power."""
    agencies = sorted({v["agency"] for v in VIOLATIONS})
    officers = [{"agency": "120114-SJJ", "name": n, "certificate_no": c, "valid_from": f"{year - 2}-01-01",
                 "valid_until": f"{year + 3}-12-31"} for n, c in OFFICERS]
    names = iter(MORE_OFFICERS)
    for i, agency in enumerate(a for a in agencies if a != "120114-SJJ"):
        for j in range(2):
            lapsed = i == 0 and j == 1
            officers.append({"agency": agency, "name": next(names, f"执法人员{i}{j}"),
                             "certificate_no": f"1201{i:02d}{j:05d}", "valid_from": f"{year - 5}-01-01",
                             "valid_until": f"{year - 1}-06-30" if lapsed else f"{year + 2}-12-31"})
    plans = [{"agency": agency, "code": f"JH-{year}-01", "name": f"{year}年{name}计划", "year": str(year),
              "power_code": code, "planned": "24", "start_on": f"{year}-01-01", "end_on": f"{year}-12-31"}
             for agency, idle in IDLE_POWERS.items() for code, name, category, _ in idle if category == "inspection"]
    return officers, plans


def demo_pair(case_number: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two market-regulation officers a demo case's documents name (the same in every run)."""
    import zlib

    k = zlib.crc32(case_number.encode("utf-8"))
    return OFFICERS[k % 4], OFFICERS[(k + 1) % 4]


def _texts(case_number: str, party: tuple[str, str], v: dict, agency_name: str, day: dt.date) -> dict[str, tuple[str, list[str]]]:
    name, pid = party
    o1, o2 = demo_pair(case_number)
    date = f"{day.year}年{day.month}月{day.day}日"
    return {
        "filing_approval": ("立案审批表", [
            f"案件编号：{case_number}", f"当事人：{name}，统一社会信用代码（身份证号码）：{pid}。",
            f"案件来源：日常监督检查。{date}，执法人员在检查中发现当事人涉嫌{v['fact']}。",
            f"经初步核实，当事人的行为涉嫌违反{v['basis']}的规定，符合立案条件，建议立案调查。",
            f"承办人：{o1[0]}（执法证号{o1[1]}）、{o2[0]}（执法证号{o2[1]}）。", f"审批意见：同意立案。{agency_name}"]),
        "inquiry_record": ("询问笔录", [
            f"询问时间：{date}上午9时30分至10时45分。询问地点：{agency_name}询问室。",
            f"询问人：{o1[0]}、{o2[0]}，记录人：{o2[0]}。被询问人：{name}的委托代理人。",
            "问：我们是执法人员，已向你出示执法证件，你是否看清楚？答：看清楚了。",
            f"问：请你说明有关情况。答：我公司确实存在{v['fact']}的情况，我们愿意配合调查。",
            "问：你对以上记录有无补充？答：没有，以上记录属实。被询问人签名：（签名）"]),
        "legal_review_opinion": ("法制审核意见书", [
            f"审核事项：{case_number}案拟作出的行政处罚决定。", f"经审核，本案执法主体适格，事实清楚，证据确凿，适用{v['basis']}正确，程序合法。",
            f"拟处罚内容：{v['penalty']}。裁量适当。审核意见：同意。", f"法制审核人员：孙丽。{agency_name}法制科。"]),
        "penalty_decision": ("行政处罚决定书", [
            case_number, f"当事人：{name}", f"统一社会信用代码（身份证号码）：{pid}",
            f"经查，当事人{v['fact']}。上述事实有现场笔录、询问笔录、证据提取单等证据证实。",
            f"当事人的上述行为违反了{v['basis']}的规定。本机关依法向当事人送达了行政处罚事先告知书，当事人在法定期限内未提出陈述、申辩意见。",
            f"依据{v['basis']}的规定，本机关决定对当事人作出如下行政处罚：{v['penalty']}。",
            "当事人应当自收到本决定书之日起十五日内将罚款缴至指定银行。逾期不缴纳罚款的，每日按罚款数额的百分之三加处罚款。",
            "如不服本处罚决定，可以在收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。",
            f"{agency_name}", date]),
        "service_receipt": ("送达回证", [
            f"送达文书：行政处罚决定书（{case_number}）", f"受送达人：{name}", "送达地点：当事人经营场所。送达方式：直接送达。",
            f"送达人：{o1[0]}、{o2[0]}。受送达人签收：（签名） {date}"]),
        "execution_record": ("执行情况记录", [
            f"{case_number}：当事人已于{date}履行行政处罚决定，罚款已缴入国库。", "执行情况：已全部履行。"]),
        "closing_report": ("结案报告", [
            f"案件：{case_number}", f"当事人{name}{v['fact']}一案，已作出{v['penalty']}的处罚决定并执行完毕，建议结案。",
            f"承办人：{o1[0]}、{o2[0]}。审批：同意结案。"]),
        "inspection_record": ("现场检查笔录", [
            f"检查时间：{date}。检查地点：{name}经营场所。检查人员：{o1[0]}、{o2[0]}，已出示执法证件。",
            "检查情况：经营许可证照齐全，从业人员持有健康证明，消防设施配备到位，安全生产责任制度已建立。",
            "检查结论：未发现违法行为，已对相关人员进行普法宣传。被检查人签名：（签名）"]),
    }


STAGE_FORMS = [("filing", "filing_approval", "docx"), ("investigation", "inquiry_record", "docx"),
               ("review", "legal_review_opinion", "docx"), ("decision", "penalty_decision", "pdf"),
               ("decision", "service_receipt", "pdf"), ("execution", "execution_record", "docx"),
               ("closing", "closing_report", "docx")]


def _fixed(at: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock stopped at ``at``: demo uploads happen at simulated past times."""
    return lambda: at


def load_demo(archive: Archive, *, cases: int = 36, seed: int = 20261126,
              clock: Callable[[], dt.datetime] = server_now, echo: Callable[[str], None] = print) -> int:
    """Load organisations and ``cases`` cases with documents; returns how many documents."""
    rng = random.Random(seed)
    pdf_ok = True
    n_docs = 0
    with archive.sessions() as session:
        import_orgs(session, ORGS)
        import_powers(session, demo_powers())
        today = clock().astimezone(SHANGHAI)
        officers, plans = demo_basic_info(today.year)
        basicinfo.import_rows(session, "officers", officers)
        basicinfo.import_rows(session, "plans", plans)
        by_agency: dict[str, list[str]] = {}
        for o in officers:
            by_agency.setdefault(o["agency"], []).append(o["certificate_no"])
        session.commit()
        names = {o["code"]: o["name"] for o in ORGS}
        for i in range(cases):
            inspection = i % 6 == 5
            v = VIOLATIONS[i % len(VIOLATIONS)]
            party = PARTIES[rng.randrange(len(PARTIES))]
            opened = (today - dt.timedelta(days=rng.randint(10, 60))).date()
            abbr = ABBR[v["agency"]]
            number = f"{abbr}{'检' if inspection else '罚'}〔{opened.year}〕{100 + i}号"
            case = case_service.create_case(session, dict(
                number=number, agency=v["agency"], kind="inspection" if inspection else "penalty",
                procedure="summary" if v["fine"] <= 200 else "general", power=v["power"],
                party_name=party[0], party_id=party[1], summary=v["fact"], opened_on=opened))
            session.commit()
            texts = _texts(number, party, v, names[v["agency"]], opened)
            plan = [("inspection", "inspection_record", "pdf")] if inspection else STAGE_FORMS[: rng.randint(3, 7)]
            completed = dt.datetime.combine(opened, dt.time(10, 0), tzinfo=SHANGHAI)
            latest = today - dt.timedelta(days=1)
            late_stage = plan[-1][0] if i % 4 == 0 else None  # a quarter upload a stage late
            for stage, form, fmt in plan:
                if not any(s.stage == stage for s in case.stages):
                    completed = min(completed + dt.timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 5)), latest)
                    delay = dt.timedelta(days=rng.randint(3, 6)) if stage == late_stage else dt.timedelta(hours=rng.randint(1, 6))
                    at = min(completed + delay, clock())
                    pair = [c for _, c in demo_pair(number)] if v["agency"] == "120114-SJJ" else by_agency.get(v["agency"], [])[:2]
                    if i % 9 == 7 and stage == "investigation":  # one officer alone: 两人执法 not met
                        pair = pair[:1]
                    case_service.record_stage(session, case, stage, completed, clock=_fixed(at), officers=pair)
                    session.commit()
                title, paras = texts[form]
                data, filename = None, f"{title}.{fmt}"
                if form == "penalty_decision" and i % 3 == 1:  # a third of decisions: OFD with the agency's seal
                    data, filename = ofd.sealed(ofd.paginate(title, paras), seal_name=f"{names[v['agency']]}行政执法专用章"), f"{title}.ofd"
                elif fmt == "pdf" and pdf_ok:
                    try:
                        if form == "service_receipt":  # signed by the party: a scan, read by OCR
                            data, filename = scanned_pdf(title, paras), f"{title}（扫描件）.pdf"
                        else:
                            data = make_pdf(title, paras)
                    except FontMissing as exc:
                        echo(f"warning: {exc}; demo PDFs are made as DOCX instead")
                        pdf_ok = False
                if data is None:
                    data, filename = make_docx(title, paras, header=names[v["agency"]]), f"{title}.docx"
                spool = HashingSpool.from_stream(io.BytesIO(data))
                ingest(session, archive.store, archive.ingest_settings, case, stage=stage, form=form,
                       filename=filename, spool=spool, uploader="demo", clock=_fixed(at))
                n_docs += 1
        demo_tasks(session, clock())
        session.commit()
    drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings,
          examine=examine_settings(archive.config))
    return n_docs


def demo_tasks(session, now: dt.datetime) -> None:
    """A 交办 from the Wuqing office to its market regulator about the first demo case, waiting
    for an answer, and a 转办 from the city to the Wuqing office: the 交办转办 pages are not empty."""
    from sqlalchemy import select

    from archive.auth.principal import Principal, visible_agencies
    from archive.models import Case
    from archive.services import tasks

    first = session.scalar(select(Case).where(Case.agency_code == "120114-SJJ").order_by(Case.created_at))
    district = Principal(user_id=0, username="wq_fzb", role="district_office", scope_code="120114",
                         agencies=visible_agencies(session, "district_office", "120114"), via="demo")
    tasks.create(session, district, assignee="120114-SJJ", subject="核查群众反映的过期食品问题",
                 text="群众来电反映辖区超市仍在销售过期食品，请核查处理并于期限内书面答复。",
                 due_days=5, cases=[first.number] if first else [], complaint_id=None, now=now)
    city = Principal(user_id=0, username="tj_fzb", role="city_office", scope_code="120000", agencies=None, via="demo")
    tasks.create(session, city, assignee="120114", subject="开展行政执法案卷自查",
                 text="请组织本区执法机关对本年度行政处罚案卷开展自查，汇总问题清单后报市司法局。",
                 due_days=10, cases=[], complaint_id=None, now=now)
