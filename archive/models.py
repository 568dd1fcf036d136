"""Relational metadata: organisations, cases, stages, documents and the index queue."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text,
    TypeDecorator,
    UniqueConstraint, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ORG_LEVELS = ("city", "district", "agency")
CASE_KINDS = ("inspection", "penalty")
PROCEDURES = ("general", "summary")
STAGES = ("inspection", "filing", "investigation", "review", "decision", "execution", "closing")
# Which stages a case of each kind goes through, in filing order.
STAGES_BY_KIND = {
    "inspection": ("inspection",),
    "penalty": ("filing", "investigation", "review", "decision", "execution", "closing"),
}
PENALTY_TYPES = ("warning", "fine", "confiscation", "suspend_business", "revoke_licence", "detention", "other")
PARTY_TYPES = ("citizen", "organisation")
# ocr_pending: waiting for OCR; ocr: text recognised by OCR (ocr_confidence); refused: beyond the
# OCR limits (pixels, pages), kept unread.
TEXT_STATUSES = ("pending", "extracted", "truncated", "no_text_layer", "not_extracted", "failed",
                 "ocr_pending", "ocr", "refused")


def new_id() -> str:
    """A fresh opaque identifier (also used in object keys, never user text)."""
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    """The server clock, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC; SQLite keeps no offset, so it is restored on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: every stored time must carry its offset")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class Organisation(Base):
    """City, district or agency; the three supervision levels."""

    __tablename__ = "organisations"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    # An agency's case numbering, e.g. 津武市监罚〔YYYY〕N号 (YYYY: year, N: sequence); None: any number.
    case_number_pattern: Mapped[str | None] = mapped_column(String(120), nullable=True)


POWER_CATEGORIES = ("penalty", "inspection", "licensing", "coercion", "enforcement", "other")


