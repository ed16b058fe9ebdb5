"""One call for the demonstration factory: train, backtest, register and gate per asset.

After the twin's week is in the lake, :func:`fit_and_validate_demo` trains the default
anomaly detector on the first part of each asset's history, backtests it on the rest
against the twin's ground truth (``<workspace>/truth``), registers it, promotes it when the
gate passes, and writes the promoted model's scores and alarms over the backtest window to
the lake, so dashboards and safety rules see them.

The demo never vouches for a model itself: an asset whose backtest window holds no wear
failure and no detectable sensor fault gets the gate's "insufficient evidence" verdict and
stays a candidate (recorded as such), since silence there proves nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from factoryax.config import Workspace
from factoryax.detect.base import Detector
from factoryax.detect.errors import DetectConfigError
from factoryax.detect.frames import read_wide
from factoryax.detect.live import DEFAULT_CLEAR_S, AlarmTracker, anomaly_model_name, score_and_alarm
from factoryax.detect.pca import PcaDetector
from factoryax.detect.registry import ModelSummary, Registry
from factoryax.detect.validate import GateConfig, backtest, gate, gate_inputs, promote

__all__ = ["DemoReport", "default_detector", "fit_and_validate_demo"]


def default_detector(seed: int | None = 0) -> Detector:
    """The default anomaly detector: PCA T²+SPE on EWMA-smoothed samples (α = 0.3),
    threshold at the 99.9 % quantile of out-of-sample normal scores × 1.2 (chosen on the
    twin's seed-42 week; see docs/detect.md)."""
    return PcaDetector(
        variance=0.9, smoothing=0.3, threshold_q=0.999, threshold_scale=1.2, seed=seed
    )


@dataclass(frozen=True)
class DemoReport:
    """What :func:`fit_and_validate_demo` found, per asset and over the plant.

    Attributes:
        assets: per asset: model, version, promoted, the gate's verdict ("passed",
            "failed" or "insufficient evidence"), its reasons and the backtest figures.
        detection_rate: detectable injected faults caught / all of them (pooled).
        mean_lead_time_s: mean time from the first alarm to each caught wear failure.
        false_alarms_per_shift: false alarms over all assets per simulated shift.
        faults_detected, faults_total: the detection rate's counts.
        failures_warned, failures_total: wear failures with an alarm in their precursor.
        train_window, test_window: ISO instants.
    """

    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    detection_rate: float | None = None
    mean_lead_time_s: float | None = None
    false_alarms_per_shift: float | None = None
    faults_detected: int = 0
    faults_total: int = 0
    failures_warned: int = 0
    failures_total: int = 0
    train_window: tuple[str, str] | None = None
    test_window: tuple[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _judged_before(
    reg: Registry,
    name: str,
    det: Detector,
    fingerprint: Mapping[str, Any],
    cut: dt.datetime,
    hi: dt.datetime,
) -> ModelSummary | None:
    """A version of ``name`` with the same kind and parameters, trained on the very same
    rows and backtested over ``[cut, hi)`` — i.e. this run's model, already judged."""
    params = json.loads(json.dumps(det.to_state()[0]["params"], default=str))
    window = [cut.isoformat(), hi.isoformat()]
    for v in reversed(reg.versions(name)):
        if (
            v.kind == det.kind
            and v.fingerprint.get("sha256") == fingerprint.get("sha256")
            and v.params == params
            and (v.backtest or {}).get("window") == window
        ):
            return v
    return None


def fit_and_validate_demo(
    workspace: Workspace,
    *,
    train_share: float = 0.5,
    detector: Detector | None = None,
    gate_config: GateConfig | None = None,
    approved_by: str = "demo",
    clear_s: float = DEFAULT_CLEAR_S,
    write_scores: bool = True,
) -> DemoReport:
    """Trains, backtests, registers and (if the gate passes) promotes one model per asset.

    Idempotent: an asset whose same model was already trained on the same rows and
    backtested over the same window keeps that version and decision (``reused``); nothing
    is registered, recorded or written again.

    Args:
        workspace: a :class:`~factoryax.config.Workspace` whose lake holds the twin's run.
        train_share: share of the lake's time span (from its first reading) to train on;
            the rest is the backtest window.
        detector: an unfitted prototype (cloned per asset); default :func:`default_detector`.
        gate_config: promotion criteria (default :class:`GateConfig`).
        approved_by: who is recorded as approving promotions.
        clear_s: an alarm re-arms after the score stays at or below 1 this long.
        write_scores: append promoted models' ``anomaly_score`` readings and
            ``detect.anomaly`` events over the backtest window to the lake.
    """
    if not (0.0 < train_share < 1.0):
        raise DetectConfigError(f"train_share must be in (0, 1), got {train_share!r}")
    proto = detector if detector is not None else default_detector()
    span = workspace.lake.query(
        "SELECT min(ts) AS lo, max(ts) AS hi FROM readings WHERE signal <> 'anomaly_score'"
    ).to_pylist()[0]
    if span["lo"] is None:
        raise DetectConfigError(
            "the lake holds no readings; run the twin first (factoryax twin run --days 7)"
        )
    lo: dt.datetime = span["lo"].astimezone(dt.UTC)
    hi: dt.datetime = span["hi"].astimezone(dt.UTC) + dt.timedelta(seconds=1)
    cut = lo + (hi - lo) * train_share
    reg = Registry.for_workspace(workspace.root)
    assets: dict[str, dict[str, Any]] = {}
    hit = total = warned = failures = 0
    leads: list[float] = []
    false = 0
    shifts = 0.0
    for line, asset in workspace.plant.iter_assets():
        train = read_wide(workspace.lake, asset.id, lo, cut)
        if len(train) < 10:
            continue
        det = proto.clone().fit(train.columns)
        name = anomaly_model_name(asset.id)
        judged = _judged_before(reg, name, det, train.fingerprint, cut, hi)
        if judged is not None and judged.backtest is not None:
            # the same model on the same rows was already backtested and gated: reuse
            # that decision instead of registering and recording it again
            bt = judged.backtest
            _, prod_figures = gate_inputs(judged, reg.production(name))
            again = gate(bt, prod_figures, gate_config)
            assets[asset.id] = {
                "model": name,
                "version": judged.version,
                "promoted": judged.stage == "production",
                "verdict": again.verdict,
                "reasons": again.reasons,
                "backtest": {k: v for k, v in bt.items() if k != "fingerprint"},
                "reused": True,
            }
        else:
            summary = reg.register(
                name, det, asset=asset.id, fingerprint=train.fingerprint, created_by="demo"
            )
            bt = backtest(workspace, name, summary.version, cut, hi, clear_s=clear_s)
            _, prod_figures = gate_inputs(reg.get(name, summary.version), reg.production(name))
            decision = gate(bt, prod_figures, gate_config)
            result = promote(workspace, name, summary.version, decision, approved_by=approved_by)
            assets[asset.id] = {
                "model": name,
                "version": summary.version,
                "promoted": result["decision"] == "promoted",
                "verdict": decision.verdict,
                "reasons": decision.reasons,
                "backtest": {k: v for k, v in bt.items() if k != "fingerprint"},
            }
        for kind in ("wear_failure", "sensor_spike", "sensor_stuck"):
            c = bt.get("faults", {}).get(kind, {})
            hit += c.get("detected", 0)
            total += c.get("total", 0)
        leads += bt.get("lead_times_s", [])
        warned += int(bt.get("wear_detected", 0))
        failures += int(bt.get("wear_total", 0))
        false += int(bt.get("false_alarms", 0))
        shifts = float(bt.get("shifts", 0.0)) or shifts
        entry = assets[asset.id]
        if write_scores and entry["promoted"] and not entry.get("reused"):
            test = read_wide(workspace.lake, asset.id, cut, hi)
            live = reg.load_detector(name, entry["version"])
            r, e = score_and_alarm(
                live,
                test.ts,
                test.columns,
                tracker=AlarmTracker(clear_s),
                site=workspace.plant.site.id,
                line=line.id,
                asset=asset.id,
                model=name,
                version=entry["version"],
            )
            # direct appends: `anomaly_score` is derived, not a plant-declared signal,
            # so the ingest validator would quarantine it
            workspace.lake.append("readings", r)
            workspace.lake.append("events", e)
    return DemoReport(
        assets=assets,
        detection_rate=hit / total if total else None,
        mean_lead_time_s=float(np.mean(leads)) if leads else None,
        false_alarms_per_shift=false / shifts if shifts else None,
        faults_detected=hit,
        faults_total=total,
        failures_warned=warned,
        failures_total=failures,
        train_window=(lo.isoformat(), cut.isoformat()),
        test_window=(cut.isoformat(), hi.isoformat()),
    )
