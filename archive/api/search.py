"""Full-text search."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from archive.services.schemas import SearchQuerySchema, SearchResultSchema
from archive.auth import policy
from archive.edge.auth import audit_event, caller, current, refuse, scope_search
from archive.extension import db, get_archive
from archive.services.search import build_query, search

blp = Blueprint("search", __name__, url_prefix="/api/search", description="检索 Search")


@blp.route("")
class Search(MethodView):
    @blp.arguments(SearchQuerySchema, location="query")
    @blp.response(200, SearchResultSchema)
    def get(self, args):
        """Search documents. Every term must appear with its characters together (as Ctrl-F
        finds it) in the text, filename, case number, party name or party ID; "quotes" keep
        spaces inside a term; -term excludes. Filters: agency (or district) code, kind, stage,
        form, from/to (date the stage was completed). Sort: relevance, date, date_asc."""
        if not policy.reads_cases(current()):
            refuse("cases", "search", visible=True, why="administrators read no case file")
        q = args.pop("q")
        complaint = args.pop("complaint", None)
        if complaint is not None:
            from archive.services.complaints import scoped_complaint

            scoped_complaint(caller(), complaint)  # in scope and open, or 404/409
        sq = build_query(q, **args)
        scope_search(sq)  # inside the index query: no count or snippet leaks
        result = search(db(), get_archive().index, sq)
        audit_event("search", q=q, filters={k: str(v) for k, v in args.items() if v is not None},
                    total=result["total"], complaint=complaint)
        return result
