"""消息 and 简报 through the API: one's notices (and marking them read), how each kind comes by
e-mail; the briefings published and received, publishing one, reading it."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select, update

from archive.clock import now
from archive.edge.auth import caller
from archive.errors import NotFound
from archive.models import Notification
from archive.services import notices, publications
from archive.services.schemas import LocalDateTime

blp = Blueprint("notices", __name__, url_prefix="/api/notifications", description="消息 Notifications")
briefings_blp = Blueprint("briefings", __name__, url_prefix="/api/briefings", description="简报 Published briefings")


class NoticeSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "warning, task, amendment, review, briefing"})
    title = fields.String()
    link = fields.String()
    created_at = LocalDateTime()
    read_at = LocalDateTime(allow_none=True)


class NoticeListSchema(Schema):
    unread = fields.Integer()
    notifications = fields.List(fields.Nested(NoticeSchema))


class NoticeSettingsSchema(Schema):
    email = fields.String(allow_none=True, validate=validate.Length(max=200))
    modes = fields.Dict(keys=fields.String(validate=validate.OneOf(list(notices.KINDS))),
                        values=fields.String(validate=validate.OneOf(list(notices.MODES))),
                        metadata={"description": "per kind: immediate, digest or off"})


@blp.route("")
class Notices(MethodView):
    @blp.response(200, NoticeListSchema)
    def get(self):
        """The caller's notices, unread first, newest first (100)."""
        c = caller()
        rows = c.session.scalars(select(Notification).where(Notification.username == c.username)
                                 .order_by(Notification.read_at.is_not(None), Notification.id.desc()).limit(100)).all()
        return {"unread": notices.unread(c.session, c.username), "notifications": rows}


@blp.route("/<int:notification_id>/read")
class NoticeRead(MethodView):
    @blp.response(200, NoticeSchema)
    def post(self, notification_id):
        """Mark one of the caller's notices read (404 for anyone else's)."""
        c = caller()
        n = c.session.get(Notification, notification_id)
        if n is None or n.username != c.username:
            raise NotFound("no such notification")
        c.session.execute(update(Notification).where(Notification.id == n.id, Notification.read_at.is_(None))
                          .values(read_at=now()).execution_options(synchronize_session=False))
        c.session.commit()
        c.session.refresh(n)
        return n


@blp.route("/settings")
class NoticeSettings(MethodView):
    @blp.response(200, NoticeSettingsSchema)
    def get(self):
        """The caller's e-mail address and how each kind of notice comes by e-mail."""
        from archive.models import User

        c = caller()
        return {"email": c.session.scalar(select(User.email).where(User.username == c.username)),
                "modes": notices.prefs(c.session, c.username)}

    @blp.arguments(NoticeSettingsSchema)
    @blp.response(200, NoticeSettingsSchema)
    def put(self, args):
        """Set the address (None or empty: none) and the modes given."""
        from archive.errors import ValidationFailed
        from archive.models import User

        c = caller()
        email = (args.get("email") or "").strip()
        if email and ("@" not in email or any(ch.isspace() for ch in email)):
            raise ValidationFailed("邮箱地址格式不对 / not an e-mail address", {"email": ["邮箱地址格式不对"]})
        modes = notices.set_prefs(c.session, c.username, args.get("modes") or {})
        if "email" in args:
            c.session.execute(update(User).where(User.username == c.username).values(email=email or None)
                              .execution_options(synchronize_session=False))
        c.session.commit()
        c.audit("notifications.settings", "user", c.username, email=bool(email))
        return {"email": email or None, "modes": modes}


class PublicationSchema(Schema):
    id = fields.Integer()
    month = fields.String()
    title = fields.String()
    publisher_org = fields.String()
    published_by = fields.String()
    published_at = LocalDateTime()
    note = fields.String()
    sha256 = fields.String()
    size = fields.Integer()


class ReadingSchema(Schema):
    org = fields.String()
    name = fields.String()
    read_by = fields.String(allow_none=True)
    read_at = LocalDateTime(allow_none=True)


class PublishedSchema(Schema):
    publication = fields.Nested(PublicationSchema)
    recipients = fields.List(fields.Nested(ReadingSchema))
    read = fields.Integer()
    total = fields.Integer()


class ReceivedSchema(Schema):
    publication = fields.Nested(PublicationSchema)
    read_by = fields.String(allow_none=True)
    read_at = LocalDateTime(allow_none=True)


class BriefingListSchema(Schema):
    published = fields.List(fields.Nested(PublishedSchema))
    received = fields.List(fields.Nested(ReceivedSchema))


class PublishSchema(Schema):
    month = fields.String(required=True, metadata={"description": "YYYY-MM"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))


@briefings_blp.route("")
class Briefings(MethodView):
    @briefings_blp.response(200, BriefingListSchema)
    def get(self):
        """The briefings the caller's office published (with who read them) and those received."""
        from archive.auth import policy

        c = caller()
        if not (policy.publishes_briefings(c.principal) or policy.reads_briefings(c.principal)):
            c.refuse("briefing", "list", visible=True, why="briefings are the offices' and agencies'")
        return {"published": publications.published(c) if policy.publishes_briefings(c.principal) else [],
                "received": publications.received(c)}

    @briefings_blp.arguments(PublishSchema)
    @briefings_blp.response(201, PublicationSchema)
    def post(self, args):
        """Publish the month's briefing to the organisations below the caller's office (once a month: 409)."""
        return publications.publish(caller(), args["month"], args["note"])


@briefings_blp.route("/<int:pub_id>")
class Briefing(MethodView):
    @briefings_blp.response(200, PublicationSchema)
    def get(self, pub_id):
        """One briefing the caller published or received; a recipient's first look marks it read."""
        return publications.publication(caller(), pub_id)


@briefings_blp.route("/<int:pub_id>/content")
class BriefingContent(MethodView):
    @briefings_blp.response(200, description="the DOCX as published, checked against its SHA-256 while it streams")
    def get(self, pub_id):
        """The briefing's DOCX (a recipient's download marks it read too)."""
        from archive.api.documents import stored_file_response
        from archive.edge.auth import audit_event

        pub = publications.publication(caller(), pub_id)
        audit_event("briefing.download", "briefing", str(pub_id))
        return stored_file_response(pub, "briefing")
