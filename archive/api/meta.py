"""Forms catalog, organisations and health."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from archive.services.schemas import FormSchema, OrganisationSchema
from archive.extension import db, get_archive
from archive.jobs import queue_depth
from archive.services.orgs import org_tree
from forms import load_catalog

blp = Blueprint("meta", __name__, url_prefix="/api", description="目录与状态 Catalog and health")


@blp.route("/forms")
class Forms(MethodView):
    @blp.response(200, FormSchema(many=True))
    def get(self):
        """The catalog of document forms (执法文书)."""
        return list(load_catalog().values())


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.response(200, OrganisationSchema(many=True))
    def get(self):
        """Organisations as a tree: city → district → agency."""
        return org_tree(db())


@blp.route("/health")
class Health(MethodView):
    @blp.response(200)
    @blp.alt_response(503, description="a component is down")
    def get(self):
        """Database, object store, index and queue depth."""
        archive = get_archive()
        out: dict = {}
        try:
            db().execute(text("SELECT 1"))
            out["database"] = {"ok": True}
            out["queue"] = queue_depth(db())
        except Exception as exc:
            out["database"] = {"ok": False, "error": type(exc).__name__}
        try:
            archive.store.ping()
            out["object_store"] = {"ok": True}
        except Exception as exc:
            out["object_store"] = {"ok": False, "error": type(exc).__name__}
        try:
            stats = archive.index.stats()
            # A stale index (built by an older analysis, or not built yet) still answers while
            # the worker rebuilds it beside the live one.
            out["index"] = {"ok": True, "engine": stats.engine, "documents": stats.documents,
                            "size_bytes": stats.size_bytes, "stale": stats.stale}
        except Exception as exc:
            out["index"] = {"ok": False, "error": type(exc).__name__}
        try:
            from archive.deadlines.service import missing_calendar_years
            from archive.deadlines.store import load_calendar

            years = load_calendar(db()).years
            missing = missing_calendar_years(db())
            out["calendar"] = {"ok": not missing, "latest_year": max(years) if years else None,
                               "missing": [f"calendar missing for {y}" for y in missing]}
        except Exception as exc:
            out["calendar"] = {"ok": False, "error": type(exc).__name__}
        try:
            from archive.casefile.bundle import find_soffice
            from archive.services.renditions import summary as rendition_summary

            # PDF/A renditions of editable documents: made, failed (with their reasons on the
            # document), pending; and whether this machine has LibreOffice to make them
            out["renditions"] = rendition_summary(db()) | {
                "libreoffice": find_soffice(archive.config["LIBREOFFICE"]) is not None}
        except Exception as exc:
            out["renditions"] = {"error": type(exc).__name__}
        try:
            from archive.services.examinations import summary as examination_summary

            # format identification, the format policy, encryption and signatures (usability counts)
            out["formats"] = examination_summary(db())
        except Exception as exc:
            out["formats"] = {"error": type(exc).__name__}
        try:
            from archive.clock import now as server_now
            from archive.services.timestamps import health as stamp_health, tsa_settings

            # RFC 3161 timestamps of the audit head: degraded after a day without one
            out["timestamps"] = stamp_health(db(), tsa_settings(archive.config), server_now())
        except Exception as exc:
            out["timestamps"] = {"ok": False, "error": type(exc).__name__}
        from archive.casefile import fonts

        font = fonts.cjk_font()
        # without it binders, briefings and charts answer 503; everything else works
        out["font"] = {"ok": font is not None, "path": font} if font else {
            "ok": False, "error": "中文字体缺失：请安装 fonts-noto-cjk（或设置 ARCHIVE_CJK_FONT）"}
        # A component down is an outage (503); a missing calendar year degrades the service
        # (deadlines that need it are undecided) without stopping it.
        up = all(v.get("ok") for k, v in out.items() if k not in ("queue", "calendar", "font", "renditions", "formats",
                                                                  "timestamps"))
        ok = up and out["calendar"].get("ok") and out["font"]["ok"] and not out["index"].get("stale") \
            and out["timestamps"].get("ok")
        out["status"] = "ok" if ok else "degraded"
        ok = up
        return out, (200 if ok else 503)
