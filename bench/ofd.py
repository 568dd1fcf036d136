"""OFD benchmark: text extraction, seal verification and PDF/A renditions of OFD files.

    python -m bench.ofd [--files 20] [--samples DIR]

Made here: ``--files`` sealed OFD decisions (the demo's texts, one to three pages, a GB/T 38540
v4 seal signed with SM2), each also changed by one byte in three places (a page's content, the
Signature.xml, the signed value). Figures: text extracted equal to what was written, intact seals
verified, changed ones failed, the rendition's PDF/A checks and text, seconds per page of the
rendition and of a verification. ``--samples DIR`` adds real OFD files (e.g. ofdrw's test
resources): per file, its text length, each seal's result and the rendition's checks.
"""
from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from archive.casefile.fonts import cjk_font
from archive.casefile.ofdrender import as_pdfa, render_ofd
from archive.casefile.ofdsign import ofd_signatures
from archive.casefile.renditions import pdfa_problems
from archive.demo import ofd
from archive.extraction import extract
from archive.services.renditions import OFD, same_text


def _verify(data: bytes) -> tuple[list, float]:
    with tempfile.NamedTemporaryFile(suffix=".ofd") as f:
        f.write(data)
        f.flush()
        t = time.perf_counter()
        sigs = ofd_signatures(Path(f.name))
        return sigs, time.perf_counter() - t


def _render(data: bytes, font: str) -> tuple[bytes, int, float]:
    t = time.perf_counter()
    r = render_ofd(data, font)
    pdf = as_pdfa(r.pdf)
    return pdf, r.pages, time.perf_counter() - t


def made_files(n: int) -> list[tuple[str, bytes, list[str]]]:
    import datetime as dt

    from archive.demo import VIOLATIONS, _texts

    out = []
    key = ofd.SM2Key()
    for i in range(n):
        v = VIOLATIONS[i % len(VIOLATIONS)]
        texts = _texts(f"津武市监罚〔2026〕{i + 1}号", ("天津宏泰食品有限公司", "91120000MA05XXXX1X"), v,
                       "天津市武清区市场监督管理局", dt.date(2026, 3, 2))
        title, paras = texts["penalty_decision"]
        paras = paras * (1 + i % 3)  # one to three pages
        pages = ofd.paginate(title, paras)
        out.append((f"decision-{i}.ofd", ofd.sealed(pages, key), [line for p in pages for line in p]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--samples", type=Path, default=None)
    args = ap.parse_args()
    font = cjk_font()
    assert font, "fonts-noto-cjk is needed for the renditions"
    files = made_files(args.files)
    text_ok = intact_ok = changed_failed = changed_total = pdfa_ok = rtext_ok = 0
    per_page, verify_s = [], []
    for name, data, lines in files:
        text = extract(io.BytesIO(data), OFD).text
        text_ok += "".join(text.split()) == "".join("".join(lines).split())
        sigs, s = _verify(data)
        verify_s.append(s)
        intact_ok += len(sigs) == 1 and sigs[0].result == "验证通过"
        for variant in (ofd.changed(data, "Doc_0/Pages/Page_0/Content.xml", lines[0][:2].encode(), "改动".encode()),
                        ofd.changed(data, "Doc_0/Signs/Sign_0/Signature.xml", b'PageRef="1"', b'PageRef="2"'),
                        ofd.flip_last_byte(data, "Doc_0/Signs/Sign_0/SignedValue.dat")):
            changed_total += 1
            vs, _ = _verify(variant)
            changed_failed += len(vs) == 1 and vs[0].result != "验证通过"
        pdf, pages, seconds = _render(data, font)
        per_page.append(seconds / max(pages, 1))
        pdfa_ok += not pdfa_problems(io.BytesIO(pdf))
        rtext_ok += same_text(text, extract(io.BytesIO(pdf), "application/pdf").text, OFD)
    n = len(files)
    print(f"made OFD files: {n}")
    print(f"  text extracted as written: {text_ok}/{n}")
    print(f"  intact seals verified: {intact_ok}/{n}; changed copies failed: {changed_failed}/{changed_total}")
    print(f"  renditions passing the PDF/A checks: {pdfa_ok}/{n}; with the original's text: {rtext_ok}/{n}")
    print(f"  rendition: median {statistics.median(per_page):.3f} s/page; verification: median "
          f"{statistics.median(verify_s) * 1000:.1f} ms/file")
    if args.samples:
        print(f"samples in {args.samples}:")
        for p in sorted(args.samples.glob("*.ofd")):
            data = p.read_bytes()
            text = extract(io.BytesIO(data), OFD)
            sigs, _ = _verify(data)
            try:
                pdf, pages, seconds = _render(data, font)
                checks = "PDF/A ok" if not pdfa_problems(io.BytesIO(pdf)) else "PDF/A problems"
                same = same_text(text.text, extract(io.BytesIO(pdf), "application/pdf").text, OFD)
                rend = f"{pages} p, {seconds:.2f} s, {checks}, text {'equal' if same else 'differs'}"
            except Exception as exc:
                rend = f"not rendered: {type(exc).__name__}"
            print(f"  {p.name}: text {text.status} {len(text.text)} chars; "
                  f"seals {[s.result for s in sigs]}; rendition {rend}")


if __name__ == "__main__":
    main()
