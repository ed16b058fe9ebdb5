"""A report as format-neutral sections: titled tables (text and raw value per cell),
paragraphs and charts, rendered by :mod:`.pdf` and :mod:`.xlsx` alike.

Keeping one content model means the PDF and the workbook can never disagree, and every
string can be checked against the font before anything is drawn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from factoryax import __version__
from factoryax.analytics.kpi import KpiRow
from factoryax.analytics.reasons import Lang
from factoryax.analytics.report.i18n import KIND_TITLES, hours, minutes, num, pct, text
from factoryax.analytics.report.model import ReportData, SpcSection
from factoryax.analytics.spc import RULES

__all__ = ["Cell", "ChartSpec", "Section", "Table", "all_texts", "sections", "title"]

Value = float | int | str | None


@dataclass(frozen=True)
class Cell:
    """A table cell: what the PDF prints and what the workbook stores (with its format)."""

    text: str
    value: Value = None
    fmt: str | None = None


@dataclass(frozen=True)
class Table:
    """Headers and rows of cells; ``widths`` are relative column widths."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ChartSpec:
    """A native workbook chart over a section's table: category column and value columns."""

    kind: Literal["bar", "line"]
    category: int
    values: tuple[int, ...]
    title: str
    percent: bool = False


@dataclass(frozen=True)
class Section:
    """One titled part of a report."""

    key: str
    title: str
    table: Table | None = None
    paragraphs: tuple[str, ...] = ()
    figure: str | None = None
    """Name of the figure to draw below the table (``oee``, ``trend``, ``pareto``, ``spc:<i>``)."""
    chart: ChartSpec | None = None
    extra: tuple[Table, ...] = field(default=())


def title(data: ReportData) -> str:
    """The report's title line."""
    en, ko = KIND_TITLES["range" if data.period.kind == "range" else data.kind]
    return ko if data.lang == "ko" else en


def _p(v: float | None) -> Cell:
    return Cell(pct(v), v, "0.0%")


def _n(v: float | None, digits: int = 0) -> Cell:
    return Cell(num(v, digits), v, "#,##0" if digits == 0 else "#,##0." + "0" * digits)


def _t(v: str) -> Cell:
    return Cell(v, v)


def _kv(lang: Lang, pairs: list[tuple[str, Cell]]) -> Table:
    return Table(
        (text(lang, "kpi"), text(lang, "value")),
        tuple((_t(k), v) for k, v in pairs),
        (3.0, 2.0),
    )


def sections(data: ReportData) -> list[Section]:
    """All sections of the report, in order."""
    out = [_header(data), _summary(data), _assets(data), _over_time(data), _downtime(data)]
    out.extend(_spc(data, i, s) for i, s in enumerate(data.spc))
    out.append(_notes(data))
    return out


def _header(data: ReportData) -> Section:
    lang = data.lang
    plant = data.plant
    lines = ", ".join((ln.name_ko if lang == "ko" else ln.name) or ln.id for ln in plant.lines)
    pairs = [
        (text(lang, "site"), _t(plant.site.name or plant.site.id)),
        (text(lang, "line"), _t(lines)),
        (text(lang, "period"), _t(f"{data.period.label} ({plant.site.timezone.key})")),
        (text(lang, "shifts"), _t(", ".join(data.shift_names) or "—")),
        (
            text(lang, "generated"),
            _t(f"{data.generated_at:%Y-%m-%d %H:%M} · FactoryAX {__version__}"),
        ),
    ]
    return Section("info", title(data), _kv(lang, pairs))


