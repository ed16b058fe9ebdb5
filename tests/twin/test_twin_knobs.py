"""Preventive maintenance, staffing per shift and the speed ↔ quality trade-off."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pyarrow.compute as pc
import pytest

from factoryax.core import ConfigError, PlantModel
from factoryax.twin import TwinConfig, TwinResult, simulate
from factoryax.twin.kpi import expected_factors

from .conftest import MONDAY, with_twin

ASSETS = ("press-01", "cnc-01", "wash-01", "inspect-01", "pack-01")


def _content_hash(run: TwinResult) -> str:
    h = hashlib.sha256()
    for name, table in {**run.lake_tables(), **run.truth.tables(), "wip": run.wip}.items():
        h.update(name.encode())
        for col in table.column_names:
            h.update(col.encode())
            h.update(repr(table.column(col).to_pylist()).encode())
    return h.hexdigest()


def _hours(run: TwinResult, reason: str, asset: str | None = None) -> float:
    st = run.states
    mask = pc.equal(pc.cast(st["reason_code"], "string"), reason)
    if asset is not None:
        mask = pc.and_(mask, pc.equal(pc.cast(st["asset"], "string"), asset))
    st = st.filter(mask)
    us = pc.sum(pc.cast(pc.subtract(st["end"], st["start"]), "int64")).as_py() or 0
    return float(us) / 3.6e9


def _failures(run: TwinResult) -> int:
    return int(pc.sum(pc.is_valid(run.truth.faults["failure_at"])).as_py() or 0)


def _run(plant: PlantModel, twin: dict[str, Any], days: float = 4, seed: int = 3) -> TwinResult:
    return simulate(
        with_twin(plant, {**plant.twin, **twin}),
        start=MONDAY,
        days=days,
        seed=seed,
        sample_s=600,
    )


def test_defaults_reproduce_the_runs_of_the_twin_before_these_knobs(plant: PlantModel) -> None:
    """Content hash of a 2-day run, taken with the twin before PM/staffing/speed existed."""
    run = simulate(plant, start=MONDAY, days=2, seed=11, sample_s=600)
    assert _content_hash(run) == (
        "1509108c895c1efe9d116db6bd14c3abbcfa0d4edae9a5f2ff5f8e8da6fe60c3"
    )
    assert run.technician_waits.num_rows == 0 and run.pm_stops.num_rows == 0


def test_a_crew_that_never_runs_short_changes_nothing(plant: PlantModel) -> None:
    """Ten technicians on every shift: requests are granted at once, the run is identical."""
    base = _run(plant, {}, days=2)
    staffed = _run(plant, {"staffing": {"technicians": {"day": 10, "night": 10}}}, days=2)
    assert _content_hash(staffed) == _content_hash(base)
    assert staffed.technician_waits.num_rows == 0


def test_pm_is_a_planned_stop_that_prevents_breakdowns(plant: PlantModel) -> None:
    """Shorter PM interval → fewer failures, more PM hours; PM rows are planned_stop/PM."""
    runs = {
        h: _run(plant, {"stations": {a: {"pm_interval_h": h} for a in ASSETS}})
        for h in (None, 24.0, 6.0)
    }
    fails = {h: _failures(r) for h, r in runs.items()}
    pm_h = {h: _hours(r, "PM") for h, r in runs.items()}
    assert fails[None] > fails[24.0] >= fails[6.0]
    assert pm_h[None] == 0.0 < pm_h[24.0] < pm_h[6.0]
    run = runs[6.0]
    pm_rows = run.states.filter(pc.equal(pc.cast(run.states["reason_code"], "string"), "PM"))
    assert set(pc.cast(pm_rows["state"], "string").to_pylist()) == {"planned_stop"}
    assert run.pm_stops.num_rows > 0
    # each PM stop lasts pm_min (45 min default) of planned time, pausing over breaks
    lengths = pc.subtract(run.pm_stops["end"], run.pm_stops["start"]).to_pylist()
    assert all(length >= dt.timedelta(minutes=45) for length in lengths)
    # a renewed life that showed wear is in the truth as a fault that never failed
    faults = run.truth.faults.filter(pc.is_null(run.truth.faults["signal"]))
    averted = faults.filter(
        pc.and_(pc.is_null(faults["failure_at"]), pc.is_valid(faults["end_at"]))
    )
    assert averted.num_rows > 0
    assert all(
        o < e
        for o, e in zip(averted["onset_at"].to_pylist(), averted["end_at"].to_pylist(), strict=True)
    )


def test_pm_renews_the_wear_the_rul_truth_shows(plant: PlantModel) -> None:
    """Right after a PM stop the asset's degradation is back to 0 in the RUL truth."""
    press = {"pm_interval_h": 8.0, "degradation_h": 30.0, "sudden_fraction": 0.0}
    run = _run(plant, {"stations": {"press-01": press}})
    rul = run.truth.rul.filter(pc.equal(pc.cast(run.truth.rul["asset"], "string"), "press-01"))
    ts = rul["ts"].to_pylist()
    degr = rul["degradation"].to_pylist()
    ends = run.pm_stops.filter(pc.equal(run.pm_stops["asset"], "press-01"))["end"].to_pylist()
    assert ends
    after = [degr[next(i for i, t in enumerate(ts) if t >= end)] for end in ends if end < ts[-1]]
    assert after and max(after) == 0.0
    assert max(degr) > 0.0  # wear did show between PMs


