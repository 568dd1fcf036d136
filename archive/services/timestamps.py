"""Trusted timestamps (RFC 3161): the audit chain's head daily, and each transfer package's tag
manifest at export, stamped by the Time-Stamping Authority the operator configures
(``ARCHIVE_TSA_URL``; its certificates in ``ARCHIVE_TSA_CERTS``). Tokens are kept write-once and
verified offline (``rfc3161-client``): not even a database administrator can then rewrite the
history before a stamped head unseen — the token binds the head's hash to the TSA's time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archive.models import AuditEntry, AuditHead, TimestampToken

log = logging.getLogger(__name__)
EVERY = dt.timedelta(days=1)


class TimestampFailed(Exception):
    """The TSA could not be reached or answered something that does not verify."""


@dataclass(frozen=True)
class TsaSettings:
    url: str
    certs: str  # a PEM file: the TSA's certificate, intermediates and the root(s) it chains to
    timeout: float = 20.0


def tsa_settings(cfg: dict) -> TsaSettings | None:
    url = (cfg.get("TSA_URL") or "").strip()
    return TsaSettings(url, str(cfg.get("TSA_CERTS") or ""), float(cfg.get("TSA_TIMEOUT") or 20)) if url else None


def head_message(seq: int, head_hash: str) -> bytes:
    """What a head's token stamps: its sequence number and hash."""
    return f"case-archive audit head {seq} {head_hash}".encode()


def _certs(path: str):
    from cryptography import x509

    if not path:
        raise TimestampFailed("ARCHIVE_TSA_CERTS is not set: tokens cannot be verified")
    certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
    roots = [c for c in certs if c.issuer == c.subject]
    others = [c for c in certs if c.issuer != c.subject]
    return roots, others


def verify_token(certs_path: str, tsr: bytes, message: bytes) -> dt.datetime:
    """The time a token vouches for ``message``, after verifying it against the TSA's chain;
    TimestampFailed otherwise."""
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    try:
        resp = decode_timestamp_response(tsr)
    except Exception as exc:  # noqa: BLE001 - any undecodable answer is a failed timestamp
        raise TimestampFailed(f"not a timestamp response: {exc}") from exc
    roots, others = _certs(certs_path)
    builder = VerifierBuilder()
    for r in roots:
        builder = builder.add_root_certificate(r)
    for c in others:
        builder = builder.add_intermediate_certificate(c)
    try:
        ok = builder.build().verify_message(resp, message)
    except VerificationError as exc:
        raise TimestampFailed(f"the token does not verify: {exc}") from exc
    if not ok:
        raise TimestampFailed("the token does not verify")
    gen = resp.tst_info.gen_time
    return gen if gen.tzinfo else gen.replace(tzinfo=dt.timezone.utc)


def request_token(settings: TsaSettings, message: bytes) -> tuple[bytes, dt.datetime]:
    """Ask the TSA for a token over ``message`` (SHA-512 imprint, with a nonce) and verify it."""
    from rfc3161_client import TimestampRequestBuilder

    req = TimestampRequestBuilder().data(message).nonce(nonce=True).build()
    http = urllib.request.Request(settings.url, data=req.as_bytes(), method="POST",
                                  headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(http, timeout=settings.timeout) as answer:  # noqa: S310 - the operator's TSA
            tsr = answer.read(1 << 20)
    except OSError as exc:
        raise TimestampFailed(f"the TSA at {settings.url} did not answer: {exc}") from exc
    return tsr, verify_token(settings.certs, tsr, message)


def keep(session: Session, kind: str, subject: str, message: bytes, tsr: bytes, gen_time: dt.datetime,
         now: dt.datetime) -> TimestampToken:
    row = TimestampToken(kind=kind, subject=subject, digest=hashlib.sha256(message).hexdigest(), token=tsr,
                         gen_time=gen_time, received_at=now)
    session.add(row)
    session.flush()
    return row


def last_head_stamp(session: Session) -> TimestampToken | None:
    return session.scalars(select(TimestampToken).where(TimestampToken.kind == "audit_head")
                           .order_by(TimestampToken.id.desc()).limit(1)).first()


def stamp_audit_head(sessions: sessionmaker[Session], settings: TsaSettings | None, now: dt.datetime,
                     force: bool = False) -> TimestampToken | None:
    """Stamp the audit head unless one was stamped within a day (``force``: now). A TSA that does
    not answer is retried at the next round (the checks run every few minutes); None then."""
    from archive import audit

    if settings is None:
        return None
    with sessions() as session:
        last = last_head_stamp(session)
        if not force and last is not None and now - last.received_at < EVERY:
            return None
        head = session.get(AuditHead, 1)
        if head is None or not head.seq:
            return None
        seq, head_hash = head.seq, head.hash
    message = head_message(seq, head_hash)
    try:
        tsr, gen = request_token(settings, message)
    except TimestampFailed as exc:
        log.warning("audit head not timestamped (retried later): %s", exc)
        return None
    with sessions() as session:
        row = keep(session, "audit_head", f"{seq}:{head_hash}", message, tsr, gen, now)
        audit.append(session, "audit.timestamp", actor="worker", target_type="audit", target_id=str(seq),
                     detail={"gen_time": gen.isoformat(), "token": row.id})
        session.commit()
        session.refresh(row)
        session.expunge(row)
        return row


@dataclass(frozen=True)
class StampReport:
    tokens: int
    problems: list[str]


def verify_head_stamps(session: Session, certs_path: str) -> StampReport:
    """Every kept audit-head token: it verifies against the TSA's chain, and the entry it names
    still has the hash it stamped (a rewritten history before a stamp shows here)."""
    problems, n = [], 0
    for row in session.scalars(select(TimestampToken).where(TimestampToken.kind == "audit_head")
                               .order_by(TimestampToken.id)):
        n += 1
        seq_s, stamped_hash = row.subject.split(":", 1)
        message = head_message(int(seq_s), stamped_hash)
        try:
            verify_token(certs_path, row.token, message)
        except TimestampFailed as exc:
            problems.append(f"token {row.id} (entry {seq_s}): {exc}")
            continue
        now_hash = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == int(seq_s)))
        if now_hash != stamped_hash:
            problems.append(f"token {row.id}: entry {seq_s} no longer has the hash stamped at "
                            f"{row.gen_time.isoformat()} (the history before it was rewritten)")
    return StampReport(n, problems)


def health(session: Session, settings: TsaSettings | None, now: dt.datetime) -> dict:
    """For /api/health: degraded after a day (and an hour's grace) without a head timestamp."""
    if settings is None:
        return {"configured": False, "ok": True}
    last = last_head_stamp(session)
    ok = last is not None and now - last.received_at < EVERY + dt.timedelta(hours=1)
    return {"configured": True, "ok": ok, "last": last.gen_time.isoformat() if last else None}
