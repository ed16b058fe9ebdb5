"""The promotion gate refuses silence: a window with nothing to miss shows no recall, so
the verdict is "insufficient evidence" unless an engineer records a justification."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from factoryax.cli.detect import app as detect_app
from factoryax.config import Workspace
from factoryax.detect import (
    DetectConfigError,
    PcaDetector,
    Registry,
    anomaly_model_name,
    backtest,
    gate,
    promote,
    read_wide,
)
from factoryax.ledger import Ledger
from factoryax.twin import simulate, write_to_lake

DAY = dt.datetime(2026, 11, 2, tzinfo=ZoneInfo("Asia/Seoul")).astimezone(dt.UTC)
QUIET = {
    "truth": True,
    "in_sample": False,
    "wear_detected": 0,
    "wear_total": 0,
    "faults": {},
    "alarms": 0,
    "mean_lead_time_s": None,
    "false_alarms_per_shift": 0.0,
    "precision": None,
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One simulated weekday at 60 s samples, with the twin's truth."""
    from factoryax.cli.main import example_plant_toml

    root = tmp_path_factory.mktemp("gate")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    w = Workspace(root)
    run = simulate(w.plant, start=dt.date(2026, 11, 2), days=1, seed=2, sample_s=60)
    write_to_lake(run, w.plant, w.lake)
    return w


def _app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(detect_app, name="detect")
    return root


def _silent_backtest(ws: Workspace, asset: str) -> tuple[str, int]:
    """Trains on the morning and backtests the evening (20:00 shift start inside)."""
    name = anomaly_model_name(asset)
    data = read_wide(ws.lake, asset, DAY, DAY + dt.timedelta(hours=12))
    reg = Registry.for_workspace(ws.root)
    v = reg.register(
        name, PcaDetector().fit(data.columns), asset=asset, fingerprint=data.fingerprint
    )
    backtest(ws, name, v.version, DAY + dt.timedelta(hours=12), DAY + dt.timedelta(days=1))
    return name, v.version


def test_silent_model_without_faults_is_insufficient_evidence() -> None:
    """No failure, no fault, no alarm: refused with the reason and the fix, not passed."""
    d = gate(QUIET)
    assert not d.passed and d.verdict == "insufficient evidence"
    first = d.reasons[0]
    assert first.startswith("INSUFFICIENT EVIDENCE: no wear failure and no detectable sensor")
    assert "recall and lead time cannot be shown" in first
    assert "--accept-without-failures" in first
    assert d.accepted_without_failures is None


def test_justification_accepts_but_other_criteria_still_apply() -> None:
    """With a recorded reason the silent window passes; a measured failure still fails."""
    why = "v3 retrained on the same settings after a sensor swap"
    d = gate(QUIET, accept_without_failures=why)
    assert d.passed and d.verdict == "passed" and d.accepted_without_failures == why
    assert any(why in r and "accepted without failure evidence" in r for r in d.reasons)
    noisy = {**QUIET, "alarms": 9, "false_alarms_per_shift": 9.0, "precision": 0.0}
    d = gate(noisy, accept_without_failures=why)
    assert not d.passed and d.verdict == "failed"
    # a measured failure outranks missing evidence: the verdict is "failed", not insufficient
    assert gate(noisy).verdict == "failed"
    with pytest.raises(DetectConfigError, match="must say why"):
        gate(QUIET, accept_without_failures="   ")


def test_sensor_faults_stand_in_for_failure_recall() -> None:
    """A window with sensor faults but no wear failure gates on the share of them caught."""
    missed = {**QUIET, "faults": {"sensor_spike": {"total": 2, "detected": 0}}}
    d = gate(missed)
    assert d.verdict == "failed"
    assert any(r.startswith("FAILED: no wear failure in the window") for r in d.reasons)
    caught = {
        **missed,
        "faults": {"sensor_spike": {"total": 2, "detected": 1}},
        "alarms": 1,
        "precision": 1.0,
    }
    d = gate(caught)
    assert d.passed and any("caught 1/2 sensor faults" in r for r in d.reasons)
    # dropouts and sudden failures leave nothing to detect: they are no evidence either
    blind = {**QUIET, "faults": {"sensor_dropout": {"total": 1, "detected": 1}}}
    assert gate(blind).verdict == "insufficient evidence"


def test_no_ground_truth_is_insufficient_evidence() -> None:
    """Without truth a quiet model shows no recall; the alarm rate is still checked."""
    d = gate({"truth": False, "in_sample": False, "alarms": 0, "alarms_per_shift": 0.0})
    assert d.verdict == "insufficient evidence"
    assert d.reasons[0].startswith("INSUFFICIENT EVIDENCE: no ground truth")


def test_promote_records_refusal_and_justified_acceptance(ws: Workspace) -> None:
    """The refusal is a detect.promotion event with decision "insufficient evidence" and
    no ledger record; an accepted one carries the justification in the event, its
    evidence and the model_promotion ledger record."""
    name, version = _silent_backtest(ws, "cnc-01")
    reg = Registry.for_workspace(ws.root)
    bt = reg.get(name, version).backtest
    assert bt is not None and bt["faults"] == {} and bt["alarms"] == 0  # nothing to miss
    refused = promote(ws, name, version, gate(bt), approved_by="kim")
    assert refused["decision"] == "insufficient evidence"
    assert refused["accepted_without_failures"] is None
    assert reg.get(name, version).stage == "candidate"
    why = "replaces a model with the same settings; no failure in the last day"
    accepted = promote(ws, name, version, gate(bt, accept_without_failures=why), approved_by="kim")
    assert accepted["decision"] == "promoted" and accepted["accepted_without_failures"] == why
    assert reg.get(name, version).stage == "production"
    rows = ws.lake.query(
        "SELECT payload, evidence FROM events WHERE kind = 'detect.promotion' "
        f'AND payload LIKE \'%"model": "{name}"%\' ORDER BY ts'
    ).to_pylist()
    payloads = [json.loads(r["payload"]) for r in rows]
    assert [p["decision"] for p in payloads] == ["insufficient evidence", "promoted"]
    assert json.loads(rows[-1]["evidence"])["gate"]["accepted_without_failures"] == why
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        found = [ledger.fields(i) for i in ledger.find("model_promotion", model=name)]
    assert len(found) == 1
    assert found[0]["accepted_without_failures"] == why


def test_cli_promote_refuses_silence_unless_justified(ws: Workspace) -> None:
    """`detect promote` exits 1 with "insufficient evidence"; with
    --accept-without-failures it promotes, and the reason is in the ledger."""
    name, version = _silent_backtest(ws, "wash-01")
    r = CliRunner()
    w = ["-w", str(ws.root)]
    args = ["detect", "promote", name, str(version), "--approved-by", "kim", *w]
    out = r.invoke(_app(), args, color=False)
    assert out.exit_code == 1, out.output
    flat = " ".join(out.output.split())
    assert "INSUFFICIENT EVIDENCE" in flat and "insufficient evidence" in flat
    out = r.invoke(_app(), [*args, "--accept-without-failures", ""], color=False)
    assert out.exit_code == 2 and "must say why" in " ".join(out.output.split())
    why = "washer model, same settings as the line-2 washer in production"
    out = r.invoke(_app(), [*args, "--accept-without-failures", why], color=False)
    assert out.exit_code == 0, out.output
    assert Registry.for_workspace(ws.root).get(name, version).stage == "production"
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        found = [ledger.fields(i) for i in ledger.find("model_promotion", model=name)]
    assert [f["accepted_without_failures"] for f in found] == [why]