def _summary(data: ReportData) -> Section:
    lang = data.lang
    pairs: list[tuple[str, Cell]] = []
    for ln in data.lines:
        prefix = f"{ln.name} · " if len(data.lines) > 1 else ""
        pairs += [
            (prefix + text(lang, "line_output"), _n(ln.output_good)),
            (prefix + text(lang, "productivity"), _n(ln.productivity_per_h, 1)),
            (
                prefix + text(lang, "defect_rate"),
                Cell(pct(ln.defect_rate, 2), ln.defect_rate, "0.00%"),
            ),
            (prefix + text(lang, "on_time"), _t(text(lang, "on_time_na"))),
        ]
    t = data.total
    pairs += [
        (f"{text(lang, 'oee')} — {text(lang, 'all_assets')}", _p(t.oee)),
        (text(lang, "availability"), _p(t.availability)),
        (text(lang, "effectiveness"), _p(t.effectiveness)),
        (text(lang, "quality_ratio"), _p(t.quality_ratio)),
        (text(lang, "pbt"), Cell(hours(t.pbt_s), t.pbt_s / 3600, "#,##0.00")),
        (
            text(lang, "micro_stops"),
            _t(f"{data.micro.count:,} · {minutes(data.micro.seconds)} min"),
        ),
    ]
    return Section("summary", text(lang, "summary"), _kv(lang, pairs))


def _kpi_cells(r: KpiRow, first: str) -> tuple[Cell, ...]:
    return (
        _t(first),
        _p(r.availability),
        _p(r.effectiveness),
        _p(r.quality_ratio),
        _p(r.oee),
        _n(r.pq),
        _n(r.ok),
        _n(r.scrap + r.ng),
        _n(r.rework),
        _p(r.fpy),
        Cell(hours(r.mtbf_s), None if r.mtbf_s is None else r.mtbf_s / 3600, "0.00"),
        Cell(minutes(r.mttr_s), None if r.mttr_s is None else r.mttr_s / 60, "0.0"),
    )


def _kpi_headers(lang: Lang, first: str) -> tuple[str, ...]:
    keys = (
        "availability",
        "effectiveness",
        "quality_ratio",
        "oee_short",
        "pq",
        "gq",
        "scrap",
        "rework",
        "fpy",
        "mtbf",
        "mttr",
    )
    return (first, *(text(lang, k) for k in keys))


_KPI_WIDTHS = (2.3, 1.2, 1.25, 1.2, 1.1, 1.25, 1.25, 0.9, 1.0, 1.1, 1.45, 1.35)


def _assets(data: ReportData) -> Section:
    lang = data.lang
    rows = tuple(_kpi_cells(r, r.key["asset"]) for r in data.by_asset)
    table = Table(_kpi_headers(lang, text(lang, "asset")), rows, _KPI_WIDTHS)
    chart = ChartSpec("bar", 0, (1, 2, 3, 4), text(lang, "oee"), percent=True)
    return Section("assets", text(lang, "kpi_by_asset"), table, figure="oee", chart=chart)


def _over_time(data: ReportData) -> Section:
    lang = data.lang
    head = text(lang, "day") if data.time_key == "day" else text(lang, "shift")
    rows = tuple(_kpi_cells(r, r.key[data.time_key]) for r in data.by_time)
    table = Table(_kpi_headers(lang, head), rows, _KPI_WIDTHS)
    name = "kpi_by_day" if data.time_key == "day" else "kpi_by_shift"
    chart = ChartSpec("line", 0, (1, 2, 3, 4), text(lang, "oee"), percent=True)
    figure = "trend" if len(rows) > 1 else None
    return Section("shifts", text(lang, name), table, figure=figure, chart=chart)


def _downtime(data: ReportData) -> Section:
    lang = data.lang
    rows = tuple(
        (
            _t(b.label),
            _t(text(lang, f"loss_{b.loss}")),
            Cell(hours(b.seconds), b.seconds / 3600, "#,##0.00"),
            _n(b.stops),
            _p(b.share),
            _p(b.cumulative),
        )
        for b in data.pareto
    )
    headers = tuple(
        text(lang, k) for k in ("reason", "loss", "lost_h", "stops", "share", "cumulative")
    )
    table = Table(headers, rows, (3.0, 1.6, 1.2, 1.0, 1.0, 1.1))
    chart = ChartSpec("bar", 0, (2,), text(lang, "downtime"))
    return Section(
        "downtime", text(lang, "downtime"), table, figure="pareto" if rows else None, chart=chart
    )


