"""``factoryax jobs …``: the heavy batch jobs over the lake, on DuckDB or Apache Spark.

Mount in ``cli/__init__.py``::

    from factoryax.cli.jobs import app as jobs_app
    app.add_typer(jobs_app, name="jobs")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Annotated, cast

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factoryax.analytics import KpiRow, Period
from factoryax.analytics.kpi import GroupKey
from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.core import FactoryAXError, PlantModel
from factoryax.detect import Registry, anomaly_model_name
from factoryax.jobs import (
    JOBS,
    BacktestJob,
    FeatureJob,
    KpiJob,
    ScoreJob,
    SpcBaselineJob,
    open_engine,
)

__all__ = ["app", "list_jobs", "run"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="Batch jobs over the lake (KPIs, SPC baselines, features, detector scoring and "
    "backtests) on DuckDB or Spark "
    "(see docs/scale-out.md).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


@app.command("list")
def list_jobs() -> None:
    """The jobs, the lake tables each reads, and what each computes."""
    view = Table(title="jobs", title_justify="left")
    for col in ("job", "reads", "computes"):
        view.add_column(col)
    for info in JOBS.values():
        view.add_row(info.name, ", ".join(info.reads), info.summary)
    console.print(view)


def _kpi_rows(rows: tuple[KpiRow, ...]) -> pa.Table:
    """KPI rows as a flat table: the key, then every field and KPI."""
    out: list[dict[str, object]] = []
    for row in rows:
        item: dict[str, object] = dict(row.key)
        for f in dataclasses.fields(row):
            if f.name != "key":
                item[f.name] = getattr(row, f.name)
        for kpi in ("availability", "effectiveness", "quality_ratio", "oee", "fpy"):
            item[kpi] = getattr(row, kpi)
        out.append(item)
    return pa.Table.from_pylist(out)


@app.command("run")
def run(
    job: Annotated[str, typer.Argument(help="kpi, spc-baseline, features, score or backtest.")],
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            "-p",
            help="2026-11-23 (a day), 2026-11-23/night (a shift), 2026-W48 (a week) or "
            "2026-11-01..2026-11-30. score/backtest: its shifts' span, or use --from/--to.",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="score/backtest: window start, ISO with zone."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="score/backtest: window end (exclusive).")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="score/backtest: NAME or NAME@VERSION, repeatable (default: the newest "
            "anomaly-<asset> model of every asset that has one).",
        ),
    ] = None,
    engine: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
    master: Annotated[
        str | None,
        typer.Option(help="Spark master: local[2] (default), spark://host:7077, yarn …"),
    ] = None,
    shuffle_partitions: Annotated[
        int | None, typer.Option(help="spark.sql.shuffle.partitions (default 8).")
    ] = None,
    by: Annotated[
        str, typer.Option(help="kpi: comma-separated site, line, asset, day, shift …")
    ] = "asset",
    window_s: Annotated[int, typer.Option(help="features: window length in seconds.")] = 60,
    output: Annotated[
        str, typer.Option("--output", "-o", help="table, json or csv (to stdout).")
    ] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the result as Parquet here.")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Runs one job over the workspace's lake.

    Example: factoryax jobs run kpi --period 2026-W48 --by asset,shift --engine spark
    """
    ws = open_workspace(workspace)
    if job not in JOBS:
        raise _fail(f"unknown job {job!r}; jobs are {', '.join(JOBS)} (factoryax jobs list)")
    if output not in ("table", "json", "csv"):
        raise _fail(f"--output must be table, json or csv, got {output!r}")
    figures: dict[str, dict[str, object]] = {}
    try:
        plant = ws.plant
        if job in ("score", "backtest"):
            lo, hi = _window(plant, period, start, end)
            models = tuple(model or _default_models(ws.root, plant))
            label = f"{lo.isoformat()}..{hi.isoformat()}"
        else:
            if period is None:
                raise _fail(f"job {job!r} needs --period, e.g. --period 2026-11-23")
            when = Period.parse(period)
            label = when.label
        eng = open_engine(
            engine,
            ws.root / "lake",
            timezone=str(plant.site.timezone),
            master=master,
            shuffle_partitions=shuffle_partitions,
        )
        try:
            t0 = time.perf_counter()
            if job == "kpi":
                keys = tuple(k.strip() for k in by.split(",") if k.strip())
                kpis = KpiJob(plant, when, by=cast("tuple[GroupKey, ...]", keys)).run(eng)
                result = _kpi_rows(kpis.rows)
                notes = [str(n) for n in kpis.notices]
            elif job == "spc-baseline":
                result, notes = SpcBaselineJob(plant, when).run(eng), []
            elif job == "features":
                result, notes = FeatureJob(plant, when, window_s=window_s).run(eng), []
            elif job == "score":
                result, notes = ScoreJob(ws.root, models, lo, hi).run(eng), []
            else:
                figures = BacktestJob(ws.root, plant, models, lo, hi).run(eng)
                result, notes = _backtest_rows(figures), []
            took = time.perf_counter() - t0
        finally:
            eng.close()
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    if out is not None:
        pq.write_table(result, out)
        err_console.print(f"wrote {result.num_rows:,} rows to {out}")
    elif output == "json":
        # a backtest prints every figure (faults, lead times, training window) per model
        for item in figures.values() if job == "backtest" else result.to_pylist():
            sys.stdout.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
    elif output == "csv":
        buf = pa.BufferOutputStream()
        pacsv.write_csv(result, buf)
        sys.stdout.write(buf.getvalue().to_pybytes().decode("utf-8"))
    else:
        view = Table(title=f"{job} {label} on {engine}", title_justify="left")
        shown = result.slice(0, 50)
        if job == "kpi":  # the headline figures; -o json/csv or --out give every field
            columns = [n for n in shown.column_names if n in _GROUP_KEYS]
            shown = shown.select([*columns, *_KPI_SHOWN])
        for name in shown.column_names:
            view.add_column(name, overflow="fold")
        for item in shown.to_pylist():
            view.add_row(*(_cell(v) for v in item.values()))
        console.print(view)
        if result.num_rows > 50:
            err_console.print(f"({result.num_rows:,} rows; first 50 shown, --out for all)")
    for note in notes:
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}")
    err_console.print(f"{job} on {engine}: {result.num_rows:,} rows in {took:.2f} s")


