"""OCR in a process of its own, page by page, each page within a time limit.

The engine, the image decoders and pdfium run in a child process started once (``spawn``: the
parent has threads) that keeps the models loaded. The parent waits for each page at most
``page_seconds``; a page that takes longer, or a decoder that crashes the child, costs only
that page: the child is started again and the document goes on from the next page.
"""
from __future__ import annotations

import logging
import multiprocessing
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Callable

from archive.ocr.pages import OcrLimits

log = logging.getLogger(__name__)
START_SECONDS = 120.0  # loading the models; far more than the 1–2 s it takes


@dataclass
class OcrOutcome:
    """What OCR made of one document."""

    status: str  # ocr | empty | refused | failed
    text: str = ""
    confidence: float | None = None
    pages: int | None = None
    read: int = 0  # pages recognised by OCR
    skipped: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    reason: str | None = None
    engine: str = ""

    def describe(self) -> str:
        """The reason shown beside ``text_status`` (Chinese, for the document page)."""
        if self.status in ("refused", "failed"):
            return self.reason or ""
        parts = [f"识别 {self.read} 页" + (f"，共 {self.pages} 页" if self.pages and self.pages != self.read else "")]
        if self.confidence is not None:
            parts.append(f"平均置信度 {self.confidence:.0%}")
        if self.rotated:
            parts.append("；".join(self.rotated))
        if self.skipped:
            parts.append("未识别：" + "；".join(self.skipped))
        if self.status == "empty":
            parts.append("未识别出文字")
        return "，".join(parts)


class RunnerClosed(RuntimeError):
    """The runner was closed (the worker is stopping): the document was not read."""


def _child(conn: Connection, engine_name: str, threads: int) -> None:
    """The OCR process: load the engine once, then read documents on request."""
    from archive.ocr.engines import make_engine
    from archive.ocr.pages import Refused, Unreadable, count_pages, pages

    try:
        engine = make_engine(engine_name, threads)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", engine.name, engine.model))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        path, media_type, start, limits = request
        try:
            conn.send(("pages", count_pages(path, media_type, limits)))
            for i, page in pages(path, media_type, limits, start):
                if isinstance(page, str):
                    conn.send(("text", i, page))
                else:
                    got = engine.read(page)
                    conn.send(("page", i, got.lines, got.rotation, got.skew))
            conn.send(("done",))
        except Refused as exc:
            conn.send(("refused", str(exc)))
        except Unreadable as exc:
            conn.send(("failed", str(exc)))
        except Exception as exc:
            conn.send(("failed", f"{type(exc).__name__}: {str(exc)[:200]}"))


