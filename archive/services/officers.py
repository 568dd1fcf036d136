"""The officers behind a case's acts, as the reviewer's form pre-checks them (评查 veto items
执法资格 and 执法人员少于两人, as 备案审查 pre-checks its checklist): every stage's officers with
their certificates on the day of the act, and the stages the rules give two officers."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.clock import SHANGHAI
from archive.deadlines.evaluate import certificate_problem
from archive.deadlines.rules import load_rules
from archive.labels import stage_name
from archive.models import Case, Officer


def precheck(session: Session, case_id: str) -> dict[str, dict]:
    """{"certificates": {...}, "two_officers": {...}}, each with ``ok`` (None: nothing to go by),
    and ``findings`` in Chinese."""
    case = session.get(Case, case_id)
    if case is None:
        return {}
    registry = {o.certificate_no: o for o in session.scalars(select(Officer).where(Officer.agency_code == case.agency_code))}
    rules = load_rules()
    cert_findings, two_findings, named_any = [], [], False
    needs_two = 0
    for st in sorted(case.stages, key=lambda s: s.completed_at):
        day = st.completed_at.astimezone(SHANGHAI).date()
        for o in st.officers:
            named_any = True
            problem = certificate_problem(registry.get(o.certificate_no) or _Unknown(), day)
            if problem:
                cert_findings.append(f"“{stage_name(st.stage)}”{o.name}（{o.certificate_no}）：{problem}")
        if rules.at(day).two_officers(st.stage):
            needs_two += 1
            if len(st.officers) < 2:
                two_findings.append(f"“{stage_name(st.stage)}”登记执法人员 {len(st.officers)} 人")
    return {
        "certificates": {"ok": None if not named_any else not cert_findings,
                         "findings": cert_findings or (["未登记执法人员，请查阅案卷文书"] if not named_any else [])},
        "two_officers": {"ok": None if not needs_two else not two_findings, "findings": two_findings},
    }


class _Unknown:
    known = False
    valid_from = valid_until = suspended_from = suspended_until = None


# -- 培训考核: training hours, certificates, exams per agency ---------------------------------------

def training_review(session: Session, agencies: frozenset[str] | None, year: int, today, hours_required: float,
                    soon_days: int = 30) -> list[dict]:
    """Per agency in scope: its officers below ``hours_required`` training hours in ``year``
    (培训学时不足), certificates lapsed or lapsing within ``soon_days`` (执法证到期), and exams
    failed or pending or passed without a certificate issued yet (考试与申领)."""
    import datetime as dt

    from sqlalchemy import func

    from archive.models import CertificateExam, Organisation, TrainingRecord

    q = select(Organisation).where(Organisation.level == "agency").order_by(Organisation.code)
    if agencies is not None:
        q = q.where(Organisation.code.in_(sorted(agencies)))
    orgs = list(session.scalars(q))
    codes = [o.code for o in orgs]
    hours = {(a, c): float(h) for a, c, h in session.execute(
        select(TrainingRecord.agency_code, TrainingRecord.certificate_no, func.sum(TrainingRecord.hours))
        .where(TrainingRecord.agency_code.in_(codes), TrainingRecord.start_on >= dt.date(year, 1, 1),
               TrainingRecord.start_on <= dt.date(year, 12, 31))
        .group_by(TrainingRecord.agency_code, TrainingRecord.certificate_no))}
    officers: dict[str, list[Officer]] = {}
    for o in session.scalars(select(Officer).where(Officer.agency_code.in_(codes)).order_by(Officer.name)):
        officers.setdefault(o.agency_code, []).append(o)
    exams: dict[str, list[CertificateExam]] = {}
    for e in session.scalars(select(CertificateExam).where(
            CertificateExam.agency_code.in_(codes),
            (CertificateExam.result != "passed") | (CertificateExam.application.in_(("", "applied"))))
            .order_by(CertificateExam.exam_on, CertificateExam.name)):
        exams.setdefault(e.agency_code, []).append(e)
    soon = today + dt.timedelta(days=soon_days)
    out = []
    for org in orgs:
        mine = officers.get(org.code, [])
        below = [{"name": o.name, "certificate_no": o.certificate_no, "hours": hours.get((org.code, o.certificate_no), 0.0)}
                 for o in mine if hours.get((org.code, o.certificate_no), 0.0) < hours_required]
        lapsing = [{"name": o.name, "certificate_no": o.certificate_no, "valid_until": o.valid_until,
                    "lapsed": o.valid_until < today} for o in mine if o.valid_until < soon]
        out.append({"agency": org.code, "name": org.name, "officers": len(mine), "below_hours": below,
                    "lapsing": lapsing,
                    "exams": [{"name": e.name, "exam_on": e.exam_on, "result": e.result, "application": e.application}
                              for e in exams.get(org.code, [])]})
    return out


def training_table(rows: list[dict], year: int, hours_required: float) -> list[list]:
    """The review as one table (CSV, XLSX): one line per finding."""
    from archive.services.basicinfo import APPLICATION_NAMES, EXAM_RESULT_NAMES

    out: list[list] = [["执法机关编码", "执法机关", "类别", "姓名", "执法证号", "情况"]]
    for r in rows:
        for b in r["below_hours"]:
            out.append([r["agency"], r["name"], f"{year}年培训学时不足", b["name"], b["certificate_no"],
                        f"{b['hours']:g} / {hours_required:g} 学时"])
        for x in r["lapsing"]:
            out.append([r["agency"], r["name"], "执法证已过期" if x["lapsed"] else "执法证30日内到期", x["name"],
                        x["certificate_no"], f"有效期至 {x['valid_until']:%Y-%m-%d}"])
        for e in r["exams"]:
            out.append([r["agency"], r["name"], "执法证考试与申领", e["name"], "",
                        f"{e['exam_on']:%Y-%m-%d} 考试{EXAM_RESULT_NAMES.get(e['result'], e['result'])}，"
                        f"{APPLICATION_NAMES.get(e['application'], e['application'])}"])
    return out
