"""Basic information (基础信息) of each agency: enforcement powers (职权), officers (执法人员) and
inspection plans (检查计划).

Every way in is a table (CSV in UTF-8, or XLSX) with a header row, checked row by row and applied
whole or not at all: a file with one bad row changes nothing, and the error names every bad row
with its reason. A row updates the entry with its key (powers and plans: agency and code;
officers: certificate number) or adds it; a row whose ``action`` is ``remove`` (删除/撤销)
removes it.

The district office (or the city office) imports directly. An agency submits a change request
(``BasicInfoChange``) that changes nothing until its district office approves it; approval is a
compare-and-set on the request's status, so a request is applied exactly once. A change
reported more than ``LATE_AFTER_DAYS`` after it took effect raises a warning on the agency,
handled and escalated like any other warning.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.errors import Conflict, MISSING_FILENAME, NotFound, REQUIRED, ValidationFailed
from archive.models import (
    POWER_CATEGORIES, BasicInfoChange, CertificateExam, InspectionPlan, Officer, Organisation, Power, TrainingRecord,
    WarningRecord,
)
from archive.labels import POWER_CATEGORY_NAMES
from archive.numbers import whole
from archive.auth import policy
from archive.auth.principal import Principal
from archive.clock import SHANGHAI, now as server_now
from archive.services.caller import Caller
from archive.labels import BASIC_INFO_KIND_NAMES as KIND_NAMES, BASIC_INFO_COLUMN_NAMES as COLUMN_NAMES  # noqa: F401  (the names its callers know)

LATE_AFTER_DAYS = 15  # a change reported later than this after it took effect is late
ACTIONS = {"": "update", "update": "update", "add": "update", "新增": "update", "修改": "update", "变更": "update",
           "remove": "remove", "delete": "remove", "删除": "remove", "撤销": "remove", "取消": "remove"}
LATE_RULE = "late_basic_info_change"


# 行政处罚 → penalty: a category may be written in Chinese
_CATEGORY_OF = {name: code for code, name in POWER_CATEGORY_NAMES.items()}


@dataclass(frozen=True)
class Spec:
    """One kind of basic information: its columns, the required ones, the key of an entry."""

    model: Any
    columns: tuple[str, ...]
    required: tuple[str, ...]
    key: tuple[str, ...]


SPECS = {
    "powers": Spec(Power, ("agency", "code", "name", "category", "legal_basis"),
                   ("agency", "code", "name", "category"), ("agency", "code")),
    "officers": Spec(Officer, ("agency", "name", "certificate_no", "valid_from", "valid_until", "suspended_from",
                               "suspended_until"),
                     ("agency", "name", "certificate_no", "valid_until"), ("certificate_no",)),
    "trainings": Spec(TrainingRecord, ("agency", "certificate_no", "name", "course", "organiser", "start_on", "end_on",
                                       "hours"),
                      ("agency", "certificate_no", "name", "course", "start_on", "end_on", "hours"),
                      ("certificate_no", "course", "start_on")),
    "exams": Spec(CertificateExam, ("agency", "name", "id_number", "exam_on", "result", "application", "certificate_no"),
                  ("agency", "name", "id_number", "exam_on", "result"), ("id_number", "exam_on")),
    "plans": Spec(InspectionPlan, ("agency", "code", "name", "year", "power_code", "planned", "start_on", "end_on"),
                  ("agency", "code", "name", "year", "start_on", "end_on"), ("agency", "code")),
}


# The header a person fills in, per kind, in Chinese (the templates use these; the English
# column names are still accepted).
HEADERS = {
    "powers": {"agency": "执法机关编码", "code": "职权编码", "name": "职权名称", "category": "类别",
               "legal_basis": "执法依据", "action": "操作"},
    "officers": {"agency": "执法机关编码", "name": "姓名", "certificate_no": "执法证号", "valid_from": "有效期起",
                 "valid_until": "有效期至", "suspended_from": "暂扣起", "suspended_until": "暂扣至", "action": "操作"},
    "trainings": {"agency": "执法机关编码", "certificate_no": "执法证号", "name": "姓名", "course": "培训课程",
                  "organiser": "主办单位", "start_on": "开始日期", "end_on": "结束日期", "hours": "学时", "action": "操作"},
    "exams": {"agency": "执法机关编码", "name": "姓名", "id_number": "身份证号", "exam_on": "考试日期", "result": "考试结果",
              "application": "申领状态", "certificate_no": "执法证号", "action": "操作"},
    "plans": {"agency": "执法机关编码", "code": "计划编码", "name": "计划名称", "year": "年度", "power_code": "职权编码",
              "planned": "计划次数", "start_on": "开始日期", "end_on": "结束日期", "action": "操作"},
}


def _column(kind: str, cell: str) -> str:
    """A header cell as the column it names: Chinese (this kind's or the general names) or English."""
    cell = cell.strip()
    for table in (HEADERS[kind], COLUMN_NAMES):
        for column, chinese in table.items():
            if cell == chinese:
                return column
    return cell.lower()


def spec(kind: str) -> Spec:
    if kind not in SPECS:
        raise NotFound(f"no kind of basic information {kind!r}")
    return SPECS[kind]


def read_table(data: bytes, filename: str, kind: str) -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8, with or without BOM) or XLSX file whose header row names the
    columns of ``kind`` (any order; ``action`` optional)."""
    s = spec(kind)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
            values = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise ValidationFailed(f"无法读取这个 XLSX 文件 / not a readable XLSX file: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("CSV 文件须为 UTF-8 编码（在表格软件中另存为“CSV UTF-8”） / a CSV file must be UTF-8 (save it as “CSV UTF-8”)") from exc
        values = [[v.strip() for v in row] for row in csv.reader(io.StringIO(text))]
    if not values:
        raise ValidationFailed("文件为空 / the file is empty")
    header = [_column(kind, h) for h in values[0]]
    missing = [c for c in s.required if c not in header]
    if missing:
        names = HEADERS[kind]
        raise ValidationFailed(f"表头缺少列：{'、'.join(names.get(c, c) for c in missing)}；应为 "
                               f"{'、'.join(names.get(c, c) for c in s.columns)} / the header row lacks the column(s) "
                               f"{', '.join(missing)}; expected {', '.join(s.columns)}")
    return [{h: (row[i] if i < len(row) else "") for i, h in enumerate(header)} for row in values[1:] if any(row)]


def read_file(path: str | Path, kind: str) -> list[dict[str, str]]:
    path = Path(path)
    return read_table(path.read_bytes(), path.name, kind)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _both(zh: str, en: str) -> str:
    """A row's problem as "中文 / English": the page shows the Chinese, the API and CLI both."""
    return f"{zh} / {en}"


