"""``factoryax demo``: the main job — a simulated week of the example line, end to end.

Order: create the workspace; simulate the week *up to now* plus a few live hours in one
deterministic run; ingest the past through the normal validation path; run the safety
rules over it (alarm events to the lake, incidents and acks to the ledger); issue
certificates for the latest finished lots; then serve the dashboard while a feeder
releases the run's future rows into the lake as the wall clock reaches them, so the
screens move. Everything is in-process: no broker, no network beyond loopback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import heapq
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from factoryax.api import ApiContext, Role, create_app, store_alarm_events
from factoryax.cli.main import example_plant_toml, open_workspace, status
from factoryax.config import PLANT_FILE, Workspace
from factoryax.core import utc_now
from factoryax.detect import DemoReport, LiveScorer, fit_and_validate_demo, list_models
from factoryax.ingest import ingest_rows
from factoryax.ledger import Ledger
from factoryax.safety import (
    AlarmEvent,
    Reading,
    SafetyEngine,
    event_readings,
    parse_safety,
    readings_of,
    twin_rules,
)
from factoryax.share import issue_certificate
from factoryax.twin import TwinResult, simulate, write_to_lake

__all__ = ["LiveFeed", "demo", "demo_rules"]

console = Console()

TEMP_LIMITS = {
    "cnc-01.coolant_temp": 40.0,
    "cnc-01.bearing_temp": 65.0,
    "wash-01.water_temp": 72.0,
    "press-01.oil_temp": 62.0,
}
"""Over-temperature limits of the demo's safety rules (°C), above the twin's normal range."""

_TIME = {"readings": "ts", "production": "ts", "states": "start", "events": "ts"}


def demo_rules(ws: Workspace) -> SafetyEngine:
    """A safety engine with the twin's device rules and the over-temperature limits."""
    rules = twin_rules(ws.plant, {k: v for k, v in TEMP_LIMITS.items() if _declared(ws, k)})
    return SafetyEngine(parse_safety(rules), ws.plant)


def _declared(ws: Workspace, ref: str) -> bool:
    asset, _, signal = ref.partition(".")
    return any(
        a.id == asset and any(s.id == signal for s in a.signals) for _, a in ws.plant.iter_assets()
    )


def _between(table: pa.Table, column: str, lo: dt.datetime | None, hi: dt.datetime) -> pa.Table:
    col = table.column(column)
    mask = pc.less(col, pa.scalar(hi, col.type))
    if lo is not None:
        mask = pc.and_(mask, pc.greater_equal(col, pa.scalar(lo, col.type)))
    return table.filter(mask)


def _future_of(run: TwinResult, at: dt.datetime) -> TwinResult:
    """The run with only the lake rows from ``at`` on (truth and the rest kept)."""
    return dataclasses.replace(
        run,
        **{name: _between(t, _TIME[name], at, run.end) for name, t in run.lake_tables().items()},
    )


def _engine_inputs(engine: SafetyEngine) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for key in engine.by_input_:
        keys.add(key)
    return keys


def _device_readings(run: TwinResult, engine: SafetyEngine) -> list[Reading]:
    inputs = _engine_inputs(engine)
    device = [r for r in event_readings(run.events) if (r.asset, r.signal) in inputs]
    device_signals = {r.signal for r in device} | {
        "estop",
        "gas_high",
        "guard_open",
        "person_in_zone",
    }
    base = sorted({k for k in inputs if k[1] in device_signals})
    return [Reading(run.start, a, s, 0.0) for a, s in base] + device


def _feed(
    engine: SafetyEngine,
    device: Iterable[Reading],
    readings: pa.Table,
    until: dt.datetime | None = None,
) -> list[AlarmEvent]:
    """Runs the engine over the device events and the readings (before ``until``)."""
    stream = heapq.merge(
        sorted(device, key=lambda r: r.ts),
        _engine_readings(readings, _engine_inputs(engine), until),
        key=lambda r: r.ts,
    )
    return engine.process_many(stream)


_FEED_ROWS = 100_000
"""Readings turned into Python objects at a time on their way to the safety engine."""


