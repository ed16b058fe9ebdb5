"""The twin as a target: knobs set by overrides, KPIs that respond to them, a stored study."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from factoryax.core import ConfigError, PlantModel
from factoryax.optimize import (
    TWIN_METRICS,
    ConstraintSpec,
    IntParam,
    ObjectiveSpec,
    SearchSpace,
    Study,
    StudyConfig,
    TwinTarget,
    apply_overrides,
)
from factoryax.twin import TwinConfig, example_plant

MONDAY_8 = dt.datetime(2026, 11, 23, 8)  # noqa: DTZ001  # plant-local time, as the twin reads it


@pytest.fixture(scope="module")
def plant() -> PlantModel:
    """The built-in example plant."""
    return example_plant()


def test_overrides_reach_the_twin_config_and_the_plant(plant: PlantModel) -> None:
    """Station keys land in [twin.stations], cycle times on the asset; the original is untouched."""
    mapping = {
        "b": "stations.cnc-01.buffer",
        "t": "assets.cnc-01.ideal_cycle_time_s",
        "lot": "lot_size",
    }
    changed = apply_overrides(plant, mapping, {"b": 7, "t": 11.5, "lot": 120})
    config = TwinConfig.from_plant(changed)
    assert config.station("cnc-01").buffer == 7 and config.lot_size == 120
    assert changed.asset("cnc-01").ideal_cycle_time_s == 11.5
    assert plant.asset("cnc-01").ideal_cycle_time_s == 14.0
    assert plant.twin["lot_size"] == 400
    assert plant.twin["stations"]["cnc-01"].get("buffer") != 7


def test_bad_knob_paths_and_values_are_explained(plant: PlantModel) -> None:
    """Unknown paths or assets name the accepted forms; out-of-range values the twin's key."""
    with pytest.raises(ConfigError, match=r"stations\.<asset>\.<key>"):
        apply_overrides(plant, {"x": "speed"}, {"x": 1})
    with pytest.raises(ConfigError, match="names no asset"):
        apply_overrides(plant, {"x": "stations.cnc-99.buffer"}, {"x": 3})
    target = TwinTarget(plant, {"x": "stations.cnc-01.buffer"}, start=MONDAY_8, horizon_h=2)
    with pytest.raises(ConfigError, match=r"twin.stations.cnc-01.buffer"):
        target.check({"x": 0})


def test_buffers_raise_throughput_and_tool_life_trades_changes_for_defects(
    plant: PlantModel,
) -> None:
    """Same seeds: bigger buffers, more parts; longer tool life, fewer changes, more defects."""
    target = TwinTarget(
        plant,
        {
            "b1": "stations.cnc-01.buffer",
            "b2": "stations.wash-01.buffer",
            "life": "stations.cnc-01.tool_life_parts",
        },
        start=MONDAY_8,
        horizon_h=12,
    )
    tight = target.evaluate({"b1": 1, "b2": 1, "life": 700})
    loose = target.evaluate({"b1": 60, "b2": 60, "life": 700})
    assert set(TWIN_METRICS) <= set(tight)
    assert loose["good_parts"] > tight["good_parts"]
    assert loose["buffer_total"] - tight["buffer_total"] == 118
    short = target.evaluate({"b1": 20, "b2": 20, "life": 300})
    long = target.evaluate({"b1": 20, "b2": 20, "life": 1200})
    assert short["tool_changes"] > long["tool_changes"]
    assert short["defect_rate"] < long["defect_rate"]


@pytest.mark.slow
def test_twin_study_in_parallel_is_stored_and_respects_the_defect_limit(
    plant: PlantModel, tmp_path: Path
) -> None:
    """A batch-of-2 study over buffer and tool life (2 worker processes) keeps defects <= 5 %."""
    space = SearchSpace(
        parameters=(
            IntParam(name="cnc_buffer", low=1, high=40, unit="parts"),
            IntParam(name="tool_life", low=300, high=1500, step=100, unit="parts"),
        )
    )
    config = StudyConfig(
        name="twin",
        seed=3,
        trials=8,
        batch=2,
        initial=4,
        space=space,
        objectives=(ObjectiveSpec(metric="profit_per_h", direction="maximize"),),
        constraints=(ConstraintSpec(metric="defect_rate", max=0.05),),
    )
    target = TwinTarget(
        plant,
        {"cnc_buffer": "stations.cnc-01.buffer", "tool_life": "stations.cnc-01.tool_life_parts"},
        start=MONDAY_8,
        horizon_h=8,
    )
    study = Study(config, tmp_path / "studies.db")
    result = study.run(target)
    records = Study.load(tmp_path / "studies.db", "twin").records()
    assert [r.state for r in records] == ["COMPLETE"] * 8
    assert result.best is not None and result.best.feasible
    assert result.best.metrics["defect_rate"] <= 0.05
    assert all(r.eval_s is not None and r.eval_s > 0 for r in records)
    infeasible = [r for r in records if not r.feasible]
    assert all(r.metrics["defect_rate"] > 0.05 for r in infeasible)
