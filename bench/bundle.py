"""Case-file bundle benchmark: the BagIt ZIP and the binder PDF of a case, at two sizes.

    python -m bench.bundle [--documents 10] [--pages 4]

A penalty case of ``--documents`` PDFs, then one of 4 × as many, each PDF with ``--pages``
pages of Chinese text (embedded font) and a 400 KB incompressible greyscale image per document
(the kind of bytes a scanned record carries), in a SeaweedFS started for the run. For the ZIP,
the streaming binder and — as the anchor — pypdf's ``PdfWriter`` merging the same documents,
prints seconds (no tracing) and the peak of Python heap allocations (tracemalloc, a separate
run). What matters is how the peak grows from the small case to the large one.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import tempfile
import time
import tracemalloc


def scanned_pdf(title: str, pages: int) -> bytes:
    """A text PDF with an incompressible 640 × 640 greyscale image on its first page."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ContentStream, DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    from archive.demo.documents import make_pdf

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(title, [f"{title}：现场检查记录。" * 10], pages=pages))))
    img = DecodedStreamObject()
    img.set_data(os.urandom(640 * 640))
    img.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(640), NameObject("/Height"): NumberObject(640),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"), NameObject("/BitsPerComponent"): NumberObject(8)})
    page = w.pages[0]
    resources = page["/Resources"].get_object()
    xobjects = resources.setdefault(NameObject("/XObject"), DictionaryObject())
    xobjects[NameObject("/Scan")] = w._add_object(img)
    content = ContentStream(page.get_contents(), w)
    content.set_data(content.get_data() + b"\nq 200 0 0 200 300 500 cm /Scan Do Q\n")
    page.replace_contents(content)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def measure(fn) -> tuple[float, float]:
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--documents", type=int, default=10)
    p.add_argument("--pages", type=int, default=4)
    args = p.parse_args()

    from pypdf import PdfReader, PdfWriter

    from archive.demo import ORGS
    from archive.casefile.bundle import bag_zip, build_binder
    from archive.services import cases as case_service
    from archive.services.ingest import HashingSpool, ingest
    from archive.services.orgs import import_orgs
    from bench.instance import embedded_archive

    with embedded_archive("bench-bundle-", LIBREOFFICE="off") as (archive, _cfg):
        with archive.sessions() as s:
            import_orgs(s, ORGS)
            s.commit()
        agency = next(o["code"] for o in ORGS if o["level"] == "agency")
        print(f"{'documents':>9} {'case MB':>8} | {'ZIP s':>6} {'ZIP peak MB':>11} | {'binder s':>8} "
              f"{'binder peak MB':>14} {'pages':>5} | {'PdfWriter s':>11} {'PdfWriter peak MB':>17}")
        for n in (args.documents, 4 * args.documents):
            blobs = [scanned_pdf(f"证据材料{i}", args.pages) for i in range(n)]
            with archive.sessions() as s:
                case = case_service.create_case(s, {"number": f"津武市监罚〔2026〕{900 + n}号", "agency": agency,
                                                    "kind": "penalty", "opened_on": dt.date(2026, 3, 2)})
                s.commit()
                case_service.record_stage(s, case, "investigation",
                                          dt.datetime(2026, 3, 10, 10, tzinfo=dt.timezone.utc))
                s.commit()
                for i, data in enumerate(blobs):
                    ingest(s, archive.store, archive.ingest_settings, case, stage="investigation",
                           form="evidence_extraction", filename=f"证据{i:03d}.pdf",
                           spool=HashingSpool.from_stream(io.BytesIO(data)))
                case = case_service.get_case(s, case.id)
                pages = []

                def zip_it():
                    for _ in bag_zip(case, "bench", archive.store):
                        pass

                def binder():
                    b = build_binder(case, "bench", archive.store)
                    pages.append(b.pages)
                    b.file.close()

                def pypdf_writer():
                    w = PdfWriter()
                    for d in case.documents:
                        w.append(PdfReader(io.BytesIO(b"".join(archive.store.open(d.object_key, d.version_id)))))
                    with tempfile.TemporaryFile() as f:
                        w.write(f)

                z = measure(zip_it)
                b = measure(binder)
                w = measure(pypdf_writer)
            mb = sum(map(len, blobs)) / 1e6
            print(f"{n:>9} {mb:>8.1f} | {z[0]:>6.2f} {z[1] / 1e6:>11.1f} | {b[0]:>8.2f} {b[1] / 1e6:>14.1f} "
                  f"{pages[0]:>5} | {w[0]:>11.2f} {w[1] / 1e6:>17.1f}")


if __name__ == "__main__":
    main()
