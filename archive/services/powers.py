"""Basic information: each agency's enforcement powers (职权), imported from CSV or XLSX.

An import is checked row by row and applied whole or not at all: a file with one bad row
changes nothing, and the error names every bad row with its reason. Re-importing a file
updates the powers it names (by agency and code) and leaves the others.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.errors import Conflict, ValidationFailed
from archive.models import POWER_CATEGORIES, Organisation, Power

COLUMNS = ("agency", "code", "name", "category", "legal_basis")
CATEGORY_NAMES = {"penalty": "行政处罚", "inspection": "行政检查", "licensing": "行政许可", "coercion": "行政强制",
                  "enforcement": "行政征收、给付等", "other": "其他"}


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8, with or without BOM) or XLSX file with a header row naming the
    columns ``agency, code, name, category, legal_basis`` (any order)."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(path, read_only=True, data_only=True).active
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise ValidationFailed(f"not a readable XLSX file: {type(exc).__name__}: {exc}") from exc
        values = [["" if v is None else str(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)]
    else:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("a CSV file must be UTF-8 (save it as “CSV UTF-8”)") from exc
        values = [[v.strip() for v in row] for row in csv.reader(io.StringIO(text))]
    if not values:
        raise ValidationFailed("the file is empty")
    header = [h.lower() for h in values[0]]
    missing = [c for c in COLUMNS if c not in header and c != "legal_basis"]
    if missing:
        raise ValidationFailed(f"the header row lacks the column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    return [{h: (row[i] if i < len(row) else "") for i, h in enumerate(header)} for row in values[1:]
            if any(row)]


def import_powers(session: Session, rows: list[dict[str, str]]) -> int:
    """Insert or update the powers of ``rows`` (row numbers count the header as row 1); all or
    nothing. Raises ValidationFailed naming every bad row."""
    agencies = {o.code for o in session.scalars(select(Organisation).where(Organisation.level == "agency"))}
    errors: dict[str, list[str]] = {}
    seen: dict[tuple[str, str], int] = {}
    clean = []
    for i, r in enumerate(rows, start=2):
        why = []
        agency, code, name = r.get("agency", ""), r.get("code", ""), r.get("name", "")
        category = r.get("category", "").lower()
        if agency not in agencies:
            why.append(f"unknown agency {agency!r}" if agency else "agency is empty")
        if not code or len(code) > 64:
            why.append("code is empty or longer than 64 characters")
        if not name or len(name) > 200:
            why.append("name is empty or longer than 200 characters")
        if category not in POWER_CATEGORIES:
            why.append(f"category must be one of {', '.join(POWER_CATEGORIES)}, not {category!r}")
        if (agency, code) in seen:
            why.append(f"the same agency and code as row {seen[(agency, code)]}")
        seen.setdefault((agency, code), i)
        if why:
            errors[f"row {i}"] = why
        else:
            clean.append((agency, code, name, category, r.get("legal_basis", "")))
    if errors:
        raise ValidationFailed(f"{len(errors)} bad row(s); nothing was imported: " + "; ".join(
            f"{row}: {', '.join(why)}" for row, why in errors.items()), errors)
    known = {(p.agency_code, p.code): p for p in session.scalars(select(Power))}
    for agency, code, name, category, basis in clean:
        power = known.get((agency, code)) or Power(agency_code=agency, code=code)
        power.name, power.category, power.legal_basis = name, category, basis
        session.add(power)
    try:
        session.flush()
    except IntegrityError as exc:  # another import added one of these powers meanwhile
        session.rollback()
        raise Conflict("另一次导入同时写入了相同的职权，请重新导入 / another import wrote the same powers "
                       "at the same time; run the import again") from exc
    return len(clean)
