"""消息 (everyone): the notices with the unread ones first, opening one marks it read; how each
kind comes by e-mail and to which address. 简报 (the offices publish a month's briefing to the
organisations below them and see who read it; those read what was published to them)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select, update

from archive.auth import policy
from archive.clock import SHANGHAI, now
from archive.edge.auth import caller
from archive.errors import Conflict, NotFound, ValidationFailed
from archive.extension import db
from archive.models import Notification, User
from archive.services import notices, publications
from archive.web.blueprint import bp
from archive.web.layout import zh

EMAIL_MAX = 200


@bp.route("/notifications")
def notifications_page():
    c = caller("web")
    session = db()
    rows = session.scalars(select(Notification).where(Notification.username == c.username)
                           .order_by(Notification.read_at.is_not(None), Notification.id.desc()).limit(100)).all()
    user = session.scalar(select(User).where(User.username == c.username))
    return render_template("notifications.html", rows=rows, kinds=notices.KINDS, modes=notices.MODES,
                           prefs=notices.prefs(session, c.username), email=user.email if user else "",
                           mail_enabled=notices.mail_enabled(c.config), section="notifications", crumbs=[("消息", None)])


@bp.route("/notifications/<int:notification_id>/open")
def notification_open(notification_id: int):
    c = caller("web")
    session = db()
    n = session.get(Notification, notification_id)
    if n is None or n.username != c.username:
        raise NotFound("no such notification")
    if n.read_at is None:
        session.execute(update(Notification).where(Notification.id == n.id, Notification.read_at.is_(None))
                        .values(read_at=now()).execution_options(synchronize_session=False))
        session.commit()
    return redirect(n.link or url_for("web.notifications_page"), code=303)


@bp.route("/notifications/read", methods=["POST"])
def notifications_read():
    c = caller("web")
    session = db()
    n = session.execute(update(Notification).where(Notification.username == c.username, Notification.read_at.is_(None))
                        .values(read_at=now()).execution_options(synchronize_session=False)).rowcount
    session.commit()
    flash(f"已将 {n} 条消息标为已读。", "ok")
    return redirect(url_for("web.notifications_page"), code=303)


@bp.route("/notifications/settings", methods=["POST"])
def notifications_settings():
    c = caller("web")
    session = db()
    email = request.form.get("email", "").strip()
    if email and ("@" not in email or len(email) > EMAIL_MAX or any(ch.isspace() for ch in email)):
        flash("邮箱地址格式不对，未保存。", "error")
        return redirect(url_for("web.notifications_page"), code=303)
    try:
        notices.set_prefs(session, c.username, {k: request.form[f"mode_{k}"] for k in notices.KINDS
                                                if f"mode_{k}" in request.form})
    except ValidationFailed as exc:
        session.rollback()
        flash("未能保存：" + zh(exc.message), "error")
        return redirect(url_for("web.notifications_page"), code=303)
    session.execute(update(User).where(User.username == c.username).values(email=email or None)
                    .execution_options(synchronize_session=False))
    session.commit()
    c.audit("notifications.settings", "user", c.username, email=bool(email))
    flash("消息设置已保存。", "ok")
    return redirect(url_for("web.notifications_page"), code=303)


def _months(today) -> list[str]:
    out, y, m = [], today.year, today.month
    for _ in range(12):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append(f"{y:04d}-{m:02d}")
    return out


@bp.route("/briefings", methods=["GET", "POST"])
def briefings_page():
    c = caller("web")
    p = c.principal
    if request.method == "POST":
        try:
            pub = publications.publish(c, request.form.get("month", ""), request.form.get("note", ""))
        except (ValidationFailed, Conflict) as exc:
            flash("未能发布：" + "；".join(zh(m) for ms in exc.errors.values() for m in ms), "error")
        else:
            flash(f"已发布：{pub.title}。", "ok")
        return redirect(url_for("web.briefings_page"), code=303)
    if not (policy.publishes_briefings(p) or policy.reads_briefings(p)):
        c.refuse("briefing", "list", visible=True, why="briefings are the offices' and agencies'")
    today = now().astimezone(SHANGHAI).date()
    return render_template("briefings.html", published=publications.published(c) if policy.publishes_briefings(p) else [],
                           received=publications.received(c), months=_months(today),
                           may_publish=policy.publishes_briefings(p), tab="briefings", section="stats",
                           crumbs=[("统计", url_for("web.scores_page")), ("简报", None)])


@bp.route("/briefings/<int:pub_id>")
def briefing_page(pub_id: int):
    c = caller("web")
    pub = publications.publication(c, pub_id)
    mine = policy.publishes_briefings(c.principal) and pub.publisher_org == c.principal.scope_code
    reads = next((x for x in publications.published(c) if x["publication"].id == pub_id), None) if mine else None
    return render_template("briefing.html", pub=pub, reads=reads, section="stats",
                           crumbs=[("统计", url_for("web.scores_page")), ("简报", url_for("web.briefings_page")),
                                   (pub.title, None)])
