"""A PDF/A-2b rendition of an OFD file (GB/T 33190), drawn by the archive itself: every page at
its physical size, the text objects where they stand (ofdkit's runs, in the embedded Chinese
font, so the rendition's text is searchable), the images and lines of each page, and the seal
images of electronic seals at their stamp annotations. What is not drawn: the OFD's own fonts
(the archive's CJK font stands in), clipping, gradients and patterns — the original stays the
record, the rendition is the copy a reader opens anywhere."""
from __future__ import annotations

import io
import logging
import math
import posixpath
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from archive.casefile.ofdsign import SESSignature, _Package, _resolve, signature_files
from archive.casefile.renditions import tidy

log = logging.getLogger(__name__)

MM_TO_PT = 72 / 25.4
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8", b"GIF8", b"BM")


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    drawn: dict[str, int]  # what was drawn, by kind: text runs, images, paths, seals


def _numbers(raw: str | None) -> list[float]:
    return [float(n) for n in _NUMBER.findall(raw or "")]


def _box(raw: str | None) -> tuple[float, float, float, float] | None:
    n = _numbers(raw)
    return (n[0], n[1], n[2], n[3]) if len(n) >= 4 else None


def _ctm(el: ElementTree.Element) -> tuple[float, ...]:
    n = _numbers(el.get("CTM"))
    return tuple(n[:6]) if len(n) >= 6 else (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _apply(m: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _color(el: ElementTree.Element | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if el is None:
        return default
    n = _numbers(el.get("Value"))
    return (int(n[0]), int(n[1]), int(n[2])) if len(n) >= 3 else default


def path_points(data: str) -> list[list[tuple[float, float]]]:
    """OFD abbreviated path data (S/M, L, Q, B, A, C) as polylines in object coordinates;
    curves are flattened, arcs are drawn as their chord."""
    tokens = re.findall(r"[A-Za-z]|" + _NUMBER.pattern, data or "")
    subpaths: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    i, pos, start = 0, (0.0, 0.0), (0.0, 0.0)

    def take(k: int) -> list[float]:
        nonlocal i
        vals = [float(t) for t in tokens[i:i + k]]
        i += k
        return vals if len(vals) == k else []

    while i < len(tokens):
        op = tokens[i]
        i += 1
        if op in ("S", "M"):
            v = take(2)
            if not v:
                break
            if len(cur) > 1:
                subpaths.append(cur)
            pos = start = (v[0], v[1])
            cur = [pos]
        elif op == "L":
            v = take(2)
            if not v:
                break
            pos = (v[0], v[1])
            cur.append(pos)
        elif op in ("Q", "B"):
            v = take(4 if op == "Q" else 6)
            if not v:
                break
            pts = [pos] + [(v[j], v[j + 1]) for j in range(0, len(v), 2)]
            for step in range(1, 13):
                t = step / 12
                if op == "Q":
                    (x0, y0), (x1, y1), (x2, y2) = pts
                    x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * x1 + t * t * x2
                    y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * y1 + t * t * y2
                else:
                    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts
                    x = (1 - t) ** 3 * x0 + 3 * (1 - t) ** 2 * t * x1 + 3 * (1 - t) * t * t * x2 + t ** 3 * x3
                    y = (1 - t) ** 3 * y0 + 3 * (1 - t) ** 2 * t * y1 + 3 * (1 - t) * t * t * y2 + t ** 3 * y3
                cur.append((x, y))
            pos = cur[-1]
        elif op == "A":
            v = take(7)
            if not v:
                break
            pos = (v[5], v[6])
            cur.append(pos)
        elif op == "C":
            cur.append(start)
            pos = start
        # anything else is skipped
    if len(cur) > 1:
        subpaths.append(cur)
    return subpaths


def _media(pkg: _Package, document_xml: str) -> dict[str, bytes]:
    """Image bytes by resource id, from the document's PublicRes and DocumentRes files."""
    out: dict[str, bytes] = {}
    doc_dir = posixpath.dirname(document_xml)
    try:
        root = pkg.xml(document_xml)
    except (KeyError, ValueError, ElementTree.ParseError):
        return out
    common = root.find("{*}CommonData")
    locs = [e.text or "" for e in (common.findall("{*}PublicRes") + common.findall("{*}DocumentRes"))] if common is not None else []
    for loc in locs:
        res_name = _resolve(doc_dir, loc)
        try:
            res = pkg.xml(res_name)
        except (KeyError, ValueError, ElementTree.ParseError):
            continue
        base = _resolve(posixpath.dirname(res_name), res.get("BaseLoc", ""))
        for mm in res.iter():
            if not mm.tag.endswith("MultiMedia"):
                continue
            f = mm.find("{*}MediaFile")
            loc = (f.text or "").strip() if f is not None else ""
            if not loc:
                continue
            name = _resolve("", loc) if loc.startswith("/") else _resolve(base, loc)
            try:
                out[mm.get("ID", "")] = pkg.read(name)
            except (KeyError, ValueError):
                continue
    return out


def _stamps(pkg: _Package) -> dict[str, list[tuple[tuple[float, float, float, float], bytes | None, str]]]:
    """Seal appearances by page id: (boundary, seal image or None, seal name)."""
    out: dict[str, list] = {}
    try:
        files = signature_files(pkg)
    except (KeyError, ValueError, ElementTree.ParseError):
        return out
    for _, name in files:
        try:
            root = pkg.xml(name)
        except (KeyError, ValueError, ElementTree.ParseError):
            continue
        image, seal_name = None, ""
        value = root.find("{*}SignedValue")
        if value is not None and value.text:
            try:
                ses = SESSignature.load(pkg.read(_resolve(posixpath.dirname(name), value.text)), strict=False)
                info = ses["to_sign"]["eseal"]["seal_info"]
                seal_name = info["property"]["name"].native or ""
                data = info["picture"]["data"].native
                image = data if data[:4].startswith(IMAGE_MAGIC) or data[:2] == b"\xff\xd8" else None
            except Exception:  # another seal layout: the appearance is drawn as a ring
                pass
        for annot in root.iter():
            if annot.tag.endswith("StampAnnot"):
                box = _box(annot.get("Boundary"))
                if box is not None:
                    out.setdefault(annot.get("PageRef", "").strip(), []).append((box, image, seal_name))
    return out


def render_ofd(data: bytes, font_path: str) -> Rendered:
    """The OFD file ``data`` drawn as a PDF (not yet PDF/A: :func:`as_pdfa` adds that)."""
    import ofdkit
    from fpdf import FPDF

    pdf = FPDF(unit="mm")
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", fname=font_path, collection_font_number=0)
    drawn = {"text": 0, "images": 0, "paths": 0, "seals": 0}
    with ofdkit.open(io.BytesIO(data)) as doc, zipfile.ZipFile(io.BytesIO(data)) as zf:
        pkg = _Package(zf)
        body_docs = [e.text or "" for e in pkg.xml("OFD.xml").iter() if e.tag.endswith("DocRoot")]
        media = _media(pkg, _resolve("", body_docs[0])) if body_docs else {}
        stamps = _stamps(pkg)
        for page in doc.pages:
            x0, y0, w, h = page.box
            pdf.add_page(format=(w, h))
            if page.location:
                try:
                    root = pkg.xml(page.location)
                except (KeyError, ValueError, ElementTree.ParseError):
                    root = None
                if root is not None:
                    _graphics(pdf, root, media, (x0, y0), drawn)
            pdf.set_text_color(0, 0, 0)
            for run in page.runs:
                if not run.text.strip() or run.size <= 0:
                    continue
                pdf.set_font("cjk", size=max(run.size * MM_TO_PT, 1))
                pdf.text(run.x - x0, run.y - y0, run.text)
                drawn["text"] += 1
            for (bx, by, bw, bh), image, seal_name in stamps.get(str(page.id or page.index + 1), []):
                if image is not None:
                    try:
                        pdf.image(io.BytesIO(image), bx - x0, by - y0, bw, bh)
                        drawn["seals"] += 1
                        continue
                    except Exception as exc:  # a seal image Pillow cannot read: the ring instead
                        log.info("seal image not drawn: %s", exc)
                pdf.set_draw_color(200, 0, 0)
                pdf.set_line_width(0.8)
                pdf.ellipse(bx - x0, by - y0, bw, bh)
                drawn["seals"] += 1
    return Rendered(bytes(pdf.output()), len(pdf.pages), drawn)


def _graphics(pdf, root: ElementTree.Element, media: dict[str, bytes], origin: tuple[float, float],
              drawn: dict[str, int]) -> None:
    x0, y0 = origin
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag not in ("PathObject", "ImageObject"):
            continue
        box = _box(el.get("Boundary"))
        if box is None:
            continue
        bx, by, bw, bh = box
        if tag == "ImageObject":
            image = media.get(el.get("ResourceID", ""))
            if image is None:
                continue
            a, b, c, d, _, _ = _ctm(el)
            iw, ih = (abs(a) or bw, abs(d) or bh) if b == 0 and c == 0 else (bw, bh)
            try:
                pdf.image(io.BytesIO(image), bx - x0, by - y0, min(iw, bw) or bw, min(ih, bh) or bh)
                drawn["images"] += 1
            except Exception as exc:  # an image format fpdf2 cannot embed (JBIG2 …) is left out
                log.info("OFD image not drawn: %s", exc)
            continue
        data = el.find("{*}AbbreviatedData")
        if data is None or el.get("Stroke", "true") == "false" and el.get("Fill", "false") == "false":
            continue
        m = _ctm(el)
        r, g, bl = _color(el.find("{*}StrokeColor"), (0, 0, 0))
        pdf.set_draw_color(r, g, bl)
        width = _numbers(el.get("LineWidth"))
        pdf.set_line_width(max(width[0] if width else 0.353, 0.1))
        fill = el.get("Fill", "false") == "true"
        if fill:
            pdf.set_fill_color(*_color(el.find("{*}FillColor"), (0, 0, 0)))
        for sub in path_points(data.text or ""):
            pts = [_apply(m, x, y) for x, y in sub]
            pts = [(bx + x - x0, by + y - y0) for x, y in pts]
            if all(math.isfinite(v) for p in pts for v in p):
                pdf.polyline(pts, style="DF" if fill else "D")
                drawn["paths"] += 1


def as_pdfa(pdf_bytes: bytes, title: str = "") -> bytes:
    """The PDF as PDF/A-2b: the claim in its XMP metadata and an sRGB output intent (fpdf2
    embeds the fonts it uses)."""
    import pikepdf
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        profile = pdf.make_stream(icc)
        profile["/N"] = 3
        pdf.Root.OutputIntents = pikepdf.Array([pikepdf.Dictionary(
            Type=pikepdf.Name.OutputIntent, S=pikepdf.Name.GTS_PDFA1, OutputConditionIdentifier="sRGB IEC61966-2.1",
            Info="sRGB IEC61966-2.1", DestOutputProfile=profile)])
        with pdf.open_metadata() as meta:
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
            if title:
                meta["dc:title"] = title
        out = io.BytesIO()
        pdf.save(out)
    return tidy(out.getvalue())
