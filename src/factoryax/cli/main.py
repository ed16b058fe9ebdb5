"""The ``factoryax`` command: workspace, ingest, query, status and lake upkeep."""

from __future__ import annotations

import datetime as dt
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.csv as pa_csv
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from factoryax import __version__
from factoryax.cli._lazy import LazyGroup
from factoryax.config import PLANT_FILE, Workspace
from factoryax.core import FactoryAXError
from factoryax.ingest import IngestReport, ingest_file
from factoryax.lake import TABLES

__all__ = ["app", "console", "open_workspace"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="factoryax",
    cls=LazyGroup,  # sub-commands of factoryax.cli._lazy.MOUNTS load on first use
    help=(
        "FactoryAX — your plant's data, KPIs, AI and evidence in one folder.\n\n"
        "Start with `factoryax init DIR`, drop files in with `factoryax ingest`, "
        "look with `factoryax status` and `factoryax query`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lake_app = typer.Typer(help="Keep the lake tidy: compact small files, drop old partitions.")
app.add_typer(lake_app, name="lake")

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (holds plant.toml). Default: FACTORYAX_WORKSPACE, "
        "else this folder or the nearest parent with a plant.toml.",
        show_default=False,
    ),
]


def open_workspace(path: Path | None) -> Workspace:
    """Finds the workspace and loads its plant model, or exits with the reason."""
    try:
        ws = Workspace.find(path)
        _ = ws.plant
    except FactoryAXError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    return ws


def _version(value: bool) -> None:
    if value:
        console.print(f"factoryax {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """FactoryAX command line."""


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing plant.toml.")] = False,
) -> None:
    """Create a workspace: a commented example plant.toml (a 5-station line) and a lake.

    Edit plant.toml to describe your own site, lines, assets, signals, shifts and
    downtime reasons; every other command reads it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / PLANT_FILE
    if target.exists() and not force:
        err_console.print(
            f"[red]error:[/red] {target} already exists; edit it, or pass --force to replace it"
        )
        raise typer.Exit(2)
    target.write_text(example_plant_toml(), encoding="utf-8")
    (directory / "lake").mkdir(exist_ok=True)
    console.print(f"[green]created[/green] {target}")
    console.print(
        "next: edit plant.toml, then `factoryax ingest FILE…` and `factoryax status` "
        f"(inside {directory} or with --workspace {directory})"
    )


def example_plant_toml() -> str:
    """The commented example plant model shipped with the package."""
    return resources.files("factoryax").joinpath("templates/plant.toml").read_text("utf-8")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV, Parquet or JSON Lines files.")],
    workspace: WorkspaceOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet or jsonl (default: from the file suffix)."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding of CSV/JSONL (default: UTF-8, else cp949/EUC-KR)."),
    ] = None,
) -> None:
    """Load files of readings into the lake (wide or long layout, any number of files).

    Rows that fail a check (unknown asset or signal, bad time, value out of range, …) go
    to the quarantine table with the line and the reason; good rows still land.
    Re-running the same file adds nothing twice. Exits non-zero only when nothing at all
    could be read.
    """
    if fmt is not None and fmt not in ("csv", "parquet", "jsonl"):
        err_console.print(f"[red]error:[/red] --format {fmt!r}: use csv, parquet or jsonl")
        raise typer.Exit(2)
    ws = open_workspace(workspace)
    reports: list[IngestReport] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        for path in paths:
            task = progress.add_task(path.name, total=path.stat().st_size if path.is_file() else 1)

            def update(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            reports.append(
                ingest_file(
                    path.resolve(),
                    plant=ws.plant,
                    lake=ws.lake,
                    fmt=fmt,  # type: ignore[arg-type]  # checked against the three names above
                    encoding=encoding,
                    progress=update,
                )
            )
    _print_reports(reports)
    if all(r.nothing_read for r in reports):
        raise typer.Exit(1)


def _print_reports(reports: list[IngestReport]) -> None:
    table = Table(title="ingest summary", title_justify="left")
    for col in ("file", "layout", "rows read", "stored", "duplicates", "quarantined"):
        table.add_column(col, justify="left" if col in ("file", "layout") else "right")
    for r in reports:
        table.add_row(
            Path(r.source).name,
            r.layout or "-",
            f"{r.records_read:,}",
            f"{r.readings_accepted:,}",
            f"{r.duplicates_skipped:,}",
            f"{r.quarantined:,}",
        )
    console.print(table)
    for r in reports:
        name = Path(r.source).name
        if r.error:
            console.print(f"[red]{escape(name)}: {escape(r.error)}[/red]")
        if r.unmapped_columns:
            cols = escape(str(list(r.unmapped_columns)))
            console.print(f"[yellow]{escape(name)}: columns not ingested: {cols}[/yellow]")
        for sample in r.quarantine_samples:
            console.print(f"[yellow]{escape(name)} {escape(sample)}[/yellow]")
        if r.quarantined > len(r.quarantine_samples):
            hint = (
                f'  … see all with: factoryax query "SELECT position, reason FROM quarantine '
                f"WHERE source = '{r.source}'\""
            )
            console.print(escape(hint))


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help="SQL over readings, production, states, events, quarantine.")
    ],
    workspace: WorkspaceOpt = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="table, csv or json (one object per line).")
    ] = "table",
    max_rows: Annotated[int, typer.Option(help="Rows shown in table output.")] = 50,
) -> None:
    """Run SQL (DuckDB dialect) over the lake. Times show in the plant's time zone.

    Example: factoryax query "SELECT asset, avg(value) FROM readings
    WHERE signal = 'vibration_rms' GROUP BY asset"
    """
    ws = open_workspace(workspace)
    try:
        result = ws.lake.query(sql)
    except FactoryAXError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if output == "csv":
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(result, sink)
        sys.stdout.write(sink.getvalue().to_pybytes().decode("utf-8"))
    elif output == "json":
        for row in result.to_pylist():
            sys.stdout.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
    else:
        table = Table(
            *result.column_names, title=f"{result.num_rows:,} row(s)", title_justify="left"
        )
        for row in result.slice(0, max_rows).to_pylist():
            table.add_row(*(_show(v) for v in row.values()))
        console.print(table)
        if result.num_rows > max_rows:
            console.print(f"(first {max_rows} shown; use --max-rows or --output csv)")


