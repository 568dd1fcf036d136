"""Shared fixtures: a real SeaweedFS started for the run, SQLite and PostgreSQL databases.

Nothing here skips: a missing SeaweedFS binary or an unreachable PostgreSQL fails the run.
"""
from __future__ import annotations

import io
import os
import threading
import uuid

import pytest
import sqlalchemy as sa

from archive.storage.seaweed import EmbeddedSeaweed, pick_ports

ACCESS, SECRET = "archive-test", "archive-test-secret"
PG_URL = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One SeaweedFS for the whole run, on free ports, all bound to 127.0.0.1."""
    # Every test gets its own bucket, and SeaweedFS gives each bucket its own volumes: small
    # volumes keep hundreds of buckets within the volume count the free disk allows.
    weed = EmbeddedSeaweed(tmp_path_factory.mktemp("seaweed"), pick_ports(1)[0], ACCESS, SECRET,
                           extra_args=("-master.volumeSizeLimitMB=8",))
    weed.start(timeout=90)
    yield weed
    weed.stop()


@pytest.fixture(scope="session")
def seaweed_cluster(tmp_path_factory):
    """A SeaweedFS cluster for the run (master, three volume servers with replication 001, a
    filer, the S3 gateway), each component on its own loopback ports and directory; started
    only by the tests that ask for it."""
    from archive.storage.cluster import SeaweedCluster

    cluster = SeaweedCluster(tmp_path_factory.mktemp("cluster"), ACCESS, SECRET)
    cluster.start()
    yield cluster
    cluster.stop(grace=1.0)


def new_bucket() -> str:
    return "t-" + uuid.uuid4().hex[:20]


def make_store(endpoint: str, bucket: str | None = None):
    from archive.storage.s3 import S3ObjectStore

    store = S3ObjectStore(endpoint, ACCESS, SECRET, bucket or new_bucket(), part_size=5 * 1024**2)
    store.ensure_bucket()
    return store


@pytest.fixture
def store(seaweed):
    """A fresh versioned, object-locked bucket on the run's SeaweedFS."""
    return make_store(seaweed.endpoint)


@pytest.fixture(scope="session")
def pg_server_url():
    """The PostgreSQL server; its absence fails the run (never a skip)."""
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - a failing environment
        pytest.fail(f"PostgreSQL at {PG_URL} is required for the database tests: {exc}")
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each database test runs on SQLite and on PostgreSQL (a new database each time)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.sqlite3'}"
        return
    server = request.getfixturevalue("pg_server_url")
    name = "archive_t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def archive_config(tmp_path, database_url: str, endpoint: str, **extra) -> dict:
    cfg = {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
           "S3_ENDPOINT": endpoint, "S3_ACCESS_KEY": ACCESS, "S3_SECRET_KEY": SECRET,
           "S3_BUCKET": new_bucket(), "DEMO": False,
           # the tests' people log in with passwords the tests set for them; the forced change
           # of a password set by someone else is tested on its own (test_password_rules)
           "FORCE_PASSWORD_CHANGE": False,
           # likewise the second factor: its own tests (test_mfa, the browser's enrolment) name the roles
           "MFA_ROLES": ""}
    cfg.update(extra)
    return cfg


@pytest.fixture
def make_app(tmp_path, database_url, seaweed):
    """Factory: a prepared app (migrated database, new bucket) with optional config overrides."""
    from archive.extension import build_archive
    from archive.factory import create_app
    from archive.config import load_config

    made = []

    def factory(**extra):
        cfg = load_config(archive_config(tmp_path, database_url, seaweed.endpoint, **extra), environ={})
        archive = build_archive(cfg)
        archive.prepare()
        made.append(archive)
        app = create_app(cfg, archive=archive)
        app.testing = True
        return app

    yield factory
    for archive in made:  # an OCR process started by the test stops with it
        if archive._ocr_runner is not None:
            archive._ocr_runner.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def archive(app):
    return app.extensions["archive"]


ORGS = [
    {"code": "120000", "name": "天津市", "level": "city"},
    {"code": "120114", "name": "武清区", "level": "district", "parent": "120000"},
    {"code": "120113", "name": "北辰区", "level": "district", "parent": "120000"},
    {"code": "A-SJJ", "name": "武清区市场监督管理局", "level": "agency", "parent": "120114"},
    {"code": "A-YJJ", "name": "武清区应急管理局", "level": "agency", "parent": "120114"},
    {"code": "B-SJJ", "name": "北辰区市场监督管理局", "level": "agency", "parent": "120113"},
]

