"""The operations manual (操作手册), made from the product itself.

``manual.json`` holds a chapter per role (its sections in the order of the role's work) and the
sections: the page it explains (the navigation key), short steps in Chinese, the templates it
shows and its screenshots — the ones the browser tests take of that work, copied into
``shots/`` by ``bin/manual`` (``python -m archive.manual shots``). ``/help`` serves the chapters
as pages; ``/help/<role>.pdf`` (and ``python -m archive.manual pdf``) one PDF per role for
printing. ``tests/unit/test_manual.py`` fails when a page in a role's navigation has no section
or a screenshot is older (by git) than a template its section names.
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHOTS = HERE / "shots"


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    return json.loads((HERE / "manual.json").read_text(encoding="utf-8"))


def roles() -> list[str]:
    return list(load()["roles"])


def chapter(role: str) -> dict[str, Any] | None:
    """A role's chapter: its name, introduction and sections (each with its id)."""
    from archive.labels import ROLE_NAMES

    data = load()
    r = data["roles"].get(role)
    if r is None:
        return None
    return {"role": role, "name": ROLE_NAMES.get(role, role), "intro": r["intro"],
            "sections": [{"id": sid, **data["sections"][sid]} for sid in r["sections"]]}


def section_for(role: str, nav: str | None) -> str | None:
    """The id of the role's section about the page in navigation ``nav`` (the header's 帮助)."""
    c = chapter(role)
    if c is None or not nav:
        return None
    return next((s["id"] for s in c["sections"] if s["nav"] == nav), None)


def shot_names() -> list[str]:
    return sorted({name for s in load()["sections"].values() for name in s["shots"]})


def copy_shots(source: Path) -> list[str]:
    """Copy the screenshots the manual names from ``source`` (the browser tests' output);
    returns the names missing there (kept as they were)."""
    SHOTS.mkdir(exist_ok=True)
    missing = []
    for name in shot_names():
        src = source / name
        if src.is_file():
            _compact(src, SHOTS / name)
        else:
            missing.append(name)
    return missing


def _compact(src: Path, dest: Path, width: int = 1280) -> None:
    """A screenshot as the manual keeps it: at most ``width`` pixels wide, 256 colours (a page
    has few), optimised — a fifth of the size, as legible."""
    from PIL import Image

    with Image.open(src) as opened:
        im: Image.Image = opened.convert("RGB")
    if im.width > width:
        im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
    im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dest, optimize=True)


def pdf(role: str) -> bytes:
    """The role's chapter as a printable A4 PDF (title, introduction, each section's steps and
    screenshots)."""
    from archive.casefile.fonts import cjk_fpdf

    c = chapter(role)
    if c is None:
        raise KeyError(role)
    doc = cjk_fpdf()
    doc.set_title(f"{load()['title']}（{c['name']}）")
    doc.add_page()
    doc.set_font("cjk", size=18)
    doc.multi_cell(0, 10, load()["title"], align="C", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("cjk", size=14)
    doc.multi_cell(0, 9, f"{c['name']}分册", align="C", new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    doc.set_font("cjk", size=10.5)
    doc.multi_cell(0, 6, c["intro"], new_x="LMARGIN", new_y="NEXT")
    for n, s in enumerate(c["sections"], 1):
        doc.add_page()
        doc.set_font("cjk", size=14)
        doc.multi_cell(0, 8, f"{n}. {s['title']}", new_x="LMARGIN", new_y="NEXT")
        doc.set_font("cjk", size=10.5)
        for i, step in enumerate(s["steps"], 1):
            doc.multi_cell(0, 6, f"（{i}）{step}", new_x="LMARGIN", new_y="NEXT")
        for name in s["shots"]:
            path = SHOTS / name
            if not path.is_file():
                continue
            doc.ln(3)
            width = doc.epw
            from PIL import Image

            with Image.open(path) as im:
                w, h = im.size
            height = width * h / w
            max_height = doc.eph - 10
            if height > max_height:  # a long page: scaled to fit one page's height
                width, height = width * max_height / height, max_height
            if doc.get_y() + height > doc.page_break_trigger:
                doc.add_page()
            doc.image(str(path), w=width, h=height)
    return bytes(doc.output())


def main(argv: list[str] | None = None) -> int:
    """``python -m archive.manual shots [DIR]`` copies the screenshots (default:
    test-screenshots); ``pdf [OUT]`` writes one PDF per role (default: build/manual)."""
    args = list(sys.argv[1:] if argv is None else argv)
    what = args[0] if args else "shots"
    if what == "shots":
        source = Path(args[1]) if len(args) > 1 else Path("test-screenshots")
        missing = copy_shots(source)
        print(f"copied {len(shot_names()) - len(missing)} screenshots from {source} into {SHOTS}")
        if missing:
            print("missing (run the browser tests first: bin/test tests/e2e): " + ", ".join(missing))
            return 1
        return 0
    if what == "pdf":
        out = Path(args[1]) if len(args) > 1 else Path("build/manual")
        out.mkdir(parents=True, exist_ok=True)
        for role in roles():
            (out / f"{role}.pdf").write_bytes(pdf(role))
        print(f"wrote {len(roles())} PDFs into {out}")
        return 0
    print("usage: python -m archive.manual shots [DIR] | pdf [OUT]", file=sys.stderr)
    return 2
