"""Browser tests run each on one database: half of them on SQLite, half on PostgreSQL (fixed
per test by its name), so the browser suite exercises both while CI keeps its time; every
database behaviour is tested on both by the integration tests (the page matrix included)."""
from __future__ import annotations

import zlib

DATABASES = ("sqlite", "postgresql")


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "/e2e/" in str(item.path) and params.get("database_url") in DATABASES:
            base = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
            if params["database_url"] != DATABASES[zlib.crc32(base.encode("utf-8")) % 2]:
                drop.append(item)
                continue
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
