"""Handling warnings as the caller may: one with a note, or several of one agency with one note.
The rules of warnings (levels, deadlines, escalation, the compare-and-set of a handling) are
``archive.deadlines.warnings``; this layer adds who may, the commit and the audit entries."""
from __future__ import annotations

from archive.auth import policy
from archive.clock import now
from archive.deadlines.warnings import get_warning, handle, handle_together
from archive.errors import Conflict, Forbidden
from archive.models import WarningRecord
from archive.services.caller import Caller
from archive.services.dailyuse import mark_seen


def scoped_warning(c: Caller, warning_id: int) -> WarningRecord:
    """The warning if its agency is in the caller's scope; else the 404 a missing id gets."""
    w = get_warning(c.session, warning_id)
    if not policy.reads_agency(c.principal, w.agency_code):
        c.refuse("warning", str(warning_id), visible=False, why="outside your scope")
    return w


def may_handle(c: Caller, w: WarningRecord) -> None:
    """403 (audited) unless the caller's role handles warnings of this level."""
    if not policy.handles_warning(c.principal, w.level, w.agency_code):
        c.refuse("warning", str(w.id), visible=True,
                 why=f"a level-{w.level} warning is handled by {policy.HANDLER_OF_LEVEL[w.level]}")


def handle_one(c: Caller, warning_id: int, note: str) -> WarningRecord:
    """Record how the warning was handled (level 1: the agency's legal unit; level 2: the
    district office; level 3: the city office); once (409 after, or when it climbed meanwhile)."""
    w = scoped_warning(c, warning_id)
    may_handle(c, w)
    if w.status != "open":
        raise Conflict(f"warning {w.status} already")
    at = now()
    with c.transaction():
        mark_seen(c.session, w, c.username, at)  # handled unseen (by the API): seen when handled
        handle(c.session, w, by=c.username, note=note, now=at)
    c.audit("warning.handle", "warning", str(warning_id), level=w.level, rule=w.rule, note=w.handled_note)
    return w


def handle_many(c: Caller, ids: list[int], note: str) -> tuple[list[WarningRecord], dict[int, str]]:
    """Several warnings of one agency with one note, each its own handling; all or none refused
    (outside the scope: 404; a level the role does not handle: 403, audited)."""
    try:
        handled, skipped = handle_together(c.session, c.principal, ids, note=note, now=now())
    except Forbidden as exc:
        c.session.rollback()
        c.audit("access.refused", "warning", ",".join(map(str, ids))[:120], method=c.method, path=c.path,
                reason=str(exc.errors.get("ids")))
        raise
    except Exception:
        c.session.rollback()
        raise
    for w in handled:
        c.audit("warning.handle", "warning", str(w.id), level=w.level, rule=w.rule, note=w.handled_note,
                together=len(handled))
    return handled, skipped
