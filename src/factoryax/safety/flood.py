"""Alarm flood suppression (ISA-18.2 §16.9, EEMUA 191), stale alarms, load per operator.

:class:`FloodGate` sits between the engine and the operator. It counts annunciations
(``alarm.active``) in a sliding window; more than ``limit`` in ``window_s`` (10 per
10 min) is a flood. During a flood an activation below ``pass_severity`` (default high)
is held back, together with the later events of the same rule, while high and urgent
activations always pass. When the rate falls to ``clear_at`` or fewer per window the
flood ends and a :class:`FloodSummary` of what was held is released, listing the held
alarms that still need the operator.

:func:`stale_alarms` lists alarms active or unacknowledged longer than a limit (24 h);
:func:`alarms_per_operator_hour` counts the alarms each operator acknowledged per hour.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from factoryax.core import ConfigError
from factoryax.safety.alarms import AlarmEvent, AlarmState

__all__ = [
    "FloodGate",
    "FloodSummary",
    "StaleAlarm",
    "alarms_per_operator_hour",
    "stale_alarms",
]

_NEEDS_OPERATOR = (AlarmState.UNACK, AlarmState.RTN_UNACK, AlarmState.LATCHED)
_STANDING = (AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK, AlarmState.LATCHED)


@dataclass(frozen=True)
class FloodSummary:
    """One flood: when, how many annunciations, what passed and what was held back.

    ``outstanding`` are the held rules whose last held event leaves the alarm needing
    the operator (unacknowledged or latched), in rule order.
    """

    start: dt.datetime
    end: dt.datetime
    activations: int
    passed: tuple[AlarmEvent, ...]
    held: tuple[AlarmEvent, ...]
    outstanding: tuple[str, ...]

    def held_by_rule(self) -> list[tuple[str, int]]:
        """Held activations per rule, most first (ties by rule id)."""
        counts = Counter(e.rule for e in self.held if e.kind == "alarm.active")
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def message(self) -> str:
        """One line for the operator."""
        held = sum(1 for e in self.held if e.kind == "alarm.active")
        return (
            f"alarm flood {self.start:%H:%M:%S}-{self.end:%H:%M:%S}: {self.activations} "
            f"alarms, {held} held back, {len(self.outstanding)} still need attention"
        )


class FloodGate:
    """Holds back low-priority annunciations during an alarm flood.

    Args:
        limit: more than this many activations in ``window_s`` is a flood (10).
        window_s: the sliding window (600 s).
        clear_at: the flood ends when the window holds this many or fewer
            (default ``limit // 2``: a hysteresis, so the gate does not chatter).
        pass_severity: activations of this severity or above always pass (3: high).

    Feed events in timestamp order with :meth:`feed`; :meth:`advance` moves the clock
    without an event (so a flood ends when the plant goes quiet). Finished floods are in
    ``summaries_``.

    Examples:
        >>> gate = FloodGate(limit=2, window_s=60)
        >>> gate.in_flood
        False
    """

    def __init__(
        self,
        *,
        limit: int = 10,
        window_s: float = 600.0,
        clear_at: int | None = None,
        pass_severity: int = 3,
    ) -> None:
        if limit < 1:
            raise ConfigError(f"flood limit: {limit!r}; give a positive count (10)")
        if window_s <= 0:
            raise ConfigError(f"flood window_s: {window_s!r}; give a positive time (600)")
        clear = limit // 2 if clear_at is None else clear_at
        if not 0 <= clear <= limit:
            raise ConfigError(f"flood clear_at: {clear!r}; give a count from 0 to {limit}")
        self.limit = limit
        self.window_s = window_s
        self.clear_at = clear
        self.pass_severity = pass_severity
        self.summaries_: list[FloodSummary] = []
        self._win: deque[dt.datetime] = deque()
        self._start: dt.datetime | None = None
        self._count = 0
        self._passed: list[AlarmEvent] = []
        self._held: list[AlarmEvent] = []
        self._held_rules: set[str] = set()
        self._now: dt.datetime | None = None

    @property
    def in_flood(self) -> bool:
        """Whether a flood is in progress."""
        return self._start is not None

    def advance(self, ts: dt.datetime) -> FloodSummary | None:
        """Moves the clock to ``ts``; returns the summary if the flood ended by then."""
        if self._now is not None and ts < self._now:
            raise ValueError(f"events out of order: {ts!r} before {self._now!r}")
        self._now = ts
        ended: dt.datetime | None = None
        while self._win and (ts - self._win[0]).total_seconds() > self.window_s:
            expired = self._win.popleft()
            if self._start is not None and ended is None and len(self._win) <= self.clear_at:
                ended = expired + dt.timedelta(seconds=self.window_s)
        if self._start is None or ended is None:
            return None
        return self._end(ended)

    def _end(self, ts: dt.datetime) -> FloodSummary:
        assert self._start is not None
        last: dict[str, AlarmEvent] = {}
        for e in self._held:
            last[e.rule] = e
        summary = FloodSummary(
            start=self._start,
            end=ts,
            activations=self._count,
            passed=tuple(self._passed),
            held=tuple(self._held),
            outstanding=tuple(sorted(r for r, e in last.items() if e.to_state in _NEEDS_OPERATOR)),
        )
        self.summaries_.append(summary)
        self._start = None
        self._count = 0
        self._passed, self._held = [], []
        self._held_rules = set()
        return summary

    def feed(self, event: AlarmEvent) -> list[AlarmEvent]:
        """Takes one event; returns the events to annunciate now (empty when held)."""
        self.advance(event.ts)
        if event.kind == "alarm.active":
            self._win.append(event.ts)
            if self._start is None and len(self._win) > self.limit:
                self._start = event.ts
            if self._start is not None:
                self._count += 1
        if self._start is None:
            return [event]
        low = event.kind == "alarm.active" and event.severity < self.pass_severity
        if low or event.rule in self._held_rules:
            self._held.append(event)
            self._held_rules.add(event.rule)
            return []
        self._passed.append(event)
        return [event]

    def run(
        self, events: Iterable[AlarmEvent], until: dt.datetime | None = None
    ) -> tuple[list[AlarmEvent], list[FloodSummary]]:
        """Feeds every event (then advances to ``until``); the annunciated and the floods."""
        out: list[AlarmEvent] = []
        for e in events:
            out += self.feed(e)
        if until is not None:
            self.advance(until)
        return out, list(self.summaries_)


@dataclass(frozen=True)
class StaleAlarm:
    """An alarm standing (active or unacknowledged) since ``since``."""

    rule: str
    asset: str | None
    severity: int
    state: AlarmState
    since: dt.datetime
    age_s: float


def stale_alarms(
    events: Iterable[AlarmEvent], now: dt.datetime, *, older_than_s: float = 86400.0
) -> list[StaleAlarm]:
    """Alarms whose episode began more than ``older_than_s`` before ``now`` and that are
    still unacknowledged, acknowledged but active, or latched; oldest first.

    An episode begins at an ``alarm.active`` from a state that was not standing and ends
    when the alarm returns to normal (or is shelved, suppressed or taken out of service).
    """
    state: dict[str, AlarmEvent] = {}
    since: dict[str, dt.datetime] = {}
    for e in sorted(events, key=lambda x: x.ts):
        if e.to_state in _STANDING:
            if e.rule not in since:
                since[e.rule] = e.ts
        else:
            since.pop(e.rule, None)
        state[e.rule] = e
    out = [
        StaleAlarm(
            rule,
            state[rule].asset,
            state[rule].severity,
            state[rule].to_state,
            start,
            (now - start).total_seconds(),
        )
        for rule, start in since.items()
        if (now - start).total_seconds() > older_than_s
    ]
    return sorted(out, key=lambda s: (s.since, s.rule))


def alarms_per_operator_hour(
    events: Iterable[AlarmEvent],
    operators: Iterable[str] = (),
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[str, float]:
    """Alarms each operator acknowledged per hour over [start, end).

    Operators are the ``who`` of ``alarm.ack`` events; names in ``operators`` appear
    even with no acknowledgement (0.0). ``start``/``end`` default to the first and last
    event's time (the last event then counts).
    """
    evs = sorted(events, key=lambda x: x.ts)
    if not evs and (start is None or end is None):
        return {o: 0.0 for o in operators}
    lo = start if start is not None else evs[0].ts
    hi = end if end is not None else evs[-1].ts
    hours = (hi - lo).total_seconds() / 3600.0
    if hours <= 0:
        raise ValueError(f"end {hi!r} must be after start {lo!r}")
    counts: Counter[str] = Counter({o: 0 for o in operators})
    for e in evs:
        if e.kind == "alarm.ack" and lo <= e.ts and (e.ts < hi or (end is None and e.ts == hi)):
            counts[e.who] += 1
    return {who: n / hours for who, n in sorted(counts.items())}
