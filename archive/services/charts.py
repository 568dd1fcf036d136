"""Charts of the monthly briefing (简报) as PNG: scores by agency, warnings by level over the
months, the performance ratio against the pass mark. Drawn with matplotlib's object API on the
Agg canvas (no pyplot state, so requests may draw at once) in a Chinese font."""
from __future__ import annotations

import io
import warnings
from functools import lru_cache

from archive.casefile.fonts import FontMissing, cjk_font

# Simplified-Chinese faces first: the JP face of the same collection draws some characters in
# their Japanese forms.
_PREFERRED = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Droid Sans Fallback")
LEVEL_COLOURS = {1: "#d9a400", 2: "#e06c00", 3: "#c62828"}
BAR = "#2f6fb0"


@lru_cache(maxsize=1)
def font_family() -> str:
    """The name of a font with Chinese glyphs known to matplotlib (FontMissing without one)."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in _PREFERRED:
        if name in names:
            return name
    path = cjk_font()
    if path is None:
        raise FontMissing("no Chinese font for the charts: apt-get install fonts-noto-cjk (or set ARCHIVE_CJK_FONT)")
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


class MissingGlyphs(RuntimeError):
    """The chart font lacks characters of a label (they would print as empty boxes)."""


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150)
    return fig


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buf, format="png", bbox_inches="tight")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    if missing:
        raise MissingGlyphs("; ".join(sorted(set(missing))[:5]))
    return buf.getvalue()


def _style(ax, family: str) -> None:
    for label in ax.get_xticklabels() + ax.get_yticklabels():
        label.set_fontfamily(family)
    ax.spines[["top", "right"]].set_visible(False)


def scores_chart(rows: list[dict], title: str) -> bytes:
    """Horizontal bars: each scored agency's score, best at the top."""
    family = font_family()
    scored = [r for r in rows if r["score"] is not None][:40]
    fig = _figure(8, max(2.2, 0.38 * len(scored) + 1.2))
    ax = fig.add_subplot()
    names = [r["name"] for r in scored][::-1]
    values = [r["score"] for r in scored][::-1]
    bars = ax.barh(range(len(values)), values, color=BAR)
    ax.set_yticks(range(len(values)), names, fontfamily=family, fontsize=9)
    ax.set_xlim(0, 105)
    for bar, value in zip(bars, values):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{value:.1f}", va="center",
                fontsize=8, fontfamily=family)
    if not scored:
        ax.text(50, 0, "本月无可评分单位", ha="center", fontfamily=family)
    ax.set_xlabel("得分（满分 100）", fontfamily=family)
    ax.set_title(title, fontfamily=family, fontsize=12)
    _style(ax, family)
    return _png(fig)


def warnings_chart(trend: list[dict], title: str) -> bytes:
    """Stacked bars per month: warnings opened that month by the level they reached."""
    family = font_family()
    fig = _figure(8, 3.4)
    ax = fig.add_subplot()
    months = [t["month"][2:] for t in trend]
    bottom = [0] * len(trend)
    for level, name in ((1, "一级（单位）"), (2, "二级（区）"), (3, "三级（市）")):
        values = [t["levels"][str(level)] for t in trend]
        ax.bar(months, values, bottom=bottom, color=LEVEL_COLOURS[level], label=name)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("预警数（件）", fontfamily=family)
    ax.legend(prop={"family": family, "size": 8}, frameon=False, ncols=3, loc="upper left")
    ax.set_ylim(0, max(bottom + [1]) * 1.25)
    ax.set_title(title, fontfamily=family, fontsize=12)
    _style(ax, family)
    return _png(fig)


def performance_chart(rows: list[dict], threshold: float, title: str) -> bytes:
    """Bars of each agency's performance ratio with the pass mark as a line; below it in red."""
    family = font_family()
    listed = [r for r in rows if r["ratio"] is not None][:40]
    fig = _figure(8, max(2.2, 0.38 * len(listed) + 1.2))
    ax = fig.add_subplot()
    names = [r["name"] for r in listed][::-1]
    values = [100 * r["ratio"] for r in listed][::-1]
    colours = [BAR if v >= 100 * threshold - 1e-9 else "#c62828" for v in values]
    ax.barh(range(len(values)), values, color=colours)
    ax.set_yticks(range(len(values)), names, fontfamily=family, fontsize=9)
    ax.axvline(100 * threshold, color="#333", linestyle="--", linewidth=1, label=f"达标线 {100 * threshold:g}%")
    ax.legend(prop={"family": family, "size": 8}, frameon=False, loc="lower right")
    ax.set_xlim(0, 105)
    ax.set_xlabel("履职比例（%）", fontfamily=family)
    if not listed:
        ax.text(50, 0, "未录入职权", ha="center", fontfamily=family)
    ax.set_title(title, fontfamily=family, fontsize=12)
    _style(ax, family)
    return _png(fig)
