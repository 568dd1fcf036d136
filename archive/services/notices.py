"""Notices that reach people (消息): in the app (the bell on every page) and by e-mail.

The worker makes the notices from what happened since its last look (``collect``): a warning
raised or climbed to a person's level (level 1: the agency's clerks and legal staff; 2: its
district office; 3: the city office), a task assigned, sent back or answered, an amendment
waiting for the office that decides it, a review assigned or due within three days, a
published briefing. One notice per person and event — the unique key makes a second worker or
a retry harmless. Each person chooses per kind how e-mail brings it (``immediate``, a daily
``digest``, or ``off``: the app only); without an SMTP server (``ARCHIVE_SMTP_HOST``) or an
address, notices stay in the app. E-mails are rows made once per notice or per person and day
(a unique key), sent by the ``email`` job, which claims each by a compare-and-set on its
status: two workers and retries send it once.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from email.message import EmailMessage
from typing import Any, Iterable

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.orm import Session

from archive import jobs
from archive.clock import SHANGHAI
from archive.db import changed_rows as changed
from archive.models import (
    Amendment, Notification, NotificationPref, NotifyMark, Organisation, OutgoingEmail, Review, SupervisionTask,
    TaskStep, User, WarningEscalation, WarningRecord,
)

KINDS = {"warning": "预警", "task": "交办转办", "amendment": "更正申请", "review": "评查任务", "briefing": "简报"}
MODES = {"immediate": "立即发送邮件", "digest": "每日汇总邮件", "off": "仅站内消息"}
DEFAULT_MODES = {"warning": "digest", "task": "immediate", "amendment": "immediate", "review": "immediate",
                 "briefing": "immediate"}
OVERLAP = dt.timedelta(minutes=10)  # each round looks again this far before its mark (late commits)
FIRST_LOOK = dt.timedelta(days=2)  # a first round looks this far back
SEND_LEASE = dt.timedelta(minutes=5)


# -- who ------------------------------------------------------------------------------------------

def _active(session: Session, q) -> list[str]:
    return list(session.scalars(q.where(User.active.is_(True)).order_by(User.username)))


def of_level(session: Session, level: int, agency_code: str) -> list[str]:
    """Who handles a warning of ``level`` on ``agency_code``."""
    if level == 1:
        return _active(session, select(User.username).where(User.role.in_(("agency_clerk", "agency_legal")),
                                                             User.scope_code == agency_code))
    agency = session.get(Organisation, agency_code)
    district = agency.parent_code if agency is not None else None
    if level == 2:
        return _active(session, select(User.username).where(User.role == "district_office",
                                                             User.scope_code == district)) if district else []
    return _active(session, select(User.username).where(User.role == "city_office"))


def of_org(session: Session, org_code: str, role: str | None = None) -> list[str]:
    """The working accounts of an organisation (those of ``role`` only, when given): an
    agency's clerks and legal staff, a district's or the city's office."""
    org = session.get(Organisation, org_code)
    if org is None:
        return []
    roles = {"agency": ("agency_clerk", "agency_legal"), "district": ("district_office",),
             "city": ("city_office",)}.get(org.level, ())
    roles = tuple(r for r in roles if role is None or r == role)
    return _active(session, select(User.username).where(User.role.in_(roles), User.scope_code == org_code))


# -- making notices ---------------------------------------------------------------------------------