_GROUP_KEYS = frozenset({"site", "line", "asset", "day", "week", "shift", "shift_instance"})
_KPI_SHOWN = ("availability", "effectiveness", "quality_ratio", "oee", "fpy", "pq", "ok")


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _instant(text: str, what: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"{what} {text!r} is not ISO 8601; use e.g. 2026-11-23T08:00+09:00") from None
    if value.tzinfo is None:
        raise _fail(f"{what} {text!r} has no time zone; add one, e.g. {text}+09:00 or {text}Z")
    return value.astimezone(dt.UTC)


def _window(
    plant: PlantModel, period: str | None, start: str | None, end: str | None
) -> tuple[dt.datetime, dt.datetime]:
    """The scoring window: --from/--to, else the span of --period's shifts."""
    if start is not None and end is not None:
        return _instant(start, "--from"), _instant(end, "--to")
    if period is not None and start is None and end is None:
        lo, hi = Period.parse(period).span(plant.calendar, plant.site.timezone, ())
        return lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)
    raise _fail("score/backtest need --from and --to (ISO instants with zone), or --period")


def _default_models(root: Path, plant: PlantModel) -> list[str]:
    registry = Registry.for_workspace(root)
    names = [anomaly_model_name(a.id) for _, a in plant.iter_assets()]
    found = [n for n in names if registry.versions(n)]
    if not found:
        raise _fail(
            f"no anomaly models registered in {str(registry.root)!r} (looked for {names!r}); "
            "train one with `factoryax detect train`, or pass --model NAME"
        )
    return found


def _backtest_rows(figures: dict[str, dict[str, object]]) -> pa.Table:
    """One row per model: the headline backtest figures (JSON keeps every field)."""
    keys = (
        "model",
        "version",
        "alarms",
        "alarms_per_shift",
        "true_alarms",
        "false_alarms",
        "false_alarms_per_shift",
        "precision",
        "detection_rate",
        "wear_detected",
        "wear_total",
        "mean_lead_time_s",
        "in_sample",
    )
    return pa.Table.from_pylist([{k: f.get(k) for k in keys} for f in figures.values()])
