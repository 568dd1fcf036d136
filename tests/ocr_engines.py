"""OCR engines for the tests of the OCR machinery (time limits, crashes, the background job):
they run in the real OCR process and read real pages, but behave badly on purpose."""
from __future__ import annotations

import os
import time

from PIL import Image

from archive.ocr.engines import PageText, RapidOcrEngine

SLOW_WIDTH = 1001  # a page this wide takes far longer than any time limit
CRASH_WIDTH = 1003  # a page this wide kills the OCR process (as a crashing decoder would)


class Misbehaving:
    """Reads pages with RapidOCR, but hangs on a page SLOW_WIDTH wide and dies on one
    CRASH_WIDTH wide."""

    name = "misbehaving"
    model = "RapidOCR with traps"

    def __init__(self, threads: int = 1) -> None:
        self.inner = RapidOcrEngine(threads)

    def read(self, image: Image.Image) -> PageText:
        if image.width == SLOW_WIDTH:
            time.sleep(600)
        if image.width == CRASH_WIDTH:
            os._exit(3)
        return self.inner.read(image)


class Gated:
    """Reads with RapidOCR once the file named by ARCHIVE_TEST_OCR_GATE exists (at most 120 s):
    a test holds OCR up this way and shows that nothing else waits for it."""

    name = "gated"
    model = "RapidOCR behind a gate"

    def __init__(self, threads: int = 1) -> None:
        self.inner = RapidOcrEngine(threads)
        self.gate = os.environ["ARCHIVE_TEST_OCR_GATE"]

    def read(self, image: Image.Image) -> PageText:
        waited = 0.0
        while not os.path.exists(self.gate) and waited < 120:
            time.sleep(0.1)
            waited += 0.1
        return self.inner.read(image)