def _col(name: str) -> str:
    """A column by its Chinese name."""
    return COLUMN_NAMES.get(name, name)


def _date(value: str, what: str, why: list[str]) -> str | None:
    if not value:
        return None
    import re

    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", value.strip())
    try:
        if m is None:
            raise ValueError(value)
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        why.append(_both(f"{_col(what)}应为日期（年-月-日），不能是“{value}”", f"{what} must be a date YYYY-MM-DD, not {value!r}"))
        return None


def check_rows(session: Session, kind: str, rows: list[dict[str, str]], only_agency: str | None = None,
               agencies: frozenset[str] | None = None) -> list[dict]:
    """The rows made clean (row numbers count the header as row 1), each with its ``action``;
    raises ValidationFailed naming every bad row. ``only_agency``: every row must be that
    agency's; ``agencies``: rows only for these (None: any agency)."""
    s = spec(kind)
    known = {o.code for o in session.scalars(select(Organisation).where(Organisation.level == "agency"))}
    errors: dict[str, list[str]] = {}
    seen: dict[tuple, int] = {}
    clean: list[dict[str, Any]] = []
    powers_of: dict[str, set[str]] = {}
    if kind == "plans":  # the powers of the agencies the rows name, to check each plan's power
        named = sorted({(r.get("agency") or "").strip() for r in rows})
        for a, c in session.execute(select(Power.agency_code, Power.code).where(Power.agency_code.in_(named))):
            powers_of.setdefault(a, set()).add(c)
    for i, r in enumerate(rows, start=2):
        why: list[str] = []
        row: dict[str, Any] = {c: (r.get(c) or "").strip() for c in s.columns}
        for c in s.key:  # a date in a key is compared as a date, whatever way it is written
            if c in DATE_COLUMNS and row[c]:
                row[c] = _date(row[c], c, why) or row[c]
        action = ACTIONS.get((r.get("action") or "").strip().lower())
        if action is None:
            why.append(_both(f"操作应为空（新增或修改）或“删除”，不能是“{r.get('action')}”",
                              f"action must be update or remove, not {r.get('action')!r}"))
        agency = row["agency"]
        if agency not in known:
            why.append(_both(f"没有编码为 {agency} 的执法机关", f"unknown agency {agency!r}") if agency
                        else _both("执法机关编码为空", "agency is empty"))
        elif only_agency is not None and agency != only_agency:
            why.append(_both(f"本单位的变更申请只能填写本单位（{only_agency}），不能填写 {agency}",
                              f"a change request of {only_agency} may only name {only_agency}, not {agency!r}"))
        elif agencies is not None and agency not in agencies:
            why.append(_both(f"执法机关 {agency} 不在您的管辖范围内", f"agency {agency!r} is outside your scope"))
        for c in s.key:
            if not row[c] or len(row[c]) > 64:
                why.append(_both(f"{_col(c)}为空或超过 64 个字符", f"{c} is empty or longer than 64 characters"))
        if action == "update":
            for c in s.required:
                if c not in s.key and c != "agency" and not row[c]:
                    why.append(_both(f"{_col(c)}为空", f"{c} is empty"))
            if len(row.get("name", "")) > 200:
                why.append(_both("名称超过 200 个字符", "name is longer than 200 characters"))
            if kind == "powers":
                row["category"] = _CATEGORY_OF.get(row["category"].strip(), row["category"].lower())
                if row["category"] not in POWER_CATEGORIES:
                    why.append(_both(f"类别应为 {'、'.join(f'{k}（{v}）' for k, v in POWER_CATEGORY_NAMES.items())} 之一，"
                                      f"不能是“{row['category']}”",
                                      f"category must be one of {', '.join(POWER_CATEGORIES)}, not {row['category']!r}"))
            elif kind == "officers":
                row["valid_from"] = _date(row["valid_from"], "valid_from", why)
                row["valid_until"] = _date(row["valid_until"], "valid_until", why)
                if row["valid_from"] and row["valid_until"] and row["valid_from"] > row["valid_until"]:
                    why.append(_both("有效期起晚于有效期至", "valid_from is after valid_until"))
                row["suspended_from"] = _date(row["suspended_from"], "suspended_from", why)
                row["suspended_until"] = _date(row["suspended_until"], "suspended_until", why)
                if row["suspended_until"] and not row["suspended_from"]:
                    why.append(_both("填写暂扣至时须填写暂扣起", "suspended_until without suspended_from"))
                elif row["suspended_from"] and row["suspended_until"] and row["suspended_from"] > row["suspended_until"]:
                    why.append(_both("暂扣起晚于暂扣至", "suspended_from is after suspended_until"))
            elif kind == "trainings":
                row["end_on"] = _date(row["end_on"], "end_on", why)
                if row["start_on"] and row["end_on"] and row["start_on"] > row["end_on"]:
                    why.append(_both("开始日期晚于结束日期", "start_on is after end_on"))
                try:
                    hours = float(row["hours"])
                except ValueError:
                    hours = -1.0
                if not 0 < hours <= 1000 or hours != hours:
                    why.append(_both(f"学时应为 0 到 1000 之间的数，不能是“{row['hours']}”",
                                      f"hours must be a number from 0 to 1000, not {row['hours']!r}"))
                for c in ("course", "organiser"):
                    if len(row[c]) > 200:
                        why.append(_both(f"{_col(c)}超过 200 个字符", f"{c} is longer than 200 characters"))
            elif kind == "exams":
                row["result"] = EXAM_RESULTS.get(row["result"], row["result"])
                if row["result"] not in EXAM_RESULT_NAMES:
                    why.append(_both(f"考试结果应为 通过、未通过 或 待考，不能是“{row['result']}”",
                                      f"result must be passed, failed or pending, not {row['result']!r}"))
                row["application"] = APPLICATIONS.get(row["application"], row["application"])
                if row["application"] not in APPLICATION_NAMES:
                    why.append(_both(f"申领状态应为 空、已申领、已发证 或 不予发证，不能是“{row['application']}”",
                                      f"application must be empty, applied, issued or refused, not {row['application']!r}"))
                if len(row["certificate_no"]) > 64:
                    why.append(_both("执法证号超过 64 个字符", "certificate_no is longer than 64 characters"))
            elif kind == "plans":
                if whole(row["year"], 2000, 2100) is None:
                    why.append(_both(f"年度应为四位年份，不能是“{row['year']}”", f"year must be a year, not {row['year']!r}"))
                if row["planned"] and whole(row["planned"]) is None:
                    why.append(_both(f"计划次数应为整数，不能是“{row['planned']}”",
                                      f"planned must be a whole number, not {row['planned']!r}"))
                row["start_on"] = _date(row["start_on"], "start_on", why)
                row["end_on"] = _date(row["end_on"], "end_on", why)
                if row["start_on"] and row["end_on"] and row["start_on"] > row["end_on"]:
                    why.append(_both("开始日期晚于结束日期", "start_on is after end_on"))
                if row["power_code"] and agency in powers_of and row["power_code"] not in powers_of[agency]:
                    why.append(_both(f"职权编码 {row['power_code']} 不在该单位的职权清单中",
                                      f"power_code {row['power_code']!r} is not one of the agency's powers"))
        key = tuple(row[c] for c in s.key)
        if key in seen:
            why.append(_both(f"与第 {seen[key]} 行的{'、'.join(_col(c) for c in s.key)}重复",
                              f"the same {' and '.join(s.key)} as row {seen[key]}"))
        seen.setdefault(key, i)
        if why:
            errors[f"row {i}"] = why
        else:
            clean.append(row | {"action": action})
    if errors:
        raise ValidationFailed(f"有 {len(errors)} 行不符合要求，整个文件未导入，请改正后重新提交 / "
                               f"{len(errors)} bad row(s); nothing was imported: " + "; ".join(
            f"{row}: {', '.join(why)}" for row, why in errors.items()), errors)
    return clean


