"""Deadline and warning rules, kept as data in ``forms/rules.json`` with effective dates."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import forms

RULES_FILE = Path(forms.__file__).with_name("rules.json")


@dataclass(frozen=True)
class Period:
    """A number of days and how they are counted."""

    days: int
    unit: str  # "working" or "calendar"


@dataclass(frozen=True, eq=False)  # hashed by identity: rule versions are cached
class RuleSet:
    """One version of the rules."""

    effective_from: dt.date
    source: str
    data: dict[str, Any]

    def upload_deadline(self, kind: str, stage: str) -> Period | None:
        return _upload_deadline(self, kind, stage)

    def required_forms(self, stage: str) -> list[frozenset[str]]:
        """Each entry is a set of alternatives, one of which must be present."""
        return _required_forms(self, stage)

    @property
    def decision_within(self) -> tuple[str, Period]:
        d = self.data["decision_within"]
        return d["after"], Period(d["days"], d["unit"])

    def two_officers(self, stage: str) -> bool:
        """The stage needs at least two officers (两人执法)."""
        return stage in (self.data.get("officers") or {}).get("at_least_two", [])

    @property
    def officers_checked_from(self) -> dt.date | None:
        """Acts from this day on are checked for their officers (None: never)."""
        day = (self.data.get("officers") or {}).get("checked_from")
        return dt.date.fromisoformat(day) if day else None

    def prerequisites(self, stage: str) -> list[str]:
        return list(self.data["stage_prerequisites"].get(stage, []))

    def is_major(self, penalty_types: list[str], fine: int | None, party_type: str, sector: str) -> bool:
        """重大案件: a major penalty type, or a fine reaching the sector's hearing threshold."""
        m = self.data["major_case"]
        if set(penalty_types) & set(m["penalty_types"]):
            return True
        table = m["hearing_thresholds"].get(sector) or m["hearing_thresholds"]["default"]
        return fine is not None and fine >= table[party_type]

    @property
    def sectors(self) -> frozenset[str]:
        """Sectors with a hearing-threshold table of their own ("" and "default": the general one)."""
        keys = set(self.data["major_case"]["hearing_thresholds"]) - {"note"}
        return frozenset(keys | {""})

    @property
    def filing_record(self) -> tuple[str, str, Period]:
        """(form code, stage it follows, period) of the 备案 to the district legal office."""
        f = self.data["major_case"]["filing_record"]
        return f["form"], f["after"], Period(f["within"]["days"], f["within"]["unit"])

    def escalation(self, level: int) -> Period | None:
        p = self.data["escalation"].get(str(level))
        return Period(p["days"], p["unit"]) if p else None


@lru_cache(maxsize=1024)
def _upload_deadline(ruleset: RuleSet, kind: str, stage: str) -> Period | None:
    p = ruleset.data["upload_deadline"].get(kind, {}).get(stage)
    return Period(p["days"], p["unit"]) if p else None


@lru_cache(maxsize=256)
def _required_forms(ruleset: RuleSet, stage: str) -> list[frozenset[str]]:
    return [frozenset(alt.split("|")) for alt in ruleset.data["required_forms"].get(stage, [])]


class Rules:
    """All versions; ``at(day)`` is the version in force on ``day``."""

    def __init__(self, versions: list[RuleSet]) -> None:
        self.versions = sorted(versions, key=lambda v: v.effective_from)
        if not self.versions:
            raise ValueError("no rule versions")

    def at(self, day: dt.date) -> RuleSet:
        current = self.versions[0]
        for v in self.versions[1:]:
            if v.effective_from > day:
                break
            current = v
        return current


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> Rules:
    """The rules from ``path`` or the bundled ``forms/rules.json``."""
    data = json.loads(Path(path or RULES_FILE).read_text(encoding="utf-8"))
    return Rules([RuleSet(dt.date.fromisoformat(v["effective_from"]), v.get("source", ""), v)
                  for v in data["versions"]])