class Power(Base):
    """An enforcement power (职权) in an agency's basic information: what the agency is
    empowered to do, by which legal basis. The performance ratio counts the powers exercised."""

    __tablename__ = "powers"
    __table_args__ = (UniqueConstraint("agency_code", "code", name="uq_powers_agency_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    legal_basis: Mapped[str] = mapped_column(Text, default="")


class Officer(Base):
    """An enforcement officer (执法人员) of an agency's basic information, with the certificate
    (执法证) that lets them act and its validity."""

    __tablename__ = "officers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    certificate_no: Mapped[str] = mapped_column(String(64), unique=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    # 暂扣: the certificate suspended from … until … (an open end: until further notice)
    suspended_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    suspended_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class TrainingRecord(Base):
    """One course an officer attended (执法培训): organiser, dates and hours."""

    __tablename__ = "training_records"
    __table_args__ = (UniqueConstraint("certificate_no", "course", "start_on", name="uq_training_record"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    certificate_no: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    course: Mapped[str] = mapped_column(String(200))
    organiser: Mapped[str] = mapped_column(String(200), default="", server_default="")
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 1))


class CertificateExam(Base):
    """An exam for the enforcement certificate (执法证件申领考试) and the application after it."""

    __tablename__ = "certificate_exams"
    __table_args__ = (UniqueConstraint("id_number", "exam_on", name="uq_certificate_exam"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(32))  # 身份证号: an applicant has no certificate yet
    exam_on: Mapped[dt.date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(16))  # passed | failed | pending
    application: Mapped[str] = mapped_column(String(16), default="", server_default="")  # "" | applied | issued | refused
    certificate_no: Mapped[str] = mapped_column(String(64), default="", server_default="")


class InspectionPlan(Base):
    """An agency's inspection plan (检查计划): which power it inspects under, how many times,
    in which period."""

    __tablename__ = "inspection_plans"
    __table_args__ = (UniqueConstraint("agency_code", "code", name="uq_inspection_plans_agency_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    power_code: Mapped[str] = mapped_column(String(64), default="")
    planned: Mapped[int | None] = mapped_column(Integer, nullable=True)  # inspections planned
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date] = mapped_column(Date)


class BasicInfoChange(Base):
    """An agency's change of its basic information (powers, officers or inspection plans),
    applied only once the district office approves it. Reported more than 15 days after it took
    effect, it raises a warning on the agency (``warning_id``)."""

    __tablename__ = "basic_info_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # powers | officers | plans
    rows: Mapped[str] = mapped_column(Text)  # JSON list of the checked rows, each with its action
    filename: Mapped[str] = mapped_column(String(255), default="")
    effective_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    late: Mapped[bool] = mapped_column(default=False)
    warning_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class PerformanceThreshold(Base):
    """The pass mark of the performance ratio for one year, set by the city office; a year
    without one uses ``ARCHIVE_PERFORMANCE_THRESHOLD``."""

    __tablename__ = "performance_thresholds"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    threshold: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class Case(Base):
    """An inspection record or a penalty case file (案卷)."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_agency_opened", "agency_code", "opened_on"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(120), unique=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    procedure: Mapped[str] = mapped_column(String(16))
    power_code: Mapped[str] = mapped_column(String(64), default="")
    party_name: Mapped[str] = mapped_column(String(200), default="")
    party_id: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    opened_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Facts that make a case major (重大案件): who the party is, the sector's hearing thresholds,
    # and what the decision imposed (recorded with the decision stage).
    party_type: Mapped[str] = mapped_column(String(16), default="organisation")  # or "citizen"
    sector: Mapped[str] = mapped_column(String(32), default="")
    penalty_types: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of PENALTY_TYPES
    fine_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # yuan
    # Incremental warning scans: a case is evaluated again when it changed since it was last
    # checked, or when the earliest deadline still pending for it has passed.
    changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_check_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)

    agency: Mapped[Organisation] = relationship(lazy="joined")
    stages: Mapped[list["Stage"]] = relationship(back_populates="case", order_by="Stage.id")
    documents: Mapped[list["Document"]] = relationship(back_populates="case", order_by="Document.uploaded_at")


class Stage(Base):
    """A stage of a case recorded as completed: when it happened and when the archive heard."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("case_id", "stage", name="uq_stage_once"),
                      Index("ix_stages_completed_at", "completed_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    completed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str | None] = mapped_column(String(120), nullable=True)

    case: Mapped[Case] = relationship(back_populates="stages")
    officers: Mapped[list["StageOfficer"]] = relationship(order_by="StageOfficer.id", lazy="selectin")


class StageOfficer(Base):
    """An officer who performed a stage (执法人员), named by certificate number from the agency's
    registry when the stage was recorded; the name as it was then."""

    __tablename__ = "stage_officers"
    __table_args__ = (UniqueConstraint("stage_id", "certificate_no", name="uq_stage_officer"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    certificate_no: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))


class Document(Base):
    """One stored document or piece of evidence; its bytes live in object storage."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_uploaded_at", "uploaded_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    form_code: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    sm3: Mapped[str | None] = mapped_column(String(64), nullable=True)  # beside SHA-256 (none before it was kept)
    object_key: Mapped[str] = mapped_column(String(255))
    version_id: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploader: Mapped[str | None] = mapped_column(String(120), nullable=True)
    text_status: Mapped[str] = mapped_column(String(16), default="pending")
    text_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The extracted text as found in the file, kept for display; the index holds a normalised copy.
    text_content: Mapped[str | None] = mapped_column(Text, nullable=True)
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Text recognised by OCR (text_status "ocr"): mean confidence per character, 0..1, and the
    # engine and model that read it. The text is derived: ``archive ocr`` makes it again.
    ocr_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    ocr_engine: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The current version (1 at upload; an approved amendment adds one, see DocumentVersion).
    version_no: Mapped[int] = mapped_column(Integer, default=1)
    fixity_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # 销毁: removed from the store at the end of its retention period (the row stays, as in the
    # 销毁清册: its SHA-256 and size; its text is cleared, its content answers 410)
    disposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    case: Mapped[Case] = relationship(back_populates="documents")


class Job(Base):
    """One durable queue for all background work (``archive.jobs``): index writes, text
    extraction, outbox effects, case manifests, the deadline scan, fixity rounds and OCR."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "done_at", "kind", "priority", "id"),
        # At most one open OCR job per document, also when two requests queue one at once.
        Index("ux_jobs_open_ocr", "subject", unique=True,
              sqlite_where=text("kind = 'ocr' AND done_at IS NULL"),
              postgresql_where=text("kind = 'ocr' AND done_at IS NULL")),
        # One open job of each scheduled kind, however many workers start at once.
        Index("ux_jobs_open_scheduled", "kind", unique=True,
              sqlite_where=text("kind IN ('checks', 'fixity') AND done_at IS NULL"),
              postgresql_where=text("kind IN ('checks', 'fixity') AND done_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64), default="")  # a document or case id
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    priority: Mapped[int] = mapped_column(Integer, default=50)  # lower runs first
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Not run before this time (back-off after a failure, a scheduled round; None: at once).
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Held by this worker until then; an expired lease is claimed again.
    lease_holder: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


ROLES = ("agency_clerk", "agency_legal", "district_office", "city_office", "reviewer",
         "complaint_handler", "auditor", "sys_admin", "security_admin", "audit_admin")
# The three administrators (三权分立): created by the first start or the CLI, never from a page.
ADMIN_ROLES = ("sys_admin", "security_admin", "audit_admin")


class User(Base):
    """A person with one role and one scope in the supervision hierarchy."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(32))
    # The organisation the role acts for; None only for city-wide roles on an instance without a city.
    scope_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Password rules (等保 identification): when it was set, whether its owner must change it
    # (set by an administrator, or printed by the first start), consecutive failures and the lock.
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The login notice: the last login, the one before it, and the failures since the last one.
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failures_since_login: Mapped[int] = mapped_column(Integer, default=0)
    # The second factor (TOTP, RFC 6238): the shared secret once enrolled, and the last time step
    # accepted (a code is good once: a step not above it is refused).
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)  # where notices go (消息)


class RecoveryCode(Base):
    """One of a user's ten one-time recovery codes (SHA-256 of the code; used once)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash", name="uq_recovery_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PasswordHistory(Base):
    """The hashes of a user's earlier passwords (a new one may not repeat the last five)."""

    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token for programs; only a hash of its secret is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class WebSession(Base):
    """A browser session, revocable on the server: the signed cookie only names it (logout,
    a password change or a disabled account end it at once)."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Idle sessions end (ARCHIVE_SESSION_IDLE_MINUTES); the 安全 page lists where each is used.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)


class LoginThrottle(Base):
    """Failed logins per username and per address, for slowing down guessing."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """One entry of the append-only audit trail; each holds the hash of the one before."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_action_at", "action", "at"),)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The digest of this entry's link: sha256, or sm3 (ARCHIVE_AUDIT_DIGEST; a new segment
    # continues from the last SHA-256 hash).
    alg: Mapped[str] = mapped_column(String(8), default="sha256")


class SecurityAlert(Base):
    """An alert to the audit administrator (a broken audit chain is level 3); raised once per
    fact (the unique constraint), acknowledged with a note."""

    __tablename__ = "security_alerts"
    __table_args__ = (UniqueConstraint("kind", "fact_key", name="uq_security_alert_fact"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    fact_key: Mapped[str] = mapped_column(String(120))
    level: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditHead(Base):
    """The newest sequence number and hash; appending locks this row, so the chain never forks."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    # the digest of the current segment: every process appends with it (ensure_digest moves it to sm3)
    alg: Mapped[str] = mapped_column(String(8), default="sha256")


class CalendarYear(Base):
    """A year's holidays and make-up working days loaded by an administrator (overrides the package)."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[str] = mapped_column(Text)  # JSON list of ISO dates
    workdays: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WarningRecord(Base):
    """A three-level warning (预警) about one fact of one case; stored once per fact."""

    __tablename__ = "warnings"
    __table_args__ = (UniqueConstraint("case_id", "rule", "fact_key", name="uq_warning_fact"),
                      Index("ix_warnings_open", "status", "level", "due_at"),
                      Index("ix_warnings_agency_opened", "agency_code", "opened_at"),
                      # a warning about no case (a late basic-information change) is stored once too
                      Index("ux_warnings_fact_without_case", "rule", "fact_key", unique=True,
                            sqlite_where=text("case_id IS NULL"), postgresql_where=text("case_id IS NULL")))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(40))
    fact_key: Mapped[str] = mapped_column(String(120))
    # None: a warning about the agency, not a case (a late basic-information change)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    agency_code: Mapped[str] = mapped_column(String(64), index=True)
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    fact_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | handled
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # When the responsible level must have handled it before it climbs (None: calendar missing).
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    handled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handled_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # when it was stored (the database's clock; ``opened_at`` is the fact's time): notices look at it
    created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True,
                                                           server_default=text("CURRENT_TIMESTAMP"))
    # When someone who handles its level first opened it (daily-use tracking: how quickly open
    # warnings are looked at).
    first_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_seen_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WarningEscalation(Base):
    """One step up the levels; the unique key gives each warning exactly one record per level."""

    __tablename__ = "warning_escalations"
    __table_args__ = (UniqueConstraint("warning_id", "level", name="uq_escalation_level"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SamplingPlan(Base):
    """A unified sampling plan (全市统一抽样工作计划) and, once drawn, its seed.

    Strata are agency × kind over the agencies the plan covers (one district, or the city);
    each stratum takes ``count`` files or ``rate`` of its population, clamped to
    [``min_per_stratum``, ``max_per_stratum``] and to the population.
    """

    __tablename__ = "sampling_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    kinds: Mapped[str] = mapped_column(Text)  # JSON list: penalty, inspection
    district_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate: Mapped[float | None] = mapped_column(nullable=True)
    min_per_stratum: Mapped[int] = mapped_column(Integer, default=0)
    max_per_stratum: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reviewers_per_file: Mapped[int] = mapped_column(Integer, default=2)
    max_load: Mapped[int] = mapped_column(Integer, default=10)
    review_deadline: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | frozen | drawn | withdrawn
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    withdraw_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    frozen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    seed: Mapped[str | None] = mapped_column(String(200), nullable=True)
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    drawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The reviewer pool as it was at the draw: [{username, agency, conflicts: [...]}, …]
    pool: Mapped[str | None] = mapped_column(Text, nullable=True)

    strata: Mapped[list["SampleStratum"]] = relationship(order_by="SampleStratum.id", back_populates="plan")


class SampleStratum(Base):
    """One stratum's frozen population (sorted case numbers), its digest and its sample."""

    __tablename__ = "sample_strata"
    __table_args__ = (UniqueConstraint("plan_id", "agency_code", "kind", name="uq_stratum"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sampling_plans.id"), index=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"))
    kind: Mapped[str] = mapped_column(String(16))
    population: Mapped[str] = mapped_column(Text)  # JSON list of case numbers, sorted
    size: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    k: Mapped[int] = mapped_column(Integer)
    selected: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list, lowest rank first

    plan: Mapped[SamplingPlan] = relationship(back_populates="strata")


class ReviewConflict(Base):
    """A reviewer's declared conflict of interest with an agency or a case (by number)."""

    __tablename__ = "review_conflicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_number: Mapped[str | None] = mapped_column(String(120), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Review(Base):
    """One reviewer's assignment to one sampled file, and the score once submitted (评查)."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("plan_id", "case_id", "reviewer", name="uq_review_once"),
                      Index("ix_reviews_submitted_at", "submitted_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sampling_plans.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    case_number: Mapped[str] = mapped_column(String(120))
    agency_code: Mapped[str] = mapped_column(String(64), index=True)
    reviewer: Mapped[str] = mapped_column(String(64), index=True)
    rank: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="assigned")  # assigned | submitted
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    vetoed: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of veto item codes
    deductions: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON [{item, points, reason}]
    form_score: Mapped[float | None] = mapped_column(nullable=True)  # 卷面, of 20
    content_score: Mapped[float | None] = mapped_column(nullable=True)  # 内容, of 80
    score: Mapped[float | None] = mapped_column(nullable=True)
    grade: Mapped[str | None] = mapped_column(String(8), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The reviewer's unsubmitted work, saved from the scoring page: {vetoed, veto_reasons, deductions, note}.
    draft: Mapped[str | None] = mapped_column(Text, nullable=True)
    draft_saved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DocumentVersion(Base):
    """A version of a document that an approved amendment superseded; its object version stays
    stored and retained, readable and searchable on request."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version_no", name="uq_document_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    version_no: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str] = mapped_column(String(255))
    version_id: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    sm3: Mapped[str | None] = mapped_column(String(64), nullable=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    uploader: Mapped[str | None] = mapped_column(String(120), nullable=True)
    text_content: Mapped[str | None] = mapped_column(Text, nullable=True)
    superseded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    amendment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CaseCorrection(Base):
    """A request to correct one fact of a case (立案日期, party name or ID, summary): asked by the
    agency with a reason, decided by its supervising office; the case keeps every one."""

    __tablename__ = "case_corrections"
    # One pending correction per case and fact, enforced by the database (a partial unique index).
    __table_args__ = (Index("uq_case_correction_pending", "case_id", "field", unique=True,
                            sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    agency_code: Mapped[str] = mapped_column(String(64), index=True)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|approved|rejected
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Amendment(Base):
    """An amendment request (更正申请): the corrected file waits in the store until decided."""

    __tablename__ = "amendments"
    # One pending amendment per document, enforced by the database (a partial unique index).
    __table_args__ = (Index("uq_amendment_pending", "document_id", unique=True,
                            sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    agency_code: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    object_key: Mapped[str] = mapped_column(String(255))
    version_id: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    sm3: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|approved|rejected
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_version_no: Mapped[int | None] = mapped_column(Integer, nullable=True)


class FixityEvent(Base):
    """One fixity check of one object version: what, when, and what was found."""

    __tablename__ = "fixity_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(32), index=True)
    object_key: Mapped[str] = mapped_column(String(255))
    version_id: Mapped[str] = mapped_column(String(255))
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    result: Mapped[str] = mapped_column(String(16))  # ok | damaged | missing | altered
    detail: Mapped[str] = mapped_column(Text, default="")


class Rendition(Base):
    """The fixed-layout copy (PDF/A-2b) of one version of an editable document (DOCX, DOC, ODT,
    RTF, WPS), made by LibreOffice in the background and stored write-once beside the original
    (``cases/<case>/renditions/<document>/<version>``). Derived data: it can be made again."""

    __tablename__ = "renditions"
    __table_args__ = (UniqueConstraint("document_id", "source_version_id", name="uq_rendition_source"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(32), index=True)
    source_version_id: Mapped[str] = mapped_column(String(255))  # the original's version it was made from
    status: Mapped[str] = mapped_column(String(16))  # done | failed
    object_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    version_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pages: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pdfa_valid: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    pdfa_problems: Mapped[str] = mapped_column(Text, default="")  # one per line, "中文 / English"
    text_equal: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # the original's text, normalised
    reason: Mapped[str] = mapped_column(Text, default="")  # why it failed, "中文 / English"
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Examination(Base):
    """What one stored version of a document is (format identification, encryption, its place in
    the format policy) and the signatures and seals inside it, verified; made in the background
    by the ``examine`` job after the upload's answer. Derived data: ``archive examine`` makes it again."""

    __tablename__ = "examinations"
    __table_args__ = (UniqueConstraint("document_id", "version_id", name="uq_examination_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(32), index=True)
    version_id: Mapped[str] = mapped_column(String(255))
    puid: Mapped[str] = mapped_column(String(32))  # PRONOM identifier, local/ofd, or UNKNOWN
    format_name: Mapped[str] = mapped_column(String(255))
    format_version: Mapped[str] = mapped_column(String(64), default="")
    format_mime: Mapped[str] = mapped_column(String(120))
    format_basis: Mapped[str] = mapped_column(String(500), default="")
    format_class: Mapped[str] = mapped_column(String(16))  # fixed | editable | image | audio_video | text | other
    policy: Mapped[str] = mapped_column(String(16), index=True)  # master | evidence | outside
    policy_reason: Mapped[str] = mapped_column(Text, default="")
    protection: Mapped[str] = mapped_column(String(16), default="")  # "" | encrypted | password
    signatures: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of Signature.view()
    signatures_failed: Mapped[int] = mapped_column(Integer, default=0)  # not 验证通过 (changed, or not verifiable)
    examined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Complaint(Base):
    """A complaint or report (投诉举报) and how it was handled."""

    __tablename__ = "complaints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    complainant: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)  # how to reach the complainant
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    district_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    handling: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ComplaintStep(Base):
    """One step of handling a complaint (办理记录): the day, who, what was done. Appended only."""

    __tablename__ = "complaint_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    done_on: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StoredFile:
    """The columns of a file stored write-once beside a record (``archive.services.attachments``)."""

    object_key: Mapped[str] = mapped_column(String(255))
    version_id: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ComplaintAttachment(StoredFile, Base):
    """A file that came with a complaint (letters, photos), stored write-once like any document."""

    __tablename__ = "complaint_attachments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)


class ComplaintLink(Base):
    """A case a complaint concerns; while any open complaint links it, its objects are on legal hold."""

    __tablename__ = "complaint_links"
    __table_args__ = (UniqueConstraint("complaint_id", "case_id", name="uq_complaint_case"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    linked_by: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CasePeriod(Base):
    """A change to the decision period (law art. 60): an approved extension (延长, ``days``) or
    a suspension (中止, from ``start_on`` to ``end_on``; open while ``end_on`` is None), whose
    days are not counted."""

    __tablename__ = "case_periods"
    # At most one open suspension per case (a partial unique index).
    __table_args__ = (Index("uq_open_suspension", "case_id", unique=True,
                            sqlite_where=text("kind = 'suspension' AND end_on IS NULL"),
                            postgresql_where=text("kind = 'suspension' AND end_on IS NULL")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # extension | suspension
    days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    end_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    approved_by: Mapped[str] = mapped_column(String(120))  # who approved it (负责人批准)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SupervisionTask(Base):
    """A supervision task (交办/转办): the city office transfers a matter to a district office,
    a district office assigns one to an agency; answered by the assignee, accepted or sent back
    by the assigner. Overdue, it raises a warning on the assignee."""

    __tablename__ = "supervision_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # transfer (city → district) | assign (district → agency)
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    assigner_org: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    assignee_org: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    due_days: Mapped[int] = mapped_column(Integer)  # working days from the assignment
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)  # None: calendar missing
    # assigned → answered → accepted, or sent_back → answered again
    status: Mapped[str] = mapped_column(String(16), default="assigned", index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), nullable=True, index=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TaskCase(Base):
    """A case a supervision task concerns."""

    __tablename__ = "task_cases"
    task_id: Mapped[int] = mapped_column(ForeignKey("supervision_tasks.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)


class TaskStep(Base):
    """One step of a task's life (assign, answer, send_back, accept), appended only."""

    __tablename__ = "task_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("supervision_tasks.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64))
    org: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, default="")


class TaskAttachment(StoredFile, Base):
    """A file of a task step, stored write-once (a retained object version) like any document."""

    __tablename__ = "task_attachments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    task_id: Mapped[int] = mapped_column(ForeignKey("supervision_tasks.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("task_steps.id"))


class FilingReview(Base):
    """The district office's review of a major case's 备案 against ``forms/filing_review.json``:
    once per case (the unique key), accepted or with problems (which open a task on the agency)."""

    __tablename__ = "filing_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    agency_code: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # accepted | problems
    items: Mapped[str] = mapped_column(Text)  # JSON [{code, text, auto, detail, ok, reason}]
    certificate: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_tasks.id"), nullable=True)


class ArchivalCounter(Base):
    """The last 件号 given within an agency, year and retention period (归档): a number is taken
    by incrementing this row under its lock, in the filing's transaction — never reused, never
    skipped."""

    __tablename__ = "archival_counters"
    agency_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    retention: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ArchivalFile(Base):
    """A closed case filed into the archive (归档): its 档号, 保管期限 and the GB/T 18894 metadata
    of its documents as filed (JSON, by document id)."""

    __tablename__ = "archival_files"
    __table_args__ = (UniqueConstraint("agency_code", "year", "retention", "piece", name="uq_archival_piece"),)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    retention: Mapped[str] = mapped_column(String(8))  # Y | D30 | D10 (forms/archival.json)
    piece: Mapped[int] = mapped_column(Integer)
    archival_no: Mapped[str] = mapped_column(String(120), unique=True)
    retain_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # None: 永久
    status: Mapped[str] = mapped_column(String(16), default="filed")  # filed | transferred | disposed
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    filed_by: Mapped[str] = mapped_column(String(64))
    metadata_json: Mapped[str] = mapped_column(Text, default="{}")


class ArchivalCheck(Base):
    """One four-property check (四性检测) of a case, kept as run (write-once): the phase (归档,
    移交, 长期保存), whether every item passed, the report (JSON) and its SHA-256."""

    __tablename__ = "archival_checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    phase: Mapped[str] = mapped_column(String(16))  # filing | transfer | keeping
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(64))
    passed: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[str] = mapped_column(Text)
    report_sha256: Mapped[str] = mapped_column(String(64))


class ArchivalMetadata(Base):
    """A metadata element of a document as the agency set it before filing (the rest are filled
    from what the archive knows)."""

    __tablename__ = "archival_metadata"
    __table_args__ = (UniqueConstraint("document_id", "name", name="uq_archival_metadata"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    name: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(500))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Appraisal(Base):
    """鉴定 of a filed case whose retention period has ended: kept longer (``keep``, a new
    period with its reason, done at once) or disposed of (``dispose``: proposed by one office,
    approved by another office role, then carried out by the ``dispose`` job once every stored
    version's retention has passed). A disposal's ``register`` is its 销毁清册 entry (JSON:
    the case, 档号, each document with SHA-256 and size, who proposed and approved, when).
    At most one disposal per case is open or done (a partial unique index)."""

    __tablename__ = "appraisals"
    __table_args__ = (
        Index("ux_appraisals_open_disposal", "case_id", unique=True,
              sqlite_where=text("kind = 'dispose' AND status IN ('proposed', 'approved', 'disposed')"),
              postgresql_where=text("kind = 'dispose' AND status IN ('proposed', 'approved', 'disposed')")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # keep | dispose
    status: Mapped[str] = mapped_column(String(16))  # keep: done; dispose: proposed | approved | rejected | disposed
    archival_no: Mapped[str] = mapped_column(String(120))
    retention_before: Mapped[str] = mapped_column(String(8))
    until_before: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    retention_after: Mapped[str | None] = mapped_column(String(8), nullable=True)  # keep: the new period
    until_after: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    reason: Mapped[str] = mapped_column(Text)  # 鉴定意见
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_role: Mapped[str] = mapped_column(String(32))
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    disposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    waiting: Mapped[str] = mapped_column(Text, default="", server_default="")  # why the job waits (retention, hold)
    register: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    register_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")


class Notification(Base):
    """A notice to one person (消息): a warning at their level, a task assigned or answered, an
    amendment waiting, a review assigned or due, a published briefing. One per person and
    event (the unique key): made again by a retry or a second worker, it is not doubled.
    ``mailed``: "" (not by e-mail), ``queued`` (its e-mail made), ``digest`` (waits for the
    day's digest), ``off`` (the person chose the app only)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("username", "event_key", name="uq_notification_event"),
                      Index("ix_notifications_unread", "username", "read_at"),
                      Index("ix_notifications_mail", "mailed", "username"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # warning | task | amendment | review | briefing
    event_key: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    link: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mailed: Mapped[str] = mapped_column(String(16), default="", server_default="")


class NotificationPref(Base):
    """How one person wants one kind of notice by e-mail: ``immediate``, ``digest`` (once a
    day) or ``off`` (in the app only)."""

    __tablename__ = "notification_prefs"
    __table_args__ = (UniqueConstraint("username", "kind", name="uq_notification_pref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))


class OutgoingEmail(Base):
    """An e-mail to send (one notice, or a day's digest): made once per ``dedupe_key`` (unique),
    sent by the ``email`` job, claimed by a compare-and-set on ``status`` so that two workers
    and retries send it once."""

    __tablename__ = "outgoing_emails"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class BriefingPublication(StoredFile, Base):
    """A month's briefing (简报) published by an office to the organisations below it (a district
    office to its agencies, the city office to the districts): the DOCX as published, stored
    write-once. One per office and month (a unique key)."""

    __tablename__ = "briefing_publications"
    __table_args__ = (UniqueConstraint("publisher_org", "month", name="uq_briefing_publication"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    title: Mapped[str] = mapped_column(String(200))
    publisher_org: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")


class BriefingRecipient(Base):
    """An organisation a briefing was published to, and who of it read it first, when."""

    __tablename__ = "briefing_recipients"
    __table_args__ = (UniqueConstraint("publication_id", "org_code", name="uq_briefing_recipient"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("briefing_publications.id"))
    org_code: Mapped[str] = mapped_column(String(64), index=True)
    read_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NotifyMark(Base):
    """How far the notices of one source were made (the next round looks again a little before)."""

    __tablename__ = "notify_marks"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TimestampToken(Base):
    """An RFC 3161 token (the TSA's whole answer, DER) over the audit head (subject
    ``seq:hash``) or a transfer package's tag manifest; kept write-once."""

    __tablename__ = "timestamp_tokens"
    __table_args__ = (Index("ix_timestamp_tokens_kind", "kind", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # audit_head | transfer
    subject: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the message stamped
    token: Mapped[bytes] = mapped_column(LargeBinary)
    gen_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
