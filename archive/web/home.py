"""工作台 (the home page with the to-do panel) and 检索 (search with filters)."""
from __future__ import annotations

import datetime as dt

from flask import redirect, render_template, request, url_for
from markupsafe import Markup

from archive.auth import policy
from archive.edge.auth import audit_event, caller, current, refuse, scope_search
from archive.errors import BadQuery
from archive.extension import db, get_archive
from archive.labels import KIND_NAMES, STAGE_NAMES
from archive.models import STAGES
from archive.services.search import build_query, search as run_search
from archive.web.blueprint import bp
from archive.web.layout import REVERSED_RANGE, Pager, date_arg, org_names, page_arg, visible_orgs, zh
from forms import load_catalog


@bp.route("/")
def home():
    """工作台: what waits for the caller, most urgent first, and a search box."""
    from archive.web.todo import sections

    if request.args.get("q"):  # the search box used to live here: old links keep working
        return redirect(url_for("web.search", **request.args.to_dict()))
    p = current()
    from archive.clock import now
    from archive.labels import ROLE_NAMES
    from archive.models import User

    user = db().get(User, p.user_id)
    new = user is not None and user.created_at is not None and now() - user.created_at < dt.timedelta(days=30)
    return render_template("home.html", todo=sections(db(), p), section="home", new_user=new,
                           role_name=ROLE_NAMES.get(p.role, ""))


def _date(name: str, errors: dict) -> dt.date | None:
    value, error = date_arg(name)
    if error:
        errors[name] = error
    return value


@bp.route("/search")
def search():
    """检索: one box, filters and sort; only what the caller may read is searched (counts too)."""
    p = current()
    if not policy.reads_cases(p):
        refuse("cases", "list", visible=True, why="administrators read no case file")
    args = request.args
    q = args.get("q", "").strip()
    errors: dict[str, str] = {}
    filters = {"agency": args.get("agency") or None, "kind": args.get("kind") or None,
               "stage": args.get("stage") or None, "form": args.get("form") or None,
               "date_from": _date("from", errors), "date_to": _date("to", errors),
               "sort": args.get("sort") or "relevance"}
    if filters["date_from"] and filters["date_to"] and filters["date_from"] > filters["date_to"]:
        errors["to"] = REVERSED_RANGE
    if filters["kind"] and filters["kind"] not in KIND_NAMES:
        errors["kind"] = "请从列表中选择。"
    if filters["stage"] and filters["stage"] not in STAGES:
        errors["stage"] = "请从列表中选择。"
    complaint = None
    if args.get("complaint", "").isdecimal() and len(args["complaint"]) < 10:
        from archive.services.complaints import scoped_complaint

        complaint = scoped_complaint(caller(), int(args["complaint"]))  # in scope and open, or the 404 page
    result, error, pager = None, None, None
    searched = bool(q or any(v for k, v in filters.items() if k != "sort"))
    if searched and not errors:
        try:
            sq = build_query(q, page=page_arg(maximum=500), per_page=20, **filters)
            scope_search(sq)
            result = run_search(db(), get_archive().index, sq)
            audit_event("search", q=q, via="web", total=result["total"], complaint=complaint.id if complaint else None,
                        filters={k: str(v) for k, v in filters.items() if v})
            for hit in result["hits"]:
                hit["snippets"] = [Markup(f) for f in hit["highlights"]["content"]]  # escaped by highlight()
            names = org_names(h["agency"] for h in result["hits"])
            for hit in result["hits"]:
                hit["agency_name"] = names.get(hit["agency"], hit["agency"])
            pager = Pager(result["total"], sq.page, sq.per_page)
        except BadQuery as exc:
            error = zh(exc.message)
    forms = sorted(((f.code, f.name) for f in load_catalog().values()), key=lambda x: x[1])
    linked: set[str] = set()
    if complaint is not None:
        from sqlalchemy import select

        from archive.models import ComplaintLink

        linked = set(db().scalars(select(ComplaintLink.case_id).where(ComplaintLink.complaint_id == complaint.id)))
    return render_template("search.html", q=q, result=result, error=error, errors=errors, pager=pager,
                           args=args, orgs=visible_orgs(p), kinds=list(KIND_NAMES.items()),
                           stages=list(STAGE_NAMES.items()), forms=forms, complaint=complaint, linked=linked,
                           searched=searched, section="search", crumbs=[("检索", None)])


@bp.route("/documents")
def documents_index():
    """Documents are found by search (or on their case page)."""
    return redirect(url_for("web.search"))


@bp.route("/upload")
def upload_index():
    """Uploading happens on a case's page, into one of its recorded stages."""
    from flask import flash

    flash("上传文书请先打开案件（或新建案件），在案件页登记环节后上传。", "ok")
    return redirect(url_for("web.cases"))
