"""Schemathesis (pinned) against a live instance, over HTTP: every operation of the OpenAPI
document, as the city office, a district office and an agency clerk, with the
``not_a_server_error`` check. Any 5xx fails. Examples are bounded (ARCHIVE_SCHEMATHESIS_EXAMPLES)."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import new_case, record_stage, upload


@pytest.fixture
def live(app, client):
    """The app served on a free loopback port, with a case and a document to find."""
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    doc = upload(client, case["id"], b"%PDF-1.4 not really").get_json()
    app.config["LIVE_IDS"] = {"case_id": case["id"], "doc_id": doc["id"]}
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


# each role once, the databases taken in turn (a run costs about a minute)
@pytest.mark.parametrize("who, database_url", [("city", "postgresql"), ("district_a", "sqlite"),
                                               ("clerk_a", "postgresql")], indirect=["database_url"])
def test_no_operation_answers_a_server_error(app, live, who, tmp_path):
    token = app.config["TEST_TOKENS"][who]
    examples = os.environ.get("ARCHIVE_SCHEMATHESIS_EXAMPLES", "5")
    program = Path(sys.executable).with_name("schemathesis")
    # the case and document exist, so the operations on them reach their logic, not a 404
    config = tmp_path / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in app.config["LIVE_IDS"].items()))
    run = subprocess.run(
        [str(program), "--config-file", str(config), "run", f"{live}/api/openapi.json", "--checks", "not_a_server_error",
         "--header", f"Authorization: Bearer {token}", "--max-examples", examples,
         "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "26",
         "--generation-database", "none", "--suppress-health-check", "all", "--no-color",
         "--request-timeout", "60", "--no-shrink", "--warnings", "off"],
        capture_output=True, text=True, timeout=1200, env={**os.environ, "NO_COLOR": "1"})
    out = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(out)
    assert run.returncode == 0, out[-6000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", out)
    assert selected and selected.group(1) == selected.group(2) and int(selected.group(1)) >= 60, out[-2000:]
    assert f"Tested: {selected.group(1)}" in out and "No issues found" in out, out[-2000:]
