"""The web pages, in Chinese, server-rendered: login, 工作台, cases, upload, documents, search,
warnings and amendments. Each page calls the same services and policy as the API; JavaScript
only adds progress bars and previews to pages that work as plain forms."""
from __future__ import annotations

from archive.web.blueprint import bp
from archive.web import (  # noqa: F401  (each module adds its pages to bp)
    login, security, archival, appraisal, notices, help, transfers, filters, home, accounts, calendar, cases, documents, warnings, amendments, reviews, sampling, oversight, complaints, stats, basicinfo, tasks, filings,
)

__all__ = ["bp"]
