"""The rules of 归档 as data (``forms/archival.json``): the 档号 pattern, the 保管期限 rules, the
GB/T 18894 metadata of a document — what both the filing and the four-property check use."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import forms
from archive.clock import SHANGHAI
from archive.errors import ValidationFailed
from archive.models import Case, Document, Examination

RULES_FILE = Path(forms.__file__).with_name("archival.json")
PERIOD_CODES = ("Y", "D30", "D10")


@dataclass(frozen=True)
class ArchivalRules:
    """The rules of 归档, as data."""

    category: str
    pattern: str
    fonds: dict[str, str]
    periods: dict[str, tuple[str, int | None]]  # code -> (name, years; None: 永久)
    rules: tuple[dict[str, Any], ...]
    required_metadata: tuple[str, ...]

    def period_name(self, code: str) -> str:
        return self.periods[code][0]

    def fonds_of(self, agency_code: str) -> str:
        return self.fonds.get(agency_code, agency_code)

    def number(self, agency_code: str, year: int, retention: str, piece: int) -> str:
        """The 档号 of one file by the pattern (DA/T 13 style)."""
        return self.pattern.format(**{"全宗号": self.fonds_of(agency_code), "门类": self.category, "年度": year,
                                      "保管期限代码": retention, "件号": piece})

    def number_regex(self) -> re.Pattern[str]:
        """What a well-formed 档号 of this pattern looks like (the check's 档号规范性)."""
        return number_regex(self.pattern, self.category, list(self.periods))


def number_regex(pattern: str, category: str | None, periods: list[str]) -> re.Pattern[str]:
    """A 档号 pattern as a regular expression (``category`` None: any upper-case class code) —
    also what a transfer package's receiver checks, from the pattern written in the package."""
    out, pos = "", 0
    for m in re.finditer(r"\{([^{}:]+)(?::[^{}]*)?\}", pattern):
        out += re.escape(pattern[pos:m.start()])
        out += {"全宗号": r"[0-9A-Za-z\-]+", "门类": re.escape(category) if category else r"[A-Z]+",
                "年度": r"(?:19|20|21)\d\d", "保管期限代码": "(?:" + "|".join(map(re.escape, periods)) + ")",
                "件号": r"\d{4,}"}.get(m.group(1), ".+")
        pos = m.end()
    return re.compile(out + re.escape(pattern[pos:]) + r"\Z")


@lru_cache(maxsize=8)
def load_rules(path: str | None = None) -> ArchivalRules:
    data = json.loads(Path(path or RULES_FILE).read_text(encoding="utf-8"))
    periods = {code: (p["name"], p["years"]) for code, p in data["retention"]["periods"].items()}
    return ArchivalRules(category=data["category"], pattern=data["pattern"], fonds=dict(data.get("fonds") or {}),
                         periods=periods, rules=tuple(data["retention"]["rules"]),
                         required_metadata=tuple(data["required_metadata"]))


def closed_on(case: Case) -> dt.date | None:
    """The day the case was closed (its 结案 stage), in Beijing time."""
    closing = next((s for s in case.stages if s.stage == "closing"), None)
    return closing.completed_at.astimezone(SHANGHAI).date() if closing else None


def is_major(case: Case) -> bool:
    from archive.deadlines.rules import load_rules as deadline_rules

    day = closed_on(case) or case.opened_on
    ruleset = deadline_rules().at(day)
    return ruleset.is_major(json.loads(case.penalty_types or "[]"), case.fine_amount, case.party_type, case.sector)


def retention_for(case: Case, rules: ArchivalRules) -> tuple[str, str]:
    """(保管期限代码, why) by the first rule whose conditions all hold."""
    facts = {"major": is_major(case), "kind": case.kind, "procedure": case.procedure}
    for rule in rules.rules:
        if all(facts.get(k) == v for k, v in rule["when"].items()):
            return rule["period"], rule.get("why", "")
    raise ValidationFailed("no retention rule fits the case", {"retention": ["保管期限规则未覆盖此案件"]})


def retain_until(closed: dt.date, retention: str, rules: ArchivalRules, permanent_years: int) -> dt.date:
    """The last day of the retention period, counted from the 1st of January after the year of
    closing (as 保管期限 are counted); 永久 stands for ``permanent_years`` in object lock."""
    years = rules.periods[retention][1] or permanent_years
    return dt.date(closed.year + 1 + years, 1, 1) - dt.timedelta(days=1)


EDITABLE = ("题名", "文件编号", "责任者", "密级")  # what the agency may set before filing
CLASSIFICATIONS = ("非密", "秘密", "机密", "绝密")


def document_metadata(case: Case, doc: Document, exam: Examination | None, archival_no: str, seq: int,
                      retention_name: str, agency_name: str, creator: str | None = None,
                      edited: dict[str, str] | None = None) -> dict[str, Any]:
    """The GB/T 18894-2016 minimum metadata of one document, from what the archive knows and
    what the agency set before filing (``edited``: 题名, 文件编号, 责任者, 密级)."""
    from archive.labels import form_name

    stage = next((s for s in case.stages if s.stage == doc.stage), None)
    when = (stage.completed_at if stage else doc.uploaded_at).astimezone(SHANGHAI).date()
    fmt = (f"{exam.format_name} {exam.format_version}".strip() + (f"（{exam.puid}）" if exam.puid else "")) \
        if exam is not None else doc.media_type
    digests = f"SHA-256:{doc.sha256}" + (f"；SM3:{doc.sm3}" if doc.sm3 else "")
    return {"题名": f"{form_name(doc.form_code)}（{case.party_name or case.number}）", "文件编号": case.number,
            "责任者": agency_name, "日期": when.isoformat(), "保管期限": retention_name, "密级": "非密",
            "档号": archival_no, "件内顺序号": seq, "格式信息": fmt, "计算机文件名": doc.filename,
            "计算机文件大小": doc.size, "文档创建程序": creator or "未记录", "数字摘要": digests,
            **{k: v for k, v in (edited or {}).items() if k in EDITABLE}}


def metadata_problems(meta: dict[str, Any], rules: ArchivalRules) -> list[str]:
    """Required elements that are missing or empty."""
    return [name for name in rules.required_metadata if meta.get(name) in (None, "")]