DATE_COLUMNS = frozenset({"valid_from", "valid_until", "start_on", "end_on", "exam_on", "suspended_from",
                          "suspended_until"})
EXAM_RESULT_NAMES = {"passed": "通过", "failed": "未通过", "pending": "待考"}
EXAM_RESULTS = {"通过": "passed", "合格": "passed", "未通过": "failed", "不合格": "failed", "待考": "pending",
                "待定": "pending", "": "pending"}
APPLICATION_NAMES = {"": "未申领", "applied": "已申领，待发证", "issued": "已发证", "refused": "不予发证"}
APPLICATIONS = {"未申领": "", "已申领": "applied", "审核中": "applied", "已申领，待发证": "applied", "已发证": "issued",
                "不予发证": "refused"}


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _values(kind: str, row: dict) -> dict:
    if kind == "trainings":
        from decimal import Decimal

        return {"agency_code": row["agency"], "name": row["name"], "organiser": row["organiser"],
                "end_on": _day(row["end_on"]), "hours": Decimal(row["hours"]).quantize(Decimal("0.1"))}
    if kind == "exams":
        return {"agency_code": row["agency"], "name": row["name"], "result": row["result"],
                "application": row["application"], "certificate_no": row["certificate_no"]}
    if kind == "powers":
        return {"name": row["name"], "category": row["category"], "legal_basis": row["legal_basis"]}
    if kind == "officers":
        return {"agency_code": row["agency"], "name": row["name"],
                "valid_from": dt.date.fromisoformat(row["valid_from"]) if row["valid_from"] else None,
                "valid_until": dt.date.fromisoformat(row["valid_until"]),
                "suspended_from": _day(row.get("suspended_from")), "suspended_until": _day(row.get("suspended_until"))}
    return {"name": row["name"], "year": int(row["year"]), "power_code": row["power_code"],
            "planned": int(row["planned"]) if row["planned"] else None,
            "start_on": dt.date.fromisoformat(row["start_on"]), "end_on": dt.date.fromisoformat(row["end_on"])}


