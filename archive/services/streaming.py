"""Streaming uploads: the request body is parsed as it arrives and the file's bytes go on to the
object store, hashed and counted on the way, without being spooled to disk first.

``MultipartStream`` reads a ``multipart/form-data`` body from the request stream with Werkzeug's
sans-IO decoder: the fields before the file, then the file's bytes on demand (``read``), then the
fields after it. ``HashingReader`` counts and hashes what passes through it; it refuses a file
above the size limit as soon as it is exceeded and a file whose SHA-256 is not the one declared
when its last byte arrives, so the store's multipart upload is aborted and nothing is visible.
"""
from __future__ import annotations

from typing import IO

from werkzeug.exceptions import ClientDisconnected
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from archive.digests import Digests
from archive.errors import ChecksumMismatch, TooLarge, ValidationFailed
from archive.storage.base import LengthMismatch

CHUNK = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024  # a text field (stage, form, sha256) is short


class UploadIncomplete(ClientDisconnected):
    """The body ended before the multipart message did (the client went away)."""


class NotLastPart(LengthMismatch):
    """Read raw, the file was not ``file_length_hint`` bytes followed by the closing delimiter."""


class MultipartStream:
    """A ``multipart/form-data`` body read from ``stream`` as it arrives; one file part."""

    def __init__(self, stream: IO[bytes], boundary: bytes, chunk: int = CHUNK,
                 content_length: int | None = None) -> None:
        self.stream = stream
        self.boundary = boundary
        self.content_length = content_length
        self.file_length_hint: int | None = None  # what the file's length must be if it is the last part
        self._received = 0
        # (no max_form_memory_size: it would count the file's bytes too; fields are limited in _take)
        self.decoder = MultipartDecoder(boundary, max_parts=64)
        self.chunk = chunk
        self.fields: dict[str, str] = {}
        self.file_field: str | None = None
        self.filename: str | None = None
        self._pending: list[bytes] = []  # the file's bytes decoded and not yet read
        self._npending = 0
        self._in_file = False
        self._file_done = False
        self._ended = False
        self._field: str | None = None
        self._value = bytearray()
        self._raw: _RawFile | None = None

    def _event(self):
        while True:
            event = self.decoder.next_event()
            if not isinstance(event, NeedData):
                return event
            if self.decoder.complete:
                raise UploadIncomplete("the upload ended before its last part")
            data = self.stream.read(self.chunk)
            self._received += len(data)
            self.decoder.receive_data(data if data else None)

    def _take(self, event) -> bool:
        """Handle one event outside the file's data; False once the message has ended."""
        if isinstance(event, Epilogue):
            self._ended = True
            return False
        if isinstance(event, Field):
            self._field, self._value = event.name, bytearray()
        elif isinstance(event, File):
            if self.file_field is not None:
                raise ValidationFailed("one file per upload", {"file": ["send one file per upload"]})
            self.file_field, self.filename, self._in_file = event.name, event.filename, True
            if self.content_length is not None:
                # The decoder's buffer holds the line break that ends the part's headers, then the
                # file; if the file is the last part, only the closing delimiter (CRLF--boundary--
                # CRLF) follows it. A guess, checked by whoever relies on it (``begin_raw``,
                # ``put_streamed``: another length is refused).
                buffer = self.decoder.buffer
                start = self._received - len(buffer) + (2 if buffer[:2] == b"\r\n" else 1)
                self.file_length_hint = self.content_length - start - len(self.boundary) - 8
        elif isinstance(event, Data):
            if self._in_file:
                if event.data:
                    self._pending.append(event.data)
                    self._npending += len(event.data)
                if not event.more_data:
                    self._in_file, self._file_done = False, True
            elif self._field is not None:
                self._value += event.data
                if len(self._value) > MAX_FIELD_BYTES:
                    raise ValidationFailed("a form field is too long", {self._field: ["too long"]})
                if not event.more_data:
                    self.fields[self._field] = self._value.decode("utf-8", "replace")
                    self._field = None
        return True

    def until_file(self) -> dict[str, str]:
        """Read the fields up to the file part (or the end); the fields read so far."""
        while not self._ended and self.file_field is None:
            self._take(self._event())
        return self.fields

    def begin_raw(self) -> bool:
        """From the start of the file, take its bytes straight from the body (no delimiter
        search by the decoder: the slowest step of a large upload), assuming ``file_length_hint``.
        After the last of them, ``read`` checks that only the closing delimiter follows, and
        raises ``NotLastPart`` if not (nor if the delimiter appears sooner). ``rewind`` then
        gives everything taken back to the decoder. False when no length was guessed."""
        if self.file_length_hint is None or not self._in_file or self._pending or self._raw is not None:
            return False
        self._raw = _RawFile(self)
        return True

    def rewind(self) -> None:
        """Back to the start of the file, read by the decoder from there (after ``begin_raw``)."""
        if self._raw is not None:
            self.decoder.buffer[:0] = b"".join(self._raw.taken)
            self._raw = None
            self._in_file, self._file_done, self._ended = True, False, False

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the file (all with -1); b"" at its end."""
        if self._raw is not None:
            return self._raw.read(n)
        while (n < 0 or self._npending < n) and not self._file_done and not self._ended:
            self._take(self._event())
        out = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if 0 <= n < len(out):
            self._pending.append(out[n:])
            out = out[:n]
        self._npending = sum(map(len, self._pending))
        return bytes(out)

    def rest(self) -> dict[str, str]:
        """Read to the end of the message (the fields after the file); every field."""
        while not self._ended:
            if not self._take(self._event()):
                break
        self._pending.clear()
        self._npending = 0
        return self.fields


class _RawFile:
    """The file's bytes taken from the body as they are (``MultipartStream.begin_raw``)."""

    def __init__(self, parts: MultipartStream) -> None:
        self.parts = parts
        buffer = parts.decoder.buffer
        self.taken: list[bytes] = [bytes(buffer)]  # all that left the decoder, for ``rewind``
        del buffer[:]
        skip = 2 if self.taken[0][:2] == b"\r\n" else 1  # the line break ending the part's headers
        assert parts.file_length_hint is not None
        self.left = parts.file_length_hint
        self.ready = self.taken[0][skip:]  # taken, not yet given
        self.delimiter = b"\r\n--" + parts.boundary
        self.closing = self.delimiter + b"--\r\n"
        self.window = b""  # the end of what was given: a delimiter may straddle two reads
        self.done = False

    def _take(self, n: int) -> bytes:
        if self.ready:
            out, self.ready = self.ready[:n], self.ready[n:]
            return out
        data = self.parts.stream.read(max(n, CHUNK))
        if data:
            self.taken.append(data)
            out, self.ready = data[:n], data[n:]
            return out
        return b""

    def read(self, n: int = -1) -> bytes:
        if self.done:
            return b""
        if self.left > 0:
            data = self._take(self.left if n < 0 else min(n, self.left))
            if not data:
                raise NotLastPart("the body ended before the file's guessed length")
            self.left -= len(data)
            keep = len(self.delimiter) - 1
            if (self.window + data[:keep]).find(self.delimiter) != -1 or data.find(self.delimiter) != -1:
                raise NotLastPart("a delimiter inside the file's guessed length")
            self.window = (self.window + data[-keep:])[-keep:]
            if self.left:
                return data
            tail = b""
            while len(tail) <= len(self.closing):
                more = self._take(len(self.closing) + 1 - len(tail))
                if not more:
                    break
                tail += more
            if tail != self.closing:
                raise NotLastPart("the file is not followed by the closing delimiter alone")
            return data
        self.done = True
        self.parts._in_file, self.parts._file_done, self.parts._ended = False, True, True
        return b""


