"""``archive`` commands — users, API tokens and the audit trail."""
from __future__ import annotations

import sys

import click

from archive.cli.base import _sessions, failure, load_config, main


@main.group()
def users() -> None:
    """Accounts: a role and a scope each."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(
    ["agency_clerk", "agency_legal", "district_office", "city_office", "reviewer", "complaint_handler", "auditor"]))
@click.option("--scope", default=None, help="organisation code the role acts for")
@click.option("--name", default="", help="display name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_add(username: str, role: str, scope: str | None, name: str, password_stdin: bool) -> None:
    """Create a user; the last line printed is a new API token (shown once)."""
    from archive import audit
    from archive.auth.accounts import create_user, issue_token
    from archive.errors import ArchiveError

    cfg = load_config()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with _sessions(cfg)() as session:
        try:
            user = create_user(session, username, role, scope, password=password, display_name=name)
            token = issue_token(session, user, days=cfg["TOKEN_DAYS"])
            audit.append(session, "user.create", actor="cli", target_type="user", target_id=username,
                         detail={"role": role, "scope": scope, "token_id": token.token_id})
            session.commit()
        except ArchiveError as exc:
            raise failure(exc.message) from exc
    click.echo(f"created {username} ({role}{' @ ' + scope if scope else ''}); "
               f"{'password set' if password else 'no password: API token only'}")
    click.echo(f"token {token.token_id} expires {token.expires_at.date().isoformat()}:")
    click.echo(token.token)


@users.command("list")
def users_list() -> None:
    """Every account: login, name, role, organisation, active or disabled."""
    from sqlalchemy import select

    from archive.models import Organisation, User

    with _sessions(load_config())() as session:
        names = dict(session.execute(select(Organisation.code, Organisation.name)).all())
        for u in session.scalars(select(User).order_by(User.scope_code, User.username)):
            click.echo("\t".join([u.username, u.display_name or "-", u.role, u.scope_code or "-",
                                  names.get(u.scope_code or "", "-"), "active" if u.active else "disabled"]))


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="read the new password from standard input")
def users_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password; every open web session of the user ends at once."""
    from archive import audit
    from archive.auth.accounts import find_user, set_password
    from archive.errors import ArchiveError

    password = sys.stdin.readline().rstrip("\n")
    with _sessions(load_config())() as session:
        try:
            set_password(session, find_user(session, username), password)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "user.password", actor="cli", target_type="user", target_id=username)
        session.commit()
    click.echo(f"password of {username} changed; its web sessions have ended")


@users.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """Lift the lock that consecutive failed logins put on an account (audited)."""
    from archive import audit
    from archive.auth.accounts import find_user, unlock
    from archive.errors import ArchiveError

    with _sessions(load_config())() as session:
        try:
            user = find_user(session, username)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        was = user.locked_until
        unlock(session, user)
        audit.append(session, "user.unlock", actor="cli", target_type="user", target_id=username,
                     detail={"locked_until": was.isoformat() if was else None})
        session.commit()
    click.echo(f"{username} unlocked" if was else f"{username} was not locked")


@users.command("mfa-reset")
@click.argument("username")
def users_mfa_reset(username: str) -> None:
    """Forget an account's second factor (the security administrator's own, when it lost its
    phone): its sessions end and the next login enrols again (audited)."""
    from archive import audit
    from archive.auth import mfa
    from archive.auth.accounts import end_all_sessions, find_user
    from archive.errors import ArchiveError

    with _sessions(load_config())() as session:
        try:
            user = find_user(session, username)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        had = user.totp_secret is not None
        mfa.reset(session, user)
        end_all_sessions(session, user)
        audit.append(session, "user.mfa_reset", actor="cli", target_type="user", target_id=username,
                     detail={"via": "cli", "had": had})
        session.commit()
    click.echo(f"{username}: second factor reset; the next login enrols again" if had
               else f"{username} had no second factor")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account: its web sessions end and its tokens are revoked at once."""
    from archive import audit
    from archive.auth.accounts import disable_user, find_user
    from archive.errors import ArchiveError

    with _sessions(load_config())() as session:
        try:
            disable_user(session, find_user(session, username))
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "user.disable", actor="cli", target_type="user", target_id=username)
        session.commit()
    click.echo(f"{username} disabled; its sessions and tokens no longer work")


@main.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer …)."""


@tokens.command("issue")
@click.argument("username")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="lifetime in days, 1–3650 (ARCHIVE_TOKEN_DAYS)")
def tokens_issue(username: str, days: int | None) -> None:
    """Issue a new token for USERNAME; printed once, on the last line."""
    from archive import audit
    from archive.auth.accounts import find_user, issue_token
    from archive.errors import ArchiveError

    cfg = load_config()
    with _sessions(cfg)() as session:
        try:
            token = issue_token(session, find_user(session, username),
                                days=cfg["TOKEN_DAYS"] if days is None else days)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "token.issue", actor="cli", target_type="token", target_id=token.token_id,
                     detail={"user": username})
        session.commit()
    click.echo(f"token {token.token_id} for {username} expires {token.expires_at.date().isoformat()}:")
    click.echo(token.token)


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id (the part after arc_)."""
    from archive import audit
    from archive.auth.accounts import revoke_token
    from archive.errors import ArchiveError

    with _sessions(load_config())() as session:
        try:
            revoke_token(session, token_id)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "token.revoke", actor="cli", target_type="token", target_id=token_id)
        session.commit()
    click.echo(f"token {token_id} revoked")


@main.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("timestamp")
def audit_timestamp() -> None:
    """Stamp the audit head now at the configured TSA (the worker does it daily)."""
    from archive.clock import now
    from archive.services.timestamps import stamp_audit_head, tsa_settings

    cfg = load_config()
    settings = tsa_settings(cfg)
    if settings is None:
        raise click.ClickException("ARCHIVE_TSA_URL is not set")
    row = stamp_audit_head(_sessions(cfg), settings, now(), force=True)
    if row is None:
        raise click.ClickException(f"the TSA at {settings.url} did not give a token that verifies (see the log)")
    click.echo(f"audit head {row.subject.split(':')[0]} stamped at {row.gen_time.isoformat()}")


@audit_group.command("verify")
@click.option("--timestamps", is_flag=True, help="also verify the RFC 3161 tokens of the audit head, offline")
def audit_verify(timestamps: bool) -> None:
    """Check the hash chain; name the first entry that was edited, deleted, inserted or moved.
    With --timestamps, each kept token of the head is verified against the TSA's certificates
    (ARCHIVE_TSA_CERTS) and the entry it stamped must still have the hash it had."""
    from archive.audit import raise_chain_alert, verify_chain

    cfg = load_config()
    sessions = _sessions(cfg)
    if timestamps:
        from archive.services.timestamps import verify_head_stamps

        with sessions() as session:
            stamps = verify_head_stamps(session, str(cfg.get("TSA_CERTS") or ""))
        for problem in stamps.problems:
            click.echo(f"timestamp BROKEN: {problem}")
        click.echo(f"timestamps: {stamps.tokens} tokens, {len(stamps.problems)} failing")
        if stamps.problems:
            sys.exit(1)
    with sessions() as session:
        report = verify_chain(session)
    if report.first_bad is not None:
        raise_chain_alert(sessions, report)  # the audit administrator's level-3 alert, once per break
        click.echo(f"audit trail BROKEN at entry {report.first_bad}: {report.reason} "
                   f"({report.entries} entries verified before it)")
        sys.exit(1)
    segment = f" ({report.sm3_entries} of them linked with SM3)" if report.sm3_entries else ""
    click.echo(f"audit trail intact: {report.entries} entries{segment}")