# One account per role (and a clerk per agency); key "role@scope".
ACCOUNTS = [
    ("clerk_a", "agency_clerk", "A-SJJ"), ("clerk_ay", "agency_clerk", "A-YJJ"),
    ("clerk_b", "agency_clerk", "B-SJJ"), ("legal_a", "agency_legal", "A-SJJ"),
    ("district_a", "district_office", "120114"), ("district_b", "district_office", "120113"),
    ("city", "city_office", "120000"), ("reviewer", "reviewer", None),
    ("complaints_a", "complaint_handler", "120114"), ("auditor", "auditor", "120000"),
    # the three administrators (三权分立)
    ("sysadmin", "sys_admin", None), ("secadmin", "security_admin", None), ("auditadmin", "audit_admin", None),
]


def authorize(app) -> dict[str, str]:
    """Load the test organisations and accounts; return bearer tokens by "role@scope"."""
    from archive.auth.accounts import create_user, issue_token
    from archive.services.orgs import import_orgs

    archive = app.extensions["archive"]
    tokens = {}
    with archive.sessions() as s:
        import_orgs(s, ORGS)
        for username, role, scope in ACCOUNTS:
            user = create_user(s, username, role, scope)
            tokens[f"{role}@{scope}"] = tokens[username] = issue_token(s, user).token
        s.commit()
    app.config["TEST_TOKENS"] = tokens
    app.config["TEST_CASE_AGENCY"] = {}
    return tokens


def client_as(app, who: str | None):
    """A test client sending the bearer token of account ``who`` (None: no credentials)."""
    c = app.test_client()
    if who:
        c.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + app.config["TEST_TOKENS"][who]
    return c


@pytest.fixture
def tokens(app):
    return authorize(app)


@pytest.fixture
def client(app, tokens):
    """A client of the city office: it may read everything; writes go through agency clerks."""
    return client_as(app, "city")


@pytest.fixture
def orgs(tokens):
    return ORGS


def _clerk_headers(client, agency: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + client.application.config["TEST_TOKENS"][f"agency_clerk@{agency}"]}


def new_case(client, number="津武市监罚〔2026〕12号", agency="A-SJJ", kind="penalty", headers=None, **extra):
    """Create a case as the clerk of ``agency``."""
    body = {"number": number, "agency": agency, "kind": kind, "procedure": "general",
            "power": "SJ-FOOD-124", "party_name": "天津宏泰食品有限公司",
            "party_id": "91120222300417765H", "summary": "销售过期食品", "opened_on": "2026-03-02"}
    body.update(extra)
    resp = client.post("/api/cases", json=body, headers=headers or _clerk_headers(client, agency))
    assert resp.status_code == 201, resp.get_json()
    case = resp.get_json()
    client.application.config["TEST_CASE_AGENCY"][case["id"]] = agency
    return case


def clerk_of(client, case_id) -> dict[str, str]:
    return _clerk_headers(client, client.application.config["TEST_CASE_AGENCY"].get(case_id, "A-SJJ"))


def record_stage(client, case_id, stage, completed_at):
    return client.post(f"/api/cases/{case_id}/stages", json={"stage": stage, "completed_at": completed_at},
                       headers=clerk_of(client, case_id))


# When each stage was completed, for tests that upload without recording it themselves.
STAGE_AT = {"inspection": "2026-03-02T10:00:00+08:00", "filing": "2026-03-02T10:00:00+08:00",
            "investigation": "2026-03-10T10:00:00+08:00", "review": "2026-03-15T10:00:00+08:00",
            "decision": "2026-03-20T10:00:00+08:00", "execution": "2026-03-25T10:00:00+08:00",
            "closing": "2026-03-30T10:00:00+08:00"}


def ensure_stage(client, case_id, stage) -> None:
    """Record ``stage`` (at STAGE_AT) unless the case has it: documents go into recorded stages."""
    from sqlalchemy import select

    from archive.models import Stage

    import datetime as dt

    from archive.models import Case

    with client.application.extensions["archive"].sessions() as s:
        known = s.scalar(select(Stage.id).where(Stage.case_id == case_id, Stage.stage == stage))
        opened = s.scalar(select(Case.opened_on).where(Case.id == case_id))
    if known is None and stage in STAGE_AT:
        at = dt.datetime.fromisoformat(STAGE_AT[stage])
        if opened is not None and at.date() < opened:  # a stage is never completed before its case opened
            at = at + (dt.datetime.combine(opened, at.timetz()) - dt.datetime.combine(dt.date(2026, 3, 2), at.timetz()))
        record_stage(client, case_id, stage, at.isoformat())


