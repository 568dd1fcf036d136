"""Review scoring (评查) with the scoring form kept as data in ``forms/review_form.json``. Pure."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import forms
from archive.errors import ValidationFailed

FORM_FILE = Path(forms.__file__).with_name("review_form.json")
FAIL = "不合格"


@dataclass(frozen=True)
class Score:
    vetoed: list[str]
    deductions: list[dict]
    form_score: float
    content_score: float
    score: float
    grade: str


@lru_cache(maxsize=4)
def load_form(path: str | None = None) -> dict[str, Any]:
    form = json.loads(Path(path or FORM_FILE).read_text(encoding="utf-8"))
    bounds = [g["min"] for g in form["grades"]]
    if bounds != sorted(bounds, reverse=True) or bounds[-1] != 0:
        raise ValueError("grades must be listed from the highest lower bound down to 0")
    if sum(s["points"] for s in form["sections"]) != 100:
        raise ValueError("the sections' points must add up to 100")
    return form


def grade_for(form: dict, score: float) -> str:
    for g in form["grades"]:
        if score >= g["min"]:
            return g["grade"]
    return form["grades"][-1]["grade"]  # pragma: no cover - the last bound is 0


def score(form: dict, vetoed: list[str], deductions: list[dict]) -> Score:
    """A failed veto item makes the file 不合格 with 0; otherwise each section's points less its
    deductions, never below zero. Every deduction names a known item, its points and a reason."""
    errors: dict[str, list[str]] = {}
    veto_codes = {v["code"] for v in form["veto"]}
    unknown = sorted(set(vetoed) - veto_codes)
    if unknown:
        errors["vetoed"] = [f"unknown veto item {c}" for c in unknown]
    items = {i["code"]: (s["code"], i["max"]) for s in form["sections"] for i in s["items"]}
    taken: dict[str, float] = {s["code"]: 0.0 for s in form["sections"]}
    per_item: dict[str, float] = {}
    clean = []
    for n, d in enumerate(deductions):
        code, points, reason = str(d.get("item")), d.get("points"), str(d.get("reason") or "").strip()
        where = f"deductions[{n}]"
        if code not in items:
            errors.setdefault(where, []).append(f"unknown item {code!r}")
            continue
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            errors.setdefault(where, []).append("points must be a positive number")
            continue
        if not reason:
            errors.setdefault(where, []).append("a deduction needs its reason")
            continue
        section, most = items[code]
        per_item[code] = per_item.get(code, 0.0) + float(points)
        if per_item[code] > most:
            errors.setdefault(where, []).append(f"item {code} allows at most {most} points")
            continue
        taken[section] += float(points)
        clean.append({"item": code, "points": float(points), "reason": reason})
    if errors:
        raise ValidationFailed("the score does not fit the scoring form", errors)
    if vetoed:
        return Score(sorted(set(vetoed)), clean, 0.0, 0.0, 0.0, FAIL)
    points = {s["code"]: max(0.0, s["points"] - taken[s["code"]]) for s in form["sections"]}
    total = sum(points.values())
    return Score([], clean, points.get("form", 0.0), points.get("content", 0.0), total, grade_for(form, total))
