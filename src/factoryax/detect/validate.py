"""Demonstrate, then deploy: backtest, shadow comparison, promotion gate, promotion.

A candidate is scored over a historical window of the lake (:func:`backtest`); where the
digital twin's ground truth lies beside the lake, its alarms are matched to the injected
faults. :func:`shadow` runs candidate and production side by side on the same rows.
:func:`gate` compares them on stated metrics and :func:`promote` records the decision as a
``detect.promotion`` event and, when promoted, a ``model_promotion`` ledger record.

Matching alarms to truth (:func:`score_alarms`):

- a fault is *detected* when an alarm starts in its window: ``[onset, failure]`` for a wear
  failure (the precursor), ``[onset, end + grace]`` for a sensor fault, ``[failure, end]``
  for a sudden failure (no precursor exists, so only the breakdown itself can be seen);
- *lead time* of a wear failure = failure − first alarm in its window;
- an alarm is *true* when it starts inside any fault's window widened to the repair end
  (``[onset, end + grace]``), otherwise it is a *false alarm*;
- false alarms per shift divide by the shift instances the plant's calendar puts in the
  window (else 8 h blocks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from factoryax.config import Workspace
from factoryax.core import ConfigError, PlantModel, utc_now
from factoryax.detect.base import Detector
from factoryax.detect.errors import DetectConfigError, DetectError
from factoryax.detect.frames import Micros, Wide, read_wide
from factoryax.detect.live import DEFAULT_CLEAR_S, AlarmTracker
from factoryax.detect.registry import Registry

__all__ = [
    "AlarmScore",
    "GateConfig",
    "GateDecision",
    "alarm_instants",
    "backtest",
    "count_shifts",
    "gate",
    "promote",
    "read_truth",
    "score_alarms",
    "shadow",
]

DETECTABLE = ("wear_failure", "sensor_spike", "sensor_stuck")
"""Fault kinds a signal-based detector can be expected to see (dropouts leave no data,
sudden failures have no precursor); reported separately from the rest."""
GRACE_S = 120.0


def read_truth(workspace_root: Path, table: str = "faults") -> pa.Table | None:
    """The twin's ground truth table beside the lake (``<root>/truth/<table>/``), or None."""
    folder = Path(workspace_root) / "truth" / table
    files = sorted(folder.glob("site=*/*.parquet"))
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


@dataclass(frozen=True)
class AlarmScore:
    """How a model's alarms fared against the truth over a window."""

    alarms: int
    true_alarms: int
    false_alarms: int
    shifts: float
    false_alarms_per_shift: float
    precision: float | None
    faults: dict[str, dict[str, int]]
    detection_rate: float | None
    wear_detected: int
    wear_total: int
    mean_lead_time_s: float | None
    lead_times_s: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _us(value: Any) -> int | None:
    if value is None:
        return None
    return int(value.timestamp() * 1_000_000)


def score_alarms(
    alarm_us: Micros,
    faults: pa.Table | None,
    asset: str,
    start_us: int,
    end_us: int,
    *,
    shifts: float,
    grace_s: float = GRACE_S,
) -> AlarmScore:
    """Matches alarm start instants of one asset to its faults in ``[start, end)``."""
    grace = int(grace_s * 1e6)
    rows = []
    if faults is not None:
        for f in faults.to_pylist():
            if f["asset"] != asset:
                continue
            onset, failure, end = _us(f["onset_at"]), _us(f["failure_at"]), _us(f["end_at"])
            last = max(x for x in (onset, failure, end, onset) if x is not None)
            if onset is None or last < start_us or onset >= end_us:
                continue
            rows.append((f["kind"], onset, failure, end))
    alarms = np.sort(np.asarray(alarm_us, dtype=np.int64))
    explained = np.zeros(alarms.shape[0], dtype=bool)
    counts: dict[str, dict[str, int]] = {}
    lead: list[float] = []
    wear_total = wear_hit = 0
    for kind, onset, failure, end in rows:
        if kind == "wear_failure":
            lo, hi = onset, failure if failure is not None else end_us
        elif kind == "sudden_failure":
            lo = failure if failure is not None else onset
            hi = (end if end is not None else end_us) + grace
        else:
            lo, hi = onset, (end if end is not None else end_us) + grace
        hit = alarms[(alarms >= lo) & (alarms <= hi)]
        c = counts.setdefault(kind, {"total": 0, "detected": 0})
        c["total"] += 1
        c["detected"] += int(hit.size > 0)
        if kind == "wear_failure":
            wear_total += 1
            if hit.size and failure is not None:
                wear_hit += 1
                lead.append((failure - int(hit[0])) / 1e6)
        wide_hi = max(x for x in (failure, end, hi) if x is not None) + grace
        explained |= (alarms >= onset) & (alarms <= wide_hi)
    n = int(alarms.shape[0])
    true = int(explained.sum())
    det_total = sum(counts.get(k, {}).get("total", 0) for k in DETECTABLE)
    det_hit = sum(counts.get(k, {}).get("detected", 0) for k in DETECTABLE)
    return AlarmScore(
        alarms=n,
        true_alarms=true,
        false_alarms=n - true,
        shifts=shifts,
        false_alarms_per_shift=(n - true) / shifts if shifts > 0 else float(n - true),
        precision=true / n if n else None,
        faults=counts,
        detection_rate=det_hit / det_total if det_total else None,
        wear_detected=wear_hit,
        wear_total=wear_total,
        mean_lead_time_s=float(np.mean(lead)) if lead else None,
        lead_times_s=[round(x, 1) for x in lead],
    )


