"""Synthetic but realistic Chinese enforcement documents (about 2 KB each), reproducible by seed."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

PLACES = ["武清区", "北辰区", "西青区", "津南区", "东丽区", "宝坻区", "静海区", "蓟州区", "滨海新区", "河西区"]
TOWNS = ["杨村街道", "下朱庄街道", "大良镇", "梅厂镇", "崔黄口镇", "王庆坨镇", "汊沽港镇", "河西务镇", "东马圈镇", "豆张庄镇"]
NAME_A = ["鑫", "宏", "恒", "众", "顺", "华", "金", "盛", "瑞", "嘉", "绿", "津", "泰", "诚", "达", "源", "通", "福", "康", "德"]
NAME_B = ["商贸", "食品", "物流", "化工", "建材", "餐饮管理", "环保科技", "机械制造", "医药", "电子", "纺织", "印刷", "汽车维修", "农业发展", "网络科技"]
KINDS = ["有限公司", "股份有限公司", "经营部", "超市", "加工厂", "门市部"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "建国志强丽娜晓燕海涛秀英德明玉兰春华国庆文军红梅桂芳永刚建华立新晓东"
AGENCIES = {
    "SJJ": ("市场监督管理局", "市监", ["销售超过保质期的食品", "未取得食品经营许可从事食品经营活动", "生产销售不符合保障人体健康安全标准的产品",
                                  "使用未经检验的计量器具", "发布虚假广告", "经营标签不符合规定的预包装食品"],
            ["《中华人民共和国食品安全法》第一百二十四条第一款第（五）项", "《中华人民共和国食品安全法》第一百二十二条",
             "《中华人民共和国产品质量法》第四十九条", "《中华人民共和国广告法》第五十五条"]),
    "YJJ": ("应急管理局", "应急", ["未按照规定对从业人员进行安全生产教育和培训", "生产经营场所存在重大事故隐患",
                               "未按照规定设置安全警示标志", "特种作业人员未持证上岗"],
            ["《中华人民共和国安全生产法》第九十七条", "《中华人民共和国安全生产法》第一百零二条", "《中华人民共和国安全生产法》第九十九条"]),
    "STJ": ("生态环境局", "环", ["通过逃避监管的方式超标排放水污染物", "建设项目未依法进行环境影响评价擅自开工建设",
                              "未按规定贮存危险废物", "露天焚烧产生有毒有害烟尘的物质"],
            ["《中华人民共和国水污染防治法》第八十三条", "《中华人民共和国环境影响评价法》第三十一条",
             "《中华人民共和国固体废物污染环境防治法》第一百一十二条"]),
    "CGW": ("城市管理综合执法局", "城管", ["未经批准擅自设置大型户外广告设施", "在城市道路上擅自堆放建筑材料",
                                    "占用城市道路从事经营活动", "随意倾倒建筑垃圾"],
            ["《天津市市容和环境卫生管理条例》第六十一条", "《天津市市容和环境卫生管理条例》第五十四条", "《城市建筑垃圾管理规定》第二十六条"]),
}
PENALTIES = ["责令改正，处罚款人民币{n}元", "没收违法所得，并处罚款人民币{n}元", "责令停产停业整顿，并处罚款人民币{n}元",
             "吊销许可证，并处罚款人民币{n}元", "警告，并处罚款人民币{n}元", "责令限期拆除，处罚款人民币{n}元"]
FILLER = [
    "执法人员向当事人出示了执法证件，告知其享有陈述、申辩和要求听证的权利。",
    "上述事实有现场检查笔录、询问笔录、证据提取单、现场照片及当事人营业执照复印件等证据证实，证据确凿充分。",
    "本机关依法向当事人送达了行政处罚事先告知书，当事人在法定期限内未提出陈述、申辩意见，也未要求举行听证。",
    "当事人应当自收到本决定书之日起十五日内，持本决定书到指定银行缴纳罚款。逾期不缴纳罚款的，每日按罚款数额的百分之三加处罚款。",
    "如不服本处罚决定，可以在收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。",
    "当事人在调查过程中能够积极配合，主动提供相关材料，如实陈述违法事实，依法可以从轻处罚。",
    "经法制审核，本案执法主体适格，事实清楚，证据确凿，适用依据正确，程序合法，处罚裁量适当。",
    "检查中同时发现当事人的消防设施配备不全，执法人员已当场责令其限期整改，并制作了责令改正通知书。",
    "根据《中华人民共和国行政处罚法》第三十二条的规定，当事人主动消除或者减轻违法行为危害后果的，应当从轻或者减轻行政处罚。",
    "本案经本机关负责人集体讨论决定，并依法履行了重大行政执法决定法制审核程序。",
]


@dataclass(frozen=True)
class SynthDoc:
    """One generated document with its case facts."""

    doc_id: str
    case_number: str
    party_name: str
    party_id: str
    agency: str
    district: str
    kind: str
    stage: str
    form: str
    completed_at: dt.datetime
    text: str


def party(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.15:
        return rng.choice(SURNAMES) + "某" + rng.choice(GIVEN[::2]), "1202221" + "".join(rng.choice("0123456789") for _ in range(10)) + rng.choice("0123456789X")
    name = f"天津市{rng.choice(PLACES)}{rng.choice(NAME_A)}{rng.choice(NAME_A)}{rng.choice(NAME_B)}{rng.choice(KINDS)}"
    code = "91120" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(13))
    return name, code


def generate(n: int, seed: int = 7) -> list[SynthDoc]:
    """``n`` decision-like documents of about 2 KB."""
    return list(iter_docs(n, seed))


def iter_docs(n: int, seed: int = 7):
    """The documents of :func:`generate`, one at a time (the first k are the same for any n)."""
    rng = random.Random(seed)
    base = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(n):
        key = rng.choice(list(AGENCIES))
        agency_name, abbr, facts, laws = AGENCIES[key]
        district_i = rng.randrange(len(PLACES))
        district = PLACES[district_i]
        number = f"津{district[0]}{abbr}罚〔{2025 + i % 2}〕{i + 1}号"
        name, pid = party(rng)
        officer1 = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
        officer2 = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
        fact, law = rng.choice(facts), rng.choice(laws)
        amount = rng.choice([200, 500, 2000, 5000, 10000, 20000, 30000, 50000, 80000, 100000, 200000])
        when = base + dt.timedelta(days=rng.randrange(700), hours=rng.randrange(24))
        paras = [
            f"{district}{agency_name}行政处罚决定书", number,
            f"当事人：{name}，统一社会信用代码（身份证号码）：{pid}，住所：天津市{district}{rng.choice(TOWNS)}{rng.randint(1, 300)}号。",
            f"{when.year}年{when.month}月{when.day}日，本机关执法人员{officer1}、{officer2}对当事人的经营场所进行检查，发现当事人涉嫌{fact}。",
            f"经查，当事人自{when.year}年{max(1, when.month - 1)}月起{fact}，违法所得人民币{rng.randint(100, 9000)}元。",
        ]
        paras += rng.sample(FILLER, 6)
        paras += [f"当事人的上述行为违反了{law}的规定。依据{law}的规定，本机关决定对当事人作出如下行政处罚：{rng.choice(PENALTIES).format(n=amount)}。",
                  f"{district}{agency_name}", f"{when.year}年{when.month}月{when.day}日"]
        text = "\n".join(paras)
        yield SynthDoc(f"b{i:07d}", number, name, pid, f"{district_i:02d}-{key}", f"D{district_i:02d}",
                       "penalty", "decision", "penalty_decision", when, text)


def queries(docs: list[SynthDoc], n: int = 200, seed: int = 11) -> list[dict]:
    """Mixed queries: words, phrases, names, case numbers, credit codes, with and without filters."""
    rng = random.Random(seed)
    words = ["罚款", "食品", "安全生产", "责令停产停业", "许可证", "没收违法所得", "危险废物", "户外广告", "事故隐患", "听证",
             "保质期", "环境影响评价", "建筑垃圾", "消防设施", "从轻处罚", "集体讨论", "行政复议", "超标排放", "计量器具", "特种作业"]
    phrases = ["超过保质期的食品", "逾期不缴纳罚款", "如实陈述违法事实", "重大行政执法决定法制审核", "未按规定贮存危险废物", "主动提供相关材料"]
    out = []
    for i in range(n):
        kind = i % 8
        d = rng.choice(docs)
        if kind in (0, 1):
            q = {"kind": "word", "q": rng.choice(words)}
        elif kind == 2:
            q = {"kind": "phrase", "q": rng.choice(phrases)}
        elif kind == 3:
            q = {"kind": "party name", "q": d.party_name}
        elif kind == 4:
            q = {"kind": "case number", "q": d.case_number}
        elif kind == 5:
            q = {"kind": "party ID", "q": d.party_id}
        elif kind == 6:
            q = {"kind": "2 words+district", "q": rng.choice(words) + " " + rng.choice(words), "district": d.district}
        else:
            q = {"kind": "word+agency+dates", "q": rng.choice(words), "agency": d.agency,
                 "from": dt.date(2025, 3, 1), "to": dt.date(2025, 12, 31)}
        out.append(q)
    return out