def _key(kind: str, row: dict) -> dict:
    """The entry's key as model attributes (dates as dates)."""
    return {("agency_code" if c == "agency" else c): (_day(row[c]) if c in DATE_COLUMNS else row[c])
            for c in spec(kind).key}


def _where(kind: str, row: dict):
    m = spec(kind).model
    return tuple(getattr(m, k) == v for k, v in _key(kind, row).items())


def apply_rows(session: Session, kind: str, clean: list[dict]) -> dict[str, int]:
    """Apply checked rows in the caller's transaction: {added, updated, removed}. A race with
    another import of the same entries ends in Conflict (nothing applied)."""
    m = spec(kind).model
    counts = {"added": 0, "updated": 0, "removed": 0}
    try:
        for row in clean:
            if row["action"] == "remove":
                counts["removed"] += session.connection().execute(delete(m).where(*_where(kind, row))).rowcount
                continue
            values = _values(kind, row)
            if session.connection().execute(update(m).where(*_where(kind, row)).values(**values)).rowcount:
                counts["updated"] += 1
                continue
            key = _key(kind, row)
            with session.begin_nested():
                session.add(m(**key, **values))
            counts["added"] += 1
    except IntegrityError as exc:  # another import added one of these entries meanwhile
        session.rollback()
        raise Conflict("另一次导入同时写入了相同的条目，请重新导入 / another import wrote the same entries "
                       "at the same time; run the import again") from exc
    return counts