def count_shifts(plant: PlantModel, start: dt.datetime, end: dt.datetime) -> float:
    """Shift instances of the plant's calendar that start in ``[start, end)``
    (8-hour blocks when the plant declares no shifts)."""
    from factoryax.analytics import shift_instances

    try:
        zone = plant.site.timezone
        first = (start.astimezone(zone) - dt.timedelta(days=1)).date()
        last = end.astimezone(zone).date()
        inst = shift_instances(plant.calendar, zone, first, last)
        return float(sum(1 for s in inst if start <= s.start < end))
    except ConfigError:  # the plant declares no shifts: fall back to 8 h blocks
        return max((end - start).total_seconds() / (8 * 3600.0), 1e-9)


def alarm_instants(detector: Detector, data: Wide, *, clear_s: float = DEFAULT_CLEAR_S) -> Micros:
    """Alarm start instants of ``detector`` over ``data`` (from a fresh stream)."""
    detector.reset_stream()
    norm = detector.normalise(detector.score_many(data.columns))
    tracker = AlarmTracker(clear_s)
    return np.asarray(data.ts[tracker.edges(data.ts, norm)], dtype=np.int64)


def backtest(
    workspace: Workspace,
    name: str,
    version: int | None,
    start: dt.datetime,
    end: dt.datetime,
    *,
    clear_s: float = DEFAULT_CLEAR_S,
    record: bool = True,
) -> dict[str, Any]:
    """Scores a registered anomaly model over ``[start, end)`` of the lake.

    With the twin's truth beside the lake the result holds the :class:`AlarmScore`
    figures; without it, the alarm count and rate only. Recorded on the version
    (``backtest``) when ``record``.
    """
    reg = Registry.for_workspace(workspace.root)
    summary = reg.get(name, version)
    if summary.asset is None:
        raise DetectError(f"model {name!r} v{summary.version} names no asset; cannot backtest")
    det = reg.load_detector(name, summary.version)
    data = read_wide(workspace.lake, summary.asset, start, end)
    if len(data) == 0:
        raise DetectError(
            f"no readings of asset {summary.asset!r} in [{start.isoformat()}, {end.isoformat()}); "
            "pick a window that holds data "
            "(factoryax query 'SELECT min(ts), max(ts) FROM readings')"
        )
    result = _evaluate(workspace, summary.asset, det, data, start, end, clear_s)
    result.update(
        model=name, version=summary.version, at=utc_now().isoformat(), fingerprint=data.fingerprint
    )
    if record:
        reg.annotate(name, summary.version, backtest=result)
    return result


def _evaluate(
    workspace: Workspace,
    asset: str,
    det: Detector,
    data: Wide,
    start: dt.datetime,
    end: dt.datetime,
    clear_s: float,
) -> dict[str, Any]:
    alarms = alarm_instants(det, data, clear_s=clear_s)
    shifts = count_shifts(workspace.plant, start, end)
    truth = read_truth(workspace.root)
    out: dict[str, Any] = {
        "window": [start.isoformat(), end.isoformat()],
        "alarms": int(alarms.shape[0]),
        "alarms_per_shift": alarms.shape[0] / shifts if shifts else None,
        "truth": truth is not None,
    }
    if truth is not None:
        score = score_alarms(alarms, truth, asset, _us(start) or 0, _us(end) or 0, shifts=shifts)
        out.update(score.as_dict())
    return out


