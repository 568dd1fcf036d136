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