def import_rows(session: Session, kind: str, rows: list[dict[str, str]],
                agencies: frozenset[str] | None = None) -> dict[str, int]:
    """Check and apply ``rows`` directly (district or city office, or the command line)."""
    return apply_rows(session, kind, check_rows(session, kind, rows, agencies=agencies))


# -- change requests --------------------------------------------------------------------------

def submit_change(session: Session, agency: str, kind: str, rows: list[dict[str, str]], effective_on: dt.date,
                  reason: str, by: str, now: dt.datetime, filename: str = "") -> BasicInfoChange:
    """An agency's change request, checked now (a bad file is refused with its rows named) and
    applied when approved. Late (> 15 days after ``effective_on``): a warning on the agency."""
    if not reason.strip():
        raise ValidationFailed("请写明变更事由 / a reason is required", {"reason": [REQUIRED]})
    today = now.astimezone(SHANGHAI).date()
    if effective_on > today + dt.timedelta(days=366):
        raise ValidationFailed("生效日期不能晚于一年以后 / effective_on more than a year ahead",
                               {"effective_on": ["too far ahead"]})
    clean = check_rows(session, kind, rows, only_agency=agency)
    if not clean:
        raise ValidationFailed("文件没有数据行 / the file has no rows")
    late = (today - effective_on).days > LATE_AFTER_DAYS
    change = BasicInfoChange(agency_code=agency, kind=kind, rows=json.dumps(clean, ensure_ascii=False),
                             filename=filename[:255], effective_on=effective_on, reason=reason.strip(),
                             submitted_by=by, submitted_at=now, late=late, status="pending")
    session.add(change)
    session.flush()
    if late:
        change.warning_id = _late_warning(session, change, today)
    return change


