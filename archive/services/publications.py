"""Publishing the month's briefing (以简报形式在全区范围通报): a district office publishes it to
its agencies, the city office to the districts. The DOCX as published is stored write-once; each
receiving organisation's 工作台 shows it until one of its people opens it, and the office sees
who read it and when. One publication per office and month (a unique key: of two at once, one
is stored and the other answers 409)."""
from __future__ import annotations

import io
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from archive.auth import policy
from archive.clock import check_month, now as server_now
from archive.errors import Conflict, NotFound, ValidationFailed
from archive.models import BriefingPublication, BriefingRecipient, Organisation


def _office(c) -> None:
    if not policy.publishes_briefings(c.principal):
        c.refuse("briefing", "publish", visible=True, why="the district and city offices publish briefings")


def recipients_of(session, org_code: str | None) -> list[str]:
    """The organisations directly below the publishing office's: a district's agencies, the
    city's districts."""
    if not org_code:
        return []
    return list(session.scalars(select(Organisation.code).where(Organisation.parent_code == org_code)
                                .order_by(Organisation.code)))


def publish(c, month: str, note: str = "") -> BriefingPublication:
    """Publish the month's briefing of the caller's office (its scope's figures, as the 月度考评
    page shows them) to the organisations below it; audited, once per month."""
    from archive.services import briefing
    from archive.services.attachments import store_file
    from archive.services.objects import HashingSpool
    from archive.services.reports import briefing_title

    _office(c)
    try:
        check_month(month)
    except ValueError as exc:
        raise ValidationFailed(str(exc), {"month": [str(exc)]}) from None
    p = c.principal
    org = p.scope_code
    targets = recipients_of(c.session, org)
    if not targets:
        raise ValidationFailed("没有可发布的下级单位 / no organisation below yours", {"month": ["没有下级单位"]})
    if c.session.scalar(select(BriefingPublication.id).where(BriefingPublication.publisher_org == org,
                                                             BriefingPublication.month == month)) is not None:
        raise Conflict("本月简报已发布 / this month's briefing is published already", {"month": ["本月简报已发布"]})
    at = server_now()
    title = f"{briefing_title(c, p, None)}{month[:4]}年{int(month[5:])}月行政执法监督简报"
    data = briefing.monthly(c.session, month, p.agencies, c.config, at, title=briefing_title(c, p, None))
    body = briefing.render(data, "docx")
    row = BriefingPublication(month=month, title=title, publisher_org=org, published_by=c.username, published_at=at,
                              note=(note or "").strip()[:2000])
    store_file(c.store, c.settings, row, key_prefix=f"briefings/{org}/{month}", name=f"{uuid.uuid4().hex}.docx",
               metadata={"kind": "briefing", "month": month, "publisher": org}, by=c.username,
               filename=briefing.filename(data, "docx"), spool=HashingSpool.from_stream(io.BytesIO(body)), now=at)
    try:
        with c.transaction():
            c.session.add(row)
            c.session.flush()
            for code in targets:
                c.session.add(BriefingRecipient(publication_id=row.id, org_code=code))
            c.audit_in(c.session, "briefing.publish", "briefing", str(row.id), month=month, recipients=targets,
                       sha256=row.sha256)
    except IntegrityError:
        raise Conflict("本月简报已发布 / this month's briefing is published already", {"month": ["本月简报已发布"]}) from None
    return row


def published(c) -> list[dict[str, Any]]:
    """The office's publications, newest first, with each recipient's reading."""
    _office(c)
    names = dict(c.session.execute(select(Organisation.code, Organisation.name)).all())
    out = []
    for pub in c.session.scalars(select(BriefingPublication).where(
            BriefingPublication.publisher_org == c.principal.scope_code).order_by(BriefingPublication.month.desc())):
        recips = c.session.scalars(select(BriefingRecipient).where(BriefingRecipient.publication_id == pub.id)
                                   .order_by(BriefingRecipient.org_code)).all()
        out.append({"publication": pub, "recipients": [{"org": r.org_code, "name": names.get(r.org_code, r.org_code),
                                                        "read_by": r.read_by, "read_at": r.read_at} for r in recips],
                    "read": sum(1 for r in recips if r.read_at), "total": len(recips)})
    return out


def received(c, unread_only: bool = False) -> list[dict[str, Any]]:
    """The briefings published to the caller's organisation, newest first."""
    if not policy.reads_briefings(c.principal) or not c.principal.scope_code:
        return []
    q = (select(BriefingPublication, BriefingRecipient).join(BriefingRecipient, BriefingRecipient.publication_id ==
                                                             BriefingPublication.id)
         .where(BriefingRecipient.org_code == c.principal.scope_code).order_by(BriefingPublication.published_at.desc()))
    if unread_only:
        q = q.where(BriefingRecipient.read_at.is_(None))
    return [{"publication": pub, "read_by": r.read_by, "read_at": r.read_at} for pub, r in c.session.execute(q)]


def publication(c, pub_id: int) -> BriefingPublication:
    """A publication the caller published or received (404 otherwise); opening it as a
    recipient marks its organisation's copy read (the first reader, once: compare-and-set)."""
    pub = c.session.get(BriefingPublication, pub_id)
    p = c.principal
    if pub is None:
        raise NotFound("no such briefing")
    if policy.publishes_briefings(p) and pub.publisher_org == p.scope_code:
        return pub
    mine = c.session.scalar(select(BriefingRecipient).where(BriefingRecipient.publication_id == pub_id,
                                                            BriefingRecipient.org_code == p.scope_code)) \
        if policy.reads_briefings(p) and p.scope_code else None
    if mine is None:
        c.refuse("briefing", str(pub_id), visible=False, why="not published to the caller's organisation")
    assert mine is not None
    if mine.read_at is None:
        with c.transaction():
            done = c.session.execute(update(BriefingRecipient).where(
                BriefingRecipient.id == mine.id, BriefingRecipient.read_at.is_(None))
                .values(read_by=c.username, read_at=server_now()).execution_options(synchronize_session=False)).rowcount
            if done:
                c.audit_in(c.session, "briefing.read", "briefing", str(pub_id), org=p.scope_code)
    return pub