def _spc(data: ReportData, index: int, section: SpcSection) -> Section:
    lang = data.lang
    heading = f"{text(lang, 'spc')} — {section.key}"
    result = section.result
    if result is None:
        return Section(f"spc{index + 1}", heading, paragraphs=(text(lang, "no_spc"),))
    chart = result.chart
    pairs: list[tuple[str, Cell]] = [
        (
            text(lang, "chart"),
            _t(
                f"{chart.kind} · {text(lang, 'baseline')} {section.baseline_label} "
                f"({chart.baseline:,} {text(lang, 'points')})"
            ),
        ),
        (text(lang, "center"), _n(float(chart.primary.center[0]), 4)),
        (text(lang, "ucl"), _n(float(chart.primary.ucl[0]), 4)),
        (text(lang, "lcl"), _n(float(chart.primary.lcl[0]), 4)),
    ]
    cap = section.capability
    spec = section.spec
    if spec is not None:
        pairs.append(("LSL / USL", _t(f"{num(spec.lsl, 4)} / {num(spec.usl, 4)}")))
    if cap is not None:
        level = f"{cap.confidence:.0%}"
        for name, value, ci in (
            ("Cp", cap.cp, cap.cp_ci),
            ("Cpk", cap.cpk, cap.cpk_ci),
            ("Pp", cap.pp, cap.pp_ci),
            ("Ppk", cap.ppk, cap.ppk_ci),
        ):
            shown = num(value, 3)
            if ci is not None:
                shown += f"  ({level} {text(lang, 'ci')} {ci.low:.3f}–{ci.high:.3f})"
            pairs.append((name, Cell(shown, value, "0.000")))
        pairs.append(("n", _n(cap.n)))
    elif spec is None:
        pairs.append((text(lang, "capability"), _t(text(lang, "no_spec"))))
    counts: dict[str, int] = {}
    for sig in section.signals_in_period():
        counts[sig.rule] = counts.get(sig.rule, 0) + 1
    signal_rows = tuple(
        (_t(rule), _t(_rule_name(rule, lang)), _n(n)) for rule, n in sorted(counts.items())
    )
    signals = Table(
        (text(lang, "rule"), text(lang, "signals"), text(lang, "episodes")),
        signal_rows or ((_t("—"), _t(text(lang, "no_signals")), _n(0)),),
        (1.2, 4.0, 1.0),
    )
    method = cap.method if cap is not None else ""
    return Section(
        f"spc{index + 1}",
        heading,
        _kv(lang, pairs),
        paragraphs=(method,) if method else (),
        figure=f"spc:{index}",
        extra=(signals,),
    )


def _rule_name(rule: str, lang: Lang) -> str:
    en, ko = RULES[rule]
    return ko if lang == "ko" else en


def _notes(data: ReportData) -> Section:
    lang = data.lang
    paragraphs = [f"• {n.text(lang)}" for n in data.notices]
    paragraphs.append(text(lang, "method_note"))
    for i, sql in enumerate(data.kpis.sql, start=1):
        digest = hashlib.sha256(sql.encode()).hexdigest()[:12]
        paragraphs.append(f"SQL {i} (sha256 {digest}, {len(sql):,} chars): KpiTable.sql[{i - 1}]")
    return Section("notes", text(lang, "notices"), paragraphs=tuple(paragraphs))


def all_texts(parts: list[Section], extra: list[str]) -> Iterator[str]:
    """Every string the report will draw (for the font check)."""
    yield from extra
    for s in parts:
        yield s.title
        yield from s.paragraphs
        for table in (s.table, *s.extra):
            if table is None:
                continue
            yield from table.headers
            for row in table.rows:
                yield from (c.text for c in row)
