"""``factoryax jobs …``: the heavy batch jobs over the lake, on DuckDB or Apache Spark.

Mount in ``cli/__init__.py``::

    from factoryax.cli.jobs import app as jobs_app
    app.add_typer(jobs_app, name="jobs")
"""

from __future__ import annotations

import dataclasses
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
from factoryax.cli.analytics import PeriodOpt
from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.core import FactoryAXError
from factoryax.jobs import JOBS, FeatureJob, KpiJob, SpcBaselineJob, open_engine

__all__ = ["app", "list_jobs", "run"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="Batch jobs over the lake (KPIs, SPC baselines, features) on DuckDB or Spark "
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
    job: Annotated[str, typer.Argument(help="kpi, spc-baseline or features.")],
    period: PeriodOpt,
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
    try:
        when = Period.parse(period)
        plant = ws.plant
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
            else:
                result, notes = FeatureJob(plant, when, window_s=window_s).run(eng), []
            took = time.perf_counter() - t0
        finally:
            eng.close()
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    if out is not None:
        pq.write_table(result, out)
        err_console.print(f"wrote {result.num_rows:,} rows to {out}")
    elif output == "json":
        for item in result.to_pylist():
            sys.stdout.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
    elif output == "csv":
        buf = pa.BufferOutputStream()
        pacsv.write_csv(result, buf)
        sys.stdout.write(buf.getvalue().to_pybytes().decode("utf-8"))
    else:
        view = Table(title=f"{job} {when.label} on {engine}", title_justify="left")
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
