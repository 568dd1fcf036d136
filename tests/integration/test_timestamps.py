"""Trusted timestamps (RFC 3161): the audit head stamped daily by a TSA on loopback, kept
write-once and verified offline (`archive audit verify --timestamps`): a history rewritten
before a stamp is found; an unreachable TSA is retried and health degrades after a day; a
transfer package's tag manifest is stamped and the receiver verifies the token from the package."""
from __future__ import annotations

import datetime as dt
import socket

from click.testing import CliRunner
from sqlalchemy import func, select, text

from archive import audit
from archive.cli import main
from archive.models import TimestampToken
from archive.services import timestamps
from tests.conftest import authorize, drain
from tests.signing import LoopbackTSA


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_audit_head_is_stamped_and_verified_offline(make_app, tmp_path, monkeypatch):
    with LoopbackTSA(tmp_path / "tsa") as tsa:
        app = make_app(TSA_URL=tsa.url, TSA_CERTS=str(tsa.pem))
        archive = app.extensions["archive"]
        for i in range(4):
            audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": f"罚款{i}"})
        settings = timestamps.tsa_settings(archive.config)
        now = dt.datetime.now(dt.timezone.utc)
        row = timestamps.stamp_audit_head(archive.sessions, settings, now)
        assert row is not None and row.subject.startswith("4:") and tsa.requests == 1
        assert abs((row.gen_time - now).total_seconds()) < 120
        # not again within a day; again after it
        assert timestamps.stamp_audit_head(archive.sessions, settings, now + dt.timedelta(hours=23)) is None
        audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": "之后"})
        later = timestamps.stamp_audit_head(archive.sessions, settings, now + dt.timedelta(days=1, minutes=1))
        assert later is not None and later.subject.startswith("6:")  # (5: the first stamp's own entry)
        with archive.sessions() as s:
            assert timestamps.verify_head_stamps(s, str(tsa.pem)).problems == []
            assert timestamps.health(s, settings, now + dt.timedelta(days=1, hours=2))["ok"]
        for key in ("DATA_DIR", "DATABASE_URL"):
            monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
        monkeypatch.setenv("ARCHIVE_TSA_CERTS", str(tsa.pem))
        r = CliRunner().invoke(main, ["audit", "verify", "--timestamps"])
        assert r.exit_code == 0 and "timestamps: 2 tokens, 0 failing" in r.output, r.output
        # a database administrator rewrites the history before the first stamp: the chain can be
        # recomputed to look intact, the token cannot
        with archive.engine.begin() as conn:
            conn.execute(text("UPDATE audit_entries SET hash = :h WHERE seq = 4"), {"h": "f" * 64})
        with archive.sessions() as s:
            problems = timestamps.verify_head_stamps(s, str(tsa.pem)).problems
        assert len(problems) == 1 and "entry 4 no longer has the hash stamped" in problems[0]
        r = CliRunner().invoke(main, ["audit", "verify", "--timestamps"])
        assert r.exit_code == 1 and "timestamp BROKEN" in r.output


def test_a_token_from_another_authority_or_altered_does_not_verify(tmp_path):
    with LoopbackTSA(tmp_path / "a") as a, LoopbackTSA(tmp_path / "b") as b:
        settings = timestamps.TsaSettings(a.url, str(a.pem))
        tsr, _ = timestamps.request_token(settings, b"message")
        assert timestamps.verify_token(str(a.pem), tsr, b"message")
        for certs, body, message in ((str(b.pem), tsr, b"message"), (str(a.pem), tsr, b"other message"),
                                     (str(a.pem), tsr[:-40] + bytes(40), b"message")):
            try:
                timestamps.verify_token(certs, body, message)
            except timestamps.TimestampFailed:
                continue
            raise AssertionError("a token verified that should not")


def test_an_unreachable_tsa_is_retried_and_health_degrades_after_a_day(make_app, tmp_path):
    app = make_app(TSA_URL=f"http://127.0.0.1:{_closed_port()}/tsr", TSA_CERTS=str(tmp_path / "none.pem"),
                   TSA_TIMEOUT=2)
    authorize(app)
    archive = app.extensions["archive"]
    audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": "x"})
    settings = timestamps.tsa_settings(archive.config)
    assert timestamps.stamp_audit_head(archive.sessions, settings, dt.datetime.now(dt.timezone.utc)) is None
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(TimestampToken)) == 0
    health = app.test_client().get("/api/health").get_json()
    assert health["timestamps"] == {"configured": True, "ok": False, "last": None}
    assert health["status"] == "degraded"


def test_a_transfer_package_carries_the_timestamp_of_its_tag_manifest(make_app, tmp_path):
    from archive.clock import now
    from archive.services.transfer import export_package, verify_package
    from tests.integration.test_archival import _file, closed_case

    with LoopbackTSA(tmp_path / "tsa") as tsa:
        app = make_app(TSA_URL=tsa.url, TSA_CERTS=str(tsa.pem), CLAMSCAN="off")
        authorize(app)
        archive, client = app.extensions["archive"], app.test_client()
        case = closed_case(client, "津武市监罚〔2026〕350号")
        drain(archive)
        assert _file(app, case["id"]).status_code == 201
        with archive.sessions() as s:
            result = export_package(s, archive.store, archive.config, "A-SJJ", 2026, tmp_path / "pkg", "wq_fzb", now())
        assert result.timestamp and (tmp_path / "pkg" / "timestamp.tsr").is_file()
        report = verify_package(tmp_path / "pkg")
        assert report.passed and ("YJ-1-3", "通过") in [(i, r) for i, r, _ in report.items], report.items
        with archive.sessions() as s:
            assert s.scalar(select(TimestampToken.kind).where(TimestampToken.kind == "transfer")) == "transfer"
        token = tmp_path / "pkg" / "timestamp.tsr"
        body = bytearray(token.read_bytes())
        body[-5] ^= 0xFF
        token.write_bytes(bytes(body))
        spoiled = verify_package(tmp_path / "pkg")
        assert ("YJ-1-3", "不通过") in [(i, r) for i, r, _ in spoiled.items]
