"""Accounts (三权分立): the system administrator lists and creates business accounts; the
security administrator lists every account, changes roles, lifts locks and resets second
factors. The audit administrator reads what both did in the audit trail."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from archive.auth import policy
from archive.clock import now
from archive.edge.auth import current, refuse
from archive.extension import db
from archive.services import users
from archive.services.schemas import LocalDateTime

blp = Blueprint("users", __name__, url_prefix="/api/users", description="账号 Accounts")


class AccountSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    scope_code = fields.String(allow_none=True)
    active = fields.Boolean()
    locked_until = LocalDateTime(allow_none=True)
    failed_logins = fields.Integer()
    mfa_enrolled = fields.Boolean()
    last_login_at = LocalDateTime(allow_none=True)
    last_login_ip = fields.String(allow_none=True)


class AccountListSchema(Schema):
    accounts = fields.List(fields.Nested(AccountSchema))


class AccountCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    display_name = fields.String(required=True, validate=validate.Length(1, 120))
    role = fields.String(required=True, validate=validate.OneOf(sorted(policy.BUSINESS_ROLES)))
    scope_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class CreatedSchema(Schema):
    username = fields.String()
    password = fields.String(metadata={"description": "shown once; to be changed at the first login"})


class RoleSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(sorted(policy.BUSINESS_ROLES)))
    scope_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


def _row(u) -> dict:
    """A User row (or the security administrator's SecuredAccount) as the API answers it."""
    enrolled = u.mfa_enrolled if isinstance(u, users.SecuredAccount) else u.totp_secret is not None
    return {"username": u.username, "display_name": u.display_name, "role": u.role, "scope_code": u.scope_code,
            "active": u.active, "locked_until": u.locked_until, "failed_logins": u.failed_logins,
            "mfa_enrolled": enrolled, "last_login_at": u.last_login_at, "last_login_ip": u.last_login_ip}


@blp.route("")
class Accounts(MethodView):
    @blp.response(200, AccountListSchema)
    def get(self):
        """Accounts: the business ones for the system administrator, every one (locks, second
        factors, last logins) for the security administrator."""
        p = current()
        if policy.secures_accounts(p):
            return {"accounts": [_row(a) for a in users.secured_accounts(db(), p, now())]}
        if not policy.manages_accounts(p):
            refuse("accounts", "list", visible=True, why=f"a {p.role} does not manage accounts")
        session = db()
        from sqlalchemy import select

        from archive.models import User

        names = {a.username for a in users.accounts(session, p, now())}
        return {"accounts": [_row(u) for u in session.scalars(select(User).where(User.username.in_(names))
                                                               .order_by(User.username))]}

    @blp.arguments(AccountCreateSchema)
    @blp.response(201, CreatedSchema)
    def post(self, args):
        """A new business account (the system administrator); its password is answered once."""
        p = current()
        if not policy.manages_accounts(p):
            refuse("accounts", "create", visible=True, why=f"a {p.role} does not create accounts")
        user, password = users.create(db(), p, username=args["username"], display_name=args["display_name"],
                                      role=args["role"], scope_code=args["scope_code"])
        return {"username": user.username, "password": password}


@blp.route("/<username>/unlock")
class Unlock(MethodView):
    @blp.response(200, AccountSchema)
    def post(self, username):
        """Lift the lock of an account locked after consecutive failed logins (安全管理员)."""
        return _row(users.unlock(db(), _security(), username, via="api"))


@blp.route("/<username>/mfa-reset")
class MfaReset(MethodView):
    @blp.response(200, AccountSchema)
    def post(self, username):
        """Forget an account's second factor: its next login enrols again (安全管理员)."""
        return _row(users.reset_mfa(db(), _security(), username, via="api"))


@blp.route("/<username>/role")
class Role(MethodView):
    @blp.arguments(RoleSchema)
    @blp.response(200, AccountSchema)
    def post(self, args, username):
        """Give a business account another business role and scope (安全管理员; audited)."""
        return _row(users.change_role(db(), _security(), username, args["role"], args["scope_code"], via="api"))


def _security():
    p = current()
    if not policy.secures_accounts(p):
        refuse("accounts", "security", visible=True, why=f"a {p.role} does not manage roles, locks or second factors")
    return p
