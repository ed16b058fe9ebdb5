"""Degradation, failures, tool wear, sensor faults and safety events, against the truth."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from factoryax.core import PlantModel
from factoryax.twin import TwinResult, simulate

from .conftest import MONDAY, with_twin

OVER_TEMP_RISE_C = 10.0
"""An over-temperature peak stands this far above the signal just before the excursion."""
VIBRATION_RISE = 1.3
"""Running vibration in the last 30 min before a wear failure vs. the 2 h before onset."""


def _seconds(column: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    return np.asarray(pc.cast(column, pa.int64()).to_numpy(), dtype=np.float64) / 1e6


def _signal(
    run: TwinResult, asset: str, signal: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    r = run.readings
    rows = r.filter(
        pc.and_(pc.equal(r.column("asset"), asset), pc.equal(r.column("signal"), signal))
    )
    return _seconds(rows.column("ts")), rows.column("value").to_numpy()


def _running(run: TwinResult, asset: str, t: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    s = run.states.filter(pc.equal(run.states.column("asset"), asset)).sort_by("start")
    starts = _seconds(s.column("start"))
    idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
    return np.asarray(s.column("state").to_numpy(zero_copy_only=False)[idx] == "running")


def _failures(run: TwinResult) -> list[dict[str, Any]]:
    f = run.truth.faults
    rows = f.filter(pc.equal(f.column("kind"), "wear_failure")).to_pylist()
    return [r for r in rows if r["failure_at"] is not None and r["onset_at"] is not None]


def test_wear_failures_are_preceded_by_rising_vibration(wear_run: TwinResult) -> None:
    """Before each wear failure, running vibration tops its pre-onset level by VIBRATION_RISE×."""
    failures = _failures(wear_run)
    assert len(failures) >= 6
    for f in failures:
        t, v = _signal(wear_run, f["asset"], "vibration_rms")
        running = _running(wear_run, f["asset"], t)
        failed, onset = f["failure_at"].timestamp(), f["onset_at"].timestamp()
        before = running & (t > failed - 1800) & (t < failed)
        baseline = running & (t > onset - 7200) & (t < onset)
        assert before.sum() >= 10 and baseline.sum() >= 10, f["fault_id"]
        assert np.median(v[before]) > VIBRATION_RISE * np.median(v[baseline]), f["fault_id"]


def test_wear_failures_stop_the_machine_with_breakdown(wear_run: TwinResult) -> None:
    """Each failure instant starts a 'down' BREAKDOWN interval at that asset."""
    s = wear_run.states
    for f in _failures(wear_run):
        at = s.filter(
            pc.and_(
                pc.equal(s.column("asset"), f["asset"]),
                pc.equal(s.column("start"), pa.scalar(f["failure_at"], s.column("start").type)),
            )
        )
        assert at.column("state").to_pylist() == ["down"], f["fault_id"]
        assert at.column("reason_code").to_pylist() == ["BREAKDOWN"]


def test_true_rul_counts_down_to_each_failure(wear_run: TwinResult) -> None:
    """Wall-clock RUL shrinks to zero at each failure and operating RUL never grows in between."""
    rul = wear_run.truth.rul
    for f in _failures(wear_run):
        rows = rul.filter(
            pc.and_(
                pc.equal(rul.column("asset"), f["asset"]),
                pc.less(rul.column("ts"), pa.scalar(f["failure_at"], rul.column("ts").type)),
            )
        )
        t = _seconds(rows.column("ts"))
        wall = rows.column("rul_s").to_numpy(zero_copy_only=False)
        last = t.max()
        failed = f["failure_at"].timestamp()
        assert abs(wall[np.argmax(t)] - (failed - last)) < 1e-3
        window = t > failed - 3600
        assert np.all(np.diff(rows.column("rul_run_s").to_numpy()[window]) <= 1e-9)


def test_tool_wear_drives_undersize_bores_to_rework(day_run: TwinResult) -> None:
    """Undersize bores are reworked, measured below the lower limit and caused by worn tools."""
    d = day_run.truth.defects
    under = d.filter(pc.equal(d.column("defect_code"), "BORE_UNDERSIZE")).to_pylist()
    assert under
    q = day_run.config.quality
    assert all(r["result"] == "rework" for r in under)
    assert all(r["measured_mm"] < q.nominal_mm - q.tolerance_mm for r in under)
    assert sum(r["cause"] == "tool_wear" for r in under) >= 0.8 * len(under)
    assert np.mean([r["tool_wear"] for r in under]) > 0.7


def test_bore_readings_are_one_measurement_per_inspected_part(day_run: TwinResult) -> None:
    """inspect-01.bore_diameter has one reading per inspection, at the part's timestamp."""
    t, _ = _signal(day_run, "inspect-01", "bore_diameter")
    p = day_run.production
    inspected = p.filter(pc.equal(p.column("asset"), "inspect-01"))
    assert np.array_equal(np.sort(t), np.sort(_seconds(inspected.column("ts"))))


