"""移交 (the district office): its agencies' filed cases by year; export a transfer package,
see it verified from itself, download it (ZIP of the BagIt bag) and record its acceptance."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from flask import Response, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from archive.auth import policy
from archive.clock import now
from archive.edge.auth import audit_event, current, refuse
from archive.errors import ArchiveError, NotFound
from archive.extension import db, get_archive
from archive.models import ArchivalFile, Organisation
from archive.web.blueprint import bp
from archive.web.layout import zh

NAME = re.compile(r"[0-9A-Za-z\-]+-\d{4}-\d{8}T\d{6}\Z")


def _root() -> Path:
    return Path(get_archive().config["DATA_DIR"]) / "transfers"


def _officer():
    p = current()
    if not policy.transfers_cases(p):
        refuse("transfer", "page", visible=True, why="transfers are the district office's")
    return p


def _package(name: str) -> Path:
    p = _officer()
    path = _root() / name
    agency = name.rsplit("-", 2)[0]
    if not NAME.match(name) or not path.is_dir() or not p.sees_agency(agency):
        raise NotFound("no such package")
    return path


@bp.route("/transfers")
def transfers_page():
    p = _officer()
    session = db()
    q = select(ArchivalFile.agency_code, ArchivalFile.year, ArchivalFile.status, func.count()).group_by(
        ArchivalFile.agency_code, ArchivalFile.year, ArchivalFile.status)
    q = policy.scoped(q, p, ArchivalFile.agency_code)
    rows: dict[tuple[str, int], dict[str, int]] = {}
    for agency, year, status, n in session.execute(q):
        rows.setdefault((agency, year), {})[status] = n
    names = {c: n for c, n in session.execute(select(Organisation.code, Organisation.name))}
    packages = []
    if _root().is_dir():
        for d in sorted(_root().iterdir(), reverse=True):
            if NAME.match(d.name) and p.sees_agency(d.name.rsplit("-", 2)[0]):
                packages.append({"name": d.name, "agency": names.get(d.name.rsplit("-", 2)[0], ""),
                                 "year": d.name.rsplit("-", 2)[1], "stamped": (d / "timestamp.tsr").is_file()})
    return render_template("transfers.html", rows=sorted(rows.items()), names=names, packages=packages[:30],
                           section="archives", tab="transfers", transfers=True,
                           crumbs=[("档案", url_for("web.appraisal_page")), ("移交", None)])


@bp.route("/transfers/export", methods=["POST"])
def transfers_export():
    from archive.services.transfer import export_package

    p = _officer()
    agency, year = request.form.get("agency", ""), request.form.get("year", "")
    if not p.sees_agency(agency) or not year.isdigit():
        refuse("agency", agency or "-", visible=False, why="outside your scope")
    name = f"{agency}-{year}-{now().astimezone(dt.timezone.utc):%Y%m%dT%H%M%S}"
    if not NAME.match(name):
        raise NotFound("no such agency")
    try:
        result = export_package(db(), get_archive().store, get_archive().config, agency, int(year), _root() / name,
                                p.username, now())
    except ArchiveError as exc:
        db().rollback()
        flash("未能导出：" + ("；".join(m for v in exc.errors.values() for m in v) if exc.errors else zh(exc.message)),
              "error")
        return redirect(url_for("web.transfers_page"), code=303)
    flash(f"已导出 {len(result.cases)} 件、{result.files} 份文件。" + (f"未导出（四性检测未通过）：{'；'.join(result.failed_checks)}"
                                                               if result.failed_checks else ""), "ok")
    return redirect(url_for("web.transfer_package", name=name), code=303)


@bp.route("/transfers/<name>")
def transfer_package(name: str):
    """The package verified from itself alone, as the receiving archives will."""
    import json

    from archive.services.transfer import verify_package

    path = _package(name)
    report = verify_package(path)
    body = json.loads((path / "data" / "transfer.json").read_text(encoding="utf-8"))
    return render_template("transfer.html", name=name, report=report, body=body, section="archives",
                           crumbs=[("档案", url_for("web.appraisal_page")), ("移交", url_for("web.transfers_page")),
                                   (name, None)])


@bp.route("/transfers/<name>.zip")
def transfer_download(name: str):
    """The bag as one ZIP (stored, not compressed again: the originals are PDF and DOCX)."""
    import os
    import zipfile
    from urllib.parse import quote

    path = _package(name)

    def chunks():
        import io

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            for root, _, files in os.walk(path):
                for f in sorted(files):
                    full = Path(root) / f
                    z.write(full, str(Path(name) / full.relative_to(path)))
                    if buf.tell() > 1 << 20:
                        yield buf.getvalue()
                        buf.seek(0)
                        buf.truncate()
        yield buf.getvalue()

    audit_event("archive.transfer_download", "path", name)
    return Response(chunks(), mimetype="application/zip",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.zip"})


@bp.route("/transfers/<name>/accept", methods=["POST"])
def transfer_accept(name: str):
    """The archives accepted the package: its cases become 已移交."""
    from archive.services.transfer import accept, verify_package

    p = _officer()
    path = _package(name)
    if not verify_package(path).passed:
        flash("移交包未通过校验，不能登记接收。", "error")
    else:
        n = accept(db(), path, p.username)
        flash(f"已登记接收：{n} 件案卷标记为已移交。", "ok")
    return redirect(url_for("web.transfer_package", name=name), code=303)
