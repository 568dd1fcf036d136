"""The object-store port: what the archive needs from any S3 server with object lock."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol
from urllib.parse import quote, unquote


class ByteStream(Protocol):
    """What the archive reads files through: a seekable binary stream (file, spool, BytesIO)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


class StorageError(Exception):
    """Base of object-store errors; vendor errors are translated into these at the boundary."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or did not answer."""


class ObjectNotFound(StorageError):
    """No object (or no such version) under that key."""


class ObjectLocked(StorageError):
    """The store refused to remove or overwrite a retained or held version."""


class LengthMismatch(Exception):
    """A stream gave more or fewer bytes than announced to ``put_streamed``; nothing was stored."""


@dataclass(frozen=True)
class PutResult:
    """What the store says about a version it has just written."""

    key: str
    version_id: str
    etag: str
    sha256: str = ""  # of the bytes, when the store hashed them on the way (``put_streamed``)
    sm3: str = ""  # the same bytes' SM3, hashed in the same pass


@dataclass(frozen=True)
class ObjectInfo:
    """Size, version and decoded user metadata of one stored version."""

    key: str
    version_id: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    retain_until: dt.datetime | None = None
    retention_mode: str | None = None
    legal_hold: bool = False


# S3 user metadata is ASCII only; every value is percent-encoded (UTF-8) on the way in.
def encode_metadata(meta: Mapping[str, str]) -> dict[str, str]:
    """Percent-encode metadata values so that Chinese text survives S3's ASCII headers."""
    out = {}
    for key, value in meta.items():
        if not key.isascii() or not key.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"metadata key must be ASCII letters, digits, - or _: {key!r}")
        out[key.lower()] = quote(str(value), safe="")
    return out


def decode_metadata(meta: Mapping[str, str]) -> dict[str, str]:
    """Undo :func:`encode_metadata`; keys come back lower-case without the x-amz-meta- prefix."""
    out = {}
    for key, value in meta.items():
        k = key.lower()
        if k.startswith("x-amz-meta-"):
            out[k[len("x-amz-meta-"):]] = unquote(value)
    return out


class ObjectStore(Protocol):
    """A versioned, write-once object store.

    Contract (checked by ``tests/integration/test_object_store_contract.py``):
    - ``ensure_bucket`` MUST be idempotent and leave the bucket with versioning and object lock.
    - ``put`` MUST NOT replace an existing version: every put creates a new version, and every
      version carries a retention date that the store enforces.
    - ``put`` streams: the store reads ``stream`` in parts and never needs it whole in memory.
    - Metadata values MAY contain any Unicode text and MUST read back unchanged.
    - ``remove_version`` MUST raise ``ObjectLocked`` while the version is retained or held.
    - Unreachable servers raise ``StorageUnavailable``; absent objects ``ObjectNotFound``.
    """

    part_size: int  # bytes of each part of a multipart upload (a streamed upload up to it is one request)
    stream_puts: bool  # a small upload may go to the store while it arrives (``put_streamed``)

    def ensure_bucket(self) -> None:
        """Create the bucket with versioning and object lock if it does not exist."""

    def put(self, key: str, stream: ByteStream, length: int, metadata: Mapping[str, str],
            content_type: str, retain_until: dt.datetime, sha256: str | None = None) -> PutResult:
        """Store a new version of ``key`` read from ``stream`` (``length`` bytes; -1: to its
        end); ``sha256``, when the caller hashed the bytes already, spares hashing them again."""

    def put_streamed(self, key: str, stream: Any, length: int, metadata: Mapping[str, str],
                     content_type: str, retain_until: dt.datetime,
                     verify: Callable[[str], None] | None = None) -> PutResult:
        """Store exactly ``length`` bytes read from ``stream`` (``read(n)``) with one request sent
        while they are read, hashed on the way (``PutResult.sha256``). The last bytes are held
        back until ``stream`` has ended and ``verify(sha256)`` has returned: more or fewer bytes
        (``LengthMismatch``), an error of ``stream`` or of ``verify`` abort the request, and
        nothing is stored."""

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        """Describe one version (the newest when ``version_id`` is None)."""

    def open(self, key: str, version_id: str | None = None, offset: int = 0,
             length: int | None = None) -> Iterator[bytes]:
        """Stream the bytes of a version, optionally a range of them."""

    def keys(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """Every (key, version_id) under ``prefix``, all versions included."""

    def remove_version(self, key: str, version_id: str) -> None:
        """Try to delete one version; retained versions MUST be refused with ObjectLocked."""

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        """Put or lift a legal hold on one version."""

    def extend_retention(self, key: str, version_id: str, until: dt.datetime) -> dt.datetime:
        """Make one version retained until at least ``until`` (never shortened: a later date
        already set stays); returns the date now in force."""

    def ping(self) -> None:
        """Raise StorageUnavailable unless the bucket answers."""
