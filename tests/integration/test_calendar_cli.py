"""Calendars loaded by an administrator, shown, used, and reported on /api/health."""
from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from archive.cli import main
from archive.deadlines.store import load_calendar

# 2027 as an administrator would type it from the State Council notice (a test fixture, not a
# claim about the real 2027 schedule).
YEAR_2027 = {"year": 2027, "holidays": ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"],
             "workdays": ["2027-02-13"]}


TODAY = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.timezone.utc)  # health asks for this year and the next


def test_load_show_and_use_a_new_year(app, archive, client, monkeypatch, tmp_path):
    monkeypatch.setattr("archive.clock.now", lambda: TODAY)  # the test must not expire in 2027
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    health = client.get("/api/health").get_json()["calendar"]
    assert health["ok"] is False and "calendar missing for 2027" in health["missing"]
    runner = CliRunner()
    f = tmp_path / "2027.json"
    f.write_text(json.dumps(YEAR_2027), encoding="utf-8")
    r = runner.invoke(main, ["calendar", "load", str(f)])
    assert r.exit_code == 0 and "5 holidays, 1 make-up" in r.output, r.output
    shown = runner.invoke(main, ["calendar", "show"]).output.splitlines()
    assert "2027\tfile:2027.json\t5 holidays\t1 make-up working days" in shown
    assert shown[0].startswith("2004\tpackage:chinesecalendar")
    assert "2027-02-13" in runner.invoke(main, ["calendar", "show", "2027"]).output
    assert runner.invoke(main, ["calendar", "show", "2031"]).exit_code != 0
    with archive.sessions() as s:
        cal = load_calendar(s)
    assert cal.add_working_days(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 4)
    assert cal.add_working_days(dt.date(2027, 2, 4), 1) == dt.date(2027, 2, 9)
    assert client.get("/api/health").get_json()["calendar"]["ok"] is True


def test_bad_calendar_file_changes_nothing(archive, monkeypatch, tmp_path):
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"year": 2027, "holidays": ["2027-01-01"], "workdays": ["2027-01-05"]}))
    r = CliRunner().invoke(main, ["calendar", "load", str(f)])
    assert r.exit_code != 0 and "not a weekend day" in r.output
    with archive.sessions() as s:
        assert 2027 not in load_calendar(s).years