def test_fewer_technicians_wait_longer_and_lose_availability(plant: PlantModel) -> None:
    """One technician a shift → stops queue; the wait sits inside the stop's states rows."""
    one = _run(plant, {"staffing": {"technicians": {"day": 1, "night": 1}}}, seed=5)
    two = _run(plant, {"staffing": {"technicians": {"day": 2, "night": 2}}}, seed=5)
    waits = {
        n: float(pc.sum(r.technician_waits["wait_s"]).as_py() or 0.0)
        for n, r in ((1, one), (2, two))
    }
    assert waits[1] > waits[2] >= 0.0 and waits[1] > 0
    assert set(one.technician_waits["job"].to_pylist()) <= {"repair", "changeover", "tool"}
    down = {
        n: sum(_hours(r, c) for c in ("BREAKDOWN", "TOOL", "CHANGEOVER"))
        for n, r in ((1, one), (2, two))
    }
    assert down[1] > down[2]


def test_a_short_night_shift_crew_is_honoured(plant: PlantModel) -> None:
    """Three by day, one at night: waits happen, and more of them at night."""
    run = _run(plant, {"staffing": {"technicians": {"day": 3, "night": 1}}}, seed=5)
    assert run.technician_waits.num_rows > 0
    local = [
        t.astimezone(plant.site.timezone).hour for t in run.technician_waits["start"].to_pylist()
    ]
    night = sum(1 for h in local if h >= 20 or h < 8)
    assert night >= len(local) - night


def test_a_faster_cycle_wears_the_tool_faster(plant: PlantModel) -> None:
    """cnc-01 rated at 14 s but set to 12 s: more output, more undersize bores."""
    base = _run(plant, {}, days=2)
    fast_plant = with_twin(
        plant, {**plant.twin, "stations": {"cnc-01": {"rated_cycle_time_s": 14.0}}}
    )
    fast_plant = fast_plant.model_copy(
        update={
            "lines": tuple(
                ln.model_copy(
                    update={
                        "assets": tuple(
                            a.model_copy(update={"ideal_cycle_time_s": 12.0})
                            if a.id == "cnc-01"
                            else a
                            for a in ln.assets
                        )
                    }
                )
                for ln in plant.lines
            )
        }
    )
    fast = simulate(fast_plant, start=MONDAY, days=2, seed=3, sample_s=600)

    def undersize(run: TwinResult) -> int:
        codes = pc.cast(run.truth.defects["defect_code"], "string")
        return int(pc.sum(pc.equal(codes, "BORE_UNDERSIZE")).as_py() or 0)

    def cnc_parts(run: TwinResult) -> int:
        return int(
            pc.sum(pc.equal(pc.cast(run.production["asset"], "string"), "cnc-01")).as_py() or 0
        )

    assert cnc_parts(fast) > cnc_parts(base)
    assert undersize(fast) > 2 * undersize(base)
    # the closed-form expectation sees the same trade-off
    assert (
        expected_factors(fast_plant, "inspect-01").quality
        < expected_factors(plant, "inspect-01").quality
    )


def test_bad_knob_values_name_the_key_the_value_and_the_fix(plant: PlantModel) -> None:
    """Each new key is validated; the message says where, what and how to fix it."""
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"stations": {"cnc-01": {"pm_interval_h": -4}}},
            r"twin\.stations\.cnc-01\.pm_interval_h.*-4",
        ),
        ({"stations": {"cnc-01": {"pm_min": 0}}}, r"twin\.stations\.cnc-01\.pm_min.*got 0"),
        ({"stations": {"cnc-01": {"rated_cycle_time_s": 0}}}, r"rated_cycle_time_s"),
        (
            {"staffing": {"technicians": {"swing": 2}, "default": 1}},
            r"no shift 'swing'.*\['day', 'night'\]",
        ),
        (
            {"staffing": {"technicians": {"day": 2}}},
            r"leaves shift\(s\) \['night'\].*staffing\.default",
        ),
        (
            {"staffing": {"technicians": {"day": 0, "night": 1}}},
            r"technicians\.day must be an integer >= 1, got 0",
        ),
        ({"staffing": {"crew": 3}}, r"twin\.staffing\.crew: unknown key"),
    ]
    for twin, pattern in cases:
        with pytest.raises(ConfigError, match=pattern):
            TwinConfig.from_plant(with_twin(plant, {**plant.twin, **twin}))


def test_pm_needs_its_reason_code_only_when_used(plant: PlantModel) -> None:
    """A reason tree without PM is fine until a station gets a PM interval."""
    reasons = tuple(r for r in plant.downtime_reasons if r.code != "PM")
    bare = plant.model_copy(update={"downtime_reasons": reasons})
    TwinConfig.from_plant(bare)
    with pytest.raises(ConfigError, match=r"twin\.reasons\.pm = 'PM'.*\[\[downtime_reasons\]\]"):
        TwinConfig.from_plant(with_twin(bare, {"stations": {"press-01": {"pm_interval_h": 8}}}))
