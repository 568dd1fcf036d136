"""Load, faults and figures: 50 clients for 5 minutes against the embedded default and against
the city layout, with a SIGKILL midway.

    python -m bench.load [--mode embedded|city|both] [--clients 50] [--seconds 300] [--think 1.0]

Each client is a clerk of one agency doing a realistic mix in a loop, with a pause between
requests (``--think`` seconds on average, exponentially distributed): uploads of 20 KB–20 MB
(most small), case views, searches, downloads of documents it uploaded, and the warning list.

* ``embedded``: one ``archive serve`` (waitress, SQLite, ``weed mini``, the worker thread). At
  half time it is killed with SIGKILL and started again, as systemd's ``Restart=always`` would.
* ``city``: gunicorn with several web processes, two ``archive worker`` processes, PostgreSQL
  and the SeaweedFS cluster (master, three volume servers with replication 001, filer, S3). At
  half time one web process and the worker that writes the index are killed with SIGKILL.

It prints requests/s and p50/p95/p99 per operation, the errors by kind (in flight on the killed
process, refused while it was down, and any other), and afterwards re-reads every acknowledged
upload and compares its SHA-256: documents lost or damaged. Everything runs on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import urllib3

from bench.procs import ROOT, Deployment, children, free_port, multipart

WORDS = ["过期食品", "停产停业", "没收违法所得", "责令改正", "现场检查", "询问笔录", "罚款", "听证告知",
         "集体讨论", "法制审核", "送达回证", "安全生产", "消防通道", "占道经营", "噪声污染", "无证经营"]
SIZES = [(0.60, 20_000, 200_000), (0.30, 200_000, 5_000_000), (0.10, 5_000_000, 20_000_000)]
MIX = [("upload", 0.25), ("case", 0.20), ("search", 0.25), ("download", 0.15), ("warnings", 0.15)]


def _size(rng: random.Random) -> int:
    x = rng.random()
    for share, lo, hi in SIZES:
        if x < share:
            return rng.randint(lo, hi)
        x -= share
    return SIZES[-1][2]


def _document(rng: random.Random, size: int) -> tuple[bytes, str]:
    """A text document with findable words, padded to ``size`` (random bytes above 200 KB, like
    scans and photographs)."""
    words = " ".join(rng.choice(WORDS) for _ in range(40))
    head = f"行政执法文书 {uuid.uuid4().hex} {words}\n".encode("utf-8")
    if size <= 200_000:
        body = (head * (size // len(head) + 1))[:size]
        return body, "笔录.txt"
    return head + rng.randbytes(size - len(head)), "现场照片.jpg"


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.small_uploads: list[float] = []  # uploads of 5 MB or less
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.acked: dict[str, tuple[str, str]] = {}  # doc id -> (sha256, case id)
        self.sizes: dict[str, int] = {}
        self.down: tuple[float, float] | None = None  # when the killed process was down

    def ok(self, op: str, seconds: float, size: int | None = None) -> None:
        with self.lock:
            self.times[op].append(seconds)
            if size is not None and size <= 5_000_000:
                self.small_uploads.append(seconds)

    def error(self, op: str, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind].append(f"{op}: {detail}"[:300])


def _client(i: int, base: str, token: str, cases: list[str], rec: Recorder, stop: threading.Event,
            think: float, seed: int) -> None:
    rng = random.Random(seed * 1000 + i)
    http = urllib3.PoolManager(maxsize=2, retries=False, timeout=urllib3.Timeout(connect=5, read=120))
    auth = {"Authorization": f"Bearer {token}"}
    mine: list[str] = []
    ops, weights = zip(*MIX)
    while not stop.is_set():
        stop.wait(rng.expovariate(1 / think) if think > 0 else 0)
        if stop.is_set():
            break
        op = rng.choices(ops, weights)[0]
        if op == "download" and not mine:
            op = "upload"
        size = None
        started = time.monotonic()
        try:
            if op == "upload":
                size = _size(rng)
                data, name = _document(rng, size)
                case = rng.choice(cases)
                body, ctype = multipart({"stage": "investigation", "form": "inquiry_record"}, name, data)
                r = http.request("POST", f"{base}/api/cases/{case}/documents", body=body,
                                 headers={**auth, "Content-Type": ctype})
                if r.status == 201:
                    doc = json.loads(r.data)
                    sha = hashlib.sha256(data).hexdigest()
                    if doc["sha256"] != sha:
                        rec.error(op, "other", f"acknowledged with another SHA-256 {doc['id']}")
                    with rec.lock:
                        rec.acked[doc["id"]] = (sha, case)
                        rec.sizes[doc["id"]] = len(data)
                    mine.append(doc["id"])
            elif op == "case":
                r = http.request("GET", f"{base}/api/cases/{rng.choice(cases)}", headers=auth)
            elif op == "search":
                q = urllib.parse.quote(rng.choice(WORDS))
                r = http.request("GET", f"{base}/api/search?q={q}&per_page=20", headers=auth)
            elif op == "download":
                r = http.request("GET", f"{base}/api/documents/{rng.choice(mine)}/content", headers=auth,
                                 preload_content=False)
                for _ in r.stream(256 * 1024):
                    pass
                r.release_conn()
            else:
                r = http.request("GET", f"{base}/api/warnings?per_page=20", headers=auth)
            elapsed = time.monotonic() - started
            if r.status >= 400:
                kind = "while down" if r.status in (502, 503) and _during(rec, started) else "other"
                rec.error(op, kind, f"HTTP {r.status} {r.data[:200]!r}")
            else:
                rec.ok(op, elapsed, size)
        except Exception as exc:  # connection reset (in flight) or refused (down)
            kind = "in flight" if _during(rec, started) or _during(rec, time.monotonic()) else "other"
            if "refused" in str(exc).lower() and _during(rec, time.monotonic()):
                kind = "while down"
            rec.error(op, kind, f"{type(exc).__name__}: {exc}")
            stop.wait(1.0)  # a client waits a moment before it tries again


def _cause(line: str) -> str:
    """An error's operation and kind, without its details (HTTP status, or the exception)."""
    op, _, detail = line.partition(": ")
    if detail.startswith("HTTP "):
        return f"{op}: {detail[:8]}"
    for name in ("ConnectionResetError", "RemoteDisconnected", "TimeoutError", "ReadTimeoutError",
                 "ConnectTimeoutError", "Connection refused"):
        if name in detail:
            return f"{op}: {name}"
    return f"{op}: {detail[:60]}"


