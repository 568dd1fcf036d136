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
