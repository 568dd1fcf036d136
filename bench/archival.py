"""归档 benchmark: the four-property check, concurrent filings, and the transfer package.

    python -m bench.archival [--docs 40] [--filers 20] [--cases 1000] [--pg URL]

On an embedded instance (SeaweedFS + SQLite; ``--pg`` adds the filings on PostgreSQL):
1. the four-property check of one closed case with ``--docs`` documents, without the virus scan
   and, apart, the scan (ClamAV with a signature database of its own: the time is the scanner's
   start plus the reading of the files, not the signatures' size);
2. ``--filers`` cases filed at the same moment: duplicates and gaps among their 件号;
3. ``--cases`` filed cases exported as one transfer package: seconds, package size, and the
   time of ``transfer verify`` on it.
Medians of three runs where a figure is repeated.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

FORMS = [("filing", "filing_approval", "立案审批表"), ("investigation", "inquiry_record", "询问笔录"),
         ("review", "legal_review_opinion", "法制审核意见书"), ("decision", "penalty_decision", "行政处罚决定书"),
         ("decision", "service_receipt", "送达回证"), ("execution", "fine_receipt", "罚没款收据"),
         ("closing", "closing_report", "结案报告")]
STAGE_AT = {"filing": "2026-03-02T10:00:00+08:00", "investigation": "2026-03-10T10:00:00+08:00",
            "review": "2026-03-15T10:00:00+08:00", "decision": "2026-03-20T10:00:00+08:00",
            "execution": "2026-03-25T10:00:00+08:00", "closing": "2026-03-30T10:00:00+08:00"}


def _setup(archive, cfg):
    from archive.auth.accounts import create_user, issue_token
    from archive.demo import ORGS, demo_powers
    from archive.factory import create_app
    from archive.services.orgs import import_orgs
    from archive.services.powers import import_powers

    with archive.sessions() as s:
        import_orgs(s, ORGS)
        import_powers(s, demo_powers())
        token = issue_token(s, create_user(s, "bench", "agency_clerk", "120114-SJJ")).token
        s.commit()
    app = create_app(cfg, archive=archive)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token
    return app, client


_PDFS: dict[str, bytes] = {}


def closed_case(client, number: str, docs: int = len(FORMS)) -> str:
    """A general-procedure penalty case from filing to closing with ``docs`` documents (the
    required forms first, then more inquiry records)."""
    from archive.demo.documents import make_pdf

    r = client.post("/api/cases", json={"number": number, "agency": "120114-SJJ", "kind": "penalty",
                                         "procedure": "general", "power": "SJ-FOOD-124", "party_name": "天津宏泰食品有限公司",
                                         "opened_on": "2026-03-02"})
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    for stage, at in STAGE_AT.items():
        assert client.post(f"/api/cases/{case_id}/stages", json={"stage": stage, "completed_at": at}).status_code == 201
    plan = list(FORMS) + [("investigation", "inquiry_record", f"询问笔录（{i}）") for i in range(max(0, docs - len(FORMS)))]
    for i, (stage, form, title) in enumerate(plan[:max(docs, len(FORMS))]):
        if title not in _PDFS:  # made once (a CJK font subset takes a while); each copy differs by a comment
            _PDFS[title] = make_pdf(title, [f"{title}。本机关依法作出处理。"] * 3)
        data = _PDFS[title] + f"% {number} {i}\n".encode()
        r = client.post(f"/api/cases/{case_id}/documents", data={"stage": stage, "form": form,
                                                                  "file": (io.BytesIO(data), f"{title}.pdf")},
                        content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()
    return case_id


def _caller(archive, cfg, username="bench"):
    from sqlalchemy import select

    from archive.auth.principal import principal_for
    from archive.models import User
    from archive.services.caller import Caller

    session = archive.sessions()
    user = session.scalar(select(User).where(User.username == username))
    principal = principal_for(session, user, "token")
    session.close()  # the connection back to the pool until the caller acts
    return Caller(principal=principal, session=session, sessions=archive.sessions,
                  store=archive.store, settings=archive.ingest_settings, config=cfg)


def part_check(docs: int) -> None:
    from bench.instance import embedded_archive
    from archive.models import Case
    from archive.services.archivalrules import load_rules
    from archive.services.fourchecks import Checker, ScanSettings
    from archive.worker import drain, examine_settings

    with embedded_archive("bench-archival-check-", CLAMSCAN="off") as (archive, cfg):
        _, client = _setup(archive, cfg)
        case_id = closed_case(client, "津武市监罚〔2026〕900号", docs)
        drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings,
              examine=examine_settings(cfg))
        times, scans = [], []
        work = Path(tempfile.mkdtemp(prefix="bench-clam-"))
        sample = work / "sample.bin"
        sample.write_bytes(b"not in any document")
        sig = subprocess.run(["sigtool", "--md5", str(sample)], capture_output=True, text=True, check=True).stdout
        (work / "bench.hdb").write_text(sig.strip().rsplit(":", 1)[0] + ":Bench.Signature\n")
        for scan in (ScanSettings(program="off"), ScanSettings(database=str(work / "bench.hdb"))):
            for _ in range(3):
                with archive.sessions() as s:
                    case = s.get(Case, case_id)
                    t = time.perf_counter()
                    report = Checker(s, archive.store, load_rules(), scan, "keeping",
                                     dt.datetime.now(dt.timezone.utc), 100).run(case, None)
                    (times if scan.program == "off" else scans).append(time.perf_counter() - t)
                    assert report.passed, [(i.id, i.reason) for i in report.failures]
        shutil.rmtree(work, ignore_errors=True)
        print(f"four-property check, {docs} documents: median {statistics.median(times):.2f} s without the virus "
              f"scan ({len(report.items)} items); with ClamAV {statistics.median(scans):.2f} s "
              f"(scan alone ≈ {statistics.median(scans) - statistics.median(times):.2f} s)")


def part_filers(filers: int, database_url: str | None) -> None:
    from bench.instance import embedded_archive
    from archive.services import archival
    from archive.worker import drain, examine_settings

    extra = {"DATABASE_URL": database_url} if database_url else {}
    with embedded_archive("bench-archival-filers-", CLAMSCAN="off", **extra) as (archive, cfg):
        _, client = _setup(archive, cfg)
        ids = [closed_case(client, f"津武市监罚〔2026〕{1000 + i}号") for i in range(filers)]
        drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings,
              examine=examine_settings(cfg))
        barrier = threading.Barrier(filers)
        pieces: list[int] = []
        errors: list[str] = []

        callers = {case_id: _caller(archive, cfg) for case_id in ids}

        def file(case_id: str) -> None:
            c = callers[case_id]
            barrier.wait(60)
            try:
                row, _ = archival.archive_case(c, case_id)
                pieces.append(row.piece)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                c.session.close()

        t = time.perf_counter()
        threads = [threading.Thread(target=file, args=(i,)) for i in ids]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        took = time.perf_counter() - t
        dupes = len(pieces) - len(set(pieces))
        gaps = len(set(range(1, max(pieces or [0]) + 1)) - set(pieces))
        print(f"{filers} concurrent filings on {'PostgreSQL' if database_url else 'SQLite'}: {len(pieces)} filed in "
              f"{took:.1f} s, {dupes} duplicate and {gaps} missing 件号, {len(errors)} errors {errors[:2]}")


def part_export(cases: int) -> None:
    from bench.instance import embedded_archive
    from archive.services import archival, transfer
    from archive.worker import drain, examine_settings

    with embedded_archive("bench-archival-export-", CLAMSCAN="off") as (archive, cfg):
        _, client = _setup(archive, cfg)
        t = time.perf_counter()
        ids = [closed_case(client, f"津武市监罚〔2026〕{5000 + i}号") for i in range(cases)]
        drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings,
              examine=examine_settings(cfg))
        c = _caller(archive, cfg)
        for case_id in ids:
            archival.archive_case(c, case_id)
        c.session.close()
        print(f"made and filed {cases} cases of {len(FORMS)} documents in {time.perf_counter() - t:.0f} s")
        out = Path(tempfile.mkdtemp(prefix="bench-transfer-")) / "package"
        with archive.sessions() as s:
            t = time.perf_counter()
            result = transfer.export_package(s, archive.store, cfg, "120114-SJJ", 2026, out, "bench",
                                             dt.datetime.now(dt.timezone.utc))
            exported = time.perf_counter() - t
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        t = time.perf_counter()
        report = transfer.verify_package(out)
        verified = time.perf_counter() - t
        print(f"transfer export of {len(result.cases)} cases ({result.files} files): {exported:.1f} s, package "
              f"{size / 1e6:.1f} MB ({size / max(1, result.bytes):.2f}× the originals); transfer verify "
              f"{verified:.1f} s, {'passed' if report.passed else 'FAILED'}")
        shutil.rmtree(out.parent, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=40)
    p.add_argument("--filers", type=int, default=20)
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--pg", default="", help="a PostgreSQL database URL for the concurrent filings too")
    p.add_argument("--only", choices=["check", "filers", "export"], default=None)
    args = p.parse_args()
    if args.only in (None, "check"):
        part_check(args.docs)
    if args.only in (None, "filers"):
        part_filers(args.filers, None)
        if args.pg:
            part_filers(args.filers, args.pg)
    if args.only in (None, "export"):
        part_export(args.cases)


if __name__ == "__main__":
    main()