def _during(rec: Recorder, t: float) -> bool:
    if rec.down is None:
        return False
    start, end = rec.down
    return start - 1 <= t <= end + 1


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _verify(base: str, token: str, acked: dict[str, tuple[str, str]]) -> tuple[int, int]:
    """Re-read every acknowledged upload: (lost, damaged)."""
    http = urllib3.PoolManager(retries=urllib3.Retry(3, backoff_factor=0.5), timeout=120)
    lost = damaged = 0
    for doc_id, (sha, _case) in acked.items():
        r = http.request("GET", f"{base}/api/documents/{doc_id}/content", headers={"Authorization": f"Bearer {token}"},
                         preload_content=False)
        if r.status != 200:
            lost += 1
            r.release_conn()
            continue
        digest = hashlib.sha256()
        for chunk in r.stream(256 * 1024):
            digest.update(chunk)
        r.release_conn()
        damaged += digest.hexdigest() != sha
    return lost, damaged


def rec_bytes(rec: Recorder) -> int:
    return sum(rec.sizes.values())


def _catch_up(base: str, token: str, timeout: float = 300) -> float:
    """Seconds until no job waits (every upload extracted, indexed, every manifest written);
    -1 if that takes longer than ``timeout``."""
    http = urllib3.PoolManager(retries=urllib3.Retry(3, backoff_factor=0.5), timeout=30)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        r = http.request("GET", f"{base}/api/health", headers={"Authorization": f"Bearer {token}"})
        if json.loads(r.data).get("queue", {}).get("pending", 1) == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    return -1.0


def _setup_cases(base: str, token: str, n: int) -> list[str]:
    http = urllib3.PoolManager()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    out = []
    for i in range(n):
        r = http.request("POST", f"{base}/api/cases", headers=auth, body=json.dumps({
            "number": f"津武市监罚〔2026〕{9000 + i}号", "agency": "120114-SJJ", "kind": "penalty",
            "procedure": "general", "power": "SJ-FOOD-124", "party_name": f"天津某食品有限公司{i}",
            "party_id": "91120222300417765H", "summary": "负载测试", "opened_on": "2026-03-02"}))
        assert r.status == 201, r.data
        case = json.loads(r.data)["id"]
        r = http.request("POST", f"{base}/api/cases/{case}/stages", headers=auth, body=json.dumps(
            {"stage": "investigation", "completed_at": "2026-03-05T10:00:00+08:00"}))
        assert r.status == 201, r.data
        out.append(case)
    return out


