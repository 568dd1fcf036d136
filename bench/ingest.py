"""Ingest benchmark: uploads through the HTTP API against puts straight into the same SeaweedFS.

    python -m bench.ingest [--files 60] [--catchup-docs 100] [--app archive|floor]

Part 1 uploads the same files (20 KB – 5 MB) through the API (gunicorn, or waitress with
``--server waitress``, on 127.0.0.1)
and directly with the ``minio`` client into the same bucket (same retention), and prints docs/s,
MB/s and the ratio, overall and for files of 1 MB and more.
``--app floor`` runs ``bench.floor`` instead of the archive (gunicorn only): a bare app that
only streams the upload to S3, whose ratio is the ceiling of any upload endpoint here.
Part 2 uploads small DOCX/PDF documents at a steady 20 docs/s while the index worker runs, and
prints how long after the last upload the index has caught up.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import urllib3


def _sizes(n: int, rng: random.Random) -> list[int]:
    small = [rng.randint(20_000, 200_000) for _ in range(n // 3)]
    mid = [rng.randint(1_000_000, 2_000_000) for _ in range(n // 3)]
    big = [rng.randint(3_000_000, 5_000_000) for _ in range(n - 2 * (n // 3))]
    sizes = small + mid + big
    rng.shuffle(sizes)
    return sizes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=60)
    p.add_argument("--catchup-docs", type=int, default=100)
    p.add_argument("--server", choices=["gunicorn", "waitress"], default="gunicorn",
                   help="gunicorn (production: the body reaches the app as it arrives) or waitress "
                        "(archive serve: it reads the whole body first)")
    p.add_argument("--app", choices=["archive", "floor"], default="archive",
                   help="floor: the bare streaming app of bench.floor (no auth, database or audit), for the ceiling")
    args = p.parse_args()
    if args.app == "floor":
        args.server, args.catchup_docs = "gunicorn", 0

    from waitress import create_server

    from archive.auth.accounts import create_user, issue_token
    from archive.config import load_config
    from archive.demo import ORGS
    from archive.demo.documents import make_docx, make_pdf
    from archive.extension import build_archive
    from archive.factory import create_app
    from archive.worker import Worker
    from archive.services.ingest import retain_until
    from archive.services.orgs import import_orgs
    from archive.storage.seaweed import EmbeddedSeaweed, pick_ports

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    s3_port, web_port = pick_ports(2)
    weed = EmbeddedSeaweed(work / "weed", s3_port, "bench", "bench-secret")
    weed.start()
    try:
        cfg = load_config({"DATA_DIR": str(work), "S3_ENDPOINT": weed.endpoint, "S3_ACCESS_KEY": "bench",
                           "S3_SECRET_KEY": "bench-secret", "DEMO": False, "WORKER_POLL_SECONDS": 0.2},
                          environ={})
        archive = build_archive(cfg)
        archive.prepare()
        with archive.sessions() as s:
            import_orgs(s, ORGS)
            token = issue_token(s, create_user(s, "bench", "agency_clerk", "120114-SJJ")).token
            s.commit()
        auth = {"Authorization": f"Bearer {token}"}
        if args.server == "waitress":
            app = create_app(cfg, archive=archive)
            server = create_server(app, host="127.0.0.1", port=web_port, threads=4, recv_bytes=256 * 1024)
            threading.Thread(target=server.run, daemon=True).start()
            close = server.close
        else:  # the same data directory and store, in a gunicorn process of its own
            env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
            env.update(ARCHIVE_DATA_DIR=str(work), ARCHIVE_S3_ENDPOINT=weed.endpoint, ARCHIVE_S3_ACCESS_KEY="bench",
                       ARCHIVE_S3_SECRET_KEY="bench-secret", ARCHIVE_DEMO="false")
            proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{web_port}",
                                     "--workers", "1", "--threads", "4",
                                     "app:create_app()" if args.app == "archive" else "bench.floor:app"], env=env,
                                    cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            close = proc.terminate
        base = f"http://127.0.0.1:{web_port}"
        for _ in range(300):
            try:
                if urllib3.PoolManager().request("GET", base + "/api/health", timeout=2).status < 500:
                    break
            except Exception:
                time.sleep(0.2)
        http = urllib3.PoolManager()

        def post_json(path, body):
            r = http.request("POST", base + path, json=body, headers=auth)
            assert r.status == 201, r.data
            return r.json()

        case = post_json("/api/cases", {"number": "津武市监罚〔2026〕1号", "agency": "120114-SJJ", "kind": "penalty",
                                        "power": "SJ-FOOD-124",
                                        "opened_on": "2026-01-05"})
        for stage, at in (("investigation", "2026-01-10T10:00:00+08:00"), ("decision", "2026-01-20T10:00:00+08:00")):
            post_json(f"/api/cases/{case['id']}/stages", {"stage": stage, "completed_at": at})  # uploads need it
        rng = random.Random(1)
        files = [rng.randbytes(size) for size in _sizes(args.files, rng)]

        def upload(data: bytes, name: str, stage="investigation", form="other_evidence"):
            r = http.request("POST", f"{base}/api/cases/{case['id']}/documents",
                             fields={"stage": stage, "form": form, "allow_duplicate": "true",  # (the same files again)
                                     "file": (name, data, "application/octet-stream")},
                             headers=auth)
            assert r.status == 201, r.data

        def raw_put(data: bytes, i: int):
            archive.store.put(f"bench/raw/{i}", io.BytesIO(data), len(data), {"filename": "证据.bin"},
                              "application/octet-stream",
                              retain_until(dt.datetime.now(dt.timezone.utc), 1))

        # Warm both paths once, then interleave per file so machine noise hits both alike.
        upload(files[0], "warm.bin")
        raw_put(files[0], -1)
        api_t: list[tuple[int, float]] = []
        raw_t: list[tuple[int, float]] = []
        for i, data in enumerate(files):
            t = time.perf_counter()
            upload(data, f"证据{i}.bin")
            api_t.append((len(data), time.perf_counter() - t))
            t = time.perf_counter()
            raw_put(data, i)
            raw_t.append((len(data), time.perf_counter() - t))

        def figures(samples, min_size=0):
            sel = [(n, s) for n, s in samples if n >= min_size]
            secs = sum(s for _, s in sel)
            return len(sel) / secs, sum(n for n, _ in sel) / secs / 1e6

        print(f"part 1: {len(files)} files, {sum(map(len, files)) / 1e6:.0f} MB, sizes 20 KB – 5 MB")
        print(f"{'':22}{'API docs/s':>12}{'API MB/s':>10}{'raw docs/s':>12}{'raw MB/s':>10}{'ratio':>8}")
        for label, min_size in (("all files", 0), ("files >= 1 MB", 1_000_000)):
            a_docs, a_mb = figures(api_t, min_size)
            r_docs, r_mb = figures(raw_t, min_size)
            print(f"{label:22}{a_docs:12.1f}{a_mb:10.1f}{r_docs:12.1f}{r_mb:10.1f}{a_mb / r_mb:8.2f}")
        per_file = [a / r for (_, a), (_, r) in zip(api_t, raw_t)]
        print(f"median per-file time ratio API/raw: {statistics.median(per_file):.2f}")

        if not args.catchup_docs:
            close()
            return
        # Part 2: steady 20 docs/s with the worker running.
        worker = Worker(archive.sessions, archive.store, archive.index, archive.extract_limits, poll=0.2,
                        settings=archive.ingest_settings)
        worker.start()
        docs = []
        for i in range(args.catchup_docs):
            if i % 2:
                docs.append((make_docx("询问笔录", [f"第{i}次询问：当事人陈述违法事实，愿意整改。"]), f"询问笔录{i}.docx"))
            else:
                docs.append((make_pdf("现场笔录", [f"第{i}次检查：发现责令停产停业决定未执行。"]), f"现场笔录{i}.pdf"))
        start = time.perf_counter()
        for i, (data, name) in enumerate(docs):
            target = start + i / 20.0
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            upload(data, name)
        last = time.perf_counter()
        rate = len(docs) / (last - start)
        from sqlalchemy import func, select

        from archive.models import Job

        while True:  # the text and the index; renditions (LibreOffice) are made by other workers, later
            with archive.sessions() as s:
                if not s.scalar(select(func.count()).select_from(Job).where(
                        Job.done_at.is_(None), Job.kind.not_in(("render", "ocr", "checks", "fixity")))):
                    break
            time.sleep(0.05)
        caught = time.perf_counter() - last
        worker.stop()
        print(f"part 2: {len(docs)} DOCX/PDF documents uploaded at {rate:.1f} docs/s; "
              f"index caught up {caught:.2f} s after the last upload (goal: within 5 s); "
              f"index holds {archive.index.doc_count()} documents")
        close()
    finally:
        weed.stop()


if __name__ == "__main__":
    main()
