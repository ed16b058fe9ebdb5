"""``factoryax twin``: simulate the plant's line into the lake, or publish it live."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Literal

import pyarrow.compute as pc
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factoryax.cli.main import WorkspaceOpt
from factoryax.config import Workspace
from factoryax.core import FactoryAXError, PlantModel
from factoryax.twin import (
    MqttJsonPublisher,
    OpcUaTwinServer,
    Publisher,
    SparkplugEdgeNode,
    TwinConfig,
    TwinResult,
    measured_factors,
    replay,
    simulate,
    write_to_lake,
)

__all__ = ["app"]

Protocol = Literal["json", "sparkplug", "opcua"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="Digital twin: simulate the line (with faults, defects and safety events) "
    "into the lake, or publish it live over MQTT.",
    no_args_is_help=True,
)

SeedOpt = Annotated[
    int | None, typer.Option(help="Seed of every random draw (default: twin.seed in plant.toml).")
]
StartOpt = Annotated[
    str | None,
    typer.Option(
        help="First simulated instant, YYYY-MM-DD or YYYY-MM-DDTHH:MM in plant "
        "time (default: `days` before today's midnight).",
        show_default=False,
    ),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _open(path: Path | None) -> Workspace:
    try:
        ws = Workspace.find(path)
        _ = ws.plant
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    return ws


def _start(text: str | None, plant: PlantModel, days: float) -> dt.datetime:
    zone = plant.site.timezone
    if text is None:
        midnight = dt.datetime.combine(dt.datetime.now(zone).date(), dt.time(), tzinfo=zone)
        return (midnight - dt.timedelta(days=days)).astimezone(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"--start {text!r} is not a date or time; write e.g. 2026-11-23 or 2026-11-23T08:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


@app.command()
def run(
    days: Annotated[float, typer.Option(help="Simulated days.", min=0.001)] = 7.0,
    seed: SeedOpt = None,
    start: StartOpt = None,
    sample_s: Annotated[
        float | None,
        typer.Option(help="One sample period for all signals, seconds.", show_default=False),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Simulate the plant for --days and write it to the lake (ground truth goes beside it)."""
    ws = _open(workspace)
    plant = ws.plant
    began = _start(start, plant, days)
    clock = time.perf_counter()
    try:
        with console.status(f"simulating {days:g} day(s) of {plant.site.id} …"):
            result = simulate(plant, start=began, days=days, seed=seed, sample_s=sample_s)
        with console.status("writing to the lake …"):
            report = write_to_lake(result, plant, ws.lake)
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    wall = time.perf_counter() - clock
    console.print(_summary(result))
    rows = ", ".join(f"{name} {n:,}" for name, n in report.rows_written.items())
    console.print(f"lake rows written: {rows}")
    if sum(report.duplicates_skipped.values()):
        console.print(f"already in the lake (skipped): {sum(report.duplicates_skipped.values()):,}")
    if sum(report.quarantined.values()):
        console.print(f"[yellow]quarantined:[/yellow] {report.quarantined}")
    truth = next(iter(report.truth_files.values())).parent.parent.parent
    console.print(f"ground truth: {truth} (run {result.run_id})")
    console.print(
        f"simulated {result.horizon_s:,.0f} s in {wall:.1f} s wall — "
        f"{result.horizon_s / wall:,.0f}× real time"
    )


def _summary(result: TwinResult) -> Table:
    table = Table(
        title=f"{result.site}: {result.horizon_s / 86400:g} day(s) from "
        f"{result.start:%Y-%m-%d %H:%M} UTC, seed {result.seed}",
        caption="A counts starved and blocked time as losses; Q is first-pass yield",
    )
    table.add_column("asset", no_wrap=True)
    for column in ("parts", "ok", "rework", "scrap", "failures", "A", "P", "Q"):
        table.add_column(column, justify="right", no_wrap=True)
    prod, states = result.production, result.states
    breakdown = result.config.reasons.breakdown
    for asset in result.ideal_cycle_s:
        rows = prod.filter(pc.equal(prod.column("asset"), asset))
        results = rows.column("result").to_pylist()
        failures = states.filter(
            pc.and_(
                pc.equal(states.column("asset"), asset),
                pc.equal(states.column("reason_code"), breakdown),
            )
        )
        f = measured_factors(result, asset, line_losses=True)
        table.add_row(
            asset,
            f"{len(results):,}",
            f"{results.count('ok'):,}",
            f"{results.count('rework'):,}",
            f"{results.count('scrap'):,}",
            str(failures.num_rows),
            f"{f.availability:.0%}",
            f"{f.performance:.0%}",
            f"{f.quality:.1%}",
        )
    return table


@app.command()
def live(
    hours: Annotated[float, typer.Option(help="Simulated hours to publish.", min=0.001)] = 1.0,
    speed: Annotated[
        float | None,
        typer.Option(
            help="Simulated seconds per wall second (default: twin.live.speed in plant.toml).",
            show_default=False,
        ),
    ] = None,
    seed: SeedOpt = None,
    host: Annotated[str | None, typer.Option(help="MQTT broker host.", show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="MQTT broker port.", show_default=False)] = None,
    protocol: Annotated[
        Protocol,
        typer.Option(
            help="json: plain JSON topics; sparkplug: a Sparkplug B edge node "
            "(MQTT); opcua: an OPC UA server at --endpoint."
        ),
    ] = "json",
    endpoint: Annotated[
        str, typer.Option(help="OPC UA endpoint to serve (with --protocol opcua).")
    ] = "opc.tcp://127.0.0.1:4840",
    workspace: WorkspaceOpt = None,
) -> None:
    """Publish the twin live, starting now: plain JSON or Sparkplug B over MQTT, or OPC UA."""
    ws = _open(workspace)
    plant = ws.plant
    try:
        config = TwinConfig.from_plant(plant)
        updates = {
            k: v for k, v in (("host", host), ("port", port), ("speed", speed)) if v is not None
        }
        live_cfg = config.live.model_copy(update=updates)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        result = simulate(
            plant, start=now, horizon=dt.timedelta(hours=hours), seed=seed, config=config
        )
        publisher: Publisher
        if protocol == "sparkplug":
            publisher = SparkplugEdgeNode(live_cfg)
            where = f"mqtt://{live_cfg.host}:{live_cfg.port}/spBv1.0/…"
        elif protocol == "opcua":
            publisher = OpcUaTwinServer(plant, endpoint)
            where = endpoint
        else:
            publisher = MqttJsonPublisher(live_cfg)
            where = (
                f"mqtt://{live_cfg.host}:{live_cfg.port}/{live_cfg.topic_prefix}/{plant.site.id}/…"
            )
    except (FactoryAXError, ConnectionError, ImportError, OSError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"publishing {hours:g} h ({protocol}) to {where} at {live_cfg.speed:g}× (Ctrl-C stops)"
    )
    sent = 0
    try:
        sent = replay(result, publisher, speed=live_cfg.speed, prefix=live_cfg.topic_prefix)
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        publisher.close()
    console.print(f"published {sent:,} messages")