def shadow(
    workspace: Workspace,
    name: str,
    version: int,
    start: dt.datetime,
    end: dt.datetime,
    *,
    clear_s: float = DEFAULT_CLEAR_S,
    record: bool = True,
) -> dict[str, Any]:
    """Runs candidate ``version`` beside the production version on the same rows.

    Returns both models' figures (same form as :func:`backtest`) and how often their
    alarms agree (an alarm of one within ``clear_s`` of one of the other).
    """
    reg = Registry.for_workspace(workspace.root)
    cand = reg.get(name, version)
    prod = reg.production(name)
    if cand.asset is None:
        raise DetectError(f"model {name!r} v{version} names no asset; cannot shadow")
    data = read_wide(workspace.lake, cand.asset, start, end)
    if len(data) == 0:
        raise DetectError(f"no readings of asset {cand.asset!r} in the shadow window")
    c = _evaluate(
        workspace, cand.asset, reg.load_detector(name, cand.version), data, start, end, clear_s
    )
    result: dict[str, Any] = {
        "model": name,
        "candidate": {"version": cand.version, **c},
        "production": None,
        "at": utc_now().isoformat(),
    }
    if prod is not None and prod.version != cand.version:
        p_det = reg.load_detector(name, prod.version)
        p = _evaluate(workspace, cand.asset, p_det, data, start, end, clear_s)
        result["production"] = {"version": prod.version, **p}
        a = alarm_instants(reg.load_detector(name, cand.version), data, clear_s=clear_s)
        b = alarm_instants(p_det, data, clear_s=clear_s)
        result["agreement"] = _agreement(a, b, clear_s)
    if record:
        reg.annotate(name, cand.version, shadow=result)
        if cand.stage == "candidate":
            reg.set_stage(name, cand.version, "shadow", why="shadow run")
    return result


def _agreement(a: Micros, b: Micros, clear_s: float) -> float | None:
    if a.size + b.size == 0:
        return None
    tol = clear_s * 1e6
    both = sum(1 for x in a if b.size and np.min(np.abs(b - x)) <= tol)
    both += sum(1 for x in b if a.size and np.min(np.abs(a - x)) <= tol)
    return both / (a.size + b.size)


