"""A throw-away embedded instance for benchmarks: SeaweedFS on a free port and SQLite in a
temporary directory, prepared (migrated, bucket made)."""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def embedded_archive(prefix: str, **config) -> Iterator[tuple[Any, dict]]:
    """(archive, configuration) of a new instance; SeaweedFS stops when the block ends."""
    from archive.config import load_config
    from archive.extension import build_archive
    from archive.storage.seaweed import EmbeddedSeaweed, pick_ports

    work = Path(tempfile.mkdtemp(prefix=prefix))
    weed = EmbeddedSeaweed(work / "weed", pick_ports(1)[0], "bench", "bench-secret")
    weed.start(timeout=90)
    try:
        cfg = load_config({"DATA_DIR": str(work / "data"), "S3_ENDPOINT": weed.endpoint, "S3_ACCESS_KEY": "bench",
                           "S3_SECRET_KEY": "bench-secret", "DEMO": False, **config}, environ={})
        archive = build_archive(cfg)
        archive.prepare()
        yield archive, cfg
    finally:
        weed.stop()
