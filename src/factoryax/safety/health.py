"""Alarm health (ISA-18.2 §16, EEMUA 191): floods, chattering, bad actors, rate per hour.

Each function reads the lifecycle events of a run and counts annunciations
(``alarm.active``) only, so acknowledgements and shelving never inflate the figures.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from factoryax.safety.alarms import AlarmEvent

__all__ = ["Flood", "alarms_per_hour", "bad_actors", "chattering", "floods"]


@dataclass(frozen=True)
class Flood:
    """A period where more than ``limit`` alarms fell in a sliding window."""

    start: dt.datetime
    end: dt.datetime
    count: int


def _active(events: Sequence[AlarmEvent]) -> list[AlarmEvent]:
    return sorted((e for e in events if e.kind == "alarm.active"), key=lambda e: e.ts)


def floods(
    events: Sequence[AlarmEvent], *, limit: int = 10, window_s: float = 600.0
) -> list[Flood]:
    """Periods with more than ``limit`` annunciations in any ``window_s`` (10 per 10 min).

    Examples:
        >>> floods([])
        []
    """
    out: list[Flood] = []
    win: deque[AlarmEvent] = deque()
    current: list[AlarmEvent] = []
    for e in _active(events):
        win.append(e)
        while (e.ts - win[0].ts).total_seconds() > window_s:
            win.popleft()
        if len(win) > limit:
            if current and (win[0].ts - current[-1].ts).total_seconds() <= window_s:
                current.extend(x for x in win if x.ts > current[-1].ts or x is e)
            else:
                if current:
                    out.append(Flood(current[0].ts, current[-1].ts, len(current)))
                current = list(win)
    if current:
        out.append(Flood(current[0].ts, current[-1].ts, len(current)))
    return out


def chattering(
    events: Sequence[AlarmEvent], *, count: int = 3, window_s: float = 60.0
) -> list[str]:
    """Rules that annunciate ``count`` or more times within ``window_s`` (3 in 1 min)."""
    by_rule: dict[str, list[dt.datetime]] = defaultdict(list)
    for e in _active(events):
        by_rule[e.rule].append(e.ts)
    out = []
    for rule, times in sorted(by_rule.items()):
        for i in range(len(times) - count + 1):
            if (times[i + count - 1] - times[i]).total_seconds() <= window_s:
                out.append(rule)
                break
    return out


def bad_actors(events: Sequence[AlarmEvent], *, n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` rules with the most annunciations, most first (ties by rule id)."""
    counts = Counter(e.rule for e in _active(events))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def alarms_per_hour(events: Sequence[AlarmEvent], start: dt.datetime, end: dt.datetime) -> float:
    """Annunciations per hour over [start, end) (EEMUA 191 target: ≤ 6 per operator)."""
    hours = (end - start).total_seconds() / 3600.0
    if hours <= 0:
        raise ValueError(f"end {end!r} must be after start {start!r}")
    return sum(1 for e in _active(events) if start <= e.ts < end) / hours
