"""``factoryax safety …``: check the lake's readings against the plant's ``[safety]`` rules.

Mount in ``cli/__init__.py``::

    from factoryax.cli.safety import app as safety_app
    app.add_typer(safety_app, name="safety")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factoryax.analytics import Period
from factoryax.cli.analytics import PeriodOpt
from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.config import Workspace
from factoryax.core import FactoryAXError, utc_now
from factoryax.ingest.rows import ingest_rows
from factoryax.ledger import LEDGER_DIR, Ledger
from factoryax.safety import (
    AlarmEvent,
    Reading,
    SafetyConfig,
    SafetyEngine,
    alarms_per_hour,
    bad_actors,
    chattering,
    floods,
    parse_safety,
    record_incidents,
)
from factoryax.safety.rules import (
    ExpressionRule,
    RateRule,
    StaleRule,
    ThresholdRule,
    TwaRule,
)

__all__ = ["app", "check", "rules"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="Shop-floor safety: check readings against the plant's [safety] rules and run "
    "each rule's alarm through the ISA-18.2 lifecycle (see docs/safety.md).",
    no_args_is_help=True,
)

CHUNK = dt.timedelta(hours=1)
"""How much of the period is read from the lake at a time (bounded memory)."""

EXAMPLE_TOML = """\
[safety]
input_timeout_s = 300        # fail closed: an input silent this long raises the alarm (0: off)

[safety.rules.press-oil-hot]
type = "threshold"           # threshold | rate | stale | expression | twa
signal = "press-01.oil_temp"
above = 90                   # and/or `below`
deadband = 5                 # clears below 85
priority = "high"            # low | medium | high | urgent
"""


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _config(ws: Workspace) -> SafetyConfig:
    """The plant's validated ``[safety]`` rules, or exit 2 saying how to add them."""
    try:
        config = parse_safety(ws.plant.safety, ws.plant)
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    if not config.rules:
        err_console.print(
            f"[red]error:[/red] no safety rules in {escape(str(ws.plant_path))}; add a "
            "[safety] table with [safety.rules.<id>] entries (see docs/safety.md), e.g.:"
        )
        err_console.print(escape(EXAMPLE_TOML), highlight=False, markup=False)
        raise typer.Exit(2)
    return config


def _inputs(engine: SafetyEngine) -> list[tuple[str, str]]:
    """Every (asset, signal) the engine listens to (rule inputs and suppress_when)."""
    return sorted(engine.by_input_)


def stream_readings(
    ws: Workspace,
    keys: Sequence[tuple[str, str]],
    start: dt.datetime,
    end: dt.datetime,
    *,
    chunk: dt.timedelta = CHUNK,
) -> Iterator[Reading]:
    """The lake's readings of ``keys`` in [start, end), in time order, ``chunk`` at a time."""
    if not keys:
        return
    pairs = " OR ".join("(asset = ? AND signal = ?)" for _ in keys)
    flat: list[object] = [part for key in keys for part in key]
    sql = (
        "SELECT ts, asset, signal, value FROM readings "
        "WHERE date >= ? AND date <= ? AND ts >= ? AND ts < ? "
        f"AND ({pairs}) ORDER BY ts, asset, signal"
    )
    lo = start
    while lo < end:
        hi = min(lo + chunk, end)
        a, b = lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)
        table: pa.Table = ws.lake.query(sql, [a.date(), b.date(), a, b, *flat])
        cols = table.to_pydict()
        for ts, asset, signal, value in zip(
            cols["ts"], cols["asset"], cols["signal"], cols["value"], strict=True
        ):
            yield Reading(ts, asset, signal, float("nan") if value is None else float(value))
        lo = hi


def run_check(
    ws: Workspace, config: SafetyConfig, start: dt.datetime, end: dt.datetime
) -> tuple[SafetyEngine, list[AlarmEvent]]:
    """Feeds the period's readings to a fresh engine; returns it and every event.

    After the last reading the clock moves to the end of the period (or now, if sooner),
    so an input that went silent before the end still fails closed.
    """
    engine = SafetyEngine(config, ws.plant)
    events: list[AlarmEvent] = []
    for reading in stream_readings(ws, _inputs(engine), start, end):
        events += engine.process(reading)
    if engine.now_ is not None:
        stop = min(end, utc_now())
        if stop.timestamp() > engine.now_:
            events += engine.advance(stop)
    return engine, events


@app.command()
def check(
    period: PeriodOpt,
    workspace: WorkspaceOpt = None,
    publish: Annotated[
        bool,
        typer.Option(
            "--publish", help="Write the alarm events to the lake's events table (idempotent)."
        ),
    ] = False,
    max_rows: Annotated[int, typer.Option(help="Alarm transitions shown in the table.")] = 50,
) -> None:
    """Check the period's readings against the [safety] rules: alarms and alarm health.

    Example: factoryax safety check --period 2026-11-23 --publish
    """
    ws = open_workspace(workspace)
    config = _config(ws)
    plant = ws.plant
    zone = plant.site.timezone
    try:
        start, end = Period.parse(period).span(plant.calendar, zone)
        engine, events = run_check(ws, config, start, end)
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"{len(config.rules)} rule(s), {engine.readings_seen_:,} reading(s) "
        f"from {_local(start, zone)} to {_local(end, zone)} ({zone.key})"
    )
    _print_events(events, zone, max_rows)
    _print_health(events, start, end)
    if publish:
        _publish(ws, events, label=Period.parse(period).label)