def _insert(session: Session, rows: list[dict]) -> int:
    """Notices, each once per person and event (ON CONFLICT DO NOTHING)."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(Notification).values(rows).on_conflict_do_nothing(index_elements=["username", "event_key"])
    return len(session.execute(stmt.returning(Notification.id)).all())  # the rows really inserted


def _rows(people: Iterable[str], kind: str, key: str, title: str, link: str, now: dt.datetime) -> list[dict]:
    return [{"username": u, "kind": kind, "event_key": key[:120], "title": title[:300], "link": link[:300],
             "created_at": now, "read_at": None, "mailed": ""} for u in people]


def _since(session: Session, source: str, now: dt.datetime) -> dt.datetime:
    mark = session.get(NotifyMark, source)
    return (mark.last_at - OVERLAP) if mark is not None else now - FIRST_LOOK


def _mark(session: Session, source: str, now: dt.datetime) -> None:
    """Move the source's mark to ``now`` (never back); two workers' first rounds at once do not
    collide: an upsert."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        ins: Any = pg_insert(NotifyMark)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ins = sqlite_insert(NotifyMark)
    stmt = ins.values(source=source, last_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["source"], set_={"last_at": stmt.excluded.last_at},
                                               where=NotifyMark.last_at < stmt.excluded.last_at))


LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}


def collect(session: Session, now: dt.datetime, today: dt.date | None = None) -> int:
    """Make the notices of what happened since the last round (committed); returns how many."""
    today = today or now.astimezone(SHANGHAI).date()
    made = 0
    since = _since(session, "events", now)
    for w in session.scalars(select(WarningRecord).where(WarningRecord.created_at >= since,
                                                         WarningRecord.status == "open")):
        made += _insert(session, _rows(of_level(session, 1, w.agency_code), "warning", f"warning:{w.id}:1",
                                       f"一级预警：{w.message}", f"/warnings/{w.id}", now))
    for e, w in session.execute(select(WarningEscalation, WarningRecord).join(
            WarningRecord, WarningRecord.id == WarningEscalation.warning_id).where(
            WarningEscalation.at >= since, WarningEscalation.at <= now)):
        made += _insert(session, _rows(of_level(session, e.level, w.agency_code), "warning",
                                       f"warning:{w.id}:{e.level}",
                                       f"{LEVEL_NAMES.get(e.level, '')}预警（已升级）：{w.message}", f"/warnings/{w.id}", now))
    for step, task in session.execute(select(TaskStep, SupervisionTask).join(
            SupervisionTask, SupervisionTask.id == TaskStep.task_id).where(TaskStep.at >= since, TaskStep.at <= now)):
        name = "转办" if task.kind == "transfer" else "交办"
        if step.action in ("assign", "send_back"):
            people, what = of_org(session, task.assignee_org), ("新" + name if step.action == "assign" else name + "被退回")
        elif step.action == "answer":
            people, what = of_org(session, task.assigner_org), name + "已答复，待审核"
        else:
            continue
        made += _insert(session, _rows(people, "task", f"task:{step.id}", f"{what}：{task.subject}",
                                       f"/tasks/{task.id}", now))
    from archive.services.amendments import supervising_role

    for a in session.scalars(select(Amendment).where(Amendment.requested_at >= since, Amendment.requested_at <= now,
                                                     Amendment.status == "pending")):
        role, org = supervising_role(session, a.agency_code)
        people = of_org(session, org, role) if org else []
        made += _insert(session, _rows(people, "amendment", f"amendment:{a.id}",
                                       f"更正申请待审批：{a.filename}（{a.reason[:60]}）", f"/amendments/{a.id}", now))
    due_soon = (Review.due_on >= today) & (Review.due_on <= today + dt.timedelta(days=3))
    for r in session.scalars(select(Review).where(Review.status == "assigned", ~_notified("review:") | (
            due_soon & ~_notified("review_due:")))):  # only the reviews with a notice still to make
        made += _insert(session, _rows([r.reviewer], "review", f"review:{r.id}",
                                       f"评查任务：{r.case_number}，{r.due_on:%Y-%m-%d} 前完成", f"/reviews/{r.id}", now))
        if 0 <= (r.due_on - today).days <= 3:
            made += _insert(session, _rows([r.reviewer], "review", f"review_due:{r.id}",
                                           f"评查任务三日内到期：{r.case_number}（{r.due_on:%Y-%m-%d}）",
                                           f"/reviews/{r.id}", now))
    made += _briefings(session, since, now)
    _mark(session, "events", now)
    session.commit()
    return made


