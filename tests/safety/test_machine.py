"""Hypothesis state-machine test of the alarm lifecycle, and the twin detection run."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from factoryax.safety import (
    Alarm,
    AlarmState,
    SafetyEngine,
    parse_safety,
    readings_of,
    score_incidents,
)

T0 = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["on", "off", "ack", "shelve", "unshelve", "tick", "sup", "unsup", "reset"]
        ),
        st.integers(1, 900),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_lifecycle_invariants(ops: list[tuple[str, int]]) -> None:
    """Random ops never leave an unmasked active alarm normal, and shelves expire."""
    a, t = Alarm("r", 3, "m", latch=True), T0
    for op, n in ops:
        t += dt.timedelta(seconds=n)
        a.advance(t)
        if op in ("on", "off"):
            a.set_condition(op == "on", t)
        elif op == "ack":
            a.acknowledge(t, who="op")
        elif op == "reset":
            a.reset(t, who="op")
        elif op == "shelve":
            a.shelve(t, t + dt.timedelta(seconds=n), who="op", why="test", max_s=3600)
        elif op == "unshelve":
            a.unshelve(t, who="op")
        else:
            a.set_suppressed(op == "sup", t, why="test")
        assert a.shelved_until is None or a.shelved_until > t
        masked = a.suppressed or a.shelved_until is not None
        if a.condition and not masked:
            assert a.state in (AlarmState.UNACK, AlarmState.ACKED)


def test_twin_over_temp_detected() -> None:
    """Signal-borne twin safety events raise the rule's alarm; others say no_signal."""
    from factoryax.twin import example_plant, simulate

    plant = example_plant()
    rules = {
        "press-oil-hot": {
            "type": "threshold",
            "signal": "press-01.oil_temp",
            "above": 65,
            "on_delay_s": 30,
        },
        "cnc-bearing-hot": {
            "type": "threshold",
            "signal": "cnc-01.bearing_temp",
            "above": 70,
            "on_delay_s": 30,
        },
    }
    cfg = parse_safety({"input_timeout_s": 0, "rules": rules}, plant)
    run = simulate(plant, start=dt.date(2026, 11, 23), days=10, seed=7, sample_s=10)
    eng = SafetyEngine(cfg, plant)
    events = eng.process_many(
        readings_of(run.readings, {("press-01", "oil_temp"), ("cnc-01", "bearing_temp")})
    )
    det = score_incidents(run.truth.safety, events, eng)
    hot = [d for d in det if d.kind == "over_temp"]
    assert hot and all(d.outcome == "detected" for d in hot)
    assert all(d.outcome == "no_signal" for d in det if d.kind in ("estop", "guard_open"))