def _engine_readings(
    readings: pa.Table, inputs: set[tuple[str, str]], until: dt.datetime | None
) -> Iterator[Reading]:
    """The readings of the engine's inputs in time order (ties in table order).

    The same stream as ``readings_of(readings, keep=inputs)``, but the choice and the
    (stable) sort are done in Arrow and only ``_FEED_ROWS`` rows at a time become Python
    objects: converting a whole week first cost about 260 bytes per reading (2.8 GiB
    of the 7-day demo's peak), for the few signals a rule reads.
    """
    # ``is_in`` works on the dictionary-encoded columns as they are; ``equal`` would
    # first decode a week of asset names (0.28 GB for 14 M rows).
    per_asset = [
        pc.and_(
            pc.is_in(readings.column("asset"), value_set=pa.array([asset], pa.string())),
            pc.is_in(
                readings.column("signal"),
                value_set=pa.array(sorted(s for a, s in inputs if a == asset), pa.string()),
            ),
        )
        for asset in sorted({a for a, _ in inputs})
    ]
    if not per_asset:
        return
    mask = functools.reduce(pc.or_, per_asset)
    if until is not None:
        ts = readings.column("ts")
        mask = pc.and_(mask, pc.less(ts, pa.scalar(until, ts.type)))
    picked = readings.select(["ts", "asset", "signal", "value"]).filter(mask)
    order = pc.sort_indices(picked, sort_keys=[("ts", "ascending")])
    for start in range(0, len(order), _FEED_ROWS):
        yield from readings_of(picked.take(order.slice(start, _FEED_ROWS)))


class LiveFeed:
    """Releases a run's rows into the lake as the wall clock reaches their instants.

    Every ``period_s`` the rows in [cursor, now) go through ingest, the safety engine
    sees the new readings and device events, and its alarm transitions are stored like
    the console's (events table + ledger). The lake is compacted every ``compact_s``.
    """

    def __init__(
        self,
        ctx: ApiContext,
        run: TwinResult,
        engine: SafetyEngine,
        device: Sequence[Reading],
        cursor: dt.datetime,
        *,
        period_s: float = 2.0,
        compact_s: float = 600.0,
    ) -> None:
        self.ctx, self.run, self.engine = ctx, run, engine
        self.scorer = LiveScorer(ctx.ws)
        self.device = sorted((r for r in device if r.ts >= cursor), key=lambda r: r.ts)
        self.cursor = cursor
        self.period_s, self.compact_s = period_s, compact_s
        self.released = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="factoryax-live", daemon=True)

    def start(self) -> None:
        """Starts the feeder thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stops the feeder and waits for it."""
        self._stop.set()
        self._thread.join(timeout=10)

    def step(self, now: dt.datetime) -> int:
        """Releases the rows in [cursor, now); returns how many readings landed."""
        now = min(now, self.run.end)
        if now <= self.cursor:
            return 0
        ws, landed = self.ctx.ws, 0
        batch: dict[str, pa.Table] = {}
        for name, table in self.run.lake_tables().items():
            part = _between(table, _TIME[name], self.cursor, now)
            if part.num_rows:
                batch[name] = part
        with self.ctx.write_lock:
            for name, part in batch.items():
                report = ingest_rows(name, part, plant=ws.plant, lake=ws.lake, source="demo live")
                if name == "readings":
                    landed = report.readings_accepted
            device = [r for r in self.device if self.cursor <= r.ts < now]
            events = _feed(
                self.engine, device, batch.get("readings", self.run.readings.slice(0, 0))
            )
            events += self.engine.advance(now)
            if "readings" in batch and self.scorer.assets:
                # Scores and alarms of the promoted models; derived rows (the
                # ``anomaly_score`` signal is not a declared one) go straight to the lake.
                for name, rows in self.scorer.process(batch["readings"]).items():
                    if rows.num_rows:
                        ws.lake.append(name, rows)
        store_alarm_events(self.ctx, events)
        self.cursor = now
        self.released += landed
        return landed

    def _loop(self) -> None:
        last_compact = utc_now()
        while not self._stop.wait(self.period_s):
            try:
                self.step(utc_now())
                if (utc_now() - last_compact).total_seconds() >= self.compact_s:
                    with self.ctx.write_lock:
                        for name in ("readings", "events", "states", "production"):
                            self.ctx.ws.lake.compact(name)
                    last_compact = utc_now()
            except Exception as exc:  # keep serving; the error shows in the console
                # Any failure (lake, DuckDB, disk) is reported and retried next period: a
                # silently dead feeder would leave the dashboard showing stale values.
                self.errors.append(f"{type(exc).__name__}: {exc}")
                console.print(f"[yellow]live feed: {type(exc).__name__}: {exc}[/yellow]")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    )


