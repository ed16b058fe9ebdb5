"""Shared twin runs: simulated once per session, short horizons, coarse sampling."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from factoryax.core import PlantModel
from factoryax.twin import TwinResult, example_plant, simulate

SEOUL = ZoneInfo("Asia/Seoul")
MONDAY = dt.date(2026, 11, 23)
"""A Monday: the example plant works two shifts from 08:00 (Asia/Seoul)."""

QUIET_SAFETY = {
    kind: {"per_day": 0.0}
    for kind in ("estop", "guard_open", "person_in_zone", "gas_high", "over_temp")
}


def with_twin(plant: PlantModel, twin: dict[str, Any]) -> PlantModel:
    """The plant with its [twin] table replaced (as if edited in plant.toml)."""
    return plant.model_copy(update={"twin": twin})


@pytest.fixture(scope="session")
def plant() -> PlantModel:
    """The built-in example plant (session-scoped here: the twin runs below share it)."""
    return example_plant()


@pytest.fixture(scope="session")
def day_run(plant: PlantModel) -> TwinResult:
    """One Monday of the example plant with its default [twin] settings."""
    return simulate(plant, start=MONDAY, days=1, seed=42, sample_s=30)


@pytest.fixture(scope="session")
def wear_plant(plant: PlantModel) -> PlantModel:
    """The example plant with press and CNC failing every few operating hours after wear."""
    fast = {"mtbf_h": 5.0, "mttr_min": 20.0, "degradation_h": 1.5, "sudden_fraction": 0.0}
    return with_twin(plant, {"stations": {"press-01": fast, "cnc-01": fast}})


@pytest.fixture(scope="session")
def wear_run(wear_plant: PlantModel) -> TwinResult:
    """Two days of ``wear_plant`` sampled every 10 s."""
    return simulate(wear_plant, start=MONDAY, days=2, seed=3, sample_s=10)