def _late_warning(session: Session, change: BasicInfoChange, today: dt.date) -> int | None:
    from archive.deadlines.calendar import CalendarMissing
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import handling_due

    try:
        due = handling_due(load_calendar(session), load_rules(), 1, change.submitted_at)
    except CalendarMissing:
        due = None
    days = (today - change.effective_on).days
    w = WarningRecord(rule=LATE_RULE, fact_key=f"change:{change.id}", case_id=None, agency_code=change.agency_code,
                      stage=None, level=1, status="open", opened_at=change.submitted_at, due_at=due,
                      message=f"基础信息变更（{KIND_NAMES[change.kind]}）于 {change.effective_on:%Y-%m-%d} 生效，"
                              f"{today:%Y-%m-%d} 才报送，晚于生效后 {LATE_AFTER_DAYS} 日（迟报 {days} 日）。")
    session.add(w)
    session.flush()
    return w.id


def decide_change(session: Session, change: BasicInfoChange, approve: bool, by: str, note: str,
                  now: dt.datetime) -> dict[str, int] | None:
    """Approve (apply the rows, checked again against today's data) or reject with a reason;
    exactly once: a decision taken already (by anyone) raises Conflict."""
    if not approve and not note.strip():
        raise ValidationFailed("退回须写明理由 / a rejection needs a reason", {"note": [REQUIRED]})
    # The status moves first (a row lock on PostgreSQL, the write lock on SQLite): of two
    # decisions at once one wins, and the rows are applied in the winner's transaction only.
    done = session.connection().execute(update(BasicInfoChange).where(
        BasicInfoChange.id == change.id, BasicInfoChange.status == "pending").values(
        status="approved" if approve else "rejected", decided_by=by, decided_at=now,
        decision_note=note.strip() or None)).rowcount
    if not done:
        session.rollback()
        raise Conflict("这项变更申请已被处理 / the change request was decided already")
    if not approve:
        return None
    try:  # checked again: the agencies and powers may have changed since the request
        return apply_rows(session, change.kind, check_rows(session, change.kind, change_rows(change),
                                                           only_agency=change.agency_code))
    except ValidationFailed:
        session.rollback()
        raise


def change_rows(change: BasicInfoChange) -> list[dict]:
    return json.loads(change.rows)


def current_entries(session: Session, kind: str, agency: str) -> dict[tuple, dict]:
    """The agency's entries of ``kind`` by key, as rows (to show a request's differences)."""
    s = spec(kind)
    out = {}
    e: Any
    for e in session.scalars(select(s.model).where(s.model.agency_code == agency)):
        row = entry_row(kind, e)
        out[tuple(row[c] for c in s.key)] = row
    return out


def entry_row(kind: str, e) -> dict:
    if kind == "powers":
        return {"agency": e.agency_code, "code": e.code, "name": e.name, "category": e.category,
                "legal_basis": e.legal_basis}
    if kind == "officers":
        return {"agency": e.agency_code, "name": e.name, "certificate_no": e.certificate_no,
                "valid_from": e.valid_from.isoformat() if e.valid_from else None,
                "valid_until": e.valid_until.isoformat(),
                "suspended_from": e.suspended_from.isoformat() if e.suspended_from else None,
                "suspended_until": e.suspended_until.isoformat() if e.suspended_until else None}
    if kind == "trainings":
        return {"agency": e.agency_code, "certificate_no": e.certificate_no, "name": e.name, "course": e.course,
                "organiser": e.organiser, "start_on": e.start_on.isoformat(), "end_on": e.end_on.isoformat(),
                "hours": f"{float(e.hours):g}"}
    if kind == "exams":
        return {"agency": e.agency_code, "name": e.name, "id_number": e.id_number, "exam_on": e.exam_on.isoformat(),
                "result": e.result, "application": e.application, "certificate_no": e.certificate_no}
    return {"agency": e.agency_code, "code": e.code, "name": e.name, "year": str(e.year), "power_code": e.power_code,
            "planned": "" if e.planned is None else str(e.planned), "start_on": e.start_on.isoformat(),
            "end_on": e.end_on.isoformat()}


