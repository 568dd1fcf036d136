"""The people behind the acts: a stage names the officers who performed it, from the agency's
registry; an officer without a valid certificate on the day of the act, or fewer than two
officers where the rules ask two (两人执法), raises a level-1 warning on the agency."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from archive.models import Officer, WarningRecord
from tests.conftest import clerk_of, client_as, new_case, record_stage

D = dt.date


@pytest.fixture
def registry(app, tokens):
    archive = app.extensions["archive"]
    with archive.sessions() as s:
        s.add_all([
            Officer(agency_code="A-SJJ", name="张明", certificate_no="12010001", valid_until=D(2029, 12, 31)),
            Officer(agency_code="A-SJJ", name="李华", certificate_no="12010002", valid_until=D(2029, 12, 31)),
            Officer(agency_code="A-SJJ", name="王过期", certificate_no="12010003", valid_until=D(2026, 11, 30)),
            Officer(agency_code="A-SJJ", name="赵暂扣", certificate_no="12010004", valid_until=D(2029, 12, 31),
                    suspended_from=D(2026, 11, 1), suspended_until=None),
            Officer(agency_code="A-SJJ", name="钱未发", certificate_no="12010005", valid_from=D(2027, 1, 1),
                    valid_until=D(2031, 12, 31)),
            Officer(agency_code="A-YJJ", name="孙外局", certificate_no="12020001", valid_until=D(2029, 12, 31)),
        ])
        s.commit()
    return archive


def _stage(client, case_id, stage, at, officers):
    return client.post(f"/api/cases/{case_id}/stages", json={"stage": stage, "completed_at": at, "officers": officers},
                       headers=clerk_of(client, case_id))


def _officer_warnings(archive, case_id):
    with archive.sessions() as s:
        return sorted((w.rule, w.fact_key, w.level, w.message) for w in s.scalars(select(WarningRecord).where(
            WarningRecord.case_id == case_id, WarningRecord.rule.in_(("officer_certificate", "too_few_officers")))))


def test_one_officer_with_a_lapsed_certificate_raises_both_warnings(app, client, registry):
    case = new_case(client, number="津武市监罚〔2026〕801号")
    assert _stage(client, case["id"], "filing", "2026-12-01T09:00:00+08:00", ["12010001"]).status_code == 201
    r = _stage(client, case["id"], "investigation", "2026-12-02T10:00:00+08:00", ["12010003"])
    assert r.status_code == 201, r.get_json()
    investigation = next(s for s in r.get_json()["stages"] if s["stage"] == "investigation")
    assert investigation["officers"] == [{"certificate_no": "12010003", "name": "王过期"}]
    found = _officer_warnings(registry, case["id"])
    assert [(rule, key, level) for rule, key, level, _ in found] == [
        ("officer_certificate", "certificate:investigation:12010003", 1),
        ("too_few_officers", "officers:investigation", 1)]
    assert "王过期" in found[0][3] and "2026-11-30 到期" in found[0][3]
    assert "少于两人（1 人）" in found[1][3]
    # the filing stage needs no second officer, and 张明's certificate is valid
    assert not any("filing" in key for _, key, _, _ in found)


def test_suspended_not_yet_issued_and_foreign_certificates_are_named(app, client, registry):
    case = new_case(client, number="津武市监罚〔2026〕802号")
    r = _stage(client, case["id"], "inspection" if case["kind"] == "inspection" else "filing",
               "2026-12-02T10:00:00+08:00", ["12010004", "12010005"])
    assert r.status_code == 201, r.get_json()
    messages = {key: m for _, key, _, m in _officer_warnings(registry, case["id"])}
    assert "暂扣" in messages["certificate:filing:12010004"]
    assert "2027-01-01 起有效" in messages["certificate:filing:12010005"]
    # an officer of another agency, or an unknown number, is refused: named from the registry
    r = _stage(client, case["id"], "investigation", "2026-12-03T10:00:00+08:00", ["12010001", "12020001", "999"])
    assert r.status_code == 422
    assert r.get_json()["errors"]["officers"] == ["执法证号 12020001 不在本机关的执法人员名录中",
                                                  "执法证号 999 不在本机关的执法人员名录中"]


def test_two_valid_officers_raise_nothing_and_older_acts_are_not_checked(app, client, registry):
    case = new_case(client, number="津武市监罚〔2026〕803号")
    _stage(client, case["id"], "filing", "2026-12-01T09:00:00+08:00", [])
    r = _stage(client, case["id"], "investigation", "2026-12-02T10:00:00+08:00", ["12010001", "12010002", "12010001"])
    assert r.status_code == 201
    investigation = next(s for s in r.get_json()["stages"] if s["stage"] == "investigation")
    assert [o["name"] for o in investigation["officers"]] == ["张明", "李华"]  # named twice counts once
    assert _officer_warnings(registry, case["id"]) == []
    older = new_case(client, number="津武市监罚〔2026〕804号")
    assert record_stage(client, older["id"], "filing", "2026-03-02T10:00:00+08:00").status_code == 201
    assert record_stage(client, older["id"], "investigation", "2026-03-10T10:00:00+08:00").status_code == 201
    assert _officer_warnings(registry, older["id"]) == []  # before the rules' checked_from


def test_the_case_page_lists_the_officers_and_offers_the_registry(app, client, registry):
    case = new_case(client, number="津武市监罚〔2026〕805号")
    page = client_as(app, "clerk_a")
    html = page.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "执法人员（调查取证、检查、送达须两人以上）" in html and "王过期（12010003）" in html and "已于 2026-11-30 到期" in html
    assert "孙外局" not in html  # another agency's officer is not offered
    r = page.post(f"/cases/{case['id']}/stages", data={"stage": "filing", "completed_at": "2026-12-01T09:00",
                                                        "officers": ["12010001", "12010002"]})
    assert r.status_code == 302
    html = page.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert '执法人员：<span class="officer">张明（12010001）</span>、<span class="officer">李华（12010002）</span>' in html


def test_the_monthly_scoring_weighs_the_officer_checks_when_configured(app, client, registry):
    from archive.clock import now
    from archive.services.scores import scores

    case = new_case(client, number="津武市监罚〔2026〕806号")
    _stage(client, case["id"], "filing", "2026-12-01T09:00:00+08:00", ["12010001"])  # fine: one is enough
    _stage(client, case["id"], "investigation", "2026-12-02T10:00:00+08:00", ["12010001", "12010003"])  # lapsed
    _stage(client, case["id"], "review", "2026-12-03T10:00:00+08:00", [])  # not checked: needs none
    config = dict(registry.config, SCORE_WEIGHTS="on_time=50,officers=50")
    with registry.sessions() as s:
        row = next(r for r in scores(s, "2026-12", frozenset({"A-SJJ"}), config, now())["agencies"])
    officers = row["components"]["officers"]
    assert (officers["acts"], officers["flawed"], officers["rate"], officers["weight"]) == (3, 1, round(2 / 3, 4), 50)
    from archive.services.briefing import csv_bytes

    with registry.sessions() as s:
        table = csv_bytes(scores(s, "2026-12", frozenset({"A-SJJ"}), config, now())).decode("utf-8-sig")
    assert "执法资格合规率（得分率）" in table and "执法资格或人数不合规" in table


def test_the_reviewers_form_shows_the_archives_precheck_of_the_officer_veto_items(app, client, registry):
    from archive.services.officers import precheck

    case = new_case(client, number="津武市监罚〔2026〕807号")
    with registry.sessions() as s:
        assert precheck(s, case["id"])["certificates"] == {"ok": None, "findings": ["未登记执法人员，请查阅案卷文书"]}
    _stage(client, case["id"], "filing", "2026-12-01T09:00:00+08:00", ["12010001", "12010002"])
    with registry.sessions() as s:
        checked = precheck(s, case["id"])
    assert checked["certificates"] == {"ok": True, "findings": []} and checked["two_officers"]["ok"] is None
    _stage(client, case["id"], "investigation", "2026-12-02T10:00:00+08:00", ["12010004"])
    with registry.sessions() as s:
        checked = precheck(s, case["id"])
    assert checked["certificates"]["ok"] is False and "赵暂扣（12010004）：执法证当日处于暂扣期间" in \
        checked["certificates"]["findings"][0]
    assert checked["two_officers"] == {"ok": False, "findings": ["“调查取证”登记执法人员 1 人"]}


TRAININGS = ("执法机关编码,执法证号,姓名,培训课程,主办单位,开始日期,结束日期,学时\n"
             "A-SJJ,12010001,张明,公共法律知识培训,区司法局,2026-03-02,2026-03-06,40\n"
             "A-SJJ,12010001,张明,食品安全专业培训,市市场监管委,2026/9/1,2026/9/3,24\n"
             "A-SJJ,12010002,李华,公共法律知识培训,区司法局,2026-03-02,2026-03-06,40\n"
             "A-SJJ,12010002,李华,上年培训,区司法局,2025-05-01,2025-05-03,30\n").encode()
EXAMS = ("执法机关编码,姓名,身份证号,考试日期,考试结果,申领状态,执法证号\n"
         "A-SJJ,周新,120114199001011234,2026-06-20,未通过,,\n"
         "A-SJJ,吴待,120114199202021234,2026-11-20,待考,,\n"
         "A-SJJ,郑过,120114199303031234,2026-06-20,通过,已申领,\n"
         "A-SJJ,冯发,120114199404041234,2026-06-20,通过,已发证,12010009\n").encode()


def test_training_records_and_exams_are_imported_and_the_training_review_lists_what_is_short(app, client, registry):
    import io

    district = client_as(app, "district_a")
    bad = ("执法机关编码,执法证号,姓名,培训课程,主办单位,开始日期,结束日期,学时\n"
           "A-SJJ,12010001,张明,课程,区司法局,2026-03-06,2026-03-02,abc\n").encode()
    r = district.post("/api/basic-info/trainings/import", data={"file": (io.BytesIO(bad), "t.csv")},
                      content_type="multipart/form-data")
    assert r.status_code == 422 and "开始日期晚于结束日期" in str(r.get_json()) and "学时应为" in str(r.get_json())
    for kind, data in (("trainings", TRAININGS), ("exams", EXAMS)):
        r = district.post(f"/api/basic-info/{kind}/import", data={"file": (io.BytesIO(data), f"{kind}.csv")},
                          content_type="multipart/form-data")
        assert r.status_code == 200, r.get_json()
    # the same file again changes nothing but updates (the keys: certificate, course, start; id number, exam day)
    again = district.post("/api/basic-info/trainings/import", data={"file": (io.BytesIO(TRAININGS), "t.csv")},
                          content_type="multipart/form-data").get_json()
    assert (again["added"], again["updated"]) == (0, 4)
    listed = district.get("/api/basic-info/exams").get_json()
    assert listed["total"] == 4 and {e["result"] for e in listed["entries"]} == {"passed", "failed", "pending"}
    html = district.get("/stats/training", query_string={"year": "2026"}).get_data(as_text=True)
    sj = html.split("武清区市场监督管理局", 1)[1].split("</tr>", 1)[0]
    assert "李华（40 学时）" in sj and "张明" not in sj.split("<td>", 3)[2]  # 64 hours: enough
    assert "王过期（已过期 2026-11-30）" in sj
    assert "周新（2026-06-20 未通过）" in sj and "吴待（2026-11-20 待考）" in sj and "郑过（2026-06-20 通过，待发证）" in sj
    assert "冯发" not in sj
    csv_text = district.get("/stats/training", query_string={"year": "2026", "format": "csv"}).get_data().decode("utf-8-sig")
    assert "2026年培训学时不足,李华,12010002,40 / 60 学时" in csv_text
    x = district.get("/stats/training", query_string={"year": "2026", "format": "xlsx"})
    assert x.status_code == 200 and x.data[:2] == b"PK"
    assert client_as(app, "reviewer").get("/stats/training").status_code == 403
    assert "李华" not in client_as(app, "district_b").get("/stats/training").get_data(as_text=True)


def test_a_training_record_is_entered_on_the_page(app, client, registry):
    district = client_as(app, "district_a")
    html = district.get("/basic-info", query_string={"kind": "trainings"}).get_data(as_text=True)
    assert "逐条录入培训记录" in html and 'name="hours"' in html
    form = {"kind": "trainings", "agency": "A-SJJ", "certificate_no": "12010002", "name": "李华", "course": "案卷评查培训",
            "organiser": "区司法局", "start_on": "2026-10-12", "end_on": "2026-10-13", "hours": "16"}
    assert district.post("/basic-info/entry", data=form).status_code == 303
    bad = district.post("/basic-info/entry", data={**form, "hours": "0"})
    assert bad.status_code == 422 and "学时应为" in bad.get_data(as_text=True)
    entries = district.get("/api/basic-info/trainings").get_json()["entries"]
    assert [(e["name"], e["course"], e["hours"]) for e in entries] == [("李华", "案卷评查培训", "16")]
    assert client_as(app, "clerk_a").post("/basic-info/entry", data=form).status_code == 403
