"""Regression tests for the review of `factoryax.detect`'s validation path: the gate trusts
only figures it holds, out-of-sample evidence and production figures over the same rows;
RUL labels never look past the training window."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from factoryax.cli.detect import app as detect_app
from factoryax.config import Workspace
from factoryax.detect import (
    PcaDetector,
    Registry,
    RulModel,
    anomaly_model_name,
    backtest,
    gate,
    gate_inputs,
    read_wide,
    score_alarms,
    shadow,
    train_rul,
)
from factoryax.detect.rul_lake import _failures_us, _labelled
from factoryax.twin import simulate, write_to_lake

# local midnight of a Monday (the example plant works weekday shifts 08:00 and 20:00)
DAY = dt.datetime(2026, 11, 2, tzinfo=ZoneInfo("Asia/Seoul")).astimezone(dt.UTC)
OUT = {"in_sample": False}  # evidence already shown out of sample


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One simulated weekday at 60 s samples, with the twin's truth."""
    from factoryax.cli.main import example_plant_toml

    root = tmp_path_factory.mktemp("review")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    w = Workspace(root)
    run = simulate(w.plant, start=dt.date(2026, 11, 2), days=1, seed=2, sample_s=60)
    write_to_lake(run, w.plant, w.lake)
    return w


def _app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(detect_app, name="detect")
    return root


def _register(ws: Workspace, asset: str, lo: dt.datetime, hi: dt.datetime, q: float) -> int:
    data = read_wide(ws.lake, asset, lo, hi)
    det = PcaDetector(threshold_q=q).fit(data.columns)
    reg = Registry.for_workspace(ws.root)
    return reg.register(
        anomaly_model_name(asset), det, asset=asset, fingerprint=data.fingerprint
    ).version


# ---------------------------------------------------------------- 3: rates never computed


def test_gate_fails_per_shift_rates_it_never_computed() -> None:
    """No shift start in the window means no per-shift rate: the gate fails it as "not
    computed" and names the fix, instead of reading the missing rate as 0."""
    d = gate({"truth": False, "alarms": 500, "alarms_per_shift": None, **OUT})
    assert not d.passed
    assert any(r.startswith("FAILED") and "not computed" in r for r in d.reasons)
    assert any("at least one shift" in r for r in d.reasons)
    with_truth = {
        "truth": True,
        "wear_detected": 1,
        "wear_total": 1,
        "mean_lead_time_s": 7200.0,
        "false_alarms_per_shift": None,
        "precision": 0.9,
        **OUT,
    }
    d = gate(with_truth)
    assert not d.passed
    assert any(r.startswith("FAILED: false alarms per shift not computed") for r in d.reasons)
    assert gate({**with_truth, "false_alarms_per_shift": 0.0}).passed
    # without ground truth a quiet model shows no recall: accepted only with a reason
    quiet = {"truth": False, "alarms": 0, "alarms_per_shift": 0.0, **OUT}
    assert gate(quiet).verdict == "insufficient evidence"
    assert gate(quiet, accept_without_failures="no truth on this line yet").passed
    # the score itself no longer turns "no shift" into "count per one shift"
    score = score_alarms(np.array([10, 20], dtype=np.int64), None, "a", 0, 100, shifts=0.0)
    assert score.false_alarms == 2 and score.false_alarms_per_shift is None


def test_backtest_without_shift_start_is_refused(ws: Workspace) -> None:
    """A 2 h backtest holding no shift start (08:00/20:00 Asia/Seoul) records no rate and
    the gate refuses it as not computed."""
    asset = "press-01"
    v = _register(ws, asset, DAY, DAY + dt.timedelta(hours=12), 0.999)
    lo = DAY + dt.timedelta(hours=22)  # 22:00 to midnight: no shift starts
    bt = backtest(ws, anomaly_model_name(asset), v, lo, lo + dt.timedelta(hours=2))
    assert bt["shifts"] == 0 and bt["false_alarms_per_shift"] is None
    assert bt["in_sample"] is False
    d = gate(bt)
    assert not d.passed and any("not computed" in r for r in d.reasons)


# ---------------------------------------------------------------- 4: in-sample evidence


def test_backtest_records_training_overlap_and_gate_fails_in_sample(ws: Workspace) -> None:
    """A backtest over the training rows is recorded as in-sample with its overlap share,
    and the gate fails it whatever its figures; the held-out half is out of sample."""
    asset = "cnc-01"
    name = anomaly_model_name(asset)
    mid, end = DAY + dt.timedelta(hours=12), DAY + dt.timedelta(days=1)
    v = _register(ws, asset, DAY, mid, 0.999)
    inside = backtest(ws, name, v, DAY, end)
    assert inside["in_sample"] is True
    assert 0.45 < inside["training_overlap"] < 0.55
    assert inside["training_window"] == [
        Registry.for_workspace(ws.root).get(name, v).fingerprint[k] for k in ("from", "to")
    ]
    d = gate(inside)
    assert not d.passed
    assert any(r.startswith("FAILED: in-sample evidence: 50% of") for r in d.reasons)
    held_out = backtest(ws, name, v, mid, end)
    assert held_out["in_sample"] is False and held_out["training_overlap"] == 0.0
    assert not any("in-sample" in r for r in gate(held_out).reasons)
    # evidence that never checked its sample (no training window known) is not trusted
    assert not gate({k: val for k, val in held_out.items() if k != "in_sample"}).passed


