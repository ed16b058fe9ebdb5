"""Scores the engine against a twin run's ground truth (``result.truth.safety``).

The twin shows ``over_temp`` and ``gas_high`` as excursions on a signal (truth column
``signal``); ``estop``, ``guard_open`` and ``person_in_zone`` only as device events, with
no signal to detect them from, so they are reported as ``no_signal``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from factoryax.safety.alarms import AlarmEvent
from factoryax.safety.engine import Reading, SafetyEngine

__all__ = ["Detection", "readings_of", "score_incidents"]


@dataclass(frozen=True)
class Detection:
    """How one injected safety event fared: ``detected``, ``missed`` or ``no_signal``."""

    kind: str
    asset: str
    signal: str | None
    start: dt.datetime
    outcome: str
    rule: str | None
    latency_s: float | None


def readings_of(table: Any, keep: set[tuple[str, str]] | None = None) -> Iterator[Reading]:
    """Readings of a twin/lake ``readings`` Arrow table in timestamp order.

    Args:
        table: a ``pyarrow.Table`` with ts, asset, signal, value.
        keep: only these (asset, signal) pairs, when given.
    """
    cols = table.select(["ts", "asset", "signal", "value"]).to_pydict()
    rows = zip(cols["ts"], cols["asset"], cols["signal"], cols["value"], strict=True)
    picked = [r for r in rows if keep is None or (r[1], r[2]) in keep]
    picked.sort(key=lambda r: r[0])
    for ts, asset, signal, value in picked:
        yield Reading(ts, asset, signal, float("nan") if value is None else float(value))


def score_incidents(
    truth: Any, events: Sequence[AlarmEvent], engine: SafetyEngine, *, grace_s: float = 60.0
) -> list[Detection]:
    """Matches each truth incident to the first alarm on its signal within its span.

    An incident counts as detected when a rule reading the incident's ``asset.signal``
    annunciates between its start and ``grace_s`` after its end.
    """
    readers: dict[tuple[str, str], set[str]] = {}
    for rid, st in engine.rules_.items():
        for key in st.inputs:
            readers.setdefault(key, set()).add(rid)
    active = [e for e in events if e.kind == "alarm.active"]
    out = []
    for row in truth.to_pylist():
        signal = row["signal"]
        if not signal:
            out.append(
                Detection(row["kind"], row["asset"], None, row["ts"], "no_signal", None, None)
            )
            continue
        rules = readers.get((row["asset"], signal), set())
        until = row["end_at"] + dt.timedelta(seconds=grace_s)
        hits = [e for e in active if e.rule in rules and row["ts"] <= e.ts <= until]
        first = min(hits, key=lambda e: e.ts) if hits else None
        out.append(
            Detection(
                row["kind"],
                row["asset"],
                signal,
                row["ts"],
                "detected" if first else "missed",
                first.rule if first else None,
                (first.ts - row["ts"]).total_seconds() if first else None,
            )
        )
    return out
