"""The embedded SeaweedFS belongs to one data directory: it dies with the command that started
it, a stale one is stopped before a new start, and a port held by something else is refused."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from archive.storage.seaweed import PID_FILE, EmbeddedSeaweed, owner_of, pick_ports, weed_binary


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


HOLD = textwrap.dedent("""
    import sys, time
    from archive.cli import running_store
    from archive.config import load_config
    cfg = load_config({"DATA_DIR": sys.argv[1], "S3_PORT": int(sys.argv[2]), "S3_ENDPOINT": ""})
    with running_store(cfg):
        print("ready", flush=True)
        time.sleep(600)
""")


def _env() -> dict:
    env = dict(os.environ)
    for k in ("ARCHIVE_S3_ENDPOINT", "ARCHIVE_DATABASE_URL", "ARCHIVE_S3_PORT", "ARCHIVE_DATA_DIR"):
        env.pop(k, None)
    return env


def test_weed_dies_with_the_command_that_started_it(tmp_path):
    s3 = pick_ports(1)[0]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "d"), str(s3)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "ready"
        found = owner_of(tmp_path / "d" / "seaweedfs")
        assert found is not None and found[1] == s3 and found[2] == holder.pid
        weed_pid = found[0]
        assert _listening(s3)
        holder.send_signal(signal.SIGKILL)  # no cleanup runs
        holder.wait(10)
        assert _until(lambda: not _alive(weed_pid), 30), "weed outlived its parent"
        assert _until(lambda: not _listening(s3), 10)
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_stale_weed_of_the_same_data_directory_is_stopped_before_a_new_start(tmp_path):
    """A weed orphaned by an older release (no parent-death signal) holds the port and the data."""
    data = tmp_path / "d" / "seaweedfs"
    data.mkdir(parents=True)
    s3 = pick_ports(1)[0]
    weed = EmbeddedSeaweed(data, s3, "k-test", "s-test-secret")
    stale = _orphan(data, s3)
    try:
        weed.start(timeout=90)  # stops the orphan, then starts its own on the same port
        assert not _alive(stale) and weed.proc is not None and weed.proc.pid != stale
        assert owner_of(data)[0] == weed.proc.pid
    finally:
        weed.stop()
        if _alive(stale):
            os.kill(stale, signal.SIGKILL)
    assert not (data / PID_FILE).exists()


def test_an_archive_command_replaces_a_stale_weed_instead_of_refusing_its_port(tmp_path):
    """The same through the commands' own path (running_store), which checks the port first."""
    data = tmp_path / "d" / "seaweedfs"
    data.mkdir(parents=True)
    s3 = pick_ports(1)[0]
    stale = _orphan(data, s3)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "d"), str(s3)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert not _alive(stale)
        assert owner_of(data)[2] == holder.pid
    finally:
        holder.kill()
        holder.wait(10)
        if _alive(stale):
            os.kill(stale, signal.SIGKILL)


def _orphan(data: Path, s3: int) -> int:
    """A weed on ``data`` started by a short-lived intermediate process that then exits (as an
    older release left it: no parent-death signal); its pid once it answers."""
    starter = textwrap.dedent(f"""
        import os, subprocess, sys
        from archive.storage.seaweed import EmbeddedSeaweed
        w = EmbeddedSeaweed({str(data)!r}, {s3}, "k-test", "s-test-secret")
        p = subprocess.Popen(w.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, cwd={str(data)!r},
                             env=dict(os.environ, AWS_ACCESS_KEY_ID="k-test", AWS_SECRET_ACCESS_KEY="s-test-secret"))
        open({str(data / PID_FILE)!r}, "w").write(f"{{p.pid}} {s3} {{os.getpid()}}\\n")
        print(p.pid, flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True, check=True)
    stale = int(out.stdout.strip())
    assert weed_binary() and _until(lambda: _listening(s3), 60)
    return stale


def test_a_port_held_by_another_program_is_refused_naming_the_setting(tmp_path):
    s3 = pick_ports(1)[0]
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.bind(("127.0.0.1", s3))
    other.listen()
    try:
        r = subprocess.run([sys.executable, "-m", "archive.cli", "demo"], capture_output=True, text=True, timeout=120,
                           env=dict(_env(), ARCHIVE_DATA_DIR=str(tmp_path / "b"), ARCHIVE_S3_PORT=str(s3)))
        assert r.returncode == 1, r.stdout + r.stderr
        assert "ARCHIVE_S3_PORT" in r.stderr and f"port {s3} is taken" in r.stderr
        assert not (tmp_path / "b" / "archive.sqlite3").exists() or "demo data loaded" not in r.stdout
    finally:
        other.close()


def test_another_instance_on_the_port_is_not_taken_for_this_data_directory(tmp_path):
    """archive serve --data-dir B while instance A's SeaweedFS holds the port."""
    s3 = pick_ports(1)[0]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "a"), str(s3)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "ready"
        r = subprocess.run([sys.executable, "-c", HOLD, str(tmp_path / "b"), str(s3)], capture_output=True,
                           text=True, timeout=120, env=_env())
        assert r.returncode == 1 and "ARCHIVE_S3_PORT" in r.stdout + r.stderr
        # a second command on the same data directory shares the running store
        same = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "a"), str(s3)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=_env())
        try:
            assert same.stdout.readline().strip() == "ready"
        finally:
            same.kill()
            same.wait(10)
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(30)