def test_cli_backtest_defaults_to_after_the_training_window(ws: Workspace) -> None:
    """`detect train --to T` then `detect backtest` (no --from) scores only readings after
    the training window, so train→backtest→promote gates on out-of-sample evidence; an
    explicit window over the training rows is flagged and the gate refuses it."""
    r = CliRunner()
    w = ["-w", str(ws.root)]
    asset, name = "wash-01", anomaly_model_name("wash-01")
    out = r.invoke(_app(), ["detect", "train", asset, "--to", "2026-11-02T03:00Z", *w])
    assert out.exit_code == 0, out.output
    reg = Registry.for_workspace(ws.root)
    v = reg.get(name)
    trained_to = dt.datetime.fromisoformat(v.fingerprint["to"])
    out = r.invoke(_app(), ["detect", "backtest", name, *w])
    assert out.exit_code == 0, out.output
    bt = reg.get(name, v.version).backtest
    assert bt is not None and bt["in_sample"] is False
    assert dt.datetime.fromisoformat(bt["window"][0]) > trained_to
    out = r.invoke(
        _app(), ["detect", "backtest", name, "--from", "2026-11-01T15:00Z", *w], color=False
    )
    assert out.exit_code == 0, out.output
    assert "in-sample" in out.output and '"in_sample": true' in out.output
    out = r.invoke(_app(), ["detect", "promote", name, str(v.version), "--approved-by", "kim", *w])
    assert out.exit_code == 1
    assert "FAILED: in-sample evidence" in out.output
    assert reg.get(name, v.version).stage == "candidate"
    # trained on the whole lake: nothing lies after it, and the error says so
    out = r.invoke(_app(), ["detect", "train", asset, *w])
    assert out.exit_code == 0, out.output
    out = r.invoke(_app(), ["detect", "backtest", name, *w], color=False)
    assert out.exit_code == 2
    assert "trained on readings up to" in " ".join(out.output.split())


# ---------------------------------------------------------------- 5: comparable production


def test_gate_compares_production_only_over_the_same_window() -> None:
    """Production figures from another window are not compared (and the reasons say so);
    figures over the same window are."""
    window = ["2026-11-02T12:00:00+00:00", "2026-11-03T00:00:00+00:00"]
    cand = {
        "truth": True,
        "window": window,
        "wear_detected": 1,
        "wear_total": 2,
        "mean_lead_time_s": 3600.0,
        "false_alarms_per_shift": 0.5,
        "precision": 0.6,
        **OUT,
    }
    prod = {
        **cand,
        "window": ["2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00"],
        "wear_detected": 2,
        "false_alarms_per_shift": 0.1,
        "version": 1,
    }
    d = gate(cand, prod)
    assert d.passed
    assert any(r.startswith("no comparable production evidence: production v1") for r in d.reasons)
    assert not any("production's" in r for r in d.reasons)
    d = gate(cand, {**prod, "window": list(window)})
    assert not d.passed
    assert any(r.startswith("FAILED: failure recall not below") for r in d.reasons)
    d = gate(cand, {"version": 1})
    assert d.passed and any("no comparable production evidence" in r for r in d.reasons)


def test_promotion_compares_against_shadow_production(ws: Workspace) -> None:
    """With a shadow run, the gate compares the candidate with production's figures on the
    shadow rows, not with production's backtest over some other window."""
    asset = "pack-01"
    name = anomaly_model_name(asset)
    reg = Registry.for_workspace(ws.root)
    v1 = _register(ws, asset, DAY, DAY + dt.timedelta(hours=6), 0.999)
    backtest(ws, name, v1, DAY + dt.timedelta(hours=6), DAY + dt.timedelta(hours=12))
    reg.set_stage(name, v1, "production", why="test")
    v2 = _register(ws, asset, DAY, DAY + dt.timedelta(hours=12), 0.99)
    lo, hi = DAY + dt.timedelta(hours=12), DAY + dt.timedelta(days=1)
    run = shadow(ws, name, v2, lo, hi)
    cand, prod = reg.get(name, v2), reg.production(name)
    assert prod is not None and prod.backtest is not None
    evidence, figures = gate_inputs(cand, prod)
    assert evidence is not None and figures is not None
    assert evidence == run["candidate"]
    assert figures == run["production"] and figures["window"] == evidence["window"]
    assert figures["window"] != prod.backtest["window"]
    d = gate(evidence, figures)
    assert not any("no comparable" in r for r in d.reasons)
    assert any("production's" in r for r in d.reasons)
    # without a shadow run, production's backtest over another window is not compared
    v3 = _register(ws, asset, DAY, DAY + dt.timedelta(hours=12), 0.99)
    backtest(ws, name, v3, lo, hi)
    evidence, figures = gate_inputs(reg.get(name, v3), prod)
    assert evidence is not None and figures is not None
    assert figures["window"] == prod.backtest["window"]
    assert any(r.startswith("no comparable production") for r in gate(evidence, figures).reasons)
    json.dumps(figures)