def _notified(prefix: str):
    """A review's notice of this kind exists already (``prefix`` + its id)."""
    return select(Notification.id).where(Notification.username == Review.reviewer, Notification.event_key ==
                                         literal(prefix) + cast(Review.id, String)).exists()


def _briefings(session: Session, since: dt.datetime, now: dt.datetime) -> int:
    """A briefing published to organisations: a notice to their people."""
    from archive.models import BriefingPublication, BriefingRecipient

    made = 0
    for pub in session.scalars(select(BriefingPublication).where(BriefingPublication.published_at >= since,
                                                                 BriefingPublication.published_at <= now)):
        for org in session.scalars(select(BriefingRecipient.org_code).where(BriefingRecipient.publication_id == pub.id)):
            made += _insert(session, _rows(of_org(session, org), "briefing", f"briefing:{pub.id}",
                                           f"简报：{pub.title}", f"/briefings/{pub.id}", now))
    return made


# -- what each person chose ---------------------------------------------------------------------------

def prefs(session: Session, username: str) -> dict[str, str]:
    chosen = {p.kind: p.mode for p in session.scalars(select(NotificationPref).where(
        NotificationPref.username == username))}
    return {k: chosen.get(k, DEFAULT_MODES[k]) for k in KINDS}


def set_prefs(session: Session, username: str, modes: dict[str, str]) -> dict[str, str]:
    from archive.errors import ValidationFailed

    bad = {k: [f"应为：{'、'.join(MODES.values())}"] for k, v in modes.items() if k not in KINDS or v not in MODES}
    if bad:
        raise ValidationFailed("消息设置有误 / unknown kind or mode", bad)
    for kind, mode in modes.items():
        row = session.scalar(select(NotificationPref).where(NotificationPref.username == username,
                                                            NotificationPref.kind == kind))
        if row is None:
            session.add(NotificationPref(username=username, kind=kind, mode=mode))
        else:
            row.mode = mode
    session.flush()
    return prefs(session, username)


def unread(session: Session, username: str) -> int:
    return int(session.scalar(select(func.count()).select_from(Notification).where(
        Notification.username == username, Notification.read_at.is_(None))) or 0)


# -- e-mail ----------------------------------------------------------------------------------------

def mail_enabled(config: dict) -> bool:
    return bool((config.get("SMTP_HOST") or "").strip())


def _email(session: Session, username: str, address: str, key: str, subject: str, body: str,
           now: dt.datetime) -> bool:
    """An e-mail row once per ``key`` (its job in the same transaction); False: made before."""
    from sqlalchemy.exc import IntegrityError

    try:
        with session.begin_nested():
            row = OutgoingEmail(username=username, address=address, dedupe_key=key, subject=subject[:300], body=body,
                                status="pending", created_at=now)
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    jobs.enqueue(session, "email", str(row.id))
    return True


def _body(n: Notification, base_url: str) -> str:
    return f"{n.title}\n\n{base_url.rstrip('/')}{n.link}\n" if n.link else f"{n.title}\n"


def queue_emails(session: Session, config: dict, now: dt.datetime) -> int:
    """Decide each new notice's e-mail by its person's choice: one e-mail now, the day's digest,
    or none (committed); returns the e-mails made."""
    made = 0
    pending = list(session.scalars(select(Notification).where(Notification.mailed == "").order_by(Notification.id)
                                   .limit(5000)))
    if not pending:
        return 0
    enabled = mail_enabled(config)
    addresses: dict[str, str | None] = {u: e for u, e in session.execute(select(User.username, User.email).where(
        User.username.in_(sorted({n.username for n in pending}))))}
    chosen: dict[str, dict[str, str]] = {}
    for n in pending:
        address = (addresses.get(n.username) or "").strip()
        mode = chosen.setdefault(n.username, prefs(session, n.username))[n.kind] if enabled and address else "none"
        state = {"immediate": "queued", "digest": "digest", "off": "off", "none": "none"}[mode]
        if changed(session, update(Notification).where(Notification.id == n.id, Notification.mailed == "")
                   .values(mailed=state)) != 1:
            continue  # another worker decided it
        if state == "queued":
            made += _email(session, n.username, address, f"notice:{n.id}", f"【行政执法案卷归档】{n.title}",
                           _body(n, config.get("PUBLIC_URL") or ""), now)
    session.commit()
    return made