class OcrRunner:
    """Reads documents through the child process; one document at a time (a lock serialises)."""

    def __init__(self, engine: str = "rapidocr", threads: int = 1, limits: OcrLimits | None = None) -> None:
        self.engine_name = engine
        self.threads = threads
        self.limits = limits or OcrLimits()
        self.model = ""
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    # -- the child ---------------------------------------------------------------------------
    def _start(self) -> Connection:
        if self._closed:
            raise RunnerClosed("the OCR runner is closed")
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(child, self.engine_name, self.threads),
                           name="archive-ocr", daemon=True)
        proc.start()
        child.close()
        self._proc = proc  # from now on close() can stop it, also while the model loads
        ready = parent.poll(START_SECONDS)
        try:
            message = parent.recv() if ready else None
        except (EOFError, OSError):
            message = ("stopped", "stopped while starting")
        if self._closed:
            raise RunnerClosed("the OCR runner was closed while starting")
        if message is None or message[0] != "ready":
            self._proc = None
            proc.kill()
            proc.join(5)
            parent.close()
            why = message[1] if message else f"no answer within {START_SECONDS:.0f} s"
            raise RuntimeError(f"the OCR engine {self.engine_name} cannot start: {why}")
        self.model = f"{message[1]} {message[2]}"
        self._conn = parent
        return parent

    def _stop(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        """Stop the OCR process for good, also in the middle of a document (which then raises
        RunnerClosed in the thread reading it, and its job is released for a later run)."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()
        if self._lock.acquire(timeout=10):
            try:
                self._stop()
            finally:
                self._lock.release()

    def check(self) -> str:
        """Start the engine (loading its model) and return its name and model; RuntimeError if it
        cannot run here (the package or the Chinese model is missing)."""
        with self._lock:
            self._start()
            return self.model

    # -- one document ------------------------------------------------------------------------
    def read_document(self, path: str, media_type: str, on_page: Callable[[], None] | None = None) -> OcrOutcome:
        """OCR the file at ``path``; never raises for a bad file (the outcome says why).
        ``on_page()`` is called as each page is done (the job's lease is renewed there)."""
        with self._lock:
            return self._read(path, media_type, on_page or (lambda: None))

    def _read(self, path: str, media_type: str, on_page: Callable[[], None]) -> OcrOutcome:
        limits = self.limits
        texts: dict[int, str] = {}
        scores: list[tuple[int, float]] = []  # (characters, confidence) of OCR lines
        out = OcrOutcome(status="ocr")
        total: int | None = None
        start = 0
        while total is None or start < min(total, limits.max_pages):
            conn = self._start()
            out.engine = self.model
            try:
                conn.send((path, media_type, start, limits))
            except OSError:  # the process died between documents: start it again
                if self._closed:
                    raise RunnerClosed("the OCR runner was closed while reading") from None
                self._stop()
                conn = self._start()
                conn.send((path, media_type, start, limits))
            current = start
            while True:
                wait = limits.page_seconds
                lost: tuple[str, str] | None = None
                message = None
                if not conn.poll(wait):
                    lost = ("OCR 超时", f"第 {current + 1} 页超过 {wait:.0f} 秒未识别完")
                else:
                    try:
                        message = conn.recv()
                    except (EOFError, OSError):
                        lost = ("OCR 进程中止", f"第 {current + 1} 页使识别进程中止")
                if lost is not None or message is None:
                    if self._closed:
                        raise RunnerClosed("the OCR runner was closed while reading")
                    title, what = lost or ("OCR 进程中止", f"第 {current + 1} 页使识别进程中止")
                    log.warning("OCR of %s: %s; the OCR process is restarted", path, what)
                    self._stop()
                    if total is None:
                        return OcrOutcome("failed", reason=f"{title}：{what}", engine=self.model)
                    out.skipped.append(what)
                    start = current + 1
                    break
                kind = message[0]
                on_page()
                if kind == "pages":
                    total = message[1]
                elif kind == "text":
                    texts[message[1]] = message[2]
                    current = message[1] + 1
                elif kind == "page":
                    _, i, lines, rotation, skew = message
                    texts[i] = "\n".join(t for t, _ in lines)
                    scores.extend((len(t), c) for t, c in lines)
                    out.read += 1
                    if rotation:
                        out.rotated.append(f"第 {i + 1} 页旋转 {rotation}° 后识别")
                    current = i + 1
                elif kind == "done":
                    start = total if total is not None else 0
                    break
                elif kind in ("refused", "failed"):
                    if total is None:  # the file itself: nothing of it can be read
                        return OcrOutcome(kind, reason=message[1], engine=self.model)
                    out.skipped.append(message[1])  # one page (a TIFF frame too large, a page
                    start = current + 1             # pdfium cannot draw): the others are read
                    break
            if total is None:
                break
        out.pages = total
        if total is not None and total > limits.max_pages:
            out.skipped.append(f"第 {limits.max_pages + 1}–{total} 页超出每份文件 {limits.max_pages} 页的识别上限")
        out.text = "\f".join(texts.get(i, "") for i in range(min(total or 0, limits.max_pages))).replace("\x00", "")
        if len(out.text) > limits.max_text_chars:
            out.text = out.text[: limits.max_text_chars]
            out.skipped.append(f"文字超过 {limits.max_text_chars} 字，已截取前部（原件完整保存）")
        chars = sum(n for n, _ in scores)
        out.confidence = sum(n * c for n, c in scores) / chars if chars else None
        if not chars:
            out.status = "empty"
        return out
