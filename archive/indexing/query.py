"""The search language (pure): terms, quoted phrases, exclusions; and Ctrl-F highlighting."""
from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from archive.indexing.analysis import ALNUM_CLASS, CJK_CLASS, RUN
from archive.extraction.normalise import normalise

MAX_QUERY_CHARS = 200
MAX_TERMS = 16
MAX_MATCHES = 200  # matches per term looked at when highlighting one text
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The completed times a date filter can name: within tantivy's date range (1677-09-21 to
# 2262-04-11), and wider than any act an archive holds
EARLIEST = dt.datetime(1700, 1, 1, tzinfo=SHANGHAI)
LATEST = dt.datetime(2260, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)


class QuerySyntaxError(ValueError):
    """The query cannot be understood; the message says why, in Chinese and English."""


@dataclass(frozen=True)
class Term:
    """One search term: every character of it must stand together in a document field."""

    text: str
    exclude: bool = False


@dataclass
class SearchQuery:
    """A parsed search with its filters; ``scope`` limits results inside the index query."""

    terms: list[Term] = field(default_factory=list)
    agency: str | None = None
    kind: str | None = None
    stage: str | None = None
    form: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    scope: list[str] | None = None  # organisation codes the caller may see; None: everything
    case_scope: list[str] = field(default_factory=list)  # and these cases too (a reviewer's assigned files)
    versions: str = "current"  # "all": also earlier versions replaced by approved amendments

    def completed_between(self) -> tuple[dt.datetime, dt.datetime] | None:
        """The date filter as UTC bounds of the completed time (days in Beijing time), an open
        end filled and both kept within what every engine stores (tantivy: 1677-2262); None
        when the range holds no day an engine can store."""
        start = dt.datetime.combine(self.date_from, dt.time.min, SHANGHAI) if self.date_from else None
        end = dt.datetime.combine(self.date_to, dt.time.max, SHANGHAI) if self.date_to else None
        # (combine with a zone cannot overflow; converting year 1 or 9999 to UTC can)
        low = max(start, EARLIEST) if start else EARLIEST
        high = min(end, LATEST) if end else LATEST
        if low > high:
            return None
        return low.astimezone(dt.timezone.utc), high.astimezone(dt.timezone.utc)


def parse_terms(q: str) -> list[Term]:
    """Split ``q`` into terms: whitespace separates, "quotes" keep spaces, a leading - excludes."""
    q = normalise(q or "")
    if len(q) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"查询过长（最多 {MAX_QUERY_CHARS} 字）/ query longer than {MAX_QUERY_CHARS} characters")
    if q.count('"') % 2:
        raise QuerySyntaxError('引号不成对 / unbalanced quote (")')
    terms: list[Term] = []
    for m in re.finditer(r'(-?)"([^"]*)"|(\S+)', q):
        if m.group(3) is not None:
            raw = m.group(3)
            exclude = raw.startswith("-") and len(raw) > 1
            text = raw[1:] if exclude else raw
        else:
            exclude, text = bool(m.group(1)), m.group(2)
        if not RUN.search(text):
            raise QuerySyntaxError(f"“{text or m.group(0)}”不含可检索的文字 / term has no searchable characters")
        terms.append(Term(text, exclude))
    if len(terms) > MAX_TERMS:
        raise QuerySyntaxError(f"检索词过多（最多 {MAX_TERMS} 个）/ more than {MAX_TERMS} terms")
    if terms and all(t.exclude for t in terms):
        raise QuerySyntaxError("至少需要一个非排除检索词 / a query needs at least one term that is not excluded")
    return terms


def term_pattern(term: str) -> re.Pattern[str]:
    """A regex finding ``term`` in normalised text the way the index matches it: its runs in
    order; between two runs of one class (Chinese, or letters and digits) at least one character
    that is neither, between runs of different classes any number."""
    sep = f"[^{CJK_CLASS}{ALNUM_CLASS}]"
    parts: list[str] = []
    last: bool | None = None
    for m in RUN.finditer(normalise(term)):
        cjk = m.group(1) is not None
        if last is not None:
            parts.append(sep + ("+" if cjk == last else "*"))
        parts.append(re.escape(m.group(0)))
        last = cjk
    return re.compile("".join(parts), re.IGNORECASE)


def highlight(text: str, terms: list[Term], *, context: int = 40, max_fragments: int = 3) -> list[str]:
    """Up to ``max_fragments`` HTML-escaped snippets of ``text`` with every match in <mark>."""
    if not text:
        return []
    spans: list[tuple[int, int]] = []
    for t in terms:
        if t.exclude:
            continue
        for i, m in enumerate(term_pattern(t.text).finditer(text)):
            if i >= MAX_MATCHES:  # bounded work per hit, whatever the text
                break
            if m.end() > m.start():
                spans.append(m.span())
    if not spans:
        return []
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    # Windows around matches, merged when they touch.
    windows: list[list[int]] = []
    for s, e in merged:
        ws, we = max(0, s - context), min(len(text), e + context)
        if windows and ws <= windows[-1][1]:
            windows[-1][1] = we
        else:
            windows.append([ws, we])
    fragments = []
    for ws, we in windows[:max_fragments]:
        out, pos = [], ws
        for s, e in merged:
            if e <= ws or s >= we:
                continue
            s, e = max(s, ws), min(e, we)
            out.append(html.escape(text[pos:s]))
            out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
            pos = e
        out.append(html.escape(text[pos:we]))
        prefix = "…" if ws > 0 else ""
        suffix = "…" if we < len(text) else ""
        fragments.append(prefix + "".join(out).replace("\n", " ").replace("\f", " ") + suffix)
    return fragments
