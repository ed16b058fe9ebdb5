"""Tests of factoryax.safety: rules, fail-closed, lifecycle, health, twin."""

from __future__ import annotations

import datetime as dt

import pytest

from factoryax.core import ConfigError
from factoryax.safety import (
    AlarmState,
    ExpressionError,
    Reading,
    SafetyEngine,
    bad_actors,
    chattering,
    floods,
    parse_expr,
    parse_safety,
)

T0 = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def engine(**rule: object) -> SafetyEngine:
    return SafetyEngine(parse_safety({"input_timeout_s": 0, "rules": {"r": dict(rule)}}))


def kinds(eng: SafetyEngine, series: list[tuple[float, float]], sig: str = "a.x") -> list[str]:
    asset, signal = sig.split(".")
    return [e.kind for t, v in series for e in eng.process(Reading(at(t), asset, signal, v))]


def test_threshold_deadband() -> None:
    """A threshold trips above the limit and clears only past the deadband."""
    eng = engine(type="threshold", signal="a.x", above=10, deadband=2)
    assert kinds(eng, [(0, 9), (1, 11), (2, 9), (3, 7)]) == ["alarm.active", "alarm.rtn"]


def test_threshold_on_off_delay() -> None:
    """On/off delays ignore short blips and hold the alarm through short dips."""
    eng = engine(type="threshold", signal="a.x", above=10, on_delay_s=5, off_delay_s=5)
    series = [(0, 11), (2, 9), (3, 11), (6, 11), (8, 11), (9, 9), (11, 11), (12, 9), (17, 9)]
    ev = [(t, k) for t, v in series for k in kinds(eng, [(t, v)])]
    assert ev == [(8, "alarm.active"), (17, "alarm.rtn")]


def test_rate_rule() -> None:
    """A rate rule is active while the signal moves faster than allowed."""
    eng = engine(type="rate", signal="a.x", max_rate_per_s=1, direction="rising")
    assert kinds(eng, [(0, 0), (1, 5), (2, 5.5), (3, 0)]) == ["alarm.active", "alarm.rtn"]


def test_stale_rule_timeout_and_frozen() -> None:
    """A stale rule fires when readings stop, and when the value freezes."""
    eng = engine(type="stale", signal="a.x", timeout_s=10, frozen_s=20)
    assert kinds(eng, [(0, 1), (5, 2)]) == []
    assert [e.kind for e in eng.advance(at(16))] == ["alarm.active"]
    assert kinds(eng, [(17, 3)]) == ["alarm.rtn"]
    assert kinds(eng, [(20, 3), (27, 3), (37, 3)]) == ["alarm.active"]


def test_expression_rule_across_assets() -> None:
    """An expression combines signals of two assets."""
    eng = engine(type="expression", expr="door.open and cnc.speed > 100")
    got = kinds(eng, [(0, 1)], "door.open") + kinds(eng, [(1, 500), (2, 0)], "cnc.speed")
    assert got == ["alarm.active", "alarm.rtn"]


def test_twa_rule() -> None:
    """A TWA rule averages over the whole window with sample-and-hold."""
    eng = engine(type="twa", signal="a.x", window_s=100, limit=50)
    # 60 s at 100 → 60 averaged over 100 s: above 50
    assert kinds(eng, [(0, 100), (40, 100), (60, 0), (70, 0)]) == ["alarm.active"]
    assert kinds(eng, [(170, 0)]) == ["alarm.rtn"]


def test_fail_closed_on_nan_and_silence() -> None:
    """A NaN value or a silent input raises the alarm; every reading is counted."""
    eng = SafetyEngine(
        parse_safety(
            {
                "input_timeout_s": 30,
                "rules": {"r": {"type": "threshold", "signal": "a.x", "above": 9}},
            }
        )
    )
    assert kinds(eng, [(0, 1), (1, float("nan"))]) == ["alarm.active"]
    assert eng.rules_["r"].error is not None and eng.readings_seen_ == 2
    assert kinds(eng, [(2, 1)]) == ["alarm.rtn"]
    assert kinds(eng, [(40, 0)], "b.y") == ["alarm.active"]


@pytest.mark.parametrize("text", ["a.b >", "__import__('os')", "a.b + 1", "(a.b", "", "x > 1"])
def test_parser_rejects_malformed(text: str) -> None:
    """The parser rejects unsafe or malformed text with an ExpressionError."""
    with pytest.raises(ExpressionError, match="expression"):
        parse_expr(text)


def test_config_errors_name_key() -> None:
    """Config errors name the key path and the value."""
    with pytest.raises(ConfigError, match=r"safety\.rules\.hot\.deadband: got -1"):
        parse_safety(
            {"rules": {"hot": {"type": "threshold", "signal": "a.b", "above": 1, "deadband": -1}}}
        )


def test_lifecycle_ack_rtn_latch_shelve() -> None:
    """Ack, return to normal, latch/reset and shelve expiry follow ISA-18.2."""
    eng = engine(type="threshold", signal="a.x", above=10, latch=True)
    alarm = eng.alarms["r"]
    kinds(eng, [(0, 11)])
    assert alarm.state is AlarmState.UNACK
    eng.acknowledge("r", at(1), who="kim")
    assert alarm.state is AlarmState.ACKED
    kinds(eng, [(2, 0)])
    assert alarm.state is AlarmState.LATCHED
    alarm.reset(at(3), who="kim")
    assert alarm.state is AlarmState.NORMAL
    kinds(eng, [(4, 11)])
    eng.shelve("r", at(5), at(65), who="lee", why="sensor check")
    assert alarm.state is AlarmState.SHELVED
    assert [e.kind for e in eng.advance(at(65))] == ["alarm.unshelve", "alarm.active"]


def test_suppressed_by_design() -> None:
    """suppress_when hides the alarm while it holds and re-annunciates after."""
    eng = engine(type="threshold", signal="a.x", above=10, suppress_when="a.maint > 0")
    kinds(eng, [(0, 1)], "a.maint")
    assert (
        kinds(eng, [(1, 11)]) == ["alarm.suppress"]
        or eng.alarms["r"].state is AlarmState.SUPPRESSED
    )
    assert kinds(eng, [(2, 0)], "a.maint") == ["alarm.unsuppress", "alarm.active"]


def test_health() -> None:
    """Floods, chattering and bad actors are counted from annunciations."""
    eng = engine(type="threshold", signal="a.x", above=10)
    ev = [
        e
        for i in range(24)
        for e in eng.process(Reading(at(i * 5), "a", "x", 11 if i % 2 == 0 else 0))
    ]
    assert len(floods(ev)) == 1 and chattering(ev) == ["r"] and bad_actors(ev) == [("r", 12)]
