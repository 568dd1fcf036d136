"""OCR engines behind one port: RapidOCR (PP-OCRv4 on ONNX Runtime, the default) and Tesseract.

An engine reads one page image and returns its lines with a confidence. It finds the page's
orientation itself (a page scanned sideways or upside down) and straightens a slight skew.
Both were measured on the same pages (``python -m bench.ocr``); the README has the figures.
"""
from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from statistics import median
from typing import Protocol

from PIL import Image

# Chinese characters and full-width punctuation: a space between two of them is an artefact
# of the engine (Tesseract puts one between every pair of Chinese characters), not text.
_WIDE = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0002ffff"
_PUNCT = r"!-/:-@\[-`{-~"  # ASCII punctuation, which Tesseract reads for full-width ："（）
_WIDE_SPACE = re.compile(rf"(?<=[{_WIDE}])[ \t]+(?=[{_WIDE}{_PUNCT}])|(?<=[{_PUNCT}])[ \t]+(?=[{_WIDE}])")


def tidy_line(text: str) -> str:
    """One recognised line as text: no spaces between Chinese characters, nor between one and
    a punctuation mark (spaces between Latin words and numbers stay)."""
    return _WIDE_SPACE.sub("", text.strip())


@dataclass
class PageText:
    """What an engine read on one page."""

    lines: list[tuple[str, float]] = field(default_factory=list)  # (text, confidence 0..1)
    rotation: int = 0  # degrees the page was turned (clockwise) before it was read
    skew: float = 0.0  # degrees of skew straightened

    @property
    def text(self) -> str:
        return "\n".join(t for t, _ in self.lines)

    @property
    def chars(self) -> int:
        return sum(len(t) for t, _ in self.lines)

    @property
    def confidence(self) -> float | None:
        """Mean confidence per character; None when nothing was read."""
        n = self.chars
        return sum(len(t) * c for t, c in self.lines) / n if n else None


class OcrEngine(Protocol):
    name: str
    model: str

    def read(self, image: Image.Image) -> PageText:
        """Read one page (any PIL mode); never called with more pixels than the limits allow."""


def _turn(image: Image.Image, clockwise: int) -> Image.Image:
    """The page turned ``clockwise`` degrees (a multiple of 90)."""
    turns = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    return image.transpose(turns[clockwise % 360]) if clockwise % 360 else image


def _straighten(image: Image.Image, degrees: float) -> Image.Image:
    """Rotate by ``degrees`` (counter-clockwise), white where the page had no pixels."""
    fill = 255 if image.mode == "L" else (255, 255, 255)
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


class RapidOcrEngine:
    """PP-OCRv4 Chinese detection and recognition from the ``rapidocr-onnxruntime`` 1.4.4 wheel,
    which carries its models (later releases download them at run time).

    The page is read at full resolution; text lines are found on a copy at most 2000 pixels
    high (the detector's own sizing). RapidOCR's default shrinks an A4 page at 300 dpi to 2000
    pixels before reading it, and whole lines were lost (measured: CER 18 % against 0.2 %).
    """

    name = "rapidocr"

    def __init__(self, threads: int = 1) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._ocr = RapidOCR(max_side_len=4000, det_limit_type="max", det_box_thresh=0.4,
                             intra_op_num_threads=threads, inter_op_num_threads=1)
        self.model = "PP-OCRv4 (rapidocr-onnxruntime 1.4.4)"

    def _boxes(self, image: Image.Image):
        import numpy as np

        small = image.copy()
        small.thumbnail((1200, 1200))
        boxes, _ = self._ocr.text_det(np.asarray(small.convert("RGB")))
        return [] if boxes is None else boxes

    def _orientation(self, image: Image.Image) -> tuple[int, float]:
        """A quarter turn (clockwise degrees: 0 or 90) that makes the lines run across, and the
        skew of the lines in degrees. Whether the page is also upside down is found later."""
        import numpy as np

        tall = wide = 0.0
        angles: list[float] = []
        for box in self._boxes(image):
            p = np.asarray(box, dtype=float)
            w = float(np.linalg.norm(p[1] - p[0]))
            h = float(np.linalg.norm(p[3] - p[0]))
            if w > 1.5 * h:
                wide += w * h
                angles.append(math.degrees(math.atan2(p[1][1] - p[0][1], p[1][0] - p[0][0])))
            elif h > 1.5 * w:
                tall += w * h
        if tall > wide:
            return 90, 0.0
        skew = median(angles) if angles else 0.0
        return 0, skew if 0.4 <= abs(skew) <= 20 else 0.0

    def _read(self, image: Image.Image) -> tuple[list[tuple[str, float]], bool]:
        """The lines read, and whether the page looks upside down.

        RapidOCR's per-line direction classifier is not used: on clean pages it turned long,
        correctly read lines upside down and they were lost (measured: 27 % of the characters).
        Instead the longest lines are read both ways up and the better reading decides.
        """
        import numpy as np

        ocr = self._ocr
        img, _, _ = ocr.preprocess(np.asarray(image.convert("RGB")))
        boxes, _ = ocr.auto_text_det(img)
        if boxes is None:
            return [], False
        crops = ocr.get_crop_img_list(img, boxes)
        recognised, _ = ocr.text_rec(crops, False)
        lines = [(tidy_line(r[0]), float(r[1])) for r in recognised if float(r[1]) >= ocr.text_score]
        # the first dozen characters of the four longest lines, read as they are and turned over
        longest = sorted(range(len(crops)), key=lambda i: -crops[i].shape[1])[:4]
        heads = [np.ascontiguousarray(crops[i][:, : crops[i].shape[0] * 12]) for i in longest]
        as_is, _ = ocr.text_rec(heads, False)
        turned, _ = ocr.text_rec([np.ascontiguousarray(h[::-1, ::-1]) for h in heads], False)
        upside_down = sum(float(r[1]) for r in turned) > sum(float(r[1]) for r in as_is) + 0.1 * len(heads)
        return [(t, c) for t, c in lines if t], upside_down

    def read(self, image: Image.Image) -> PageText:
        turn, skew = self._orientation(image)
        page = _turn(image, turn)
        if turn:  # a sideways page's skew is measured once it stands upright
            _, skew = self._orientation(page)
        if skew:
            page = _straighten(page, skew)
        lines, upside_down = self._read(page)
        if upside_down:  # the page is upside down, and so is the order of its lines
            turn = (turn + 180) % 360
            lines, _ = self._read(page.transpose(Image.Transpose.ROTATE_180))
        return PageText(lines=lines, rotation=turn, skew=skew)