def differences(session: Session, change: BasicInfoChange) -> list[dict]:
    """Each row of the request against today's entry: 新增, 修改 (with the fields that change),
    删除, or 无变化."""
    s = spec(change.kind)
    now_rows = current_entries(session, change.kind, change.agency_code)
    out = []
    for row in change_rows(change):
        key = tuple(row[c] for c in s.key)
        before = now_rows.get(key)
        if row["action"] == "remove":
            what, fields = ("删除" if before else "删除（已不存在）"), list[str]()
        elif before is None:
            what, fields = "新增", []
        else:
            fields = [c for c in s.columns if c != "agency" and (before.get(c) or "") != (row.get(c) or "")]
            what = "修改" if fields else "无变化"
        out.append({"row": row, "before": before, "change": what, "fields": fields})
    return out


def list_entries(session: Session, kind: str, agencies: frozenset[str] | None, agency: str | None = None,
                 offset: int = 0, limit: int = 100) -> tuple[int, list]:
    """(total, page) of the entries of ``kind`` in scope, by agency and key."""
    s = spec(kind)
    m = s.model
    q: Any = select(m)
    if agencies is not None:
        q = q.where(m.agency_code.in_(sorted(agencies)))
    if agency is not None:
        q = q.where(m.agency_code == agency)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    order = [getattr(m, c) for c in {"officers": ("agency_code", "certificate_no"),
                                      "trainings": ("agency_code", "certificate_no", "start_on"),
                                      "exams": ("agency_code", "exam_on", "id_number")}.get(kind, ("agency_code", "code"))]
    return total, list(session.scalars(q.order_by(*order).offset(offset).limit(limit)))


def template_csv(kind: str) -> bytes:
    """A CSV with the header row of ``kind`` and one example row, for agencies to fill in."""
    s = spec(kind)
    example = {
        "powers": ["A-EXAMPLE", "SJ-001", "对销售过期食品的处罚", "行政处罚", "《食品安全法》第一百二十四条", ""],
        "officers": ["A-EXAMPLE", "张某某", "12010000001", "2024-01-01", "2029-12-31", "", "", ""],
        "trainings": ["A-EXAMPLE", "12010000001", "张某某", "行政执法人员公共法律知识培训", "区司法局", "2026-03-02",
                      "2026-03-06", "40", ""],
        "exams": ["A-EXAMPLE", "李某某", "120114199001011234", "2026-06-20", "通过", "已申领", "", ""],
        "plans": ["A-EXAMPLE", "JH-2026-01", "2026年食品经营日常检查计划", "2026", "SJ-003", "120", "2026-01-01",
                  "2026-12-31", ""],
    }[kind]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([HEADERS[kind].get(c, c) for c in s.columns] + [HEADERS[kind]["action"]])
    w.writerow(example)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def expiring(session: Session, agencies: frozenset[str] | None, today: dt.date, within_days: int = 30) -> dict:
    """Officers whose certificate has lapsed, or lapses within ``within_days``."""
    q = select(Officer).where(Officer.valid_until < today + dt.timedelta(days=within_days))
    if agencies is not None:
        q = q.where(Officer.agency_code.in_(sorted(agencies)))
    rows = list(session.scalars(q.order_by(Officer.valid_until)))
    return {"lapsed": [o for o in rows if o.valid_until < today], "soon": [o for o in rows if o.valid_until >= today]}


def pending_changes(session: Session, agencies: frozenset[str] | None) -> int:
    q = select(func.count()).select_from(BasicInfoChange).where(BasicInfoChange.status == "pending")
    if agencies is not None:
        q = q.where(BasicInfoChange.agency_code.in_(sorted(agencies)))
    return session.scalar(q) or 0