@dataclass(frozen=True)
class GateConfig:
    """What a candidate must show before it is promoted (the issue's stated metrics:
    failures caught with enough lead time, alarm precision, false alarms per shift).

    Attributes:
        min_failure_recall: share of wear failures in the window it must warn of.
        min_lead_time_s: mean warning time before those failures.
        max_false_alarms_per_shift: false alarms per simulated/calendar shift.
        min_precision: share of its alarms explained by a fault.
        max_regression: how much worse than production it may be (absolute on recall and
            precision, per shift on false alarms).
    """

    min_failure_recall: float = 0.5
    min_lead_time_s: float = 600.0
    max_false_alarms_per_shift: float = 1.0
    min_precision: float = 0.3
    max_regression: float = 0.05

    def __post_init__(self) -> None:
        for name in ("min_failure_recall", "min_precision"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0):
                raise DetectConfigError(f"GateConfig.{name} must be in [0, 1], got {value!r}")
        for name in ("min_lead_time_s", "max_false_alarms_per_shift", "max_regression"):
            value = getattr(self, name)
            if value < 0:
                raise DetectConfigError(f"GateConfig.{name} must be >= 0, got {value!r}")

    def as_dict(self) -> dict[str, float]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict and why."""

    passed: bool
    reasons: list[str]
    criteria: dict[str, float]
    candidate: dict[str, Any]
    production: dict[str, Any] | None


def _recall(fig: Mapping[str, Any]) -> float | None:
    total = int(fig.get("wear_total") or 0)
    return int(fig.get("wear_detected") or 0) / total if total else None


def gate(
    candidate: Mapping[str, Any],
    production: Mapping[str, Any] | None = None,
    config: GateConfig | None = None,
) -> GateDecision:
    """Compares backtest/shadow figures against the criteria (and production's figures).

    A criterion with nothing to test (no failure in the window, no alarm at all) is
    reported as not tested, not failed. Without ground truth, a candidate can only pass on
    its alarm rate per shift.

    Examples:
        >>> d = gate({"truth": True, "wear_detected": 2, "wear_total": 2,
        ...           "mean_lead_time_s": 7200.0, "false_alarms_per_shift": 0.2,
        ...           "precision": 0.7})
        >>> d.passed, d.reasons[0]
        (True, 'warned of 2/2 wear failures (1.00 >= 0.50)')
    """
    cfg = config or GateConfig()
    reasons: list[str] = []
    ok = True

    def check(cond: bool, text: str) -> None:
        nonlocal ok
        ok = ok and cond
        reasons.append(text if cond else "FAILED: " + text)

    if candidate.get("truth"):
        rec = _recall(candidate)
        lead = candidate.get("mean_lead_time_s")
        fa = float(candidate.get("false_alarms_per_shift") or 0.0)
        pr = candidate.get("precision")
        if rec is None:
            reasons.append("no wear failure in the window: recall and lead time not tested")
        else:
            check(
                rec >= cfg.min_failure_recall,
                f"warned of {candidate.get('wear_detected')}/{candidate.get('wear_total')} "
                f"wear failures ({rec:.2f} >= {cfg.min_failure_recall:.2f})",
            )
            if lead is not None:
                check(
                    float(lead) >= cfg.min_lead_time_s,
                    f"mean lead time {float(lead) / 60:.0f} min >= "
                    f"{cfg.min_lead_time_s / 60:.0f} min",
                )
        check(
            fa <= cfg.max_false_alarms_per_shift,
            f"false alarms per shift {fa:.2f} <= {cfg.max_false_alarms_per_shift:.2f}",
        )
        if pr is None:
            reasons.append("no alarms: precision not tested")
        else:
            check(pr >= cfg.min_precision, f"alarm precision {_f(pr)} >= {cfg.min_precision:.2f}")
        if production is not None and production.get("truth"):
            prec = _recall(production)
            pfa = float(production.get("false_alarms_per_shift") or 0.0)
            if prec is not None and rec is not None:
                check(
                    rec >= prec - cfg.max_regression,
                    f"failure recall not below production's {prec:.2f} by more than "
                    f"{cfg.max_regression:.2f}",
                )
            check(
                fa <= pfa + cfg.max_regression,
                f"false alarms per shift not above production's {pfa:.2f} by more than "
                f"{cfg.max_regression:.2f}",
            )
    else:
        aps = float(candidate.get("alarms_per_shift") or 0.0)
        check(
            aps <= cfg.max_false_alarms_per_shift,
            f"no ground truth: alarms per shift {aps:.2f} <= {cfg.max_false_alarms_per_shift:.2f}",
        )
    return GateDecision(
        ok,
        reasons,
        cfg.as_dict(),
        dict(candidate),
        dict(production) if production is not None else None,
    )


def _f(x: Any) -> str:
    return "none" if x is None else f"{float(x):.2f}"


def promote(
    workspace: Workspace,
    name: str,
    version: int,
    decision: GateDecision,
    *,
    approved_by: str,
    force: bool = False,
) -> dict[str, Any]:
    """Records the gate's decision; promotes to production when it passed (or ``force``).

    Writes one ``detect.promotion`` event (payload: model, version, decision, approved_by,
    gate reasons, criteria and the evidence figures) and, when promoted, commits a
    ``model_promotion`` record to the workspace ledger. Returns the event payload.
    """
    from factoryax.ingest import ingest_rows
    from factoryax.ledger import Ledger

    reg = Registry.for_workspace(workspace.root)
    summary = reg.get(name, version)
    promoted = decision.passed or force
    now = utc_now()
    evidence = {
        "gate": {
            "passed": decision.passed,
            "reasons": decision.reasons,
            "criteria": decision.criteria,
        },
        "candidate": decision.candidate,
        "production": decision.production,
        "fingerprint": summary.fingerprint,
    }
    evidence_json = json.dumps(evidence, sort_keys=True, default=str)
    digest = hashlib.sha256(evidence_json.encode()).hexdigest()
    payload: dict[str, Any] = {
        "model": name,
        "version": summary.version,
        "kind": summary.kind,
        "asset": summary.asset,
        "decision": "promoted" if promoted else "rejected",
        "forced": bool(force and not decision.passed),
        "approved_by": approved_by,
        "reasons": decision.reasons,
        "evidence_sha256": digest,
    }
    if promoted:
        reg.set_stage(
            name,
            summary.version,
            "production",
            why=f"promoted by {approved_by}" + (" (forced)" if payload["forced"] else ""),
            now=now,
        )
    lines = {a.id: line.id for line, a in workspace.plant.iter_assets()}
    stamp = int(now.timestamp() * 1e6)
    event = pa.Table.from_pylist(
        [
            {
                "ts": now,
                "event_id": f"detect-promotion-{name}-v{summary.version}-{stamp}",
                "kind": "detect.promotion",
                "line": lines.get(summary.asset or ""),
                "asset": summary.asset,
                "severity": 1,
                "message": f"{name} v{summary.version} {payload['decision']} by {approved_by}",
                "payload": json.dumps(payload, sort_keys=True),
                "evidence": evidence_json,
            }
        ]
    )
    ingest_rows(
        "events", event, plant=workspace.plant, lake=workspace.lake, source=f"detect promote {name}"
    )
    if promoted:
        fields: dict[str, Any] = {
            "model": name,
            "version": summary.version,
            "approved_by": approved_by,
            "asset": summary.asset,
            "decision": "promoted",
            "forced": payload["forced"],
            "reasons": list(decision.reasons),
            "evidence_sha256": digest,
            "training_sha256": str(summary.fingerprint.get("sha256", "")),
        }
        with Ledger.for_workspace(workspace.root, workspace.plant.site.id) as ledger:
            receipt = ledger.commit("model_promotion", fields, claimed_at=now)
        payload["ledger_index"] = receipt.index
    return payload
