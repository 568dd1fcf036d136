"""Organisations: import (CSV or JSON), list, tree, and the codes under one organisation."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import ValidationFailed
from archive.models import ORG_LEVELS, Organisation

_PARENT_LEVEL = {"city": None, "district": "city", "agency": "district"}
# Agencies may also hang directly under the city (city departments, 市属部门).
_ALLOWED_PARENTS: dict[str, set[str | None]] = {"city": {None}, "district": {"city"}, "agency": {"district", "city"}}


def _flatten(items: Iterable[dict], parent: str | None = None) -> Iterable[dict]:
    for item in items:
        row = {"code": item.get("code"), "name": item.get("name"), "level": item.get("level"),
               "parent": item.get("parent", item.get("parent_code", parent))}
        yield row
        yield from _flatten(item.get("children") or [], row["code"])


def parse_org_file(path: str | Path) -> list[dict]:
    """Rows {code, name, level, parent} from CSV (header code,level,parent,name) or JSON
    (a list, possibly nested with ``children``)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    if str(path).lower().endswith(".json") or text.lstrip().startswith(("[", "{")):
        data = json.loads(text)
        if isinstance(data, dict):
            data = data.get("organisations", [data])
        return list(_flatten(data))
    reader = csv.DictReader(io.StringIO(text))
    missing = {"code", "level", "name"} - set(reader.fieldnames or [])
    if missing:
        raise ValidationFailed(f"CSV header lacks {', '.join(sorted(missing))}")
    return [{"code": r["code"], "name": r["name"], "level": r["level"],
             "parent": r.get("parent") or r.get("parent_code") or None} for r in reader]


def import_orgs(session: Session, rows: list[dict]) -> int:
    """Insert or update organisations; validates levels and parents; all or nothing."""
    known = {o.code: o for o in session.scalars(select(Organisation))}
    incoming: dict[str, dict] = {}
    for i, r in enumerate(rows, 1):
        code, name, level = (r.get("code") or "").strip(), (r.get("name") or "").strip(), (r.get("level") or "").strip()
        if not code or not name:
            raise ValidationFailed(f"row {i}: code and name are required")
        if level not in ORG_LEVELS:
            raise ValidationFailed(f"row {i}: level must be one of {', '.join(ORG_LEVELS)}, not {level!r}")
        pattern = (r.get("case_number_pattern") or "").strip() or None
        if pattern is not None and (level != "agency" or "N" not in pattern or len(pattern) > 120):
            raise ValidationFailed(f"row {i}: case_number_pattern is for agencies and needs N (the sequence number)")
        incoming[code] = {"code": code, "name": name, "level": level, "parent": (r.get("parent") or None),
                          "pattern": pattern}
    levels: dict[str, str] = {c: o.level for c, o in known.items()} | {c: r["level"] for c, r in incoming.items()}
    for code, r in incoming.items():
        parent_level = levels.get(r["parent"]) if r["parent"] else None
        if r["parent"] and r["parent"] not in levels:
            raise ValidationFailed(f"{code}: unknown parent {r['parent']}")
        if parent_level not in _ALLOWED_PARENTS[r["level"]]:
            raise ValidationFailed(f"{code}: a {r['level']} cannot sit under a {parent_level or 'nothing'}")
    # Parents first, so foreign keys hold at every insert.
    order = {"city": 0, "district": 1, "agency": 2}
    for r in sorted(incoming.values(), key=lambda r: order[r["level"]]):
        org = known.get(r["code"]) or Organisation(code=r["code"])
        org.name, org.level, org.parent_code = r["name"], r["level"], r["parent"]
        org.case_number_pattern = r["pattern"]
        session.add(org)
        session.flush()
    return len(incoming)


def list_orgs(session: Session) -> list[Organisation]:
    """All organisations, city first, then by code."""
    order = {"city": 0, "district": 1, "agency": 2}
    return sorted(session.scalars(select(Organisation)), key=lambda o: (order[o.level], o.code))


def org_tree(session: Session) -> list[dict]:
    """Nested {code, name, level, children} from the roots down."""
    orgs = list_orgs(session)
    nodes: dict[str, dict] = {o.code: {"code": o.code, "name": o.name, "level": o.level, "children": []}
                              for o in orgs}
    roots: list[dict] = []
    for o in orgs:
        (nodes[o.parent_code]["children"] if o.parent_code in nodes else roots).append(nodes[o.code])
    return roots
