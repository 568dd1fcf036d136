"""备案审查: the district office's queue of major cases whose 备案 was filed, and the checklist
of one, pre-checked by the archive, to accept or to send problems to the agency as a task."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from archive.edge.auth import caller, current, refuse
from archive.errors import Conflict, ValidationFailed
from archive.extension import db
from archive.numbers import whole
from archive.services import filings as service
from archive.web.blueprint import bp
from archive.web.layout import org_names, zh
from archive.labels import FILING_AUTO_NAMES as AUTO_NAMES  # noqa: F401  (the names its callers know)



@bp.route("/filings")
def filings_page():
    from archive.deadlines.rules import load_rules

    p = current()
    if not service.reads_filings(p):
        refuse("filing", "list", visible=True, why=f"a {p.role} does not review 备案")
    status = request.args.get("status", "pending")
    if status not in ("pending", "reviewed", "all"):
        status = "pending"
    rows = service.queue(db(), p.agencies, load_rules(), status)
    return render_template("filings.html", rows=rows, status=status, outcome_names=service.OUTCOME_NAMES,
                           names=org_names(r["case"].agency_code for r in rows), section="filings",
                           crumbs=[("备案审查", None)])


@bp.route("/filings/<case_id>", methods=["GET", "POST"])
def filing_page(case_id: str):
    p = current()
    case = service.scoped_case(caller(), case_id)
    errors: dict[str, list[str]] = {}
    certificate = request.values.get("certificate", "").strip()[:64]
    if request.method == "POST":
        verdicts = {}
        for item in service.checklist_items():
            v = request.form.get(f"ok_{item['code']}")
            if v in ("1", "0"):
                verdicts[item["code"]] = {"ok": v == "1", "reason": request.form.get(f"reason_{item['code']}", "")[:2000]}
        due = request.form.get("due_days", "10")
        try:
            r = service.do_review(caller("web"), case, {"items": verdicts, "certificate": certificate,
                                     "note": request.form.get("note", "")[:5000],
                                     "due_days": whole(due, 1, 60) or 10})
        except ValidationFailed as exc:
            db().rollback()
            errors = {k: [zh(m) for m in v] for k, v in (exc.errors or {}).items()}
        except Conflict as exc:
            db().rollback()
            flash("未能保存：" + zh(exc.message), "error")
            return redirect(url_for("web.filing_page", case_id=case_id), code=303)
        else:
            flash("备案审查通过。" if r.outcome == "accepted" else "已记录审查发现的问题，并交办执法机关整改。", "ok")
            return redirect(url_for("web.filing_page", case_id=case_id), code=303)
    view = service.detail(caller(), case, certificate)
    return render_template("filing.html", f=view, case=case, errors=errors, certificate=certificate,
                           may_review=view["outcome"] is None and service.reviews_filings(p, case.agency_code),
                           agency_name=org_names([case.agency_code]).get(case.agency_code, case.agency_code),
                           auto_names=AUTO_NAMES, outcome_names=service.OUTCOME_NAMES, section="filings",
                           crumbs=[("备案审查", url_for("web.filings_page")), (case.number, None)]), (422 if errors else 200)
