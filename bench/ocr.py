"""OCR accuracy and speed: both engines on the same pages, through the archive's own OCR path.

    python -m bench.ocr [--engines rapidocr,tesseract] [--docs 4] [--threads 1]

Renders known Chinese text (the demo generator's decisions, records and receipts, with the CJK
font) into A4 pages at 300 and 200 dpi: clean, with scanner noise and a slight skew (as JPEG),
turned 90°, as images and as image-only PDFs. Each file goes through ``OcrRunner`` (the OCR
process, page rendering, orientation and skew, the engine), exactly as an uploaded scan does.
Prints per engine and condition: the character error rate (edit distance over the normalised
text, spaces removed), seconds per page and pages per second per core (``--threads 1``), and
the share of each page's distinctive phrases that a search of the archive's index then finds.
Goals (issue 14): CER ≤ 3 % on clean 300 dpi pages, ≤ 8 % with noise and skew, ≥ 95 % of
phrases found.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import tempfile
import time
from dataclasses import dataclass

from PIL import Image

from archive.demo import PARTIES, VIOLATIONS, _texts
from archive.demo.scans import image_pdf, render_page, scanner_noise
from archive.extraction import normalise
from archive.indexing.base import IndexedDocument
from archive.indexing.engines import make_index
from archive.indexing.query import SearchQuery, parse_terms
from archive.ocr.runner import OcrRunner

FORMS = ("penalty_decision", "inquiry_record", "filing_approval", "legal_review_opinion", "service_receipt")
# (name, dpi, how the page is made, media type)
CONDITIONS = [
    ("300 dpi clean PNG", 300, "clean", "image/png"),
    ("300 dpi clean PDF", 300, "clean", "application/pdf"),
    ("300 dpi noise+skew JPEG", 300, "noisy", "image/jpeg"),
    ("300 dpi turned 90° PNG", 300, "turned", "image/png"),
    ("200 dpi clean PNG", 200, "clean", "image/png"),
    ("200 dpi clean PDF", 200, "clean", "application/pdf"),
    ("200 dpi noise+skew JPEG", 200, "noisy", "image/jpeg"),
]
WHEN = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def pages(n: int) -> list[tuple[str, list[str]]]:
    """``n`` documents' (title, paragraphs): different violations and forms."""
    out = []
    for i in range(n):
        v = VIOLATIONS[i % len(VIOLATIONS)]
        texts = _texts(f"津武罚〔2026〕{101 + i}号", PARTIES[i % len(PARTIES)], v, "天津市武清区市场监督管理局",
                       dt.date(2026, 10, 9 + i))
        out.append(texts[FORMS[i % len(FORMS)]])
    return out


def make_file(img: Image.Image, how: str, media_type: str, seed: int, folder: str) -> str:
    if how == "noisy":
        img = scanner_noise(img, seed=seed, skew=1.5 if seed % 2 else -1.5)
    elif how == "turned":
        img = img.transpose(Image.Transpose.ROTATE_90)
    ext = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}[media_type]
    path = os.path.join(folder, f"p{seed}-{how}.{ext}")
    if media_type == "application/pdf":
        with open(path, "wb") as f:
            f.write(image_pdf([img]))
    elif media_type == "image/jpeg":
        img.convert("RGB").save(path, quality=85)
    else:
        img.save(path)
    return path


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", normalise(text))


def cer(read: str, truth: str) -> float:
    import Levenshtein

    t = squeeze(truth)
    return Levenshtein.distance(squeeze(read), t) / max(len(t), 1)


def phrases(truth: str) -> list[str]:
    """The page's distinctive phrases: its runs between punctuation of 4 to 12 characters, and
    the first and last 8 characters of longer runs."""
    out = []
    for run in re.split(r"[\s，。：；、（）《》〔〕“”！？,.:;()]+", normalise(truth)):
        if 4 <= len(run) <= 12:
            out.append(run)
        elif len(run) > 12:
            out += [run[:8], run[-8:]]
    return sorted(set(out))


def found_share(texts: dict[str, str], truths: dict[str, str]) -> tuple[int, int]:
    """Index the OCR text of each page (the archive's index and analysis) and search each of
    the page's phrases: how many find their page."""
    index = make_index("tantivy", tempfile.mkdtemp(prefix="bench-ocr-index-"))
    index.upsert([IndexedDocument(key, key, key, normalise(text), f"{key}.png", "", "", "A1", "D1", "C", "penalty",
                                  "decision", "penalty_decision", "", WHEN, WHEN) for key, text in texts.items()])
    hit = total = 0
    for key, truth in truths.items():
        for phrase in phrases(truth):
            total += 1
            result = index.search(SearchQuery(terms=parse_terms(f'"{phrase}"'), per_page=50))
            hit += any(h.doc_id == key for h in result.hits)
    index.close()
    return hit, total