def _publish(ws: Workspace, events: Sequence[AlarmEvent], *, label: str) -> None:
    """Stores new alarm events in the lake and, when the workspace has a ledger, commits
    the new activations and acknowledgements as tamper-evident records (idempotent)."""
    rows = [e.to_row() for e in events]
    if not rows:
        console.print("published 0 event(s): nothing to write")
        return
    ids = [str(r["event_id"]) for r in rows]
    stored = set(
        ws.lake.query("SELECT event_id FROM events WHERE event_id IN (SELECT unnest(?))", [ids])
        .column("event_id")
        .to_pylist()
    )
    report = ingest_rows(
        "events",
        pa.Table.from_pylist(rows),
        plant=ws.plant,
        lake=ws.lake,
        source=f"safety check {label}",
    )
    console.print(
        f"[green]published[/green] {report.readings_accepted:,} event(s) "
        f"({report.duplicates_skipped:,} already stored, {report.quarantined:,} quarantined)"
    )
    if not (ws.root / LEDGER_DIR / "ledger.sqlite").is_file():
        console.print(
            "no ledger in this workspace (factoryax ledger keygen): incidents not recorded"
        )
        return
    new = [e for e in events if e.event_id not in stored]
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        receipts = record_incidents(ledger, new)
    console.print(f"recorded {len(receipts):,} incident/acknowledgement record(s) in the ledger")


def _local(value: dt.datetime, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _print_events(events: Sequence[AlarmEvent], zone: dt.tzinfo, max_rows: int) -> None:
    if not events:
        console.print("[green]no alarm transitions[/green]")
        return
    table = Table(title=f"{len(events):,} alarm transition(s)", title_justify="left")
    table.add_column("time", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("sev", justify="right", no_wrap=True)
    table.add_column("why", overflow="fold")
    for e in events[:max_rows]:
        table.add_row(
            e.ts.astimezone(zone).strftime("%m-%d %H:%M:%S"),
            escape(e.rule),
            e.kind,
            str(e.severity),
            escape(e.why + (f" ({e.who})" if e.who and e.who != "engine" else ""))
            + f"\n[dim]→ {e.to_state.value}[/dim]",
            style="red" if e.kind == "alarm.active" else None,
        )
    console.print(table)
    if len(events) > max_rows:
        console.print(f"(first {max_rows} shown; use --max-rows)")


def _print_health(events: Sequence[AlarmEvent], start: dt.datetime, end: dt.datetime) -> None:
    annunciations = sum(1 for e in events if e.kind == "alarm.active")
    rate = alarms_per_hour(events, start, end)
    table = Table(title="alarm health (ISA-18.2 / EEMUA 191)", title_justify="left")
    table.add_column("measure")
    table.add_column("value")
    table.add_row("annunciations", f"{annunciations:,}")
    table.add_row(
        "alarms per hour", f"{rate:.2f}" + (" [yellow](> 6)[/yellow]" if rate > 6 else "")
    )
    found = floods(events)
    table.add_row(
        "floods (>10 per 10 min)",
        "none"
        if not found
        else "; ".join(f"{f.start:%H:%M}–{f.end:%H:%M} UTC: {f.count}" for f in found),
    )
    chat = chattering(events)
    table.add_row("chattering (3 in 1 min)", escape(", ".join(chat)) if chat else "none")
    actors = bad_actors(events)
    table.add_row(
        "top bad actors",
        escape(", ".join(f"{rule} ({n})" for rule, n in actors)) if actors else "none",
    )
    console.print(table)


def _condition(rule: object) -> str:
    if isinstance(rule, ThresholdRule):
        parts = []
        if rule.above is not None:
            parts.append(f"> {rule.above:g}")
        if rule.below is not None:
            parts.append(f"< {rule.below:g}")
        text = f"{rule.signal} {' or '.join(parts)}"
        if rule.deadband:
            text += f" (deadband {rule.deadband:g})"
        return text
    if isinstance(rule, RateRule):
        return f"{rule.signal} {rule.direction} faster than {rule.max_rate_per_s:g}/s"
    if isinstance(rule, StaleRule):
        text = f"{rule.signal} silent {rule.timeout_s:g} s"
        return text + (f" or frozen {rule.frozen_s:g} s" if rule.frozen_s else "")
    if isinstance(rule, ExpressionRule):
        return rule.expr
    if isinstance(rule, TwaRule):
        return f"{rule.signal} {rule.window_s:g} s average > {rule.limit:g}"
    return "?"  # pragma: no cover - every rule type is handled above


@app.command()
def rules(workspace: WorkspaceOpt = None) -> None:
    """List the configured [safety] rules: type, priority, condition and options."""
    ws = open_workspace(workspace)
    config = _config(ws)
    table = Table(
        title=f"{len(config.rules)} safety rule(s) — input timeout "
        f"{config.input_timeout_s:g} s, max shelve {config.max_shelve_s:g} s",
        title_justify="left",
    )
    for col in ("rule", "type", "priority", "condition", "options"):
        table.add_column(col)
    for rule in config.rules:
        opts = []
        if rule.latch:
            opts.append("latch")
        if rule.suppress_when:
            opts.append(f"suppressed when {rule.suppress_when}")
        if rule.input_timeout_s is not None:
            opts.append(f"input timeout {rule.input_timeout_s:g} s")
        for name in ("on_delay_s", "off_delay_s"):
            value = getattr(rule, name, 0.0)
            if value:
                opts.append(f"{name.removesuffix('_s').replace('_', ' ')} {value:g} s")
        table.add_row(
            escape(rule.id),
            rule.type,
            rule.priority,
            escape(_condition(rule)),
            escape(", ".join(opts)) or "-",
        )
    console.print(table)
