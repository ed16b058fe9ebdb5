"""``factoryax demo``: the main job — a simulated week of the example line, end to end."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from factoryax.cli.main import example_plant_toml, open_workspace, status
from factoryax.config import PLANT_FILE
from factoryax.twin import simulate, write_to_lake

__all__ = ["demo"]

console = Console()


def demo(
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help="Folder for the demo workspace.")
    ] = Path("demo-workspace"),
    days: Annotated[float, typer.Option(help="Simulated days.", min=0.01)] = 7.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same week.")] = 42,
    sample_s: Annotated[
        float | None, typer.Option(help="Signal sampling period in seconds (default: 1 s).")
    ] = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Do not start the dashboard.")
    ] = False,
) -> None:
    """Simulate a week of the example 5-station line and put it through FactoryAX.

    Creates the workspace (example plant.toml) if needed, runs the digital twin with
    faults, defects and safety events, ingests its tables through the normal validation
    path into the lake (the ground truth goes beside it), and prints what landed.
    Works offline; no external server is needed.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    if not (workspace / PLANT_FILE).exists():
        (workspace / PLANT_FILE).write_text(example_plant_toml(), encoding="utf-8")
        console.print(f"[green]created[/green] {workspace / PLANT_FILE}")
    ws = open_workspace(workspace)
    zone = ws.plant.site.timezone
    today = dt.datetime.now(zone).date()
    start = today - dt.timedelta(days=max(1, round(days)))
    with console.status(f"simulating {days:g} day(s) of {ws.plant.lines[0].id} from {start} …"):
        run = simulate(ws.plant, start=start, days=days, seed=seed, sample_s=sample_s)
    with console.status("ingesting the twin's tables into the lake …"):
        written = write_to_lake(run, ws.plant, ws.lake)
    summary = Table(title="twin → lake", title_justify="left")
    for col in ("table", "rows written", "duplicates", "quarantined"):
        summary.add_column(col, justify="left" if col == "table" else "right")
    for name, rows in written.rows_written.items():
        summary.add_row(
            name,
            f"{rows:,}",
            f"{written.duplicates_skipped.get(name, 0):,}",
            f"{written.quarantined.get(name, 0):,}",
        )
    console.print(summary)
    status(workspace=workspace)
    _print_highlights(ws.lake.query(_PRODUCTION_SQL), ws.lake.query(_EVENTS_SQL))
    console.print(f'explore: factoryax query "SELECT …" --workspace {workspace}')
    if written.truth_files:
        truth = os.path.commonpath([str(p) for p in written.truth_files.values()])
        console.print(f"ground truth for scoring detectors (kept out of the lake): {truth}")
    if not no_serve:
        console.print(
            "[yellow]the web dashboard is not built yet (issue 10); "
            "this demo stops after the data is in the lake[/yellow]"
        )


_PRODUCTION_SQL = """
SELECT asset, count(*) AS parts,
       count(*) FILTER (WHERE result = 'ok') AS ok,
       count(*) FILTER (WHERE result = 'rework') AS rework,
       count(*) FILTER (WHERE result IN ('ng', 'scrap')) AS ng_or_scrap
FROM production GROUP BY asset ORDER BY asset
"""
_EVENTS_SQL = "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC LIMIT 10"


def _print_highlights(production: object, events: object) -> None:
    import pyarrow as pa

    for title, table in (("production by asset", production), ("top events", events)):
        assert isinstance(table, pa.Table)
        view = Table(*table.column_names, title=title, title_justify="left")
        for row in table.to_pylist():
            view.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
        console.print(view)
