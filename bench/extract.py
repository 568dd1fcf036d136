"""Extraction benchmark: pages/s for Chinese PDFs with embedded fonts, and DOCX files/s.

    python -m bench.extract [--pdfs 20] [--pages 10] [--docx 200]

The PDFs are made here with fpdf2 and Noto CJK (embedded, subset), or by LibreOffice from DOCX
when ``soffice`` is installed (``--libreoffice``).
"""
from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from archive.extraction import extract
from archive.extraction.detect import DOCX


def main() -> None:
    import pypdf

    from archive.demo.documents import make_docx, make_pdf
    from bench.corpus import generate

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pdfs", type=int, default=20)
    p.add_argument("--pages", type=int, default=10)
    p.add_argument("--docx", type=int, default=200)
    p.add_argument("--libreoffice", action="store_true", help="make the PDFs with LibreOffice from DOCX")
    args = p.parse_args()
    docs = generate(max(args.pdfs, args.docx), seed=21)

    docx_files = [make_docx("行政处罚决定书", d.text.split("\n"), table=[["当事人", d.party_name]]) for d in docs[: args.docx]]
    pdfs = []
    how = "fpdf2 + Noto CJK (embedded subset)"
    if args.libreoffice:
        soffice = shutil.which("soffice") or shutil.which("libreoffice")
        if not soffice:
            raise SystemExit("LibreOffice is not installed (apt-get install libreoffice-writer-nogui)")
        with tempfile.TemporaryDirectory() as tmp:
            for i, d in enumerate(docs[: args.pdfs]):
                Path(tmp, f"{i}.docx").write_bytes(make_docx("行政处罚决定书", d.text.split("\n") * args.pages))
            subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", tmp,
                            *[str(Path(tmp, f"{i}.docx")) for i in range(args.pdfs)]], check=True,
                           capture_output=True)
            pdfs = [Path(tmp, f"{i}.pdf").read_bytes() for i in range(args.pdfs)]
        how = "LibreOffice from DOCX (fonts embedded)"
    else:
        pdfs = [make_pdf("行政处罚决定书", d.text.split("\n"), pages=args.pages) for d in docs[: args.pdfs]]

    pages, secs, chars = 0, [], 0
    for data in pdfs:
        t = time.perf_counter()
        r = extract(io.BytesIO(data), "application/pdf")
        secs.append(time.perf_counter() - t)
        assert r.status == "extracted", r.reason
        pages += r.pages or 0
        chars += len(r.text)
    print(f"pypdf {pypdf.__version__}: {len(pdfs)} PDFs by {how}, {pages} pages, "
          f"{pages / sum(secs):.1f} pages/s (median {statistics.median(secs) * 1000:.0f} ms a file, "
          f"{chars / pages:.0f} characters a page)")
    t = time.perf_counter()
    for data in docx_files:
        r = extract(io.BytesIO(data), DOCX)
        assert r.status == "extracted"
    el = time.perf_counter() - t
    print(f"python-docx: {len(docx_files)} DOCX files, {len(docx_files) / el:.1f} files/s "
          f"(average {sum(map(len, docx_files)) / len(docx_files) / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