def boundary_of(content_type: str) -> bytes | None:
    from werkzeug.http import parse_options_header

    mimetype, options = parse_options_header(content_type or "")
    if mimetype != "multipart/form-data" or not options.get("boundary"):
        return None
    return options["boundary"].encode("latin-1")


def declared_met(expected: str | None, sha256: str) -> None:
    """Refuse a file whose SHA-256 is not the one its client declared (when it declared one)."""
    if expected is not None and expected != sha256:
        raise ChecksumMismatch("SHA-256 mismatch: the file was damaged in transit; nothing was stored",
                               {"sha256": [f"expected {expected}, received bytes hash to {sha256}"]})


class HashingReader:
    """Reads from ``source``, counting and hashing; over ``max_bytes`` it raises TooLarge, and at
    the end of a file whose SHA-256 is not ``expected`` it raises ChecksumMismatch."""

    def __init__(self, source, max_bytes: int, expected_sha256: str | None = None) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.expected = expected_sha256
        self._digests = Digests()
        self.size = 0
        self.at_end = False

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        if data:
            self.size += len(data)
            if self.size > self.max_bytes:
                raise TooLarge(f"file larger than {self.max_bytes} bytes")
            self._digests.update(data)
        elif n != 0 and not self.at_end:
            self.at_end = True
            if self.size == 0:
                raise ValidationFailed("empty file", {"file": ["the file is empty"]})
            declared_met(self.expected, self.sha256)
        return data

    @property
    def sha256(self) -> str:
        return self._digests.sha256

    @property
    def sm3(self) -> str:
        return self._digests.sm3


class Prefixed:
    """``head`` then the rest of ``source``: bytes already read (to sniff the type) go first."""

    def __init__(self, head: bytes, source) -> None:
        self.head = memoryview(head)
        self.source = source

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                out = bytes(self.head) + self.source.read(-1)
                self.head = memoryview(b"")
                return out
            out = bytes(self.head[:n])
            self.head = self.head[n:]
            if len(out) < n:
                out += self.source.read(n - len(out))
            return out
        return self.source.read(n)


def read_full(source, n: int) -> bytes:
    """Read until ``n`` bytes or the end."""
    parts, got = [], 0
    while got < n:
        data = source.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)
