"""The [twin] table: defaults, overrides and errors that name the key, value and fix."""

from __future__ import annotations

import datetime as dt

import pytest

from factoryax.core import ConfigError, PlantModel, parse_plant
from factoryax.twin import TwinConfig, simulate

from .conftest import MONDAY, with_twin


def test_example_twin_section_validates_with_kind_defaults(plant: PlantModel) -> None:
    """The template's [twin] table validates; unlisted keys keep their kind's defaults."""
    config = TwinConfig.from_plant(plant)
    assert config.station("press-01").changeover_min == 15.0
    assert config.station("wash-01").changeover_min == 0.0
    assert config.station("cnc-01").tool_life_parts == 700
    assert config.safety.estop.severity == 4  # a partial kind table keeps the kind's defaults
    assert config.quality.nominal_mm == 42.0


def test_empty_twin_table_simulates(plant: PlantModel) -> None:
    """A plant without any [twin] table still simulates with defaults."""
    run = simulate(with_twin(plant, {}), start=MONDAY, horizon=dt.timedelta(hours=10), sample_s=120)
    assert run.production.num_rows > 0 and run.seed == 42


@pytest.mark.parametrize(
    ("twin", "expected"),
    [
        ({"stations": {"cnc-99": {}}}, ["twin.stations.cnc-99", "'cnc-99'", "cnc-01"]),
        (
            {"stations": {"cnc-01": {"mtbf_h": -1}}},
            ["twin.stations.cnc-01.mtbf_h", "got -1", "[twin.stations.cnc-01]"],
        ),
        ({"lot_sise": 10}, ["twin.lot_sise", "unknown key", "got 10"]),
        ({"reasons": {"breakdown": "BROKEN"}}, ["twin.reasons.breakdown", "'BROKEN'", "BREAKDOWN"]),
        (
            {"signals": {"cnc-01.nope": {"noise": 1}}},
            ["twin.signals", "'cnc-01.nope'", "asset.signal"],
        ),
        ({"safety": {"estop": {"duration_s": [5, 1]}}}, ["twin.safety.estop", "duration_s"]),
    ],
)
def test_config_errors_name_key_value_and_fix(
    plant: PlantModel, twin: dict[str, object], expected: list[str]
) -> None:
    """A bad [twin] setting raises ConfigError naming the key, the value and what to use."""
    with pytest.raises(ConfigError) as caught:
        TwinConfig.from_plant(with_twin(plant, twin))
    for text in expected:
        assert text in str(caught.value)


def test_horizon_must_be_positive_and_unambiguous(plant: PlantModel) -> None:
    """A zero horizon, or both days and horizon, is refused with the values shown."""
    with pytest.raises(ConfigError, match="> 0"):
        simulate(plant, start=MONDAY, days=0)
    with pytest.raises(ConfigError, match="not both"):
        simulate(plant, start=MONDAY, days=1, horizon=dt.timedelta(hours=1))


def test_naive_start_is_plant_time(plant: PlantModel) -> None:
    """A naive start is read in the plant's zone and stored as UTC."""
    naive = dt.datetime(2026, 11, 23, 8, 0)  # noqa: DTZ001 - the behaviour under test
    run = simulate(plant, start=naive, horizon=dt.timedelta(hours=1), sample_s=60)
    assert run.start == dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)


def test_minimal_plant_runs_around_the_clock() -> None:
    """Without calendar, kinds or reason codes, every line runs 24/7 at declared sample rates."""
    tiny = parse_plant(
        {
            "site": {"id": "tiny", "timezone": "UTC"},
            "lines": [
                {"id": "a", "assets": [{"id": "m1", "signals": [{"id": "temp_c"}]}, {"id": "m2"}]},
                {"id": "b", "assets": [{"id": "solo", "signals": [{"id": "x", "sample_s": 0.5}]}]},
            ],
            "twin": {
                "sensor_faults": {"spike_per_day": 0, "stuck_per_day": 0, "dropout_per_day": 0}
            },
        }
    )
    run = simulate(tiny, start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), days=0.25, seed=1)
    assert "planned_stop" not in run.states.column("state").to_pylist()
    signals = run.readings.column("signal").to_pylist()
    assert signals.count("x") == 0.25 * 86400 / 0.5
    assert signals.count("temp_c") == 0.25 * 86400
    assert set(run.production.column("line").to_pylist()) == {"a", "b"}
