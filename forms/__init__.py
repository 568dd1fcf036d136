"""The catalog of enforcement document forms (执法文书): which form is used at which stage.

The catalog is data (``catalog.json``), not code: local template sets differ and change.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CATALOG = Path(__file__).with_name("catalog.json")


@dataclass(frozen=True)
class Form:
    """One document form: a stable code, its Chinese name and the stages it belongs to."""

    code: str
    name: str
    stages: tuple[str, ...]


@lru_cache(maxsize=4)
def load_catalog(path: str | None = None) -> dict[str, Form]:
    """Forms by code, from ``path`` or the bundled catalog."""
    data = json.loads(Path(path or CATALOG).read_text(encoding="utf-8"))
    forms = {}
    for item in data["forms"]:
        form = Form(item["code"], item["name"], tuple(item["stages"]))
        if form.code in forms:
            raise ValueError(f"form code {form.code} appears twice in the catalog")
        forms[form.code] = form
    return forms


FORMAT_POLICY = Path(__file__).with_name("formats.json")


@dataclass(frozen=True)
class FormatPolicy:
    """Which format classes an enforcement document's master copy may be in; evidence forms
    accept any format (``formats.json``)."""

    classes: dict[str, dict]
    accepted: tuple[str, ...]
    evidence_forms: frozenset[str]

    def class_of(self, mime: str) -> str:
        """The class a media type belongs to (``other`` when none claims it)."""
        for code, c in self.classes.items():
            if mime in c.get("mimes", ()) or any(mime.startswith(p) for p in c.get("mime_prefixes", ())):
                return code
        return "other"

    def class_name(self, code: str) -> str:
        return self.classes.get(code, {}).get("name", "其他格式")


@lru_cache(maxsize=4)
def load_format_policy(path: str | None = None) -> FormatPolicy:
    """The format policy, from ``path`` or the bundled ``formats.json``."""
    data = json.loads(Path(path or FORMAT_POLICY).read_text(encoding="utf-8"))
    accepted = tuple(data["documents"]["accepted"])
    unknown = [c for c in accepted if c not in data["classes"]]
    if unknown:
        raise ValueError(f"the format policy accepts classes it does not define: {unknown}")
    return FormatPolicy(data["classes"], accepted, frozenset(data.get("evidence_forms", ())))