def digests(session: Session, config: dict, now: dt.datetime) -> int:
    """From ``ARCHIVE_DIGEST_HOUR`` on, each person's notices waiting for the digest as one e-mail
    a day (the day's key is unique: notices arriving after it wait for tomorrow's)."""
    local = now.astimezone(SHANGHAI)
    if not mail_enabled(config) or local.hour < int(config.get("DIGEST_HOUR", 8)):
        return 0
    day = local.date().isoformat()
    made = 0
    people = sorted(set(session.scalars(select(Notification.username).where(Notification.mailed == "digest"))))
    for username in people:
        address = (session.scalar(select(User.email).where(User.username == username)) or "").strip()
        notes = list(session.scalars(select(Notification).where(Notification.username == username,
                                                                Notification.mailed == "digest")
                                     .order_by(Notification.id)))
        if not address or not notes:
            continue
        body = f"{day} 的消息汇总（共 {len(notes)} 条）：\n\n" + "\n".join(
            f"{i}. {_body(n, config.get('PUBLIC_URL') or '')}" for i, n in enumerate(notes, 1))
        if not _email(session, username, address, f"digest:{username}:{day}",
                      f"【行政执法案卷归档】{day} 消息汇总（{len(notes)} 条）", body, now):
            continue  # today's digest went already: these wait for tomorrow's
        session.execute(update(Notification).where(Notification.id.in_([n.id for n in notes]),
                                                   Notification.mailed == "digest")
                        .values(mailed="digested").execution_options(synchronize_session=False))
        made += 1
    session.commit()
    return made


def send(sessions, config: dict, email_id: int, now: dt.datetime) -> str:
    """The ``email`` job: claim the e-mail (pending, or a claim whose lease ran out), send it,
    mark it sent. ``sent``, ``skipped`` (sent already or held by another worker); an SMTP error
    gives the claim back and raises (the job is retried with back-off)."""
    import smtplib

    with sessions() as session:
        claimed = session.execute(update(OutgoingEmail).where(
            OutgoingEmail.id == email_id,
            (OutgoingEmail.status == "pending") | ((OutgoingEmail.status == "sending") & (OutgoingEmail.lease_until < now)))
            .values(status="sending", lease_until=now + SEND_LEASE, attempts=OutgoingEmail.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        session.commit()
        if claimed != 1:
            return "skipped"
        row = session.get(OutgoingEmail, email_id)
        assert row is not None
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = row.subject, config.get("SMTP_FROM") or "archive@localhost", row.address
        msg["Message-ID"] = f"<{hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:32]}@case-archive>"
        msg.set_content(row.body)
        try:
            with smtplib.SMTP(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), timeout=15) as smtp:
                if config.get("SMTP_STARTTLS"):
                    smtp.starttls()
                if config.get("SMTP_USER"):
                    smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
                smtp.send_message(msg)
        except Exception as exc:
            session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_id, OutgoingEmail.status == "sending")
                            .values(status="pending", lease_until=None, last_error=f"{type(exc).__name__}: {exc}"[:2000])
                            .execution_options(synchronize_session=False))
            session.commit()
            raise
        session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_id).values(
            status="sent", sent_at=now, lease_until=None).execution_options(synchronize_session=False))
        session.commit()
        return "sent"
