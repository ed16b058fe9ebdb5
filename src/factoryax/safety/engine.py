"""The rules engine: readings in timestamp order in, alarm lifecycle events out.

Readings are the clock (no wall clock), so a run is deterministic. The engine fails
closed: an exception while evaluating a rule, a non-finite value, or an input that stops
arriving (the input watchdog, ``input_timeout_s``) makes the rule's alarm active with the
reason; a reading is never dropped (``readings_seen_`` counts every one).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from factoryax.core import PlantModel
from factoryax.safety.alarms import Alarm, AlarmEvent, AlarmState
from factoryax.safety.evaluators import Evaluator, make_evaluator
from factoryax.safety.expr import Expr, parse_expr
from factoryax.safety.persist import OperatorAction, SavedAlarm
from factoryax.safety.rules import SafetyConfig, StaleRule

__all__ = ["Reading", "SafetyEngine"]

Key = tuple[str, str]


class Reading(NamedTuple):
    """One sample: a timezone-aware UTC ``ts``, where it comes from and its value."""

    ts: dt.datetime
    asset: str
    signal: str
    value: float


@dataclass
class _RuleState:
    alarm: Alarm
    evaluator: Evaluator
    inputs: frozenset[Key]
    timeout_s: float
    suppress: Expr | None
    cond: bool = False
    error: str | None = None
    silent: set[Key] = field(default_factory=set)


class SafetyEngine:
    """Evaluates every configured rule over readings and drives each rule's alarm.

    Args:
        config: the validated ``[safety]`` table.
        plant: the plant model, to put ``line`` on events (optional).

    Examples:
        >>> import datetime as dt
        >>> from factoryax.safety.rules import parse_safety
        >>> cfg = parse_safety({"rules": {"hot": {"type": "threshold",
        ...     "signal": "press-01.oil_temp", "above": 90}}})
        >>> eng = SafetyEngine(cfg)
        >>> t = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        >>> [e.kind for e in eng.process(Reading(t, "press-01", "oil_temp", 95.0))]
        ['alarm.active']
    """

    def __init__(self, config: SafetyConfig, plant: PlantModel | None = None) -> None:
        self.config = config
        self.plant = plant
        self.rules_: dict[str, _RuleState] = {}
        self.by_input_: dict[Key, list[_RuleState]] = {}
        self.values_: dict[Key, float] = {}
        self.last_seen_: dict[Key, float] = {}
        self.readings_seen_ = 0
        self.now_: float | None = None
        self._heap: list[tuple[float, str, Key]] = []
        for rule in config.rules:
            inputs = rule.inputs()
            asset = sorted(inputs)[0][0] if inputs else None
            line = None
            if plant is not None and asset is not None:
                found = [ln.id for ln, a in plant.iter_assets() if a.id == asset]
                line = found[0] if found else None
            timeout = rule.timeout_s if isinstance(rule, StaleRule) else config.timeout_for(rule)
            state = _RuleState(
                alarm=Alarm(
                    rule.id, rule.severity, rule.message or rule.id, rule.latch, line, asset
                ),
                evaluator=make_evaluator(rule),
                inputs=inputs,
                timeout_s=timeout,
                suppress=parse_expr(rule.suppress_when) if rule.suppress_when else None,
            )
            self.rules_[rule.id] = state
            watched = inputs | (state.suppress.signals if state.suppress else frozenset())
            for key in watched:
                self.by_input_.setdefault(key, []).append(state)

    @property
    def alarms(self) -> dict[str, Alarm]:
        """Each rule's alarm, by rule id."""
        return {rid: s.alarm for rid, s in self.rules_.items()}

    def process(self, reading: Reading) -> list[AlarmEvent]:
        """Feeds one reading; returns the lifecycle events it caused, in order."""
        ts, asset, signal, value = reading
        t = ts.timestamp()
        events = self.advance(ts)
        self.readings_seen_ += 1
        key = (asset, signal)
        self.values_[key] = value
        self.last_seen_[key] = t
        for st in self.by_input_.get(key, ()):
            if st.suppress is not None and key in st.suppress.signals:
                try:
                    on = st.suppress.evaluate(self.values_)
                except Exception:  # fail closed: never suppress on a broken condition
                    on = False
                events += st.alarm.set_suppressed(on, ts, why=f"suppress_when: {st.suppress.text}")
            if key not in st.inputs:
                continue
            st.silent.discard(key)
            try:
                st.cond = st.evaluator.update(t, key, value, self.values_)
                st.error = None
            except Exception as exc:  # fail closed: any failure raises the alarm
                st.error = f"evaluation failed: {type(exc).__name__}: {exc}"
            events += self._apply(st, ts, f"{asset}.{signal}={value!r}")
            if st.timeout_s > 0:
                heapq.heappush(self._heap, (t + st.timeout_s, st.alarm.rule, key))
        return events

    def process_many(self, readings: Iterable[Reading]) -> list[AlarmEvent]:
        """Feeds readings in order; returns every event."""
        events: list[AlarmEvent] = []
        for reading in readings:
            events += self.process(reading)
        return events

    def advance(self, ts: dt.datetime) -> list[AlarmEvent]:
        """Moves the clock to ``ts``: input watchdogs and shelf expiry fire."""
        t = ts.timestamp()
        events: list[AlarmEvent] = []
        if self.now_ is None:  # arm the watchdogs of every input at the first instant
            for st in self.rules_.values():
                if st.timeout_s > 0:
                    for key in st.inputs:
                        self._heap.append((t + st.timeout_s, st.alarm.rule, key))
            heapq.heapify(self._heap)
        elif t < self.now_:
            return events  # a late reading never moves the clock back
        self.now_ = t
        while self._heap and self._heap[0][0] <= t:
            deadline, rid, key = heapq.heappop(self._heap)
            st = self.rules_[rid]
            last = self.last_seen_.get(key)
            if last is not None and last + st.timeout_s > deadline:
                continue  # a newer reading re-armed this watchdog
            if key not in st.silent:
                st.silent.add(key)
                at = dt.datetime.fromtimestamp(deadline, dt.UTC)
                events += self._apply(st, at, f"no reading from {key[0]}.{key[1]}")
        for st in self.rules_.values():
            if st.alarm.shelved_until is not None:
                events += st.alarm.advance(ts)
        return events

    def _apply(self, st: _RuleState, ts: dt.datetime, why: str) -> list[AlarmEvent]:
        if st.error is not None:
            why = st.error
        elif st.silent:
            names = ", ".join(sorted(f"{a}.{s}" for a, s in st.silent))
            why = f"input silent for {st.timeout_s:g} s: {names}"
        active = st.cond or st.error is not None or bool(st.silent)
        return st.alarm.set_condition(active, ts, why=why)

    # -- operator actions, so the engine stays the one owner of alarm state --------------
    def acknowledge(
        self, rule: str, ts: dt.datetime, *, who: str, why: str = ""
    ) -> list[AlarmEvent]:
        """Acknowledges ``rule``'s alarm."""
        return self.rules_[rule].alarm.acknowledge(ts, who=who, why=why)

    def shelve(
        self, rule: str, ts: dt.datetime, until: dt.datetime, *, who: str, why: str
    ) -> list[AlarmEvent]:
        """Shelves ``rule``'s alarm until ``until`` (at most ``[safety] max_shelve_s``)."""
        alarm = self.rules_[rule].alarm
        return alarm.shelve(ts, until, who=who, why=why, max_s=self.config.max_shelve_s)

    # -- persistence: the lake remembers, the engine carries on -------------------------
    def apply_action(self, action: OperatorAction) -> bool:
        """Replays an operator action another process already stored (the alarm console
        of ``factoryax serve``) on this engine's *current* state; the transition it
        produces here is not emitted again (the console wrote its row). Returns whether
        the rule is known. Replaying, rather than copying the state the console saw, keeps
        an engine transition that crossed the action (a return to normal just before an
        acknowledgement) and masks layered under each other."""
        st = self.rules_.get(action.rule)
        if st is None:
            return False
        alarm, ts, who, why = st.alarm, action.ts, action.who, action.why
        if action.kind == "alarm.ack":
            alarm.acknowledge(ts, who=who, why=why)
        elif action.kind == "alarm.reset":
            alarm.reset(ts, who=who, why=why)
        elif action.kind == "alarm.shelve":
            until = action.shelved_until or ts + dt.timedelta(seconds=self.config.max_shelve_s)
            if until > ts:
                alarm.shelve(ts, until, who=who, why=why or "shelved", max_s=float("inf"))
        elif action.kind == "alarm.unshelve":
            alarm.unshelve(ts, who=who, why=why)
        elif action.kind in ("alarm.out_of_service", "alarm.in_service"):
            on = action.kind == "alarm.out_of_service"
            alarm.set_out_of_service(on, ts, who=who, why=why)
        return True

    def restore(self, saved: Mapping[str, SavedAlarm], *, condition: bool) -> list[str]:
        """Takes each rule's alarm state from the lake's latest transition (at start).

        After a restart the stored condition is the best knowledge until the next reading
        settles it (``condition=True``), so a still-active alarm does not annunciate
        twice. Emits no events: this is bookkeeping, not a transition. Rules the lake does
        not know, and stored rules the configuration no longer has, are left alone. Only
        the top mask survives a restart (a shelf under an out-of-service is not stored).

        Returns:
            The rules whose state changed.
        """
        changed = []
        for rid, st in self.rules_.items():
            s = saved.get(rid)
            if s is None:
                continue
            alarm = st.alarm
            until = s.shelved_until
            if s.state is AlarmState.SHELVED and until is None:  # shelved without expiry
                until = s.ts + dt.timedelta(seconds=self.config.max_shelve_s)
            before = (alarm.state, alarm.shelved_until, alarm.condition)
            alarm.state = s.state
            alarm.shelved_until = until
            alarm.out_of_service = s.state is AlarmState.OUT_OF_SERVICE
            alarm.suppressed = s.state is AlarmState.SUPPRESSED
            alarm.seq_ = max(alarm.seq_, s.seq)
            if condition:
                alarm.condition = st.cond = s.condition
                st.evaluator.assume(s.condition)
            if (alarm.state, alarm.shelved_until, alarm.condition) != before:
                changed.append(rid)
        return changed
