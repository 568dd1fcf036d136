"""``S3ObjectStore``: the object-store port on any S3 server with object lock, via ``minio``."""
from __future__ import annotations

import datetime as dt
from typing import Any, BinaryIO, Callable, Iterator, Mapping, cast
from urllib.parse import urlunsplit

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.helpers import genheaders
from minio.retention import Retention
from minio.signer import sign_v4_s3
from minio.time import to_amz_date
from urllib3 import HTTPHeaderDict

from archive.digests import Digests
from archive.storage.base import (
    ByteStream, LengthMismatch, ObjectInfo, ObjectLocked, ObjectNotFound, PutResult, StorageError, StorageUnavailable,
    decode_metadata, encode_metadata,
)

_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "NoSuchObject", "NoSuchBucket"}
_LOCKED = {"AccessDenied", "ObjectLocked", "InvalidRequest"}
CHUNK = 256 * 1024
SEND = 1024 * 1024  # what put_streamed reads and sends at a time


def _translate(exc: Exception) -> StorageError:
    """Vendor errors become the port's errors here, and nowhere else."""
    if isinstance(exc, S3Error):
        if exc.code in _NOT_FOUND:
            return ObjectNotFound(f"{exc.code}: {exc.object_name or exc.bucket_name}")
        if exc.code in _LOCKED:
            return ObjectLocked(f"{exc.code}: {exc.message}")
        return StorageError(f"{exc.code}: {exc.message}")
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return StorageUnavailable(f"object store unreachable: {type(exc).__name__}")
    return StorageError(str(exc))


