"""Material flow, states and OEE of the twin."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from factoryax.core import PlantModel
from factoryax.lake import table_spec
from factoryax.twin import TwinResult, expected_factors, measured_factors, simulate

from .conftest import MONDAY, QUIET_SAFETY, with_twin

A_TOL, P_TOL, Q_TOL = 0.03, 0.02, 0.01
"""Tolerances of the OEE check: three simulated days give ~50 breakdowns per station."""


def _all_tables(run: TwinResult) -> dict[str, pa.Table]:
    return {
        **run.lake_tables(),
        **{f"truth.{k}": v for k, v in run.truth.tables().items()},
        "wip": run.wip,
    }


def test_same_seed_gives_identical_tables(plant: PlantModel) -> None:
    """Two runs with the same seed produce the same rows; another seed does not."""

    def tables(seed: int) -> dict[str, pa.Table]:
        hours = dt.timedelta(hours=10)
        return _all_tables(simulate(plant, start=MONDAY, horizon=hours, seed=seed, sample_s=60))

    first, second, other = tables(11), tables(11), tables(12)
    assert all(first[name].equals(second[name]) for name in first)
    assert not first["readings"].equals(other["readings"])
    assert not first["production"].equals(other["production"])


def test_parts_are_conserved(day_run: TwinResult) -> None:
    """Every part that entered is out, scrapped or still in the line, exactly once."""
    prod = day_run.production
    last = prod.filter(pc.equal(prod.column("asset"), "pack-01"))
    out = set(last.column("part_id").to_pylist())
    scrap = set(prod.filter(pc.equal(prod.column("result"), "scrap")).column("part_id").to_pylist())
    wip = set(day_run.wip.column("part_id").to_pylist())
    entered = set(prod.column("part_id").to_pylist()) | wip
    assert len(out) + len(scrap) + len(wip) == len(entered) == day_run.released
    assert out.isdisjoint(scrap) and out.isdisjoint(wip) and scrap.isdisjoint(wip)
    assert len(out) > 2000  # 08:00–24:00 of a ~15 s bottleneck, less breaks and stops


def test_states_tile_the_horizon_per_asset(day_run: TwinResult) -> None:
    """Each asset's state intervals start at the run's start, end at its end, no gaps."""
    states = day_run.states
    for asset in day_run.ideal_cycle_s:
        rows = states.filter(pc.equal(states.column("asset"), asset)).sort_by("start")
        starts, ends = rows.column("start").to_pylist(), rows.column("end").to_pylist()
        assert starts[0] == day_run.start and ends[-1] == day_run.end
        assert all(e == s for e, s in zip(ends, starts[1:], strict=False))
        assert all(s < e for s, e in zip(starts, ends, strict=True))


def test_breaks_and_nights_off_are_planned_stops(day_run: TwinResult) -> None:
    """Lunch (12:00–13:00 Seoul) and the hours before the Monday day shift are planned stops."""
    zone = ZoneInfo("Asia/Seoul")
    states = day_run.states
    for local in (
        dt.datetime(2026, 11, 23, 12, 30, tzinfo=zone),
        dt.datetime(2026, 11, 23, 6, 0, tzinfo=zone),
    ):
        at = pc.and_(
            pc.less_equal(states.column("start"), local), pc.greater(states.column("end"), local)
        )
        found = states.filter(at)
        assert found.num_rows == 5
        assert set(found.column("state").to_pylist()) == {"planned_stop"}
        assert set(found.column("reason_code").to_pylist()) == {"PLANNED"}


def test_rows_fit_the_lake_and_keys_are_unique(day_run: TwinResult) -> None:
    """Every lake table uses its input schema's columns and no row key repeats."""
    for name, table in day_run.lake_tables().items():
        spec = table_spec(name)
        assert table.column_names == [n for n in spec.input_schema.names if n in table.column_names]
        keys = Counter(zip(*(table.column(k).to_pylist() for k in spec.key), strict=True))
        assert not [k for k, n in keys.items() if n > 1], name


def test_production_results_and_reasons_are_known_codes(
    plant: PlantModel, day_run: TwinResult
) -> None:
    """Results are ok/rework/scrap and every reason code is declared by the plant."""
    assert set(day_run.production.column("result").to_pylist()) <= {"ok", "rework", "scrap"}
    declared = {r.code for r in plant.downtime_reasons}
    reasons = set(day_run.states.column("reason_code").drop_null().to_pylist())
    assert reasons <= declared
    assert {"PLANNED", "STARVED", "BLOCKED", "CHANGEOVER"} <= reasons


def test_oee_factors_match_configuration(plant: PlantModel) -> None:
    """Measured A, P and Q per station match what the knobs imply, within A/P/Q_TOL."""
    stations = {
        a.id: {"mtbf_h": 1.5, "mttr_min": 5.0, "mttr_cv": 0.3, "sudden_fraction": 1.0}
        for _, a in plant.iter_assets()
    }
    configured = with_twin(plant, {"stations": stations, "safety": QUIET_SAFETY})
    run = simulate(configured, start=MONDAY, days=3, seed=5, sample_s=900)
    for _, asset in plant.iter_assets():
        got = measured_factors(run, asset.id)
        want = expected_factors(configured, asset.id)
        assert got.availability == pytest.approx(want.availability, abs=A_TOL), asset.id
        assert got.performance == pytest.approx(want.performance, abs=P_TOL), asset.id
        assert got.quality == pytest.approx(want.quality, abs=Q_TOL), asset.id
    inspection = expected_factors(configured, "inspect-01").quality
    assert 0.9 < inspection < 0.99  # tool wear really costs quality at inspection
