"""The search engines behind the ``SearchIndex`` port, chosen by ``ARCHIVE_SEARCH_ENGINE``."""
from __future__ import annotations

import shutil
from pathlib import Path

from archive.indexing.base import SearchEngine

ENGINES = ("tantivy", "whoosh")


def make_index(engine: str, index_dir: str | Path) -> SearchEngine:
    """The engine's index under ``index_dir/<engine>`` (each engine keeps its own generations)."""
    root = Path(index_dir) / engine
    if engine == "tantivy":
        from archive.indexing.tantivy_index import TantivyIndex

        return TantivyIndex(root)
    if engine == "whoosh":
        from archive.indexing.whoosh_index import WhooshIndex

        return WhooshIndex(root)
    raise ValueError(f"unknown search engine {engine!r}: one of {', '.join(ENGINES)}")


def remove_legacy_layout(index_dir: str | Path) -> None:
    """Releases before the engine choice kept Whoosh generations directly in ``index_dir``;
    once the engine's own index is built they are only dead weight."""
    root = Path(index_dir)
    for old in root.glob("gen-*"):
        shutil.rmtree(old, ignore_errors=True)
    (root / "CURRENT").unlink(missing_ok=True)