@dataclass
class Row:
    engine: str
    condition: str
    cers: list[float]
    seconds: list[float]
    found: tuple[int, int]


def run(engine: str, docs: list[tuple[str, list[str]]], threads: int, folder: str) -> list[Row]:
    runner = OcrRunner(engine, threads)
    print(f"{engine}: {runner.check()} ({threads} thread{'s' if threads > 1 else ''})", flush=True)
    rows = []
    try:
        for name, dpi, how, media_type in CONDITIONS:
            cers, seconds, texts, truths = [], [], {}, {}
            for i, (title, paras) in enumerate(docs):
                img, truth = render_page(title, paras, dpi=dpi)
                path = make_file(img, how, media_type, i, folder)
                began = time.perf_counter()
                out = runner.read_document(path, media_type)
                seconds.append(time.perf_counter() - began)
                cers.append(cer(out.text, truth))
                texts[f"p{i}"], truths[f"p{i}"] = out.text, truth
            rows.append(Row(engine, name, cers, seconds, found_share(texts, truths)))
            r = rows[-1]
            print(f"  {name:26} CER median {statistics.median(cers):6.2%} max {max(cers):6.2%}   "
                  f"{statistics.median(seconds):5.1f} s/page   phrases found {r.found[0]}/{r.found[1]} "
                  f"({r.found[0] / max(r.found[1], 1):.1%})", flush=True)
    finally:
        runner.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="rapidocr,tesseract")
    ap.add_argument("--docs", type=int, default=4, help="pages per condition")
    ap.add_argument("--threads", type=int, default=1, help="threads per OCR process (1: figures per core)")
    args = ap.parse_args()
    docs = pages(args.docs)
    folder = tempfile.mkdtemp(prefix="bench-ocr-")
    print(f"{args.docs} A4 pages per condition, {len(CONDITIONS)} conditions, "
          f"{sum(len(squeeze(render_page(t, p)[1])) for t, p in docs) // args.docs} characters per page on average")
    results: dict[str, list[Row]] = {}
    for engine in args.engines.split(","):
        results[engine] = run(engine, docs, args.threads, folder)

    print("\nsummary (medians over pages; throughput from the median seconds per page)")
    print(f"{'engine':10} {'clean 300 CER':>14} {'noisy CER':>10} {'turned CER':>11} {'200 dpi CER':>12} "
          f"{'phrases':>8} {'pages/s/core':>13}")
    for engine, rows in results.items():
        by = {r.condition: r for r in rows}

        def med(*names: str) -> float:
            return statistics.median([c for n in names for c in by[n].cers])

        hit = sum(r.found[0] for r in rows)
        total = sum(r.found[1] for r in rows)
        per_page = statistics.median([s for r in rows for s in r.seconds])
        print(f"{engine:10} {med('300 dpi clean PNG', '300 dpi clean PDF'):14.2%} "
              f"{med('300 dpi noise+skew JPEG', '200 dpi noise+skew JPEG'):10.2%} {med('300 dpi turned 90° PNG'):11.2%} "
              f"{med('200 dpi clean PNG', '200 dpi clean PDF'):12.2%} {hit / max(total, 1):8.1%} "
              f"{1 / per_page / args.threads:13.2f}")
    if len(results) == 2:
        a, b = results.values()
        ta = statistics.median([s for r in a for s in r.seconds])
        tb = statistics.median([s for r in b for s in r.seconds])
        print(f"\n{a[0].engine} takes {ta / tb:.2f}× the time of {b[0].engine} per page")
    goals = results.get("rapidocr") or next(iter(results.values()))
    by = {r.condition: r for r in goals}
    clean = statistics.median(by["300 dpi clean PNG"].cers + by["300 dpi clean PDF"].cers)
    noisy = max(statistics.median(by[n].cers) for n in ("300 dpi noise+skew JPEG", "200 dpi noise+skew JPEG"))
    share = sum(r.found[0] for r in goals) / max(sum(r.found[1] for r in goals), 1)
    print(f"goals ({goals[0].engine}): clean 300 dpi CER {clean:.2%} (≤ 3 %: {'met' if clean <= 0.03 else 'NOT met'}), "
          f"noise and skew {noisy:.2%} (≤ 8 %: {'met' if noisy <= 0.08 else 'NOT met'}), "
          f"phrases found {share:.1%} (≥ 95 %: {'met' if share >= 0.95 else 'NOT met'})")


if __name__ == "__main__":
    main()
