"""Renditions benchmark: PDF/A-2b renditions of DOCX made by LibreOffice, as the render job makes
them — how many pass the PDF/A checks, how many keep the original's text, seconds per page, and
the largest address space LibreOffice used.

    python -m bench.renditions [--corpus 20]

The files: the demo's DOCX documents (every form the demo writes as DOCX, with its letterhead)
and ``--corpus`` decision-like DOCX of the synthetic corpus (with a table).
"""
from __future__ import annotations

import argparse
import io
import resource
import statistics
import time

from archive.casefile.bundle import find_soffice
from archive.casefile.renditions import pdfa_problems, to_pdfa
from archive.extraction import extract
from archive.extraction.detect import DOCX
from archive.services.renditions import comparable


def demo_docx() -> list[tuple[str, bytes]]:
    """Every form the demo writes, as DOCX (the demo writes most as PDF where a font is present)."""
    import datetime as dt

    from archive.demo import VIOLATIONS, _texts
    from archive.demo.documents import make_docx

    v = VIOLATIONS[0]
    texts = _texts("津武市监罚〔2026〕1号", ("天津宏泰食品有限公司", "91120000MA05XXXX1X"), v,
                   "天津市武清区市场监督管理局", dt.date(2026, 3, 2))
    return [(f"{title}.docx", make_docx(title, paras, header="天津市武清区市场监督管理局"))
            for title, paras in texts.values()]


def main() -> None:
    from archive.demo.documents import make_docx
    from bench.corpus import generate

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=int, default=20)
    args = p.parse_args()
    soffice = find_soffice("")
    if soffice is None:
        raise SystemExit("LibreOffice is not installed (bin/setup installs it)")
    files = demo_docx() + [(f"corpus-{i}.docx", make_docx("行政处罚决定书", d.text.split("\n"),
                                                         table=[["当事人", d.party_name]]))
                           for i, d in enumerate(generate(args.corpus, seed=21))]
    passed = same = 0
    per_page, failed = [], []
    for name, data in files:
        started = time.monotonic()
        out = to_pdfa(io.BytesIO(data), "docx", soffice)
        seconds = time.monotonic() - started
        if out.file is None:
            failed.append(f"{name}: {out.reason}")
            continue
        problems = pdfa_problems(out.file)
        result = extract(out.file, "application/pdf")
        original = extract(io.BytesIO(data), DOCX).text
        passed += not problems
        equal = comparable(original) == comparable(result.text)
        same += equal
        if not equal:
            failed.append(f"{name}: text differs")
        per_page.append(seconds / max(result.pages or 1, 1))
    n = len(files)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"documents: {n} ({len(demo_docx())} demo forms, {args.corpus} corpus)")
    print(f"PDF/A checks passed: {passed}/{n} = {passed / n:.0%}")
    print(f"text equal to the original's (normalised): {same}/{n} = {same / n:.0%}")
    print(f"seconds per page: median {statistics.median(per_page):.2f}, p95 "
          f"{sorted(per_page)[int(0.95 * (len(per_page) - 1))]:.2f} (LibreOffice started afresh for each file)")
    print(f"largest resident set of a LibreOffice process: {peak_mib:.0f} MiB (address space bounded at 2048 MiB)")
    for line in failed:
        print("  " + line)


if __name__ == "__main__":
    main()