def upload(client, case_id, data: bytes, filename="决定书.pdf", stage="decision",
           form="penalty_decision", headers=None, record=True, **fields):
    """Upload as the clerk of the case's agency (recording the stage first unless ``record`` is
    False or the case has it)."""
    if record:
        ensure_stage(client, case_id, stage)
    payload = {"stage": stage, "form": form, "file": (io.BytesIO(data), filename)}
    payload.update(fields)
    return client.post(f"/api/cases/{case_id}/documents", data=payload,
                       content_type="multipart/form-data", headers=headers or clerk_of(client, case_id))


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum SeaweedFS keeps after each needle's data."""
    c = 0xFFFFFFFF
    for byte in data:
        c = _CRC32C[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def damage_on_volume(seaweed, marker: bytes, offset: int, *, keep_crc: bool = True) -> None:
    """Flip one byte of a stored object in SeaweedFS's volume files, found by the ``marker`` its
    data begins with. ``keep_crc``: the needle's CRC is written anew, as silent bit rot or an
    intruder would leave it, and SeaweedFS serves the altered bytes at once (only the archive's
    SHA-256 can tell); otherwise SeaweedFS notices and answers 500 after retrying for ~13 s."""
    import struct
    from pathlib import Path

    damaged = 0
    for dat in Path(seaweed.data_dir).rglob("*.dat"):
        raw = bytearray(dat.read_bytes())
        at = raw.find(marker)
        if at < 0:
            continue
        size = struct.unpack(">I", raw[at - 4:at])[0]  # the needle's data size stands before its data
        assert 0 < offset < size, (offset, size)
        old = crc32c(bytes(raw[at:at + size]))
        raw[at + offset] ^= 0xFF
        if keep_crc:
            where = raw.find(struct.pack(">I", old), at + size, at + size + 4096)
            assert where >= 0, "the needle's checksum was not found after its data"
            raw[where:where + 4] = struct.pack(">I", crc32c(bytes(raw[at:at + size])))
        dat.write_bytes(bytes(raw))
        damaged += 1
    assert damaged, "the test could not find the object's bytes in the volume files"


def concurrently(n: int, fn) -> list:
    """Run ``fn(i)`` in ``n`` threads released together; their results in order."""
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # a crash is a result the test looks at
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def drain(archive, renditions: bool = False) -> int:
    """Run the queued jobs (the renditions too, with LibreOffice, when ``renditions``)."""
    from archive.worker import drain as do_drain, examine_settings, render_settings

    render = render_settings(archive.config) if renditions else None
    assert render is not None or not renditions, "LibreOffice is required here (bin/setup test installs it)"
    return do_drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings,
                    render, examine_settings(archive.config))


# A skipped test is a failing test: nothing in this suite may skip silently.
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(f"FAILED: {len(_skipped)} test(s) skipped; skips count as failures here", red=True)


def security_header_problems(r, path: str) -> list[str]:
    """What the response to ``path`` lacks of the headers every answer carries (GB/T 22239 level
    three, walked over every route by the page and API matrices): a CSP without inline script
    and with frame-ancestors 'none', nosniff, no framing, and no-store on what a logged-in
    caller reads."""
    problems = []
    csp = r.headers.get("Content-Security-Policy", "")
    script = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
    if "'self'" not in script or "unsafe-inline" in script or "unsafe-eval" in script:
        problems.append(f"{path}: script-src {script!r}")
    if "frame-ancestors 'none'" not in csp:
        problems.append(f"{path}: no frame-ancestors 'none'")
    if r.headers.get("X-Content-Type-Options") != "nosniff" or r.headers.get("X-Frame-Options") != "DENY":
        problems.append(f"{path}: nosniff / DENY missing")
    if not path.startswith(("/static/", "/login", "/favicon")) and r.status_code not in (301, 302, 303) \
            and "no-store" not in r.headers.get("Cache-Control", ""):
        problems.append(f"{path}: Cache-Control {r.headers.get('Cache-Control')!r}")
    return problems
