"""The maintenance, staffing and cycle-time knobs as optimisation parameters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from factoryax.core import ConfigError, PlantModel
from factoryax.optimize import (
    FloatParam,
    IntParam,
    ObjectiveSpec,
    SearchSpace,
    Study,
    StudyConfig,
    TwinEconomics,
    TwinTarget,
    apply_overrides,
)
from factoryax.optimize.space import Point
from factoryax.twin import TwinConfig, example_plant

MONDAY_8 = dt.datetime(2026, 11, 23, 8)  # noqa: DTZ001  # plant-local time, as the twin reads it
ECONOMICS = TwinEconomics(
    margin_per_part=20.0, breakdown_cost=200.0, pm_cost=20.0, technician_cost_per_h=4.0
)
"""A part earns 20; a breakdown costs 200 in spares, a PM 20 in parts, a technician 4/h."""


@pytest.fixture(scope="module")
def plant() -> PlantModel:
    """The example plant."""
    return example_plant()


@pytest.fixture(scope="module")
def worn_plant(plant: PlantModel) -> PlantModel:
    """The example plant with a press that wears out (MTBF 12 h, Weibull shape 3)."""
    press = {"mtbf_h": 12.0, "weibull_shape": 3.0, "mttr_min": 90.0, "pm_min": 20.0}
    return plant.model_copy(update={"twin": {**plant.twin, "stations": {"press-01": press}}})


def test_new_knob_paths_reach_the_twin_config(plant: PlantModel) -> None:
    """staffing.<shift>/default and stations.<a>.pm_* land in [twin]; cycle pins rated."""
    mapping = {
        "pm": "stations.press-01.pm_interval_h",
        "day": "staffing.day",
        "rest": "staffing.default",
        "cyc": "assets.cnc-01.ideal_cycle_time_s",
    }
    changed = apply_overrides(plant, mapping, {"pm": 9.5, "day": 3, "rest": 1, "cyc": 12.0})
    config = TwinConfig.from_plant(changed)
    assert config.station("press-01").pm_interval_h == 9.5
    assert config.staffing.technicians == {"day": 3} and config.staffing.default == 1
    assert config.staffing.for_shift("night") == 1
    assert config.station("cnc-01").rated_cycle_time_s == 14.0
    assert changed.asset("cnc-01").ideal_cycle_time_s == 12.0
    with pytest.raises(ConfigError, match=r"twin\.staffing\.technicians\.swing"):
        TwinTarget(plant, {"x": "staffing.swing"}, start=MONDAY_8).check({"x": 2})
    with pytest.raises(ConfigError, match=r"staffing\.<shift>"):
        apply_overrides(plant, {"x": "staffing.day.count"}, {"x": 2})


def test_shorter_pm_interval_fewer_breakdowns_more_planned_stop(worn_plant: PlantModel) -> None:
    """PM every 4 h vs never: fewer breakdowns and breakdown hours, more PM hours."""
    target = TwinTarget(
        worn_plant, {"pm": "stations.press-01.pm_interval_h"}, start=MONDAY_8, horizon_h=72
    )
    often = target.evaluate({"pm": 4.0})
    never = target.evaluate({"pm": 10_000.0})
    assert often["breakdowns"] < never["breakdowns"]
    assert often["breakdown_h"] < never["breakdown_h"]
    assert often["pm_h"] > never["pm_h"] == 0.0
    assert often["pm_stops"] > 0


def test_fewer_technicians_longer_waits_lower_availability(worn_plant: PlantModel) -> None:
    """One technician on every shift vs three: longer waits, lower availability."""
    target = TwinTarget(worn_plant, {"n": "staffing.default"}, start=MONDAY_8, horizon_h=72)
    one = target.evaluate({"n": 1})
    three = target.evaluate({"n": 3})
    assert one["tech_wait_h"] > three["tech_wait_h"]
    assert one["availability"] < three["availability"]
    assert (one["technicians"], three["technicians"]) == (1.0, 3.0)


def test_faster_cycle_more_output_more_defects(plant: PlantModel) -> None:
    """CNC at 12 s instead of its rated 14 s: more good parts per hour, higher defect rate."""
    target = TwinTarget(
        plant, {"c": "assets.cnc-01.ideal_cycle_time_s"}, start=MONDAY_8, horizon_h=24
    )
    fast = target.evaluate({"c": 12.0})
    rated = target.evaluate({"c": 14.0})
    slow = target.evaluate({"c": 16.0})
    assert fast["good_per_h"] > rated["good_per_h"] > slow["good_per_h"]
    assert fast["defect_rate"] > rated["defect_rate"] > slow["defect_rate"]
    assert fast["rework_parts"] > rated["rework_parts"]


@pytest.mark.slow
def test_study_over_pm_interval_and_staffing_finds_a_sensible_optimum(
    worn_plant: PlantModel, tmp_path: Path
) -> None:
    """PM neither constantly nor never, and no more technicians than needed."""
    space = SearchSpace(
        parameters=(
            FloatParam(name="pm_interval_h", low=1.0, high=40.0, unit="h"),
            IntParam(name="technicians", low=1, high=4),
        )
    )
    config = StudyConfig(
        name="maintenance",
        seed=5,
        trials=10,
        batch=2,
        initial=4,
        space=space,
        objectives=(ObjectiveSpec(metric="profit_per_h", direction="maximize"),),
    )
    target = TwinTarget(
        worn_plant,
        {"pm_interval_h": "stations.press-01.pm_interval_h", "technicians": "staffing.default"},
        start=MONDAY_8,
        horizon_h=72,
        economics=ECONOMICS,
    )
    result = Study(config, tmp_path / "studies.db").run(target)
    best = result.best
    assert best is not None
    # the extremes, evaluated on the same seeds, are both worse than what the study found
    constant = target.evaluate({"pm_interval_h": 1.0, "technicians": 4})
    never = target.evaluate({"pm_interval_h": 40.0, "technicians": 4})
    assert best.metrics["profit_per_h"] > max(constant["profit_per_h"], never["profit_per_h"])
    assert 2.0 < float(best.params["pm_interval_h"]) < 20.0
    assert int(best.params["technicians"]) < 4


def test_example_maintenance_study_maps_valid_knobs(plant: PlantModel) -> None:
    """examples/optimize/maintenance-staffing.toml builds a target whose corners are valid."""
    import tomllib

    from factoryax.optimize.spec import parse_study

    path = Path(__file__).resolve().parents[2] / "examples/optimize/maintenance-staffing.toml"
    spec = parse_study(tomllib.loads(path.read_text("utf-8")), plant=lambda: plant)
    target = spec.target
    assert isinstance(target, TwinTarget)
    assert target.economics.technician_cost_per_h == 4.0
    corners: tuple[tuple[float, int, int], ...] = ((1.0, 1, 1), (40.0, 4, 4))
    for corner in corners:
        point: Point = dict(zip(spec.config.space.names, corner, strict=True))
        target.check(point)
        staffing = TwinConfig.from_plant(apply_overrides(plant, target.mapping, point)).staffing
        assert staffing.technicians == {"day": corner[1], "night": corner[2]}