class _Source:
    """The stream given to ``put``; remembers an error raised while reading it, so that the
    caller's own error (not a storage error) comes back after the upload was aborted."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except BaseException as exc:
            self.error = exc
            raise


class _Minio(Minio):
    """The ``minio`` client, told the SHA-256 of a single-request body when the caller knows it
    already (a streamed upload hashed it on the way): over plain HTTP the client would hash the
    whole body again to sign it. Relies on ``Minio._build_headers`` of the pinned minio."""

    def _build_headers(self, host, headers=None, body=None, creds=None):  # type: ignore[no-untyped-def]
        given = (headers or {}).pop(KNOWN_SHA256, None)
        if not given or body is None or self._base_url.is_https:
            return super()._build_headers(host, headers, body, creds)
        headers, date = super()._build_headers(host, headers, b"", creds)  # nothing hashed
        headers["Content-Length"] = str(len(body))
        headers["x-amz-content-sha256"] = given
        return headers, date


KNOWN_SHA256 = "x-amz-archive-known-sha256"  # (an x-amz- name is passed through as is; never sent)


class S3ObjectStore:
    """Versioned, object-locked bucket on an S3 server (SeaweedFS, Ceph RGW, MinIO AIStor)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, *,
                 secure: bool = False, retention_mode: str = "GOVERNANCE",
                 part_size: int = 16 * 1024**2, stream_puts: bool = True, read_timeout: float = 15) -> None:
        # Short timeouts and few retries: an unreachable store must answer 503 quickly, and a
        # volume that stops answering (a damaged needle) must not stall a download or the fixity
        # round for minutes (ARCHIVE_S3_READ_TIMEOUT, seconds between bytes).
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=read_timeout),
            retries=urllib3.Retry(total=2, connect=1, read=1, backoff_factor=0.1,
                                  status_forcelist=[500, 502, 503, 504]),
            maxsize=16,
        )
        self.client = _Minio(endpoint, access_key=access_key, secret_key=secret_key,
                             secure=secure, http_client=http)
        self.bucket = bucket
        self.mode = COMPLIANCE if retention_mode.upper() == "COMPLIANCE" else GOVERNANCE
        self.part_size = max(part_size, 5 * 1024**2)
        # put_streamed needs a PUT with an unsigned payload over plain HTTP (SeaweedFS, AWS, MinIO)
        self.stream_puts = stream_puts

    def ensure_bucket(self) -> None:
        """Create the bucket with versioning and object lock if it does not exist."""
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=True)
            status = self.client.get_bucket_versioning(self.bucket).status
        except Exception as exc:
            raise _translate(exc) from exc
        if status != "Enabled":
            raise StorageError(f"bucket {self.bucket} exists without versioning; "
                               "the archive needs versioning and object lock")

    def put(self, key: str, stream: ByteStream, length: int, metadata: Mapping[str, str],
            content_type: str, retain_until: dt.datetime, sha256: str | None = None) -> PutResult:
        """Store a new version with a retention date; multipart above ``part_size``. ``length``
        -1: read to the end of ``stream``, one part at a time (a streamed upload); an error while
        reading aborts the multipart upload, and nothing is stored."""
        source = _Source(stream)
        headers = dict[str, Any](encode_metadata(metadata))
        if sha256 and 0 <= length <= self.part_size:  # one request whose body hash is known: not hashed again
            headers[KNOWN_SHA256] = sha256
        try:
            res = self.client.put_object(
                self.bucket, key, cast(BinaryIO, source), length, content_type=content_type,
                metadata=headers, part_size=self.part_size,
                retention=Retention(self.mode, retain_until.astimezone(dt.timezone.utc)),
                num_parallel_uploads=1 if length < 0 else 3,  # streamed: one part in memory at a time
            )
        except Exception as exc:
            if source.error is not None:  # the caller's stream failed (too large, a bad hash, gone)
                raise source.error from None
            raise _translate(exc) from exc
        if not res.version_id:
            raise StorageError("the store returned no version id: is versioning on?")
        return PutResult(key=key, version_id=res.version_id, etag=res.etag or "")

    def put_streamed(self, key: str, stream: Any, length: int, metadata: Mapping[str, str],
                     content_type: str, retain_until: dt.datetime,
                     verify: Callable[[str], None] | None = None) -> PutResult:
        """Store exactly ``length`` bytes read from ``stream`` with one PUT sent while they are
        read (see ``ObjectStore.put_streamed``). The payload is not signed (``UNSIGNED-PAYLOAD``,
        as over HTTPS): its SHA-256 is known only at its end. The request is never retried (its
        body is read once); the caller keeps what it read if it wants to try again."""
        if length <= 0:
            raise ValueError("put_streamed needs the length of a non-empty body")
        digest = Digests()
        failed: list[BaseException] = []

        def body() -> Iterator[bytes]:
            try:
                held, got = b"", 0
                while got < length:
                    data = stream.read(min(SEND, length - got))
                    if not data:
                        raise LengthMismatch(f"the stream ended after {got} of {length} bytes")
                    got += len(data)
                    digest.update(data)
                    if held:
                        yield held
                    held = data
                if stream.read(1):
                    raise LengthMismatch(f"the stream has more than {length} bytes")
                if verify is not None:
                    verify(digest.sha256)
                yield held  # the last bytes: the version exists once they are sent
            except Exception as exc:  # remembered: urllib3 may wrap it; the request is aborted
                failed.append(exc)
                raise

        headers = genheaders({**encode_metadata(metadata), "Content-Type": content_type}, None, None,
                             Retention(self.mode, retain_until.astimezone(dt.timezone.utc)), False)
        headers["Content-Length"] = str(length)
        try:
            response = self._send_unsigned("PUT", key, headers, body())
        except Exception as exc:
            if failed:  # the caller's stream, verify or the length: not the store's fault
                raise failed[0] from None
            raise _translate(exc) from exc
        if response.status != 200:  # (AWS S3 refuses an object-lock PUT without Content-MD5 or a checksum)
            error = _translate(S3Error.fromxml(response)) if response.data else None
            raise StorageError(f"the streamed PUT was refused: {error or response.status}")
        version = response.headers.get("x-amz-version-id")
        if not version:
            raise StorageError("the store returned no version id: is versioning on?")
        return PutResult(key=key, version_id=version, etag=(response.headers.get("etag") or "").strip('"'),
                         sha256=digest.sha256, sm3=digest.sm3)

    def _send_unsigned(self, method: str, key: str, headers: dict, body: Iterator[bytes]):
        """One signed request whose payload is not signed, sent as ``body`` yields, never
        retried. Relies on minio's signer and URL builder."""
        client = self.client
        creds = client._provider.retrieve() if client._provider else None  # type: ignore[attr-defined]
        region = client._get_region(self.bucket)  # type: ignore[attr-defined]
        url = client._base_url.build(method=method, region=region, bucket_name=self.bucket,  # type: ignore[attr-defined]
                                     object_name=key)
        date = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        headers = {**headers, "Host": url.netloc, "x-amz-date": to_amz_date(date),
                   "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
        if creds is not None:
            headers = sign_v4_s3(method=method, url=url, region=region, headers=headers, credentials=creds,
                                 content_sha256=headers["x-amz-content-sha256"], date=date)
        http_headers = HTTPHeaderDict()
        for name, value in headers.items():  # (minio keeps some values as lists)
            for one in value if isinstance(value, (list, tuple)) else [value]:
                http_headers.add(name, one)
        return client._http.urlopen(method, urlunsplit(url), body=body, headers=http_headers,  # type: ignore[attr-defined]
                                    retries=False, chunked=False, preload_content=True)

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        """Describe one version, metadata decoded."""
        try:
            st = self.client.stat_object(self.bucket, key, version_id=version_id)
        except Exception as exc:
            raise _translate(exc) from exc
        raw = dict(st.metadata or {})
        headers = {k.lower(): v for k, v in raw.items()}
        until = headers.get("x-amz-object-lock-retain-until-date")
        return ObjectInfo(
            key=key, version_id=st.version_id or "", size=st.size or 0,
            metadata=decode_metadata(raw),
            retain_until=dt.datetime.fromisoformat(until.replace("Z", "+00:00")) if until else None,
            retention_mode=headers.get("x-amz-object-lock-mode"),
            legal_hold=headers.get("x-amz-object-lock-legal-hold", "OFF").upper() == "ON",
        )

    def open(self, key: str, version_id: str | None = None, offset: int = 0,
             length: int | None = None) -> Iterator[bytes]:
        """Stream a version's bytes in chunks; the connection is released at the end."""
        try:
            resp = self.client.get_object(self.bucket, key, version_id=version_id,
                                          offset=offset, length=length or 0)
        except Exception as exc:
            raise _translate(exc) from exc

        def chunks() -> Iterator[bytes]:
            try:
                yield from resp.stream(CHUNK)
            except Exception as exc:
                raise _translate(exc) from exc
            finally:
                resp.close()
                resp.release_conn()

        return chunks()

    def keys(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """Every (key, version_id) under ``prefix``."""
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True,
                                                include_version=True):
                if not obj.is_delete_marker and not obj.is_dir:
                    yield obj.object_name, obj.version_id or ""
        except Exception as exc:
            raise _translate(exc) from exc

    def remove_version(self, key: str, version_id: str) -> None:
        """Attempt a permanent delete; the store refuses it while the version is retained."""
        try:
            self.client.remove_object(self.bucket, key, version_id=version_id)
        except Exception as exc:
            raise _translate(exc) from exc

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        """Put or lift a legal hold on one version."""
        try:
            if on:
                self.client.enable_object_legal_hold(self.bucket, key, version_id=version_id)
            else:
                self.client.disable_object_legal_hold(self.bucket, key, version_id=version_id)
        except Exception as exc:
            raise _translate(exc) from exc

    def extend_retention(self, key: str, version_id: str, until: dt.datetime) -> dt.datetime:
        """Lengthen one version's retention to ``until`` unless it already runs longer (object
        lock only ever lengthens it in COMPLIANCE mode; the archive never asks to shorten)."""
        current = self.stat(key, version_id).retain_until
        if current is not None and current >= until:
            return current
        try:
            self.client.set_object_retention(self.bucket, key, Retention(self.mode, until.astimezone(dt.timezone.utc)),
                                             version_id=version_id)
        except Exception as exc:
            raise _translate(exc) from exc
        return until

    def ping(self) -> None:
        """Raise StorageUnavailable unless the bucket answers."""
        try:
            if not self.client.bucket_exists(self.bucket):
                raise StorageError(f"bucket {self.bucket} is missing")
        except StorageError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc
