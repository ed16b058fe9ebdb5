"""Shift, day and week reports as PDF and XLSX, in Korean or English.

:func:`report` queries the lake once for the KPIs and the downtime Pareto and once per
measured characteristic for SPC, draws the charts with matplotlib in the report font, and
writes ``<out>/factoryax-<kind>-<period>-<lang>.pdf`` and ``.xlsx``. The Korean TrueType
font is embedded in the PDF; a missing font or a character the font lacks is an error
naming the fix, never a page of empty boxes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from factoryax.analytics.calendar import CalendarException, Period
from factoryax.analytics.kpi import KpiConfig
from factoryax.analytics.reasons import Lang
from factoryax.analytics.report.content import all_texts, sections, title
from factoryax.analytics.report.fonts import KNOWN_FONTS, ReportFont, check_glyphs, find_korean_font
from factoryax.analytics.report.i18n import words
from factoryax.analytics.report.model import (
    ReportData,
    ReportKind,
    SpecLimits,
    build,
    default_specs,
)
from factoryax.config import Workspace
from factoryax.core import ConfigError

__all__ = [
    "KNOWN_FONTS",
    "ReportData",
    "ReportFont",
    "ReportKind",
    "ReportPaths",
    "SpecLimits",
    "build",
    "default_specs",
    "find_korean_font",
    "report",
]


@dataclass(frozen=True)
class ReportPaths:
    """The files one report call wrote."""

    pdf: Path
    xlsx: Path


def report(
    workspace: Workspace,
    period: str | Period,
    lang: Lang = "ko",
    kind: ReportKind = "day",
    *,
    out_dir: Path | None = None,
    font: Path | None = None,
    specs: Mapping[str, SpecLimits] | None = None,
    config: KpiConfig | None = None,
    exceptions: Sequence[CalendarException] = (),
    now: dt.datetime | None = None,
) -> ReportPaths:
    """Writes the PDF and XLSX report of ``period`` and returns their paths.

    Args:
        workspace: the plant's workspace (plant model and lake).
        period: ``2026-11-23`` (day), ``2026-11-23/night`` (shift), ``2026-W48`` or any
            date of the week (week), or a :class:`Period`.
        lang: ``ko`` or ``en``.
        kind: ``shift``, ``day`` or ``week``.
        out_dir: where to write (default ``<workspace>/reports``).
        font: a Korean ``.ttf`` (default: the first of :data:`KNOWN_FONTS` found).
        specs: spec limits per ``asset.signal`` for SPC and capability (default:
            :func:`default_specs`).
        config: KPI loss-counting options.
        exceptions: calendar exceptions.
        now: the report's "generated" instant (default: now).

    Raises:
        ConfigError: a bad period, language or kind; no calendar; no usable font.
        QueryError: the lake could not be queried.
    """
    if lang not in ("ko", "en"):
        raise ConfigError(f"report language {lang!r} is not supported; use 'ko' or 'en'")
    if kind not in ("shift", "day", "week"):
        raise ConfigError(f"report kind {kind!r} is unknown; use shift, day or week")
    chosen = Period.parse(period, kind) if isinstance(period, str) else period
    if chosen.kind in ("shift", "week"):
        kind = chosen.kind  # "2026-W48" is a week report whatever --kind says
    report_font = find_korean_font(font)
    data = build(
        workspace.lake,
        workspace.plant,
        chosen,
        kind=kind,
        lang=lang,
        specs=specs,
        config=config,
        exceptions=exceptions,
        now=now,
    )
    parts = sections(data)
    footer = f"FactoryAX · {workspace.plant.site.id} · {chosen.label}"
    check_glyphs(report_font, all_texts(parts, [footer, *_figure_texts(data)]))
    images = _figures(data, report_font)
    out = out_dir if out_dir is not None else workspace.root / "reports"
    stem = f"factoryax-{kind}-{_safe(chosen.label)}-{lang}"
    # fpdf and openpyxl load here, not with the package: `factoryax kpi` never needs them
    from factoryax.analytics.report.pdf import write_pdf
    from factoryax.analytics.report.xlsx import write_xlsx

    return ReportPaths(
        pdf=write_pdf(
            out / f"{stem}.pdf", parts, images, report_font, title=title(data), footer=footer
        ),
        xlsx=write_xlsx(out / f"{stem}.xlsx", parts, images, report_font),
    )


def _figures(data: ReportData, font: ReportFont) -> dict[str, bytes]:
    from factoryax.analytics.report import figures as fig  # matplotlib: only for a report

    lang = data.lang
    out = {}
    if data.by_asset:
        out["oee"] = fig.oee_png(data.by_asset, font, lang)
    if len(data.by_time) > 1:
        out["trend"] = fig.trend_png(data.by_time, data.time_key, font, lang)
    if data.pareto:
        out["pareto"] = fig.pareto_png(data.pareto, font, lang)
    for i, section in enumerate(data.spc):
        if section.result is not None:
            name = f"{section.key} · {section.result.chart.kind}"
            out[f"spc:{i}"] = fig.spc_png(
                section.result, font, lang, name, first=section.first_point
            )
    return out


def _figure_texts(data: ReportData) -> list[str]:
    """Chart labels that are not also table text (reason names and keys are)."""
    return [s.key for s in data.spc] + words(data.lang)


def _safe(label: str) -> str:
    return label.replace("..", "_to_").replace("/", "_")