def demo(
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help="Folder for the demo workspace.")
    ] = Path("demo-workspace"),
    days: Annotated[float, typer.Option(help="Simulated days before today.", min=0.01)] = 7.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same week.")] = 42,
    sample_s: Annotated[
        float | None, typer.Option(help="Signal sampling period in seconds (default: 1 s).")
    ] = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the data is in (for scripts).")
    ] = False,
    host: Annotated[str, typer.Option(help="Dashboard address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Dashboard port.", min=1, max=65535)] = 8000,
    live_hours: Annotated[
        float, typer.Option(help="Hours the twin runs on after today.", min=0.1)
    ] = 12.0,
) -> None:
    """Simulate a week of the example 5-station line, put it through FactoryAX, serve it.

    Creates the workspace (example plant.toml) if needed; simulates the days up to now
    with faults, defects and safety events; ingests them into the lake; runs the safety
    rules (alarms to the lake, incidents to the ledger); issues certificates for the
    latest lots; then serves the dashboard on http://HOST:PORT with a printed login token
    while the twin keeps running live. Works offline; no external server is needed.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    if not (workspace / PLANT_FILE).exists():
        (workspace / PLANT_FILE).write_text(example_plant_toml(), encoding="utf-8")
        console.print(f"[green]created[/green] {workspace / PLANT_FILE}")
    ws = open_workspace(workspace)
    zone = ws.plant.site.timezone
    # The run is anchored at today's local midnight, so a rerun the same day simulates
    # the same rows (and adds nothing); the live feeder catches up from there.
    now = dt.datetime.combine(utc_now().astimezone(zone).date(), dt.time(), zone)
    now = now.astimezone(dt.UTC)
    start = now - dt.timedelta(days=days)
    engine = demo_rules(ws)
    with _progress() as progress:
        sim = progress.add_task(f"simulating {days:g} day(s) + today + {live_hours:g} h", total=1)
        run = simulate(
            ws.plant,
            start=start,
            horizon=dt.timedelta(days=days + 1, hours=live_hours),
            seed=seed,
            sample_s=sample_s,
        )
        progress.update(sim, completed=1)
        ing = progress.add_task("ingesting the past into the lake", total=1)
        written = write_to_lake(run, ws.plant, ws.lake, until=now)
        progress.update(ing, completed=1)
        saf = progress.add_task("safety rules → alarms, ledger", total=2)
        with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
            if not ledger.keys.verifiers():
                ledger.keys.generate(ledger.origin)
        device = _device_readings(run, engine)
        events = _feed(engine, [r for r in device if r.ts < now], run.readings, until=now)
        events += engine.advance(now)
        # From here on only the run's future is needed (by the live feeder, when the
        # dashboard is served): the past is in the lake, and a week of 1 Hz readings held
        # through model training would only add to the peak memory.
        future = None if no_serve else _future_of(run, now)
        del run
        progress.update(saf, completed=1)
        ctx = ApiContext(ws)
        store_alarm_events(ctx, events)
        progress.update(saf, completed=2)
        det = progress.add_task("anomaly models: train, backtest, gate, promote", total=1)
        # A rerun keeps the models already deployed (and so adds nothing, like the data).
        deployed = [m for m in list_models(ws) if m.stage == "production"]
        found = None if deployed else fit_and_validate_demo(ws)
        progress.update(det, completed=1)
        lots = _latest_lots(ws, 2)
        cert = progress.add_task("certificates of the latest lots", total=max(1, len(lots)))
        with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
            for lot in lots:
                if not ledger.find("quality_certificate", lot=lot):
                    issue_certificate(
                        ledger, ws.lake, ws.plant, lot, out_dir=ws.root / "certificates"
                    )
                progress.advance(cert)
            ledger.checkpoint()
        progress.update(cert, completed=max(1, len(lots)))
    _summary(written.rows_written, written.duplicates_skipped, written.quarantined)
    status(workspace=workspace)
    alarms = sum(1 for e in events if e.kind == "alarm.active")
    console.print(
        f"{alarms} alarm(s) raised; certificates issued for {', '.join(lots) or 'no lot'}"
    )
    if found is not None:
        _detection_summary(found)
    else:
        names = ", ".join(f"{m.name} v{m.version}" for m in deployed)
        console.print(f"anomaly models already in production (kept): {names}")
    if written.truth_files:
        truth = os.path.commonpath([str(p) for p in written.truth_files.values()])
        console.print(f"ground truth for scoring detectors (kept out of the lake): {truth}")
    ctx.close()
    if future is None:  # --no-serve
        console.print(f'explore: factoryax query "SELECT …" --workspace {workspace}')
        return
    _serve(ws, future, engine, device, now, host, port)


def _serve(
    ws: Workspace,
    run: TwinResult,
    engine: SafetyEngine,
    device: list[Reading],
    now: dt.datetime,
    host: str,
    port: int,
) -> None:
    import uvicorn

    app = create_app(ws)
    ctx: ApiContext = app.state.ctx
    ctx.engine = engine
    token = ctx.tokens.issue("demo admin", Role.ADMIN)
    feed = LiveFeed(ctx, run, engine, device, now)
    feed.start()
    console.print(f"\n[bold]FactoryAX dashboard:[/bold] http://{host}:{port}/")
    console.print("log in with this admin token (more: factoryax token issue NAME --role …):")
    print(token, flush=True)
    console.print(f"the twin keeps running live until {run.end:%Y-%m-%d %H:%M} UTC; Ctrl-C stops")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        feed.stop()
        ctx.close()


def _detection_summary(found: DemoReport) -> None:
    """What the anomaly models were checked against and whether each was promoted."""
    table = Table(title="anomaly models (backtest on the twin's truth)", title_justify="left")
    for col in ("asset", "model", "promoted", "why"):
        table.add_column(col)
    for asset, info in sorted(found.assets.items()):
        reasons = info.get("reasons") or []
        table.add_row(
            asset,
            f"{info.get('model', '')} v{info.get('version', '')}",
            "yes" if info.get("promoted") else "no",
            "; ".join(str(r) for r in reasons),
        )
    console.print(table)
    rate = "n/a" if found.detection_rate is None else f"{found.detection_rate:.0%}"
    lead = "n/a" if found.mean_lead_time_s is None else f"{found.mean_lead_time_s / 3600:.1f} h"
    fa = "n/a" if found.false_alarms_per_shift is None else f"{found.false_alarms_per_shift:.2f}"
    console.print(
        f"faults caught {found.faults_detected}/{found.faults_total} ({rate}); wear failures "
        f"warned {found.failures_warned}/{found.failures_total}, mean lead {lead}; "
        f"false alarms per shift {fa}"
    )


def _latest_lots(ws: Workspace, n: int) -> list[str]:
    rows = ws.lake.query(
        "SELECT lot, max(ts) AS last FROM production WHERE lot IS NOT NULL GROUP BY lot "
        "ORDER BY last DESC LIMIT ?",
        [n + 1],
    ).to_pylist()
    return [str(r["lot"]) for r in rows[1:]]  # the newest lot is still in production


def _summary(rows: dict[str, int], dups: dict[str, int], quarantined: dict[str, int]) -> None:
    table = Table(title="twin → lake", title_justify="left")
    for col in ("table", "rows written", "duplicates", "quarantined"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, n in rows.items():
        table.add_row(name, f"{n:,}", f"{dups.get(name, 0):,}", f"{quarantined.get(name, 0):,}")
    console.print(table)
