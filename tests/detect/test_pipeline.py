"""Registry stages, live scoring, backtest, gate and promotion on a small twin run."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute  # pa.compute
import pytest

from factoryax.config import Workspace
from factoryax.detect import (
    ANOMALY_KIND,
    SCORE_SIGNAL,
    LiveScorer,
    ModelFileError,
    PcaDetector,
    Registry,
    anomaly_model_name,
    fit_and_validate_demo,
    gate,
    list_models,
    read_wide,
)
from factoryax.ledger import Ledger
from factoryax.twin import simulate, write_to_lake


@pytest.fixture(scope="module")
def twin_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace holding two simulated days (30 s samples) and their truth."""
    from factoryax.cli.main import example_plant_toml

    root = tmp_path_factory.mktemp("ws")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace(root)
    run = simulate(ws.plant, start=dt.date(2026, 11, 9), days=2, seed=5, sample_s=30)
    write_to_lake(run, ws.plant, ws.lake)
    return ws


def _ensure_production(ws: Workspace, asset: str) -> None:
    reg = Registry.for_workspace(ws.root)
    name = anomaly_model_name(asset)
    if reg.production(name) is None:
        det = PcaDetector(threshold_q=0.9).fit(read_wide(ws.lake, asset).columns)
        v = reg.register(name, det, asset=asset)
        reg.set_stage(name, v.version, "production", why="test")


def test_demo_registers_backtests_and_records_decisions(twin_ws: Workspace) -> None:
    """fit_and_validate_demo registers one model per asset with fingerprint and backtest,
    and every decision is a detect.promotion event; promotions are ledger records."""
    report = fit_and_validate_demo(twin_ws, train_share=0.5)
    models = list_models(twin_ws)
    assets = {a.id for _, a in twin_ws.plant.iter_assets()}
    assert {m.asset for m in models} == assets
    for m in models:
        assert m.fingerprint["rows"] > 0 and len(m.fingerprint["sha256"]) == 64
        assert m.backtest is not None and m.backtest["truth"] is True
        json.dumps(m.model_dump(mode="json"))
    events = (
        twin_ws.lake.query("SELECT payload FROM events WHERE kind = 'detect.promotion'")
        .column("payload")
        .to_pylist()
    )
    decisions = [json.loads(p) for p in events]
    assert len(decisions) == len(assets)
    promoted = [d for d in decisions if d["decision"] == "promoted"]
    assert [m.name for m in models if m.stage == "production"] == sorted(
        d["model"] for d in promoted
    ) or len(promoted) == len([m for m in models if m.stage == "production"])
    if promoted:
        with Ledger.for_workspace(twin_ws.root, twin_ws.plant.site.id) as ledger:
            assert ledger.size >= len(promoted)
        scores = (
            twin_ws.lake.query(
                f"SELECT count(*) AS n FROM readings WHERE signal = '{SCORE_SIGNAL}'"
            )
            .column("n")[0]
            .as_py()
        )
        assert scores > 0
    assert report.faults_total >= report.faults_detected >= 0


def test_live_scorer_streams_like_one_batch(twin_ws: Workspace) -> None:
    """Scoring in many small batches gives the same rows as one batch; alarms carry the
    payload contract and scores are normalised (1.0 = threshold)."""
    asset = "press-01"
    _ensure_production(twin_ws, asset)
    rows = twin_ws.lake.query(
        "SELECT site, ts, line, asset, signal, value, quality FROM readings "
        f"WHERE asset = '{asset}' AND signal <> '{SCORE_SIGNAL}' ORDER BY ts, signal"
    )
    whole = LiveScorer(twin_ws).process(rows)
    live = LiveScorer(twin_ws)
    parts = [live.process(rows.slice(i, 997)) for i in range(0, rows.num_rows, 997)]
    r = pa.concat_tables([p["readings"] for p in parts])
    e = pa.concat_tables([p["events"] for p in parts])
    assert r.num_rows >= whole["readings"].num_rows > 0
    # rows scored twice (an instant split across batches) give the later value; compare sets
    a = dict(
        zip(
            whole["readings"]["ts"].to_pylist(), whole["readings"]["value"].to_pylist(), strict=True
        )
    )
    b = dict(zip(r["ts"].to_pylist(), r["value"].to_pylist(), strict=True))
    assert a.keys() == b.keys()
    close = np.isclose(list(a.values()), [b[k] for k in a], rtol=1e-6)
    assert close.mean() > 0.99
    assert set(r["signal"].to_pylist()) == {SCORE_SIGNAL}
    for p in e["payload"].to_pylist():
        payload = json.loads(p)
        assert {"model", "version", "score", "threshold", "contributions"} <= payload.keys()
        assert payload["score"] > 1.0
    assert set(e["kind"].to_pylist()) <= {ANOMALY_KIND}


