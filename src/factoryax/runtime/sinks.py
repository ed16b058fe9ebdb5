"""Sinks: what runs on every durable micro-batch of readings (safety rules, detectors).

A sink takes the batch's readings (already in the lake) and returns rows for other lake
tables, ``{table name: rows}``; the runtime appends them through the normal ingest path
(validation, quarantine, idempotence). A sink that raises is counted in health and the
runtime carries on; the readings are already durable.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc

from factoryax.config import Workspace
from factoryax.core import ConfigError, FactoryAXError, PlantModel
from factoryax.lake import Lake
from factoryax.ledger import Ledger
from factoryax.safety import Reading, SafetyConfig, SafetyEngine, parse_safety, record_incidents
from factoryax.safety.persist import latest_alarms, operator_actions

__all__ = ["SINK_NAMES", "SafetySink", "Sink", "default_sinks"]

log = logging.getLogger(__name__)

SINK_NAMES = ("safety", "detect")
_ACTION_LATENESS = dt.timedelta(minutes=10)
"""Operator actions are re-read this far back, so one appended late is not missed."""


@runtime_checkable
class Sink(Protocol):
    """Consumes durable readings, returns rows to append: ``{lake table: rows}``."""

    name: str

    def process(self, readings: pa.Table) -> dict[str, pa.Table]:
        """Handles one batch of the lake's ``readings`` rows."""
        ...


class SafetySink:
    """The plant's ``[safety]`` rules over the live stream (one :class:`SafetyEngine`).

    Alarm transitions become ``events`` rows; with a ledger, activations and
    acknowledgements are also committed as incidents (as ``factoryax safety check
    --publish`` does). Readings are fed in timestamp order within each batch; the engine's
    clock never moves back, so a late reading is still evaluated but fires no watchdog.

    With a ``lake``, alarm state survives restarts and is shared with the alarm console:
    at start the engine takes each rule's state from the lake's latest transition
    (:func:`~factoryax.safety.persist.latest_alarms`), and every ``sync_every_s`` it
    replays the operator actions (acknowledge, reset, shelve, out of service) another
    process stored since, on its own current state
    (:meth:`~factoryax.safety.SafetyEngine.apply_action`). A sync that fails is logged and
    retried; the batch is evaluated regardless.

    Args:
        plant: the plant model.
        config: the validated rules (default: parsed from ``plant.safety``).
        ledger: where incidents are committed (optional).
        lake: where alarm state is read back from (optional).
        sync_every_s: how often operator actions are read back (wall-clock seconds).
    """

    name = "safety"

    def __init__(
        self,
        plant: PlantModel,
        *,
        config: SafetyConfig | None = None,
        ledger: Ledger | None = None,
        lake: Lake | None = None,
        sync_every_s: float = 2.0,
    ) -> None:
        self.engine = SafetyEngine(config or parse_safety(plant.safety, plant), plant)
        self.ledger = ledger
        self.lake = lake
        self.sync_every_s = sync_every_s
        self.restored_: list[str] = []
        self._synced_at = time.monotonic()
        self._seen: dict[str, dt.datetime] = {}  # operator actions already replayed
        self._since = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        if lake is not None:
            saved = latest_alarms(lake)
            self.restored_ = self.engine.restore(saved, condition=True)
            if saved:  # actions up to the fold are in it; later ones get replayed
                self._since = max(s.ts for s in saved.values()) - _ACTION_LATENESS
                for a in operator_actions(lake, self._since):
                    self._seen[a.event_id] = a.ts
            if self.restored_:
                log.info("safety: alarm state restored for %s", ", ".join(self.restored_))

    def _sync(self) -> None:
        """Replays operator actions stored since the last sync (by another process)."""
        if self.lake is None or time.monotonic() - self._synced_at < self.sync_every_s:
            return
        self._synced_at = time.monotonic()
        try:
            actions = operator_actions(self.lake, self._since)
        except Exception:  # never let the read-back stop the rules from evaluating
            log.exception("safety: operator actions could not be read; retrying next batch")
            return
        for action in actions:
            if action.event_id in self._seen:
                continue
            self._seen[action.event_id] = action.ts
            if self.engine.apply_action(action):
                log.info("safety: %s on %s by %s replayed", action.kind, action.rule, action.who)
        if actions:  # keep a window for late appends; forget what fell out of it
            self._since = max(self._since, actions[-1].ts - _ACTION_LATENESS)
            self._seen = {k: v for k, v in self._seen.items() if v >= self._since}

    def process(self, readings: pa.Table) -> dict[str, pa.Table]:
        """Feeds the batch to the engine; returns its alarm events as ``events`` rows."""
        if readings.num_rows == 0:
            return {}
        self._sync()
        wanted = set(self.engine.by_input_)
        order = pc.sort_indices(readings, [("ts", "ascending")])
        cols = readings.take(order).select(["ts", "asset", "signal", "value"]).to_pydict()
        events = []
        for ts, asset, signal, value in zip(
            cols["ts"], cols["asset"], cols["signal"], cols["value"], strict=True
        ):
            if (asset, signal) not in wanted:
                if self.engine.now_ is not None and ts.timestamp() > self.engine.now_:
                    events += self.engine.advance(ts)  # other signals still move the clock
                continue
            events += self.engine.process(
                Reading(ts, asset, signal, float("nan") if value is None else float(value))
            )
        if not events:
            return {}
        if self.ledger is not None:
            record_incidents(self.ledger, events)
        return {"events": pa.Table.from_pylist([e.to_row() for e in events])}


