"""``factoryax report``, ``factoryax kpi …`` and ``factoryax spc …``: analytics commands.

Mount in ``cli/__init__.py``::

    from factoryax.cli.analytics import kpi_app, report, spc_app
    app.command("report")(report)
    app.add_typer(kpi_app, name="kpi")
    app.add_typer(spc_app, name="spc")
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factoryax.analytics import (
    GroupKey,
    KpiConfig,
    KpiRow,
    Period,
    PeriodKind,
    ReasonTree,
    RuleSignal,
    attribute_chart,
    capability,
    episodes,
    loss_items,
    pareto,
    publish,
    signal_chart,
)
from factoryax.analytics import compute_kpis as _compute_kpis
from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.core import FactoryAXError

__all__ = ["kpi_app", "report", "spc_app"]

console = Console()
err_console = Console(stderr=True)

kpi_app = typer.Typer(
    help="ISO 22400-2 KPIs (OEE, availability, performance, quality, FPY, MTBF, MTTR …) "
    "and the downtime Pareto, from the lake and the shift calendar.",
    no_args_is_help=True,
)
spc_app = typer.Typer(
    help="Statistical process control: I-MR, Xbar-R, Xbar-S, p/np/c/u charts, Western "
    "Electric and Nelson rules, Cp/Cpk/Pp/Ppk with confidence intervals.",
    no_args_is_help=True,
)

PeriodOpt = Annotated[
    str,
    typer.Option(
        "--period",
        "-p",
        help="2026-11-23 (a day), 2026-11-23/night (a shift), 2026-W48 (a week) or "
        "2026-11-01..2026-11-30.",
    ),
]
LangOpt = Annotated[str, typer.Option("--lang", help="ko or en.")]


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(str(exc))}")
    return typer.Exit(2)


def _period(text: str, kind: str | None = None) -> Period:
    return Period.parse(text, cast("PeriodKind | None", kind))


def report(
    period: PeriodOpt,
    lang: LangOpt = "ko",
    kind: Annotated[str, typer.Option("--kind", help="shift, day or week.")] = "day",
    workspace: WorkspaceOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the files (default: ./reports).")
    ] = None,
    font: Annotated[
        Path | None, typer.Option("--font", help="A Korean .ttf (default: NanumGothic).")
    ] = None,
) -> None:
    """Write the shift/day/week report as PDF and XLSX (Korean or English).

    Example: factoryax report --period 2026-11-23 --lang ko
    """
    ws = open_workspace(workspace)
    try:
        from factoryax.analytics.report import report as _report  # matplotlib: on use

        paths = _report(
            ws,
            _period(period, kind),
            lang=cast("Literal['ko', 'en']", lang),
            kind=cast("Literal['shift', 'day', 'week']", kind),
            out_dir=out,
            font=font,
        )
    except FactoryAXError as exc:
        raise _fail(exc) from None
    console.print(f"[green]wrote[/green] {paths.pdf}")
    console.print(f"[green]wrote[/green] {paths.xlsx}")


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("availability", "A"),
    ("effectiveness", "P"),
    ("quality_ratio", "Q"),
    ("oee", "OEE"),
    ("nee", "NEE"),
    ("fpy", "FPY"),
    ("scrap_ratio", "scrap"),
    ("rework_ratio", "rework"),
    ("setup_ratio", "setup"),
    ("equipment_load_ratio", "load"),
)


def _row_dict(row: KpiRow) -> dict[str, object]:
    out: dict[str, object] = dict(row.key)
    for attr, _ in _COLUMNS:
        out[attr] = getattr(row, attr)
    for attr in ("throughput_per_h", "productivity_per_h", "mtbf_s", "mttf_s", "mttr_s"):
        out[attr] = getattr(row, attr)
    for attr in ("pot_s", "pbt_s", "apt_s", "setup_s", "down_s", "delay_s", "unrecorded_s"):
        out[attr] = round(float(getattr(row, attr)), 3)
    for attr in ("pq", "ok", "rework", "scrap", "ng", "failures"):
        out[attr] = getattr(row, attr)
    return out


@kpi_app.command("show")
def kpi_show(
    period: PeriodOpt,
    by: Annotated[
        str,
        typer.Option(help="Comma-separated: site, line, asset, day, week, shift, shift_instance."),
    ] = "asset",
    kind: Annotated[
        str | None, typer.Option(help="Read a date as this kind: day, week or shift.")
    ] = None,
    asset: Annotated[list[str] | None, typer.Option(help="Only these assets.")] = None,
    micro_stop_s: Annotated[
        float, typer.Option(help="Unexplained idle shorter than this is a micro-stop.")
    ] = 0.0,
    output: Annotated[str, typer.Option("--output", "-o", help="table, csv or json.")] = "table",
    workspace: WorkspaceOpt = None,
) -> None:
    """KPIs of a period grouped by asset, shift, day … (ratios of summed time elements).

    Example: factoryax kpi show --period 2026-W48 --by asset,shift
    """
    ws = open_workspace(workspace)
    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    try:
        table = _compute_kpis(
            ws.lake,
            ws.plant,
            _period(period, kind),
            by=cast("tuple[GroupKey, ...]", keys),
            assets=asset,
            config=KpiConfig(micro_stop_s=micro_stop_s),
        )
    except FactoryAXError as exc:
        raise _fail(exc) from None
    rows = [_row_dict(r) for r in table.rows]
    if output == "json":
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif output == "csv":
        names = list(rows[0]) if rows else list(keys)
        sys.stdout.write(",".join(names) + "\n")
        for r in rows:
            sys.stdout.write(",".join("" if r[n] is None else str(r[n]) for n in names) + "\n")
    else:
        view = Table(title=f"KPIs {table.period.label}", title_justify="left")
        for k in keys:
            view.add_column(k)
        for _, label in _COLUMNS[:6]:
            view.add_column(label, justify="right")
        for col in ("PQ", "GQ", "MTBF h", "MTTR min"):
            view.add_column(col, justify="right")
        for row in table.rows:
            view.add_row(
                *(row.key[k] for k in keys),
                *(_pct(getattr(row, a)) for a, _ in _COLUMNS[:6]),
                f"{row.pq:,}",
                f"{row.ok:,}",
                _num(row.mtbf_s, 3600, 2),
                _num(row.mttr_s, 60, 1),
            )
        console.print(view)
    for notice in table.notices:
        err_console.print(f"[yellow]note:[/yellow] {escape(str(notice))}")


@kpi_app.command("downtime")
def kpi_downtime(
    period: PeriodOpt,
    depth: Annotated[
        int | None, typer.Option(help="Roll reasons up to this tree depth (1 = roots).")
    ] = None,
    lang: LangOpt = "en",
    top: Annotated[int, typer.Option(help="Bars shown.")] = 15,
    workspace: WorkspaceOpt = None,
) -> None:
    """The downtime Pareto: lost hours per reason with running shares, and short stops."""
    ws = open_workspace(workspace)
    try:
        table = _compute_kpis(ws.lake, ws.plant, _period(period), by=("site",))
    except FactoryAXError as exc:
        raise _fail(exc) from None
    bars = pareto(
        loss_items(table),
        ReasonTree.from_plant(ws.plant),
        depth=depth,
        lang=cast("Literal['ko', 'en']", lang),
    )
    view = Table(title=f"downtime {table.period.label}", title_justify="left")
    for col in ("reason", "loss", "hours", "stops", "share", "cumulative"):
        view.add_column(col, justify="left" if col in ("reason", "loss") else "right")
    for b in bars[:top]:
        view.add_row(
            b.label,
            b.loss,
            f"{b.seconds / 3600:.2f}",
            f"{b.stops:,}",
            _pct(b.share),
            _pct(b.cumulative),
        )
    console.print(view)


@spc_app.command("chart")
def spc_chart(
    characteristic: Annotated[
        str, typer.Argument(help="asset.signal, e.g. inspect-01.bore_diameter")
    ],
    period: PeriodOpt,
    baseline: Annotated[
        str | None, typer.Option(help="Period whose values set the limits (default: --period).")
    ] = None,
    chart: Annotated[str, typer.Option(help="I-MR, Xbar-R or Xbar-S.")] = "I-MR",
    subgroup: Annotated[int, typer.Option(help="Subgroup size for Xbar charts.")] = 5,
    rules: Annotated[str, typer.Option(help="nelson or western_electric.")] = "nelson",
    publish_events: Annotated[
        bool, typer.Option("--publish", help="Write rule episodes to the events table.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """A variables control chart of one signal, with its rule signals."""
    ws = open_workspace(workspace)
    asset, _, signal = characteristic.partition(".")
    try:
        result = signal_chart(
            ws.lake,
            ws.plant,
            asset,
            signal,
            _period(period),
            baseline=_period(baseline) if baseline else None,
            kind=cast("Literal['I-MR', 'Xbar-R', 'Xbar-S']", chart),
            subgroup_size=subgroup,
            rules=cast("Literal['nelson', 'western_electric']", rules),
        )
        written = publish(ws.lake, result, ws.plant) if publish_events else None
    except FactoryAXError as exc:
        raise _fail(exc) from None
    s = result.chart.primary
    console.print(
        f"{characteristic} {result.chart.kind}: {len(s.values):,} points, baseline "
        f"{result.chart.baseline:,}; CL {s.center[0]:.6g}  UCL {s.ucl[0]:.6g}  LCL {s.lcl[0]:.6g}"
    )
    _print_signals(result.signals, result.labels)
    if written is not None:
        console.print(f"published {written} new event(s) of kind spc.*")


@spc_app.command("attribute")
def spc_attribute(
    asset: Annotated[str, typer.Argument(help="Asset whose defectives are charted.")],
    period: PeriodOpt,
    chart: Annotated[str, typer.Option(help="p, np, c or u.")] = "p",
    baseline: Annotated[str | None, typer.Option(help="Period that sets the limits.")] = None,
    publish_events: Annotated[
        bool, typer.Option("--publish", help="Write rule episodes to the events table.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """An attribute chart of defective parts per shift (p, np, c or u)."""
    ws = open_workspace(workspace)
    try:
        result = attribute_chart(
            ws.lake,
            ws.plant,
            asset,
            _period(period),
            baseline=_period(baseline) if baseline else None,
            kind=cast("Literal['p', 'np', 'c', 'u']", chart),
        )
        written = publish(ws.lake, result, ws.plant) if publish_events else None
    except FactoryAXError as exc:
        raise _fail(exc) from None
    s = result.chart.primary
    console.print(
        f"{asset} {result.chart.kind} chart: {len(s.values)} shifts, CL {s.center[0]:.4g}"
    )
    _print_signals(result.signals, result.labels)
    if written is not None:
        console.print(f"published {written} new event(s) of kind spc.*")


@spc_app.command("capability")
def spc_capability(
    characteristic: Annotated[str, typer.Argument(help="asset.signal")],
    period: PeriodOpt,
    lsl: Annotated[float | None, typer.Option(help="Lower spec limit.")] = None,
    usl: Annotated[float | None, typer.Option(help="Upper spec limit.")] = None,
    confidence: Annotated[float, typer.Option(help="Two-sided confidence level.")] = 0.95,
    workspace: WorkspaceOpt = None,
) -> None:
    """Cp, Cpk, Pp, Ppk with confidence intervals (spec limits default to the plant's)."""
    ws = open_workspace(workspace)
    asset, _, signal = characteristic.partition(".")
    from factoryax.analytics.report import default_specs

    spec = default_specs(ws.plant).get(characteristic)
    low = lsl if lsl is not None else (spec.lsl if spec else None)
    high = usl if usl is not None else (spec.usl if spec else None)
    try:
        result = signal_chart(ws.lake, ws.plant, asset, signal, _period(period))
        cap = capability(result.values, lsl=low, usl=high, confidence=confidence)
    except FactoryAXError as exc:
        raise _fail(exc) from None
    view = Table(title=f"{characteristic} {period} (n = {cap.n:,})", title_justify="left")
    for col in ("index", "value", f"{confidence:.0%} CI"):
        view.add_column(col, justify="right")
    for name, value, ci in (
        ("Cp", cap.cp, cap.cp_ci),
        ("Cpk", cap.cpk, cap.cpk_ci),
        ("Pp", cap.pp, cap.pp_ci),
        ("Ppk", cap.ppk, cap.ppk_ci),
    ):
        shown = "—" if value is None else f"{value:.3f}"
        interval = "—" if ci is None else f"{ci.low:.3f} – {ci.high:.3f}"
        view.add_row(name, shown, interval)
    console.print(view)
    console.print(
        f"mean {cap.mean:.6g}, σ within {cap.sigma_within:.4g}, σ overall "
        f"{cap.sigma_overall:.4g}; LSL {low}, USL {high}\n{cap.method}"
    )


def _print_signals(signals: Sequence[RuleSignal], labels: tuple[str, ...]) -> None:
    found = episodes(signals)
    if not found:
        console.print("no rule signals")
        return
    view = Table(title=f"{len(found)} rule episode(s)", title_justify="left")
    for col in ("rule", "at", "points", "meaning"):
        view.add_column(col)
    for s in found[:50]:
        view.add_row(s.rule, labels[s.index], f"{len(s.points)}", f"{s.name} ({s.name_ko})")
    console.print(view)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, scale: float, digits: int) -> str:
    return "—" if value is None else f"{value / scale:.{digits}f}"
