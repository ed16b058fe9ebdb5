"""The engine over a twin run: readings plus device events against the injected truth."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources

from factoryax.core import parse_plant
from factoryax.safety.devices import score_twin, twin_rules
from factoryax.twin import example_plant, simulate

START = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
LIMITS = {
    "cnc-01.coolant_temp": 40.0,
    "cnc-01.bearing_temp": 65.0,
    "wash-01.water_temp": 72.0,
    "press-01.oil_temp": 62.0,
}
EXPECTED_RULE = {
    "estop": "{asset}-estop",
    "guard_open": "{asset}-guard-open",
    "person_in_zone": "{asset}-person-in-zone",
    "gas_high": "{asset}-gas",
}


def test_every_observable_event_detected_by_its_rule() -> None:
    """Each injected event is detected by the rule for its kind; no false alarms."""
    plant = example_plant()
    result = simulate(plant, start=START, days=3, seed=1, sample_s=10)
    score = score_twin(result, twin_rules(plant, LIMITS), plant)
    assert len(score.detections) == result.truth.safety.num_rows > 0
    kinds = {d.kind for d in score.detections}
    assert {"over_temp", "guard_open", "person_in_zone", "estop"} <= kinds
    for d in score.detections:
        assert d.outcome == "detected", d
        assert d.latency_s is not None and d.latency_s >= 0
        if d.kind == "over_temp":
            assert d.rule == f"{d.asset}-{d.signal}-hot"
            assert d.latency_s < 600
        else:
            assert d.rule == EXPECTED_RULE[d.kind].format(asset=d.asset)
            assert d.latency_s == 0.0
    assert score.false_alarms_per_shift == 0.0
    assert score.shifts == 9


def test_unobservable_event_is_undetectable_not_passed() -> None:
    """gas_high at a washer with no gas sensor and no device event is reported undetectable."""
    raw = tomllib.loads(
        resources.files("factoryax").joinpath("templates/plant.toml").read_text("utf-8")
    )
    raw["twin"]["safety"]["gas_high"] = {"per_day": 6.0, "emit_event": False}
    plant = parse_plant(raw)
    result = simulate(plant, start=START, days=1, seed=3, sample_s=30)
    score = score_twin(result, twin_rules(plant), plant)
    gas = [d for d in score.detections if d.kind == "gas_high"]
    assert gas
    assert all(d.outcome == "undetectable" and d.rule is None for d in gas)
    assert all(d.signal is None and d.latency_s is None for d in gas)


def test_observable_event_without_rule_is_no_rule() -> None:
    """An over-temperature with no threshold rule on its signal is `no_rule`, not detected."""
    plant = example_plant()
    result = simulate(plant, start=START, days=3, seed=1, sample_s=30)
    score = score_twin(result, twin_rules(plant), plant)
    hot = [d for d in score.detections if d.kind == "over_temp"]
    assert hot and all(d.outcome == "no_rule" for d in hot)
