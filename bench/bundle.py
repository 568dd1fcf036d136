"""Case-file bundle benchmark: the BagIt ZIP and the binder PDF of one large case.

    python -m bench.bundle [--documents 40] [--pages 25]

One penalty case with ``--documents`` PDF documents of ``--pages`` pages each (Chinese text,
embedded font, plus 200 KB of incompressible attachment each so that the bytes are not all
text) is stored in a SeaweedFS started for the run. Prints, for the streamed ZIP and for the
binder: seconds, MB/s of case bytes, and the peak of Python heap allocations during the build
(tracemalloc) against the case's total size.
"""
from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
import tracemalloc
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--documents", type=int, default=40)
    p.add_argument("--pages", type=int, default=25)
    args = p.parse_args()

    from pypdf import PdfReader, PdfWriter

    from archive.config import load_config
    from archive.demo import ORGS
    from archive.demo.documents import make_pdf
    from archive.extension import build_archive
    from archive.sampling.bundle import bag_zip, build_binder
    from archive.services import cases as case_service
    from archive.services.ingest import HashingSpool, ingest
    from archive.services.orgs import import_orgs
    from archive.storage.seaweed import EmbeddedSeaweed, pick_ports

    work = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    weed = EmbeddedSeaweed(work / "weed", pick_ports(1)[0], "bench", "bench-secret")
    weed.start()
    try:
        cfg = load_config({"DATA_DIR": str(work), "S3_ENDPOINT": weed.endpoint, "S3_ACCESS_KEY": "bench",
                           "S3_SECRET_KEY": "bench-secret", "DEMO": False}, environ={})
        archive = build_archive(cfg)
        archive.prepare()
        total = 0
        with archive.sessions() as s:
            import_orgs(s, ORGS)
            s.commit()
            agency = next(o["code"] for o in ORGS if o["level"] == "agency")
            import datetime as dt

            case = case_service.create_case(s, {"number": "津武市监罚〔2026〕900号", "agency": agency,
                                                "kind": "penalty", "opened_on": dt.date(2026, 3, 2)})
            s.commit()
            for i in range(args.documents):
                text = make_pdf(f"证据材料{i}", [f"第{i}份证据，现场检查记录。" * 20], pages=args.pages)
                w = PdfWriter(clone_from=PdfReader(io.BytesIO(text)))
                w.add_attachment("scan.bin", os.urandom(200_000))
                buf = io.BytesIO()
                w.write(buf)
                data = buf.getvalue()
                total += len(data)
                ingest(s, archive.store, archive.ingest_settings, case, stage="investigation",
                       form="evidence_extraction", filename=f"证据{i:03d}.pdf",
                       spool=HashingSpool.from_stream(io.BytesIO(data)))
            s.refresh(case)
            case_id = case.id
        print(f"case: {args.documents} PDFs, {total / 1e6:.1f} MB")
        with archive.sessions() as s:
            case = case_service.get_case(s, case_id)
            tracemalloc.start()
            t = time.perf_counter()
            size = sum(len(chunk) for chunk in bag_zip(case, "bench", archive.store))
            zip_s = time.perf_counter() - t
            _, zip_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            tracemalloc.start()
            t = time.perf_counter()
            binder = build_binder(case, "bench", archive.store)
            bind_s = time.perf_counter() - t
            _, bind_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            bsize = binder.file.seek(0, 2)
            binder.file.close()
        mb = total / 1e6
        print(f"bundle ZIP : {zip_s:6.2f} s, {mb / zip_s:6.1f} MB/s, {size / 1e6:.1f} MB out, "
              f"heap peak {zip_peak / 1e6:6.1f} MB = {zip_peak / total:.2f} × the case")
        print(f"binder PDF : {bind_s:6.2f} s, {mb / bind_s:6.1f} MB/s, {binder.pages} pages, {bsize / 1e6:.1f} MB out, "
              f"heap peak {bind_peak / 1e6:6.1f} MB = {bind_peak / total:.2f} × the case")
    finally:
        weed.stop()


if __name__ == "__main__":
    main()