# -- use cases: the API and the pages call these with the request's Caller ----------------------

MAX_TABLE_BYTES = 10 * 1024 * 1024


def table_rows(upload, kind: str) -> list[dict[str, str]]:
    if not upload.filename:
        raise ValidationFailed("file has no filename", {"file": [MISSING_FILENAME]})
    data = upload.read(MAX_TABLE_BYTES + 1)
    if len(data) > MAX_TABLE_BYTES:
        raise ValidationFailed("表格文件不能超过 10 MB / a table of basic information is at most 10 MB", {"file": ["too large"]})
    return read_table(data, upload.filename, kind)


def scoped_change(c: Caller, change_id: int) -> BasicInfoChange:
    change = c.session.get(BasicInfoChange, change_id)
    if change is None or not policy.reads_agency(c.principal, change.agency_code):
        c.refuse("basic_info_change", str(change_id), visible=False, why="no such change request in scope")
    assert change is not None
    return change


def reader(c: Caller) -> Principal:
    p = c.principal
    if not policy.reads_stats(p):
        c.refuse("basic_info", "list", visible=True, why=f"a {p.role} does not read basic information")
    return p


def submit(c: Caller, kind: str, upload, effective_on: dt.date, reason: str) -> BasicInfoChange:
    """The agency of the caller submits a change request (the API and the page ask through here)."""
    p = c.principal
    if not policy.requests_basic_info_change(p) or not p.scope_code:
        c.refuse("basic_info_change", kind, visible=True, why="change requests come from an agency")
    assert p.scope_code is not None
    session = c.session
    change = submit_change(session, p.scope_code, kind, table_rows(upload, kind), effective_on, reason,
                                p.username, server_now(), filename=upload.filename or "")
    session.commit()
    c.audit("basic_info.change_request", "basic_info_change", str(change.id), kind=kind, late=change.late,
                effective_on=effective_on.isoformat())
    return change


def decide(c: Caller, change_id: int, approve: bool, note: str) -> tuple[BasicInfoChange, dict | None]:
    """The district office decides a pending request (exactly once)."""
    p = c.principal
    change = scoped_change(c, change_id)
    if not policy.decides_basic_info_change(p, change.agency_code):
        c.refuse("basic_info_change", str(change_id), visible=True, why="the agency's district office decides")
    session = c.session
    counts = decide_change(session, change, approve, p.username, note, server_now())
    session.commit()
    session.refresh(change)
    c.audit("basic_info.change_decision", "basic_info_change", str(change.id), approve=approve, note=note,
                **(counts or {}))
    return change, counts


def import_table(c: Caller, kind: str, upload) -> dict:
    """The district office (its agencies) or the city office (all) imports a table directly: all
    or nothing, every bad row named; audited."""
    p = c.principal
    if not policy.imports_basic_info(p):
        c.refuse("basic_info", kind, visible=True, why="agencies ask for changes; the district office imports")
    if upload is None or not upload.filename:
        raise ValidationFailed(MISSING_FILENAME, {"file": [MISSING_FILENAME]})
    with c.transaction():
        counts = import_rows(c.session, kind, table_rows(upload, kind), agencies=p.agencies)
    c.audit("basic_info.import", "basic_info", kind, filename=upload.filename, **counts)
    return counts


def enter_row(c: Caller, kind: str, values: dict[str, str]) -> dict:
    """One entry typed on the page (a training attended, an exam taken): checked and applied as a
    one-row table by whoever imports; audited."""
    p = c.principal
    if not policy.imports_basic_info(p):
        c.refuse("basic_info", kind, visible=True, why="agencies ask for changes; the district office imports")
    row = {col: (values.get(col) or "").strip() for col in spec(kind).columns}
    with c.transaction():
        counts = import_rows(c.session, kind, [row], agencies=p.agencies)
    c.audit("basic_info.import", "basic_info", kind, filename="(entered on the page)", **counts)
    return counts
