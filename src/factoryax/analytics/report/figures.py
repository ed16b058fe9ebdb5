"""Report charts drawn with matplotlib's object API (no pyplot state) in the report font.

Each function returns PNG bytes. The report font is registered with matplotlib's font
manager and used for every label, so Hangul in reason names and titles renders with the
same glyphs as the PDF text.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from factoryax.analytics.downtime import ParetoBar
from factoryax.analytics.kpi import KpiRow
from factoryax.analytics.reasons import Lang
from factoryax.analytics.report.fonts import ReportFont
from factoryax.analytics.report.i18n import text
from factoryax.analytics.spc import SpcResult

__all__ = ["oee_png", "pareto_png", "spc_png", "trend_png"]

_COLORS = ("#2f6db5", "#e08a1e", "#3a9b4a", "#7b3fa0")
_DPI = 150


@contextmanager
def _style(font: ReportFont) -> Iterator[None]:
    for path in (font.regular, font.bold):
        if path is not None and str(path) not in _registered:
            font_manager.fontManager.addfont(str(path))
            _registered.add(str(path))
    with rc_context(
        {
            "font.family": font.family,
            "axes.unicode_minus": False,  # U+2212 is not in every Korean font
            "font.size": 8,
            "axes.titlesize": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        yield


_registered: set[str] = set()


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    return buf.getvalue()


def oee_png(rows: Sequence[KpiRow], font: ReportFont, lang: Lang) -> bytes:
    """Grouped bars of availability, performance, quality and OEE per asset."""
    with _style(font):
        fig = Figure(figsize=(7.0, 2.6))
        ax = fig.add_subplot()
        names = [r.key.get("asset", "") for r in rows]
        series = [
            (text(lang, "availability"), [r.availability for r in rows]),
            (text(lang, "effectiveness"), [r.effectiveness for r in rows]),
            (text(lang, "quality_ratio"), [r.quality_ratio for r in rows]),
            (text(lang, "oee_short"), [r.oee for r in rows]),
        ]
        x = np.arange(len(rows))
        width = 0.2
        for k, (label, values) in enumerate(series):
            heights = [100 * v if v is not None else 0.0 for v in values]
            ax.bar(x + (k - 1.5) * width, heights, width, label=label, color=_COLORS[k])
        ax.set_xticks(x, names)
        ax.set_ylim(0, 105)
        ax.set_ylabel("%")
        ax.set_title(text(lang, "oee"))
        ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, -0.32), frameon=False)
        return _png(fig)


def pareto_png(bars: Sequence[ParetoBar], font: ReportFont, lang: Lang, top: int = 10) -> bytes:
    """Lost hours per reason, largest first, with the cumulative share."""
    shown = list(bars[:top])
    with _style(font):
        fig = Figure(figsize=(7.0, 2.8))
        ax = fig.add_subplot()
        x = np.arange(len(shown))
        ax.bar(x, [b.seconds / 3600 for b in shown], color=_COLORS[0])
        ax.set_xticks(x, [b.label for b in shown], rotation=25, ha="right")
        ax.set_ylabel(text(lang, "lost_h"))
        ax.set_title(text(lang, "downtime"))
        twin = ax.twinx()
        twin.plot(x, [100 * b.cumulative for b in shown], color=_COLORS[1], marker="o", ms=3)
        twin.set_ylim(0, 105)
        twin.set_ylabel(f"{text(lang, 'cumulative')} %")
        return _png(fig)


def trend_png(rows: Sequence[KpiRow], key: str, font: ReportFont, lang: Lang) -> bytes:
    """OEE and its factors per shift (or day) as lines."""
    with _style(font):
        fig = Figure(figsize=(7.0, 2.4))
        ax = fig.add_subplot()
        labels = [r.key.get(key, "") for r in rows]
        x = np.arange(len(rows))
        for k, (name, attr) in enumerate(
            (
                ("availability", "availability"),
                ("effectiveness", "effectiveness"),
                ("quality_ratio", "quality_ratio"),
                ("oee_short", "oee"),
            )
        ):
            values = [getattr(r, attr) for r in rows]
            ys = [100 * v if v is not None else np.nan for v in values]
            ax.plot(x, ys, marker="o", ms=3, label=text(lang, name), color=_COLORS[k])
        ax.set_xticks(x, labels, rotation=20, ha="right")
        ax.set_ylim(0, 105)
        ax.set_ylabel("%")
        ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, -0.55), frameon=False)
        return _png(fig)


def spc_png(result: SpcResult, font: ReportFont, lang: Lang, title: str, first: int = 0) -> bytes:
    """The primary series from point ``first`` on, with its centre line and limits;
    points outside the limits are marked."""
    s = result.chart.primary
    x = np.arange(first, len(s.values))
    outside = [i for i in s.beyond_limits() if i >= first]
    with _style(font):
        fig = Figure(figsize=(7.0, 2.6))
        ax = fig.add_subplot()
        ax.plot(x, s.values[first:], lw=0.6, color=_COLORS[0])
        ax.plot(x, s.center[first:], lw=0.8, color="black", label=text(lang, "center"))
        limits = f"{text(lang, 'ucl')}/{text(lang, 'lcl')}"
        ax.plot(x, s.ucl[first:], lw=0.8, color="#c0392b", ls="--", label=limits)
        ax.plot(x, s.lcl[first:], lw=0.8, color="#c0392b", ls="--")
        if outside:
            ax.scatter(
                outside,
                s.values[outside],
                s=8,
                color=_COLORS[1],
                zorder=3,
                label=text(lang, "beyond"),
            )
        ax.set_title(title)
        ax.set_xlabel(text(lang, "points"))
        ax.legend(ncols=3, loc="lower center", bbox_to_anchor=(0.5, -0.45), frameon=False)
        return _png(fig)