def test_live_scorer_tolerates_unknown_assets_signals_and_nans(twin_ws: Workspace) -> None:
    """Rows of assets without a model, unknown signals and NaN values do not fail a batch."""
    _ensure_production(twin_ws, "press-01")
    live = LiveScorer(twin_ws)
    ts = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    batch = pa.table(
        {
            "ts": [ts, ts, ts],
            "asset": ["nope-99", "press-01", "press-01"],
            "signal": ["x", "brand_new", "oil_temp"],
            "value": [1.0, 2.0, float("nan")],
        }
    )
    out = live.process(batch)
    assert set(out) == {"readings", "events"}
    encoded = batch.set_column(1, "asset", pa.compute.dictionary_encode(batch["asset"]))
    encoded = encoded.set_column(2, "signal", pa.compute.dictionary_encode(batch["signal"]))
    assert live.process(encoded)["readings"].num_rows == out["readings"].num_rows
    values = out["readings"]["value"].to_pylist()
    assert len(values) == 1
    assert all(np.isfinite(values))


def test_registry_stage_rules_and_damaged_files(tmp_path: object) -> None:
    """One production version per name; a damaged archive fails with ModelFileError."""
    from pathlib import Path

    reg = Registry(Path(str(tmp_path)))
    rng = np.random.default_rng(0)
    det = PcaDetector().fit({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    v1 = reg.register("m", det)
    v2 = reg.register("m", det)
    assert v2.lineage["parent"] == 1
    reg.set_stage("m", v1.version, "production", why="t")
    reg.set_stage("m", v2.version, "production", why="t")
    stages = {v.version: v.stage for v in reg.versions("m")}
    assert stages == {1: "retired", 2: "production"}
    (Path(str(tmp_path)) / "m" / "0002" / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError):
        reg.load("m", 2)


def test_gate_compares_with_production() -> None:
    """A candidate worse than production by more than the margin fails the gate."""
    window = ["2026-11-10T00:00:00+00:00", "2026-11-11T00:00:00+00:00"]
    cand = {
        "truth": True,
        "in_sample": False,
        "window": window,
        "wear_detected": 1,
        "wear_total": 2,
        "mean_lead_time_s": 3600.0,
        "false_alarms_per_shift": 0.5,
        "precision": 0.6,
    }
    prod = {
        "truth": True,
        "in_sample": False,
        "window": window,
        "wear_detected": 2,
        "wear_total": 2,
        "mean_lead_time_s": 3600.0,
        "false_alarms_per_shift": 0.1,
        "precision": 0.9,
    }
    d = gate(cand, prod)
    assert not d.passed
    assert any(r.startswith("FAILED: failure recall not below") for r in d.reasons)
    assert gate(prod, cand).passed


def test_gate_fails_short_lead_time_and_refuses_silence() -> None:
    """A warning one minute before failure fails; a silent model in a window with nothing
    to miss is refused as insufficient evidence (precision is reported as untested)."""
    late = {
        "truth": True,
        "in_sample": False,
        "wear_detected": 1,
        "wear_total": 1,
        "mean_lead_time_s": 60.0,
        "false_alarms_per_shift": 0.0,
        "precision": 1.0,
    }
    assert not gate(late).passed
    quiet = {
        "truth": True,
        "in_sample": False,
        "wear_detected": 0,
        "wear_total": 0,
        "mean_lead_time_s": None,
        "false_alarms_per_shift": 0.0,
        "precision": None,
    }
    d = gate(quiet)
    assert not d.passed and d.verdict == "insufficient evidence"
    assert any(r.startswith("INSUFFICIENT EVIDENCE: no wear failure") for r in d.reasons)
    assert any(r == "no alarms: precision not tested" for r in d.reasons)


def test_live_scorer_runs_shadow_models_silently(twin_ws: Workspace) -> None:
    """A shadow-stage version is scored beside production; only production emits rows."""
    reg = Registry.for_workspace(twin_ws.root)
    asset = "cnc-01"
    name = anomaly_model_name(asset)
    data = read_wide(twin_ws.lake, asset).columns
    if reg.production(name) is None:
        v = reg.register(name, PcaDetector().fit(data), asset=asset)
        reg.set_stage(name, v.version, "production", why="test")
    cand = reg.register(name, PcaDetector(threshold_q=0.5).fit(data), asset=asset)
    reg.set_stage(name, cand.version, "shadow", why="test")
    rows = twin_ws.lake.query(
        "SELECT ts, asset, signal, value FROM readings "
        f"WHERE asset = '{asset}' AND signal <> '{SCORE_SIGNAL}'"
    )
    live = LiveScorer(twin_ws)
    out = live.process(rows)
    key = f"{name}@v{cand.version}"
    summary = live.shadow_summary()
    assert summary[key]["scored"] == out["readings"].num_rows > 0
    assert len(summary[key]["alarms_us"]) > 0  # a 50 % threshold alarms often
    payloads = [json.loads(p) for p in out["events"]["payload"].to_pylist()]
    assert all(p["version"] != cand.version for p in payloads)
