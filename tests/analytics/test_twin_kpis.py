"""KPIs from the lake against the digital twin's known truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from factoryax.analytics import Period, compute_kpis
from factoryax.core import PlantModel
from factoryax.lake import Lake
from factoryax.twin import example_plant, expected_factors, measured_factors, simulate

from .conftest import MONDAY

A_TOL, P_TOL, Q_TOL = 0.03, 0.02, 0.01
"""As in the twin's own check: three days with frequent failures per station."""

QUIET = {
    k: {"per_day": 0.0} for k in ("estop", "guard_open", "person_in_zone", "gas_high", "over_temp")
}


def _station_plant() -> PlantModel:
    """The example plant with frequent short failures, no safety stops, and starved/blocked
    time charged to no one (``loss = "none"``), which isolates each station as the twin's
    ``expected_factors`` does."""
    plant = example_plant()
    stations = {
        a.id: {"mtbf_h": 1.5, "mttr_min": 5.0, "mttr_cv": 0.3, "sudden_fraction": 1.0}
        for _, a in plant.iter_assets()
    }
    reasons = tuple(
        r.model_copy(update={"loss": "none"}) if r.code in ("STARVED", "BLOCKED") else r
        for r in plant.downtime_reasons
    )
    return plant.model_copy(
        update={"twin": {"stations": stations, "safety": QUIET}, "downtime_reasons": reasons}
    )


def test_lake_kpis_match_the_twins_configuration_and_its_own_tally(tmp_path: Path) -> None:
    """Per station, A/P/Q from the lake equal the twin's own tally of the same run and
    match the factors its settings imply (expected_factors) within tolerance."""
    plant = _station_plant()
    # Monday 00:00 to Thursday 08:00: exactly the six shifts Mon day … Wed night
    run = simulate(
        plant, start=MONDAY, horizon=dt.timedelta(days=3, hours=8), seed=5, sample_s=3600
    )
    lake = Lake(tmp_path / "lake", timezone="Asia/Seoul")
    lake.append("states", run.states)
    lake.append("production", run.production)
    # the simulated days may lie ahead of the wall clock: count all of them
    end = dt.datetime.combine(MONDAY + dt.timedelta(days=4), dt.time(), dt.UTC)
    table = compute_kpis(lake, plant, Period.parse("2026-11-23..2026-11-25"), until=end)
    assert not [n for n in table.notices if n.code == "unrecorded"]
    for row in table.rows:
        asset = row.key["asset"]
        tally = measured_factors(run, asset)
        want = expected_factors(plant, asset)
        assert row.availability == pytest.approx(tally.availability, abs=1e-6), asset
        assert row.effectiveness == pytest.approx(tally.performance, abs=1e-6), asset
        assert row.fpy == pytest.approx(tally.quality, abs=1e-6), asset
        assert row.availability == pytest.approx(want.availability, abs=A_TOL), asset
        assert row.effectiveness == pytest.approx(want.performance, abs=P_TOL), asset
        assert row.quality_ratio == pytest.approx(want.quality, abs=Q_TOL), asset
        assert row.fpy == pytest.approx(want.quality, abs=Q_TOL), asset
        assert row.failures > 10 and row.mttr_s is not None
    line_losses = plant.model_copy(update={"downtime_reasons": example_plant().downtime_reasons})
    days = Period.parse("2026-11-23..2026-11-25")
    for row in compute_kpis(lake, line_losses, days, until=end).rows:
        tally = measured_factors(run, row.key["asset"], line_losses=True)
        assert row.availability == pytest.approx(tally.availability, abs=1e-6)
