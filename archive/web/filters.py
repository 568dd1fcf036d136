"""Template filters: times in Beijing time, sizes, and codes shown by their Chinese names."""
from __future__ import annotations

import datetime as dt

from archive.labels import (
    AMENDMENT_STATUS_NAMES, KIND_NAMES, LEVEL_NAMES, PENALTY_NAMES, PROCEDURE_NAMES, ROLE_NAMES, RULE_NAMES,
    TEXT_STATUS_NAMES, WARNING_STATUS_NAMES, form_name, stage_name,
)
from archive.clock import local
from archive.web.blueprint import bp


@bp.app_template_filter("when")
def when(value: dt.datetime | str | None) -> str:
    """2026-11-27 15:04 in Beijing time ("—" when unknown)."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return f"{local(value):%Y-%m-%d %H:%M}"


@bp.app_template_filter("day")
def day(value: dt.date | dt.datetime | str | None) -> str:
    if not value:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = local(value).date()  # type: ignore[union-attr]
    return f"{value:%Y-%m-%d}"


@bp.app_template_filter("size")
def size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


NAMES = {"stage": None, "form": None, "kind": KIND_NAMES, "procedure": PROCEDURE_NAMES, "role": ROLE_NAMES,
         "rule": RULE_NAMES, "wstatus": WARNING_STATUS_NAMES, "astatus": AMENDMENT_STATUS_NAMES,
         "tstatus": TEXT_STATUS_NAMES, "level": LEVEL_NAMES, "penalty": PENALTY_NAMES}


def _register(name: str, table) -> None:
    def show(code) -> str:
        if name == "stage":
            return stage_name(code)
        if name == "form":
            return form_name(code) if code else ""
        return table.get(code, str(code) if code is not None else "")
    bp.add_app_template_filter(show, "zh_" + name)


for _name, _table in NAMES.items():
    _register(_name, _table)


@bp.app_template_filter("fromjson")
def fromjson(text: str | None):
    import json

    return json.loads(text) if text else None


@bp.app_template_filter("penalties")
def penalties(case) -> str:
    """What a decision imposed, in Chinese: every penalty type, the fine with its amount
    (责令停产停业、罚款 50,000 元); empty when nothing was recorded."""
    import json

    from archive.labels import PENALTY_NAMES

    kinds = json.loads(case.penalty_types or "[]")
    parts = [PENALTY_NAMES.get(k, k) for k in kinds if k != "fine"]
    if case.fine_amount or "fine" in kinds:
        parts.append(f"罚款 {case.fine_amount:,} 元" if case.fine_amount else "罚款")
    return "、".join(parts)


@bp.app_template_filter("text_reason")
def text_reason_filter(reason: str | None, status: str | None = None) -> tuple[str, str]:
    """(Chinese reason, folded technical detail) of a document's text status."""
    from archive.labels import text_reason

    return text_reason(reason, status)


@bp.app_template_filter("ocr_engine")
def ocr_engine_filter(engine: str | None) -> str:
    from archive.labels import ocr_engine_name

    return ocr_engine_name(engine)


@bp.app_template_filter("audit_action")
def audit_action_filter(code: str | None) -> str:
    from archive.labels import audit_action_name

    return audit_action_name(code)


@bp.app_template_filter("review_item")
def review_item(code: str | None) -> str:
    """An item of the scoring form by its code and its text (``F1 使用规范执法文书格式``)."""
    from archive.sampling.scoring import load_form

    form = load_form()
    texts = {v["code"]: v["text"] for v in form.get("veto", [])}
    for section in form.get("sections", []):
        texts.update({i["code"]: i["text"] for i in section.get("items", [])})
    return f"{code} {texts[code]}" if code in texts else (code or "")


@bp.app_template_filter("vetoed_items")
def vetoed_items(vetoed: str | None) -> list[str]:
    """The veto items a review failed (stored as a JSON list of codes), each with its text."""
    import json

    try:
        codes = json.loads(vetoed or "[]")
    except ValueError:
        return []
    return [review_item(c) for c in codes if isinstance(c, str)]


def _people() -> dict[str, tuple[str, str]]:
    """username → (display name, organisation name), read once per request."""
    from flask import g
    from sqlalchemy import select

    from archive.extension import db
    from archive.models import Organisation, User

    people = g.get("_people")
    if people is None:
        orgs: dict[str, str] = {c: n for c, n in db().execute(select(Organisation.code, Organisation.name))}
        people = {u: (d, orgs.get(s or "", "")) for u, d, s in db().execute(
            select(User.username, User.display_name, User.scope_code)).all()}
        g._people = people
    return people


@bp.app_template_filter("person")
def person(username: str | None, with_login: bool = False) -> str:
    """A person as people know them: display name and organisation (``张丽（武清区市场监督管理局）``);
    the login name only where none is recorded, or beside it for auditors (``with_login``)."""
    if not username:
        return "—"
    people = _people()
    if username not in people:
        return username  # 系统, the command line, a name given as text (批准的负责人)
    display, org = people[username]
    name = display or username
    if with_login and display:
        name = f"{display}〔{username}〕"
    return f"{name}（{org}）" if org else name


@bp.app_template_filter("person_name")
def person_name(username: str | None) -> str:
    """The display name alone, where the organisation stands beside it already."""
    if not username:
        return "—"
    display, _ = _people().get(username, ("", ""))
    return display or username


@bp.app_template_filter("zh_half")
def zh_half(message: str | None) -> str:
    """The Chinese half of a "中文 / English" message."""
    from archive.web.layout import zh

    return zh(message or "")


@bp.app_template_filter("signed_at")
def signed_at(value: str | None) -> str:
    """A signature's time as it states it, in Beijing time when it is a full time stamp."""
    if not value:
        return "—"
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return when(t) if t.tzinfo is not None else f"{t:%Y-%m-%d %H:%M}"


@bp.app_template_filter("signer")
def signer(subject: str | None) -> str:
    """A certificate subject ("Common Name: 张三, Organization: 某局, …") as 张三（某局）."""
    parts = dict(p.split(": ", 1) for p in (subject or "").split(", ") if ": " in p)
    name, org = parts.get("Common Name", ""), parts.get("Organization", "")
    if not name:
        return subject or "—"
    return f"{name}（{org}）" if org else name