def _show(value: object) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command()
def status(workspace: WorkspaceOpt = None) -> None:
    """What the lake holds: rows, files, partitions, time range and disk use per table."""
    ws = open_workspace(workspace)
    zone = ws.plant.site.timezone
    table = Table(
        title=f"{ws.plant.site.id} — lake at {ws.lake.root} (times in {zone.key})",
        title_justify="left",
        box=box.MINIMAL_HEAVY_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
    )
    for col in ("table", "rows", "files", "parts", "first", "last", "disk"):
        right = col in ("rows", "files", "parts", "disk")
        table.add_column(col, justify="right" if right else "left", no_wrap=True)
    for s in ws.lake.status():
        table.add_row(
            s.table,
            f"{s.rows:,}",
            f"{s.files:,}",
            f"{s.partitions:,}",
            _local(s.first, zone),
            _local(s.last, zone),
            _bytes(s.bytes),
        )
    console.print(table)


def _local(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).strftime("%y-%m-%d %H:%M") if value else "-"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


TableArg = Annotated[
    list[str] | None,
    typer.Argument(help=f"Tables (default: all of {', '.join(TABLES)})."),
]


@lake_app.command("compact")
def lake_compact(tables: TableArg = None, workspace: WorkspaceOpt = None) -> None:
    """Merge each partition's small files into one sorted file (crash-safe)."""
    ws = open_workspace(workspace)
    for name in _tables(tables):
        result = ws.lake.compact(name)
        console.print(
            f"{name}: {result.partitions_compacted} partition(s) compacted, "
            f"files {result.files_before} → {result.files_after}"
        )


@lake_app.command("retention")
def lake_retention(
    keep_days: Annotated[int, typer.Option(help="Keep this many days; older partitions go.")],
    tables: TableArg = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete partitions older than --keep-days (by their UTC date)."""
    ws = open_workspace(workspace)
    for name in _tables(tables):
        removed = ws.lake.apply_retention(name, keep_days=keep_days)
        console.print(f"{name}: {removed} partition(s) removed")


def _tables(names: list[str] | None) -> list[str]:
    unknown = [n for n in names or [] if n not in TABLES]
    if unknown:
        err_console.print(
            f"[red]error:[/red] unknown table(s) {unknown}; tables are {list(TABLES)}"
        )
        raise typer.Exit(2)
    return names or list(TABLES)