def test_sensor_faults_show_in_the_readings(plant: PlantModel) -> None:
    """A stuck sensor repeats one value and a dropout leaves no readings, as the truth says."""
    faulty = with_twin(plant, {"sensor_faults": {"stuck_per_day": 2.0, "dropout_per_day": 2.0}})
    run = simulate(faulty, start=MONDAY, horizon=dt.timedelta(hours=12), seed=8, sample_s=5)
    faults = run.truth.faults.filter(pc.is_valid(run.truth.faults.column("signal"))).to_pylist()
    kinds = {f["kind"] for f in faults}
    assert {"sensor_stuck", "sensor_dropout", "sensor_spike"} <= kinds
    for f in faults:
        t, v = _signal(run, f["asset"], f["signal"])
        inside = (t >= f["onset_at"].timestamp()) & (t < f["end_at"].timestamp())
        if f["kind"] == "sensor_dropout":
            assert not inside.any(), f["fault_id"]
        elif f["kind"] == "sensor_stuck" and inside.sum() > 1:
            assert np.ptp(v[inside]) == 0.0, f["fault_id"]


def test_safety_events_match_ground_truth(plant: PlantModel) -> None:
    """Reported safety events equal the truth's emitted rows; stops and excursions show."""
    busy = {
        kind: {"per_day": 12.0}
        for kind in ("estop", "guard_open", "person_in_zone", "gas_high", "over_temp")
    }
    clean = {"stuck_per_day": 0.0, "spike_per_day": 0.0, "dropout_per_day": 0.0}
    twin = {"safety": busy, "sensor_faults": clean}
    run = simulate(with_twin(plant, twin), start=MONDAY, days=1, seed=4, sample_s=10)
    truth = run.truth.safety
    kinds = set(truth.column("kind").to_pylist())
    assert kinds == {"estop", "guard_open", "person_in_zone", "gas_high", "over_temp"}
    emitted = truth.filter(truth.column("emitted"))
    assert sorted(run.events.column("event_id").to_pylist()) == sorted(
        emitted.column("event_id").to_pylist()
    )
    assert set(run.events.column("kind").to_pylist()) == {
        f"safety.{k}" for k in kinds - {"over_temp"}
    }
    s = run.states
    for e in truth.filter(pc.equal(truth.column("kind"), "estop")).to_pylist():
        at = s.filter(
            pc.and_(
                pc.equal(s.column("asset"), e["asset"]), pc.equal(s.column("reason_code"), "ESTOP")
            )
        )
        assert e["ts"] in at.column("start").to_pylist(), e["event_id"]
    hot = truth.filter(pc.equal(truth.column("kind"), "over_temp")).to_pylist()
    assert hot
    for h in hot:
        t, v = _signal(run, h["asset"], h["signal"])
        inside = (t >= h["ts"].timestamp()) & (t < h["end_at"].timestamp())
        assert v[inside].max() == h["peak"]
        before = v[(t < h["ts"].timestamp()) & (t > h["ts"].timestamp() - 60)]
        assert h["peak"] > before.max() + OVER_TEMP_RISE_C, h["event_id"]
