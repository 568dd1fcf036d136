"""Object storage: the ``ObjectStore`` port and its adapters (S3 via minio, embedded SeaweedFS)."""
from archive.storage.base import (
    LengthMismatch, ObjectInfo, ObjectLocked, ObjectNotFound, ObjectStore, PutResult, StorageError,
    StorageUnavailable, decode_metadata, encode_metadata,
)

__all__ = [
    "LengthMismatch", "ObjectInfo", "ObjectLocked", "ObjectNotFound", "ObjectStore", "PutResult", "StorageError",
    "StorageUnavailable", "decode_metadata", "encode_metadata",
]