def _rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return out


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(label: str, base: str, token: str, args, kill, after=None) -> dict:
    cases = _setup_cases(base, token, 20)
    rec = Recorder()
    stop = threading.Event()
    threads = [threading.Thread(target=_client, args=(i, base, token, cases, rec, stop, args.think, args.seed),
                                daemon=True) for i in range(args.clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.seconds / 2)
    t0 = time.monotonic()
    rec.down = (t0, t0 + 3600)
    what = kill()
    rec.down = (t0, time.monotonic())
    print(f"[{label}] at {t0 - started:.0f} s: {what}; back after {time.monotonic() - t0:.1f} s", flush=True)
    time.sleep(max(0.0, args.seconds - (time.monotonic() - started)))
    stop.set()
    for t in threads:
        t.join(180)
    elapsed = time.monotonic() - started
    caught_up = _catch_up(base, token)
    lost, damaged = _verify(base, token, rec.acked)
    total = sum(len(v) for v in rec.times.values())
    print(f"\n[{label}] {args.clients} clients, {elapsed:.0f} s, think {args.think} s: "
          f"{total} requests ok, {total / elapsed:.1f} req/s")
    print(f"{'operation':12}{'count':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for op, _ in MIX:
        v = rec.times.get(op, [])
        print(f"{op:12}{len(v):>8}{len(v) / elapsed:>8.2f}{_pct(v, 50) * 1000:>9.0f}{_pct(v, 95) * 1000:>9.0f}"
              f"{_pct(v, 99) * 1000:>9.0f}")
    small = rec.small_uploads
    print(f"{'upload<=5MB':12}{len(small):>8}{'':>8}{_pct(small, 50) * 1000:>9.0f}{_pct(small, 95) * 1000:>9.0f}"
          f"{_pct(small, 99) * 1000:>9.0f}")
    for kind in ("in flight", "while down", "other"):
        print(f"errors {kind}: {len(rec.errors.get(kind, []))}")
        for what, n in Counter(_cause(line) for line in rec.errors.get(kind, [])).most_common():
            print(f"    {n:5}  {what}")
    print(f"acknowledged uploads {len(rec.acked)}: lost {lost}, damaged {damaged}")
    print(f"the job queue was empty {caught_up:.1f} s after the load stopped" if caught_up >= 0 else
          "the job queue was not empty 300 s after the load stopped")
    stored = sum(1 for _ in rec.acked)
    print(f"stored: {stored} documents, {rec_bytes(rec) / 1e6:.0f} MB acknowledged")
    if after is not None:
        after(stored)
    return {"label": label, "requests": total, "rps": total / elapsed, "lost": lost, "damaged": damaged,
            "errors": {k: len(v) for k, v in rec.errors.items()},
            "upload_small_p95": _pct(small, 95), "search_p95": _pct(rec.times.get("search", []), 95)}


def embedded(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-load-embedded-"))
    port, s3 = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_PORT=str(port), ARCHIVE_S3_PORT=str(s3), ARCHIVE_DATA_DIR=str(work / "data"),
               ARCHIVE_DEMO="false", ARCHIVE_OCR_ENGINE="off", PYTHONUNBUFFERED="1")
    log = open(work / "serve.log", "ab")

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "archive.cli", "serve"], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
        end = time.monotonic() + 180
        while time.monotonic() < end:
            try:
                if urllib3.PoolManager().request("GET", f"http://127.0.0.1:{port}/api/health", timeout=3).status < 500:
                    return proc
            except Exception:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"archive serve did not start: see {work / 'serve.log'}")

    proc = start()
    try:
        def cli(*a):
            return subprocess.run([sys.executable, "-m", "archive.cli", *a], env=env, cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout

        cli("orgs", "import", str(_orgs_csv(work)))
        cli("powers", "import", str(_powers_csv(work)))
        token = cli("users", "add", "load_clerk", "--role", "agency_clerk", "--scope", "120114-SJJ").strip().splitlines()[-1]

        def kill() -> str:
            nonlocal proc
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start()
            return "SIGKILL of archive serve (web, worker and the store's parent), started again"

        def after(stored: int) -> None:
            data = work / "data"
            print(f"memory: archive serve {_rss_mb([proc.pid])[0]:.0f} MB RSS, its SeaweedFS "
                  f"{sum(_rss_mb(children(proc.pid))):.0f} MB; disk: SQLite "
                  f"{(data / 'archive.sqlite3').stat().st_size / 1e6:.1f} MB, index {_du(data / 'index') / 1e6:.1f} MB, "
                  f"SeaweedFS {_du(data / 'seaweedfs') / 1e6:.0f} MB")

        return run("embedded", f"http://127.0.0.1:{port}", token, args, kill, after)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _orgs_csv(work: Path) -> Path:
    from archive.demo import ORGS

    path = work / "orgs.csv"
    path.write_text("code,level,parent,name\n" + "".join(
        f"{o['code']},{o['level']},{o['parent'] or ''},{o['name']}\n" for o in ORGS), encoding="utf-8")
    return path


def _powers_csv(work: Path) -> Path:
    path = work / "powers.csv"
    path.write_text("agency,code,name,category,legal_basis\n120114-SJJ,SJ-FOOD-124,对销售过期食品的处罚,penalty,"
                    "《中华人民共和国食品安全法》第一百二十四条\n", encoding="utf-8")
    return path


def city(args) -> dict:
    import sqlalchemy as sa

    from archive.storage.cluster import SeaweedCluster

    work = Path(tempfile.mkdtemp(prefix="bench-load-city-"))
    cluster = SeaweedCluster(work / "cluster", "bench", "bench-secret-key")
    cluster.start()
    name = "archive_load_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(args.pg).set(database=name).render_as_string(hide_password=False)
    dep = Deployment(work / "app", {"ARCHIVE_DATABASE_URL": url, "ARCHIVE_S3_ENDPOINT": cluster.endpoint,
                                    "ARCHIVE_S3_ACCESS_KEY": "bench", "ARCHIVE_S3_SECRET_KEY": "bench-secret-key",
                                    "ARCHIVE_S3_BUCKET": "load", "ARCHIVE_OCR_ENGINE": "off"},
                     web=args.web, workers=2, threads=args.threads)
    try:
        dep.cli("orgs", "import", str(_orgs_csv(work)))
        dep.cli("powers", "import", str(_powers_csv(work)))
        token = dep.cli("users", "add", "load_clerk", "--role", "agency_clerk",
                        "--scope", "120114-SJJ").strip().splitlines()[-1]
        dep.start()

        def kill() -> str:
            victim = dep.web_pids()[0]
            os.kill(victim, signal.SIGKILL)
            writer = dep.writer_index()
            dep.kill_worker(writer if writer is not None else 0)
            return f"SIGKILL of web process {victim} and of worker {writer} (the index writer)"

        def after(stored: int) -> None:
            web = _rss_mb(dep.web_pids())
            workers = _rss_mb([p.pid for p in dep.worker_procs if p.poll() is None])
            print(f"memory: {len(web)} web processes {', '.join(f'{m:.0f}' for m in web)} MB RSS; workers "
                  f"{', '.join(f'{m:.0f}' for m in workers)} MB; disk: index {_du(work / 'app' / 'data' / 'index') / 1e6:.1f} MB, "
                  f"SeaweedFS volumes {_du(work / 'cluster') / 1e6:.0f} MB (replication 001)")
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                docs = conn.execute(sa.text("SELECT count(*) FROM documents")).scalar() or 1
                rows = conn.execute(sa.text(
                    "SELECT c.relname, pg_relation_size(c.oid), pg_indexes_size(c.oid), "
                    "coalesce(pg_total_relation_size(c.reltoastrelid), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
                    "ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 6")).all()
                total = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
            engine.dispose()
            print(f"PostgreSQL {total / 1e6:.0f} MB for {docs} documents; per document (table, indexes, TOAST):")
            for name, heap, idx, toast in rows:
                print(f"    {name:16} {heap / docs:8.0f} B {idx / docs:8.0f} B {toast / docs:8.0f} B")

        return run("city", dep.url, token, args, kill, after)
    finally:
        dep.stop()
        cluster.stop(grace=1.0)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["embedded", "city", "both"], default="both")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--think", type=float, default=1.0, help="mean pause between a client's requests (s)")
    p.add_argument("--web", type=int, default=3, help="gunicorn web processes (city)")
    p.add_argument("--threads", type=int, default=8, help="threads per web process (city)")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--pg", default=os.environ.get("ARCHIVE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    results = []
    if args.mode in ("embedded", "both"):
        results.append(embedded(args))
    if args.mode in ("city", "both"):
        results.append(city(args))
    print("\nsummary")
    for r in results:
        other = r["errors"].get("other", 0)
        print(f"  {r['label']:9} {r['rps']:.1f} req/s, upload<=5MB p95 {r['upload_small_p95'] * 1000:.0f} ms "
              f"(goal < 2000), search p95 {r['search_p95'] * 1000:.0f} ms (goal < 300), errors in flight "
              f"{r['errors'].get('in flight', 0)}, while down {r['errors'].get('while down', 0)}, other {other} "
              f"(goal 0), lost {r['lost']}, damaged {r['damaged']} (goal 0)")


if __name__ == "__main__":
    main()
