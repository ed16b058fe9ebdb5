"""``factoryax run``: run the plant's streaming sources into the lake, or show its health.

Mount in ``cli/__init__.py``::

    from factoryax.cli.run import app as run_app
    app.add_typer(run_app, name="run")
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.core import FactoryAXError
from factoryax.runtime import Runtime, RuntimeHealth, parse_runtime, read_health

__all__ = ["app", "print_health"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="Run the plant's streaming sources (MQTT JSON, Sparkplug B, OPC UA) into the lake, with "
    "safety rules and detectors on every batch (see docs/streaming.md).",
    invoke_without_command=True,
)


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    status: Annotated[
        bool, typer.Option("--status", help="Show the health of the running runtime and exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --status: print the JSON.")] = False,
    duration_s: Annotated[
        float | None,
        typer.Option("--duration", help="Stop after this many seconds (default: until Ctrl-C)."),
    ] = None,
) -> None:
    """Start the configured sources and keep the lake, rules and health up to date.

    Stops cleanly on Ctrl-C or SIGTERM (what is queued is written and acknowledged);
    after a crash, the broker redelivers and the write-ahead buffer replays what was not
    acknowledged, and the lake skips what had already landed.
    """
    if ctx.invoked_subcommand is not None:
        return
    ws = open_workspace(workspace)
    if status:
        health = read_health(ws)
        if health is None:
            err_console.print(
                f"no runtime health in {escape(str(ws.root / 'runtime'))}; start `factoryax run`"
            )
            raise typer.Exit(1)
        if as_json:
            console.print_json(health.to_json())
        else:
            print_health(health)
        return
    try:
        config = parse_runtime(ws.plant.sources)
        if not config.sources:
            raise FactoryAXError(
                f"no sources in {ws.plant_path}; add [sources.<name>] tables with kind = "
                '"mqtt-json", "sparkplug" or "opcua" (see docs/streaming.md)'
            )
        runtime = Runtime(ws, config=config)
        runtime.start()
    except FactoryAXError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    names = ", ".join(f"{s.name} ({s.kind})" for s in runtime.sources)
    console.print(
        f"running {names}; health in {ws.root / 'runtime' / 'health.json'} (Ctrl-C stops)"
    )
    done.wait(timeout=duration_s)
    runtime.stop()
    health = runtime.health()
    console.print(
        f"stopped: {health.lake.batches:,} batch(es), {health.lake.rows:,} reading(s) appended"
    )


def print_health(health: RuntimeHealth) -> None:
    """Prints the health as tables (sources, lake, sinks)."""
    updated = dt.datetime.fromisoformat(health.updated_at)
    age = (dt.datetime.now(dt.UTC) - updated).total_seconds()
    stale = f" [yellow](not updated for {age:.0f} s: is it running?)[/yellow]" if age > 5 else ""
    console.print(
        f"runtime pid {health.pid}, started {health.started_at}, updated {age:.1f} s ago{stale}"
    )
    now = dt.datetime.now(dt.UTC)
    for s in health.sources:
        style = "green" if s.state == "connected" else "yellow"
        last = "never"
        if s.last_message_at:
            ago = (now - dt.datetime.fromisoformat(s.last_message_at)).total_seconds()
            last = f"{ago:,.1f} s ago"
        console.print(
            f"[bold]{escape(s.name)}[/bold] ({s.kind}) [{style}]{s.state}[/{style}] · "
            f"{s.rate_per_s:,.1f} msg/s · lag {s.lag_s:.2f} s · last message {last} · "
            f"{s.reconnects} reconnect(s) · {s.accepted:,} stored · "
            f"{s.quarantined:,} quarantined · {s.buffered:,} buffered"
        )
    console.print(
        f"lake: {health.lake.batches:,} batch(es), {health.lake.rows:,} reading(s), "
        f"last append {health.lake.last_append_at or '-'}"
    )
    for sink in health.sinks:
        err = f", last error: {escape(sink.last_error)}" if sink.last_error else ""
        console.print(
            f"sink {escape(sink.name)}: {sink.batches:,} batch(es), {sink.errors} error(s){err}"
        )


if __name__ == "__main__":  # pragma: no cover - `python -m factoryax.cli.run` before mounting
    app()