class TesseractEngine:
    """Tesseract 5 with Debian's ``chi_sim`` model, run as a program (its own process per page)."""

    name = "tesseract"

    def __init__(self, threads: int = 1, program: str = "tesseract") -> None:
        found = shutil.which(program)
        if found is None:
            raise RuntimeError("tesseract not found: apt-get install tesseract-ocr tesseract-ocr-chi-sim")
        self.program = found
        self.threads = threads
        version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        langs = subprocess.run([found, "--list-langs"], capture_output=True, text=True).stdout.split()
        if "chi_sim" not in langs:
            raise RuntimeError("tesseract has no chi_sim model: apt-get install tesseract-ocr-chi-sim")
        self.model = f"chi_sim ({version.strip()})"

    def _run(self, image: Image.Image, *args: str) -> str:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        env = {"OMP_THREAD_LIMIT": str(self.threads), "PATH": "/usr/bin:/bin"}
        out = subprocess.run([self.program, "stdin", "stdout", *args], input=buf.getvalue(),
                             capture_output=True, env=env, check=False)
        return out.stdout.decode("utf-8", "replace")

    def _rotation(self, image: Image.Image) -> int:
        """Clockwise turn that makes the page upright, by Tesseract's orientation detection."""
        osd = self._run(image, "--psm", "0", "-l", "osd")
        m = re.search(r"Rotate: (\d+)", osd)
        return int(m.group(1)) if m else 0

    def read(self, image: Image.Image) -> PageText:
        turn = self._rotation(image.convert("L"))
        page = _turn(image.convert("L"), turn)
        tsv = self._run(page, "-l", "chi_sim", "--psm", "3", "tsv")
        lines: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
        for row in tsv.splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
                continue
            lines.setdefault((cols[2], cols[3], cols[4]), []).append((cols[11], max(0.0, float(cols[10])) / 100))
        result = PageText(rotation=turn)
        for words in lines.values():
            text = tidy_line(" ".join(w for w, _ in words))
            if text:
                chars = sum(len(w) for w, _ in words)
                result.lines.append((text, sum(len(w) * c for w, c in words) / max(chars, 1)))
        return result


ENGINES = ("rapidocr", "tesseract")


def make_engine(name: str, threads: int = 1) -> OcrEngine:
    """The engine called ``name``; ``module:Class`` names another one (tests use a slow one)."""
    if name == "rapidocr":
        return RapidOcrEngine(threads)
    if name == "tesseract":
        return TesseractEngine(threads)
    if ":" in name:
        import importlib

        module, cls = name.split(":", 1)
        return getattr(importlib.import_module(module), cls)(threads)
    raise ValueError(f"unknown OCR engine {name!r} (one of {', '.join(ENGINES)}, or off)")
