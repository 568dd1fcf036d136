"""The production layout on one machine, on loopback: gunicorn with several web processes and
``archive worker`` processes, on a database and an S3 server given by the caller. Used by the
multi-process test and by ``bench/load.py``."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    from archive.storage.seaweed import pick_ports

    return pick_ports(1)[0]


def multipart(fields: dict, filename: str, data: bytes) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body: the fields, then the file (as the API wants them); the
    body and its content type."""
    import uuid

    boundary = uuid.uuid4().hex
    out = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
               f"Content-Type: application/octet-stream\r\n\r\n".encode("utf-8") + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's web processes)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


class Deployment:
    """``web`` gunicorn processes and ``workers`` archive workers sharing one data directory
    (the index lives there), one database and one bucket."""

    def __init__(self, root: Path, env: dict[str, str], *, web: int = 2, workers: int = 2,
                 port: int | None = None, threads: int = 4) -> None:
        self.root = Path(root)
        self.port = port or free_port()
        self.web, self.workers, self.threads = web, workers, threads
        self.env = dict(os.environ, ARCHIVE_DATA_DIR=str(self.root / "data"), ARCHIVE_DEMO="false",
                        ARCHIVE_WORKER_POLL_SECONDS="0.2", PYTHONUNBUFFERED="1", **env)
        self.gunicorn: subprocess.Popen | None = None
        self.worker_procs: list[subprocess.Popen] = []
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run an ``archive`` command in this deployment's environment; its output."""
        r = subprocess.run([sys.executable, "-m", "archive.cli", *args], env=self.env, input=stdin,
                           capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            raise RuntimeError(f"archive {' '.join(args)} failed: {r.stdout}{r.stderr}")
        return r.stdout

    def prepare(self, cases: int = 2) -> dict[str, str]:
        """Migrate, load the demo organisations and a few cases, and issue tokens: role → token."""
        self.cli("demo", "--cases", str(cases))
        tokens = {}
        for user, role, scope in (("load_clerk", "agency_clerk", "120114-SJJ"),
                                  ("load_office", "district_office", "120114")):
            tokens[user] = self.cli("users", "add", user, "--role", role, "--scope", scope).strip().splitlines()[-1]
        return tokens

    def start(self, timeout: float = 120) -> None:
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.web),
             "--threads", str(self.threads), "--timeout", "120", "--graceful-timeout", "5",
             "app:create_app()"], env=self.env, cwd=ROOT,
            stdout=open(self.logs / "gunicorn.log", "ab"), stderr=subprocess.STDOUT)
        for i in range(self.workers):
            self.start_worker(i)
        self.wait_ready(timeout)

    def start_worker(self, i: int) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "archive.cli", "-v", "worker"], env=self.env, cwd=ROOT,
                                stdout=open(self.logs / f"worker{i}.log", "ab"), stderr=subprocess.STDOUT)
        if i < len(self.worker_procs):
            self.worker_procs[i] = proc
        else:
            self.worker_procs.append(proc)
        return proc

    def wait_ready(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.gunicorn is not None
            if self.gunicorn.poll() is not None:
                raise RuntimeError("gunicorn stopped: " + (self.logs / "gunicorn.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=5) as r:
                    if json.load(r)["database"]["ok"] and len(self.web_pids()) >= self.web:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the web app did not answer on {self.url} within {timeout:.0f}s")

    def web_pids(self) -> list[int]:
        return children(self.gunicorn.pid) if self.gunicorn else []

    def writer_index(self) -> int | None:
        """Which worker (by number) says it writes the index, from the workers' logs."""
        for i, _ in enumerate(self.worker_procs):
            text = (self.logs / f"worker{i}.log").read_text(errors="replace")
            if "this worker writes the index" in text.rsplit("--- restarted ---", 1)[-1]:
                return i
        return None

    def kill_worker(self, i: int) -> None:
        self.worker_procs[i].send_signal(signal.SIGKILL)
        self.worker_procs[i].wait(10)

    def stop(self) -> None:
        procs = [p for p in [self.gunicorn, *self.worker_procs] if p is not None]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
