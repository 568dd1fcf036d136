"""操作手册 at /help: each role's chapter with its steps and screenshots, one PDF per role to
print; every page's header links to the caller's section about it."""
from __future__ import annotations

import re

from flask import Response, render_template, send_from_directory
from urllib.parse import quote

from archive import manual
from archive.edge.auth import current
from archive.errors import NotFound
from archive.web.blueprint import bp

SHOT = re.compile(r"[a-z0-9][a-z0-9_-]*\.png\Z")


@bp.app_template_global()
def help_url(p, section: str | None) -> str:
    """The caller's chapter, at its section about the page in navigation ``section``."""
    if p is None or manual.chapter(p.role) is None:
        return "/help"
    anchor = manual.section_for(p.role, section)
    return f"/help/{p.role}" + (f"#{anchor}" if anchor else "")


@bp.route("/help")
def help_index():
    p = current()
    chapters = [manual.chapter(r) for r in manual.roles()]
    return render_template("help.html", chapters=chapters, mine=p.role if p else None, title=manual.load()["title"],
                           section="help", crumbs=[("操作手册", None)])


@bp.route("/help/<role>")
def help_chapter(role: str):
    c = manual.chapter(role)
    if c is None:
        raise NotFound("no such chapter")
    return render_template("help_chapter.html", c=c, title=manual.load()["title"], section="help",
                           crumbs=[("操作手册", "/help"), (c["name"], None)])


@bp.route("/help/<role>.pdf")
def help_pdf(role: str):
    if manual.chapter(role) is None:
        raise NotFound("no such chapter")
    name = f"操作手册-{manual.chapter(role)['name']}.pdf"  # type: ignore[index]
    return Response(manual.pdf(role), mimetype="application/pdf",
                    headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
                             "Cache-Control": "private, max-age=3600"})


@bp.route("/help/shots/<name>")
def help_shot(name: str):
    if not SHOT.match(name) or not (manual.SHOTS / name).is_file():
        raise NotFound("no such screenshot")
    return send_from_directory(manual.SHOTS, name, max_age=3600)
