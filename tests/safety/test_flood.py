"""Flood suppression, stale alarms and alarms per operator hour."""

from __future__ import annotations

import datetime as dt

import pytest

from factoryax.core import ConfigError
from factoryax.safety.alarms import Alarm, AlarmEvent, AlarmState
from factoryax.safety.flood import FloodGate, alarms_per_operator_hour, stale_alarms

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)


def _at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def _active(rule: str, s: float, severity: int = 1) -> AlarmEvent:
    return Alarm(rule, severity=severity, message=rule).set_condition(True, _at(s), why="x")[0]


def _flood() -> list[AlarmEvent]:
    """12 low activations 10 s apart, an urgent one and a high one inside the flood."""
    events = [_active(f"low-{i:02d}", 10 * i) for i in range(12)]
    events.insert(11, _active("gas-urgent", 105, severity=4))
    events.append(_active("oil-high", 125, severity=3))
    return events


def test_flood_passes_urgent_and_high_holds_low() -> None:
    """During a flood urgent and high activations pass while low ones are held back."""
    gate = FloodGate()
    out = [e.rule for ev in _flood() for e in gate.feed(ev)]
    assert gate.in_flood
    assert out == [f"low-{i:02d}" for i in range(10)] + ["gas-urgent", "oil-high"]
    assert "low-10" not in out and "low-11" not in out


def test_flood_end_releases_summary() -> None:
    """When the rate falls the flood ends and a summary of the held alarms is released."""
    gate = FloodGate()
    for ev in _flood():
        gate.feed(ev)
    assert gate.advance(_at(200)) is None
    summary = gate.advance(_at(1000))
    assert summary is not None and not gate.in_flood
    assert summary.start == _at(100)
    assert summary.end == _at(80 + 600)
    assert summary.activations == 4
    assert [e.rule for e in summary.passed] == ["gas-urgent", "oil-high"]
    assert summary.held_by_rule() == [("low-10", 1), ("low-11", 1)]
    assert summary.outstanding == ("low-10", "low-11")
    assert "2 held back" in summary.message
    assert gate.summaries_ == [summary]
    assert gate.feed(_active("late-low", 1100)) != []


def test_held_rule_follow_up_events_are_held_too() -> None:
    """An rtn of a held alarm during the flood is held; unacknowledged, it is outstanding."""
    gate = FloodGate(limit=2, window_s=60, clear_at=0)
    alarms = {r: Alarm(r, severity=1, message=r) for r in ("a", "b", "c")}
    events = [alarms[r].set_condition(True, _at(i), why="x")[0] for i, r in enumerate("abc")]
    events.append(alarms["c"].set_condition(False, _at(5), why="ok")[0])
    shown, floods = gate.run(events, until=_at(200))
    assert [e.rule for e in shown] == ["a", "b"]
    assert [e.kind for e in floods[0].held] == ["alarm.active", "alarm.rtn"]
    assert floods[0].outstanding == ("c",)


def test_gate_rejects_bad_config_and_out_of_order() -> None:
    """A nonsensical limit and events out of time order are refused."""
    with pytest.raises(ConfigError, match="limit"):
        FloodGate(limit=0)
    gate = FloodGate()
    gate.feed(_active("a", 10))
    with pytest.raises(ValueError, match="out of order"):
        gate.feed(_active("b", 5))


def test_stale_alarms_lists_long_standing_ones() -> None:
    """Alarms unacknowledged or acknowledged-but-active longer than 24 h are stale."""
    old = Alarm("old-unack", severity=2, message="m", asset="press-01")
    acked = Alarm("old-acked", severity=3, message="m")
    fresh = Alarm("fresh", severity=1, message="m")
    cleared = Alarm("cleared", severity=1, message="m")
    events = old.set_condition(True, _at(0), why="x")
    events += acked.set_condition(True, _at(60), why="x")
    events += acked.acknowledge(_at(120), who="kim")
    events += fresh.set_condition(True, _at(80000), why="x")
    events += cleared.set_condition(True, _at(0), why="x")
    events += cleared.acknowledge(_at(10), who="kim")
    events += cleared.set_condition(False, _at(20), why="ok")
    stale = stale_alarms(events, _at(86400 + 100))
    assert [(s.rule, s.state, s.since) for s in stale] == [
        ("old-unack", AlarmState.UNACK, _at(0)),
        ("old-acked", AlarmState.ACKED, _at(60)),
    ]
    assert stale[0].asset == "press-01" and stale[0].age_s == 86500
    assert stale_alarms(events, _at(86400 + 100), older_than_s=10**6) == []


def test_alarms_per_operator_hour_counts_acks() -> None:
    """Each operator's acknowledgements per hour; a named idle operator shows 0.0."""
    a, b = Alarm("a", severity=1, message="m"), Alarm("b", severity=1, message="m")
    events = a.set_condition(True, _at(0), why="x") + b.set_condition(True, _at(0), why="x")
    events += a.acknowledge(_at(600), who="kim") + b.acknowledge(_at(1200), who="lee")
    rates = alarms_per_operator_hour(events, ["park"], start=T0, end=_at(1800))
    assert rates == {"kim": 2.0, "lee": 2.0, "park": 0.0}
    assert alarms_per_operator_hour(events) == {"kim": 3.0, "lee": 3.0}