def default_sinks(
    workspace: Workspace, names: tuple[str, ...] | None, ledger: Ledger | None
) -> list[Sink]:
    """The configured sinks: ``names`` (``[sources] sinks``), or every one available.

    ``safety`` needs rules in ``[safety]``; ``detect`` needs the ``factoryax.detect``
    package and a production model in the workspace. Named explicitly, a sink that cannot
    start is an error; by default it is skipped with a log line.

    Raises:
        ConfigError: an unknown sink name, or a named sink that cannot start.
    """
    plant = workspace.plant
    explicit = names is not None
    out: list[Sink] = []
    for name in names if names is not None else SINK_NAMES:
        if name not in SINK_NAMES:
            raise ConfigError(f"sources.sinks: unknown sink {name!r}; use {', '.join(SINK_NAMES)}")
        if name == "safety":
            config = parse_safety(plant.safety, plant)
            if config.rules:
                out.append(SafetySink(plant, config=config, ledger=ledger, lake=workspace.lake))
            elif explicit:
                raise ConfigError(
                    "sources.sinks names 'safety' but [safety] has no rules; add "
                    "[safety.rules.<id>] tables or drop it from sinks"
                )
        else:
            scorer = _detect_sink(workspace)
            if scorer is not None:
                out.append(scorer)
            elif explicit:
                raise ConfigError(
                    "sources.sinks names 'detect' but no live scorer is available (the "
                    "factoryax.detect package or a production model is missing); train and "
                    "promote a model, or drop it from sinks"
                )
    return out


def _detect_sink(workspace: Workspace) -> Sink | None:
    try:
        from factoryax.detect import LiveScorer  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    try:
        scorer = LiveScorer(workspace)
    except (FactoryAXError, LookupError, FileNotFoundError) as exc:
        log.info("detect sink not started: %s", exc)
        return None
    if not getattr(scorer, "assets", True):
        log.info("detect sink not started: no asset has a production model")
        return None
    return _Named("detect", scorer)


class _Named:
    """Gives a processor without a ``name`` attribute (detect's scorer) its sink name."""

    def __init__(self, name: str, inner: object) -> None:
        self.name = name
        self.inner = inner

    def process(self, readings: pa.Table) -> dict[str, pa.Table]:
        result: dict[str, pa.Table] = self.inner.process(readings)  # type: ignore[attr-defined]
        return result