# ---------------------------------------------------------------- 6: RUL labels


def test_rul_labels_use_only_failures_inside_the_window(tmp_path: object) -> None:
    """Failures after --to do not label the training readings: every label points at a
    failure inside [start, end), and readings after the last one are dropped."""
    from pathlib import Path

    from factoryax.cli.main import example_plant_toml

    root = Path(str(tmp_path))
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    w = Workspace(root)
    n = 3 * 24 * 60
    ts = [DAY + dt.timedelta(minutes=i) for i in range(n)]
    rng = np.random.default_rng(0)
    age = np.arange(n) % 600
    w.lake.append(
        "readings",
        pa.table(
            {
                "site": ["changwon-1"] * (2 * n),
                "ts": ts + ts,
                "asset": ["press-01"] * (2 * n),
                "signal": ["vibration"] * n + ["oil_temp"] * n,
                "value": np.concatenate([age / 60 + rng.normal(size=n), rng.normal(size=n)]),
            }
        ),
    )
    fails = [DAY + dt.timedelta(hours=h) for h in (10, 20, 32, 54)]
    w.lake.append(
        "states",
        pa.table(
            {
                "site": ["changwon-1"] * 4,
                "start": fails,
                "end": [f + dt.timedelta(minutes=30) for f in fails],
                "asset": ["press-01"] * 4,
                "state": ["down"] * 4,
                "reason_code": ["BREAKDOWN"] * 4,
            }
        ),
    )
    end = DAY + dt.timedelta(hours=36)  # the failure at 54 h lies in the test period
    fail_us = _failures_us(w, "press-01", "BREAKDOWN", DAY, end)
    assert [dt.datetime.fromtimestamp(f / 1e6, dt.UTC) for f in fail_us] == fails[:3]
    data = read_wide(w.lake, "press-01", DAY, end)
    histories, ruls = _labelled(data.ts, data.columns, fail_us, 60_000_000)
    assert len(histories) == 3
    last = int(fail_us[-1])
    # label + instant = the failure each reading waits for; none beyond the last in-window
    for rul in ruls:
        assert float(rul.min()) > 0
    labelled = sum(r.size for r in ruls)
    bins = np.unique(data.ts // 60_000_000) * 60_000_000
    assert labelled == int(np.count_nonzero((bins < last) & ~np.isin(bins, fail_us)))
    summary = train_rul(w, "press-01", start=DAY, end=end, model=RulModel(clip=12, max_iter=20))
    assert summary.metrics["histories"] == 3 and summary.fingerprint["failures"] == 3


# ---------------------------------------------------------------- demo path


def test_demo_gates_out_of_sample_and_reruns_add_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The demo trains on the first half and backtests the second: its evidence is out of
    sample. Running it again on the same rows reuses those decisions instead of
    registering and recording them again (so `factoryax demo` reruns add nothing even when
    the stricter gate promoted no model)."""
    from factoryax.cli.main import example_plant_toml
    from factoryax.detect import fit_and_validate_demo

    root = tmp_path_factory.mktemp("demo")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    w = Workspace(root)
    start = dt.datetime(2026, 11, 2, 16, tzinfo=ZoneInfo("Asia/Seoul"))  # 16:00 to 24:00
    run = simulate(w.plant, start=start, horizon=dt.timedelta(hours=8), seed=4, sample_s=60)
    write_to_lake(run, w.plant, w.lake)  # backtest window 20:00-24:00 holds the 20:00 start
    first = fit_and_validate_demo(w)
    for rep in first.assets.values():
        assert rep["backtest"]["in_sample"] is False
        assert rep["backtest"]["shifts"] == 1.0
    events = "SELECT count(*) AS n FROM events WHERE kind = 'detect.promotion'"
    before = w.lake.query(events).column("n")[0].as_py()
    assert before == len(first.assets) == 5
    again = fit_and_validate_demo(w)
    assert w.lake.query(events).column("n")[0].as_py() == before
    assert {a: r["version"] for a, r in again.assets.items()} == {
        a: r["version"] for a, r in first.assets.items()
    }
    assert all(r["reused"] for r in again.assets.values())
    assert [r["promoted"] for r in again.assets.values()] == [
        r["promoted"] for r in first.assets.values()
    ]
