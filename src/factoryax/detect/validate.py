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
  window (else 8 h blocks); a window holding no shift start has no per-shift figure
  (``None``), and the gate fails such evidence as "not computed".

Without the twin (a real plant), the truth is the plant's own record: every ``down`` stop
whose reason is ``BREAKDOWN`` (the operator's later reason, a ``downtime.reason`` event,
wins over the recorded one) is a failure to warn of, with its warning window reaching
back :data:`WARNING_HORIZON_S` (24 h) or to the asset's previous breakdown, whichever is
later (:func:`plant_truth`). A breakdown without a precursor then counts as missed: that
is what the plant experienced.

A model that never alarms cannot fail a window with nothing to miss, so silence is no
evidence: where the window holds no wear failure and no detectable sensor fault (or there
is no ground truth at all), recall and lead time cannot be shown and the gate's verdict
is *insufficient evidence*. An engineer may accept such a model with a written
justification (``accept_without_failures``); the justification is recorded with the
decision. Where the window holds detectable sensor faults but no wear failure, the share
of those faults caught stands in for failure recall.

Evidence must be out of sample: :func:`backtest` and :func:`shadow` record how much of
their window lies inside the model's training window (``in_sample``,
``training_overlap``), and the gate fails in-sample evidence. Production is compared on
the same rows only (:func:`gate_inputs`): the shadow run's production figures, else a
production backtest over the candidate's exact window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
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
from factoryax.detect.registry import ModelSummary, Registry

__all__ = [
    "AlarmScore",
    "GateConfig",
    "GateDecision",
    "alarm_instants",
    "backtest",
    "count_shifts",
    "gate",
    "gate_inputs",
    "plant_truth",
    "promote",
    "read_truth",
    "score_alarms",
    "shadow",
    "training_overlap",
    "truth_for",
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


WARNING_HORIZON_S = 24 * 3600.0
"""How long before a breakdown an alarm counts as a warning of it (plant truth)."""

_BREAKDOWNS_SQL = """
WITH given AS (
    SELECT asset::VARCHAR AS asset,
           CAST(json_extract_string(payload, '$.start') AS TIMESTAMPTZ) AS start,
           arg_max(json_extract_string(payload, '$.reason_code'), ts) AS reason_code
    FROM events WHERE kind = 'downtime.reason' GROUP BY ALL
),
st AS (
    SELECT x.asset::VARCHAR AS asset, x.start, x."end",
           coalesce(given.reason_code, x.reason_code::VARCHAR) AS reason_code
    FROM states x LEFT JOIN given ON given.asset = x.asset::VARCHAR AND given.start = x.start
    WHERE x.state = 'down' AND x.start < $2 AND x."end" > $1
)
SELECT asset, start, "end" FROM st WHERE reason_code = $3 ORDER BY asset, start
"""


def plant_truth(
    workspace: Workspace,
    start: dt.datetime,
    end: dt.datetime,
    *,
    reason_code: str = "BREAKDOWN",
    horizon_s: float = WARNING_HORIZON_S,
) -> pa.Table | None:
    """The plant's breakdowns in ``[start, end)`` as truth rows (the twin's ``faults``
    shape: asset, kind ``wear_failure``, onset_at, failure_at, end_at), or None when the
    window holds none.

    ``onset_at`` is ``horizon_s`` before the breakdown or the end of the asset's previous
    one, whichever is later, so one warning is never credited to two breakdowns.
    """
    lookback = start - dt.timedelta(seconds=horizon_s)
    rows = workspace.lake.query(_BREAKDOWNS_SQL, [lookback, end, reason_code]).to_pylist()
    out: list[dict[str, Any]] = []
    previous: dict[str, dt.datetime] = {}
    for r in rows:
        failure, asset = r["start"], r["asset"]
        onset = failure - dt.timedelta(seconds=horizon_s)
        if asset in previous:
            onset = max(onset, previous[asset])
        previous[asset] = r["end"]
        if start <= failure < end:
            out.append(
                {
                    "asset": asset,
                    "kind": "wear_failure",
                    "onset_at": onset,
                    "failure_at": failure,
                    "end_at": r["end"],
                }
            )
    if not out:
        return None
    ts = pa.timestamp("us", "UTC")
    names = ("onset_at", "failure_at", "end_at")
    schema = pa.schema([("asset", pa.string()), ("kind", pa.string())] + [(n, ts) for n in names])
    return pa.Table.from_pylist(out, schema=schema)


def truth_for(
    workspace: Workspace, start: dt.datetime, end: dt.datetime
) -> tuple[pa.Table | None, str | None]:
    """The truth a backtest is scored against, and where it came from: the twin's injected
    faults when the workspace has them (exact), else the plant's breakdown stops."""
    twin = read_truth(workspace.root)
    if twin is not None:
        return twin, "twin faults"
    plant = plant_truth(workspace, start, end)
    if plant is not None:
        return plant, f"plant: down/BREAKDOWN stops, warning horizon {WARNING_HORIZON_S / 3600:g} h"
    return None, None


@dataclass(frozen=True)
class AlarmScore:
    """How a model's alarms fared against the truth over a window."""

    alarms: int
    true_alarms: int
    false_alarms: int
    shifts: float
    false_alarms_per_shift: float | None
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
        false_alarms_per_shift=(n - true) / shifts if shifts > 0 else None,
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
    figures; without it, the alarm count and rate only. It also says whether the window
    overlaps the model's training window (:func:`training_overlap`): such evidence is
    in-sample and the gate fails it. Recorded on the version (``backtest``) when ``record``.
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
    result.update(training_overlap(summary.fingerprint, data))
    result.update(
        model=name, version=summary.version, at=utc_now().isoformat(), fingerprint=data.fingerprint
    )
    if record:
        reg.annotate(name, summary.version, backtest=result)
    return result


def training_overlap(fingerprint: Mapping[str, Any], data: Wide) -> dict[str, Any]:
    """How much of ``data`` lies inside the training window a model's fingerprint names.

    Returns ``training_window`` (``[from, to]``, ISO, or None when the fingerprint names
    none), ``training_overlap`` (share of ``data``'s instants inside it, or None) and
    ``in_sample`` (True when any instant is inside it; None when unknown).

    Examples:
        >>> import numpy as np
        >>> w = Wide(np.array([0, 1_000_000, 2_000_000]), {}, {})
        >>> fp = {"from": "1970-01-01T00:00:00+00:00", "to": "1970-01-01T00:00:01+00:00"}
        >>> training_overlap(fp, w)["training_overlap"], training_overlap(fp, w)["in_sample"]
        (0.6667, True)
        >>> training_overlap({}, w)["in_sample"] is None
        True
    """
    lo, hi = fingerprint.get("from"), fingerprint.get("to")
    if not lo or not hi:
        return {"training_window": None, "training_overlap": None, "in_sample": None}
    lo_us = _us(dt.datetime.fromisoformat(str(lo))) or 0
    hi_us = _us(dt.datetime.fromisoformat(str(hi))) or 0
    ts = np.asarray(data.ts, dtype=np.int64)
    inside = int(np.count_nonzero((ts >= lo_us) & (ts <= hi_us)))
    share = round(inside / ts.size, 4) if ts.size else 0.0
    return {
        "training_window": [str(lo), str(hi)],
        "training_overlap": share,
        "in_sample": inside > 0,
    }


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
    truth, source = truth_for(workspace, start, end)
    out: dict[str, Any] = {
        "window": [start.isoformat(), end.isoformat()],
        "alarms": int(alarms.shape[0]),
        "alarms_per_shift": alarms.shape[0] / shifts if shifts else None,
        "truth": truth is not None,
        "truth_source": source,
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
    c.update(training_overlap(cand.fingerprint, data))
    result: dict[str, Any] = {
        "model": name,
        "candidate": {"version": cand.version, **c},
        "production": None,
        "at": utc_now().isoformat(),
    }
    if prod is not None and prod.version != cand.version:
        p_det = reg.load_detector(name, prod.version)
        p = _evaluate(workspace, cand.asset, p_det, data, start, end, clear_s)
        p.update(training_overlap(prod.fingerprint, data))
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
        min_fault_recall: share of detectable sensor faults (spike, stuck) it must catch
            when the window holds no wear failure.
        min_lead_time_s: mean warning time before those failures.
        max_false_alarms_per_shift: false alarms per simulated/calendar shift.
        min_precision: share of its alarms explained by a fault.
        max_regression: how much worse than production it may be (absolute on recall and
            precision, per shift on false alarms).
    """

    min_failure_recall: float = 0.5
    min_fault_recall: float = 0.5
    min_lead_time_s: float = 600.0
    max_false_alarms_per_shift: float = 1.0
    min_precision: float = 0.3
    max_regression: float = 0.05

    def __post_init__(self) -> None:
        for name in ("min_failure_recall", "min_fault_recall", "min_precision"):
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


INSUFFICIENT = "insufficient evidence"


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict and why.

    Attributes:
        passed: whether the candidate may be promoted.
        reasons: one line per criterion, ``FAILED: `` or ``INSUFFICIENT EVIDENCE: `` first
            where it did not hold.
        verdict: ``"passed"``, ``"failed"`` (a criterion measured and missed) or
            ``"insufficient evidence"`` (nothing failed, but the window cannot show recall
            and lead time and no justification was given).
        accepted_without_failures: the engineer's justification for passing without
            failure evidence, or None.
    """

    passed: bool
    reasons: list[str]
    criteria: dict[str, float]
    candidate: dict[str, Any]
    production: dict[str, Any] | None
    verdict: str = ""
    accepted_without_failures: str | None = None

    def __post_init__(self) -> None:
        if not self.verdict:  # built without one (older callers): derive it
            object.__setattr__(self, "verdict", "passed" if self.passed else "failed")


def _recall(fig: Mapping[str, Any]) -> float | None:
    total = int(fig.get("wear_total") or 0)
    return int(fig.get("wear_detected") or 0) / total if total else None


def _sensor_faults(fig: Mapping[str, Any]) -> tuple[int, int]:
    """(caught, total) of the detectable sensor faults (spike, stuck) in the figures."""
    faults = fig.get("faults") or {}
    kinds = [k for k in DETECTABLE if k != "wear_failure"]
    total = sum(int((faults.get(k) or {}).get("total", 0)) for k in kinds)
    caught = sum(int((faults.get(k) or {}).get("detected", 0)) for k in kinds)
    return caught, total


def _justification(text: str | None) -> str | None:
    if text is None:
        return None
    if not text.strip():
        raise DetectConfigError(
            "accept_without_failures must say why the model is accepted without failure "
            "evidence, got an empty string; give the reason (e.g. 'replaces v3, same "
            "settings, retrained on the new tool holder')"
        )
    return text.strip()


_UNSHOWN = (
    "so recall and lead time cannot be shown (a model that never alarms would pass); "
    "backtest over a window holding a failure, or accept it with a recorded justification "
    '(--accept-without-failures "why")'
)


def gate(
    candidate: Mapping[str, Any],
    production: Mapping[str, Any] | None = None,
    config: GateConfig | None = None,
    *,
    accept_without_failures: str | None = None,
) -> GateDecision:
    """Compares backtest/shadow figures against the criteria (and production's figures).

    The candidate's evidence must be out of sample (``in_sample`` False, as
    :func:`backtest` and :func:`shadow` record it); in-sample or unchecked evidence fails.
    A per-shift rate the evidence does not hold (no shift started in the window) fails as
    "not computed". A criterion with nothing to test (no failure in the window, no alarm
    at all) is reported as not tested, not failed, except recall itself: a window with no
    wear failure and no detectable sensor fault, or no ground truth at all, cannot show
    that the model warns, and the verdict is ``"insufficient evidence"`` unless
    ``accept_without_failures`` gives the engineer's justification (then the other
    criteria decide and the justification is kept on the decision). With sensor faults
    but no wear failure, the share of them caught must reach ``min_fault_recall``.
    Production is compared only when its figures cover the candidate's exact window
    (:func:`gate_inputs` picks them); otherwise the reasons say there is no comparable
    production evidence.

    Examples:
        >>> d = gate({"truth": True, "in_sample": False, "wear_detected": 2,
        ...           "wear_total": 2, "mean_lead_time_s": 7200.0,
        ...           "false_alarms_per_shift": 0.2, "precision": 0.7})
        >>> d.passed, d.reasons[0]
        (True, 'warned of 2/2 wear failures (1.00 >= 0.50)')
        >>> quiet = {"truth": True, "in_sample": False, "wear_total": 0, "alarms": 0,
        ...          "false_alarms_per_shift": 0.0, "precision": None}
        >>> d = gate(quiet)
        >>> d.passed, d.verdict, d.reasons[0][:48]
        (False, 'insufficient evidence', 'INSUFFICIENT EVIDENCE: no wear failure and no de')
        >>> d = gate(quiet, accept_without_failures="same settings as v3, retrained")
        >>> d.passed, d.verdict, d.accepted_without_failures
        (True, 'passed', 'same settings as v3, retrained')
        >>> d = gate({"truth": False, "in_sample": False, "alarms": 500,
        ...           "alarms_per_shift": None})
        >>> d.verdict, d.reasons[1][:50]
        ('failed', 'FAILED: no ground truth: alarms per shift not comp')
    """
    cfg = config or GateConfig()
    accepted = _justification(accept_without_failures)
    reasons: list[str] = []
    ok = True
    unshown = False

    def no_recall(why: str) -> None:
        nonlocal unshown
        if accepted is None:
            unshown = True
            reasons.append(f"INSUFFICIENT EVIDENCE: {why}, {_UNSHOWN}")
        else:
            reasons.append(
                f"{why}: recall and lead time not shown; accepted without failure evidence: "
                f"{accepted!r}"
            )

    def check(cond: bool, text: str) -> None:
        nonlocal ok
        ok = ok and cond
        reasons.append(text if cond else "FAILED: " + text)

    sample_ok = _check_sample(candidate, check)
    if candidate.get("truth"):
        rec = _recall(candidate)
        lead = candidate.get("mean_lead_time_s")
        fa = _opt_float(candidate.get("false_alarms_per_shift"))
        pr = candidate.get("precision")
        caught, sensor_total = _sensor_faults(candidate)
        if rec is None and sensor_total == 0:
            no_recall("no wear failure and no detectable sensor fault in the window")
        elif rec is None:
            share = caught / sensor_total
            check(
                share >= cfg.min_fault_recall,
                f"no wear failure in the window (lead time not tested); caught "
                f"{caught}/{sensor_total} sensor faults ({share:.2f} >= "
                f"{cfg.min_fault_recall:.2f})",
            )
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
        if fa is None:
            check(False, "false alarms per shift " + _NOT_COMPUTED)
        else:
            check(
                fa <= cfg.max_false_alarms_per_shift,
                f"false alarms per shift {fa:.2f} <= {cfg.max_false_alarms_per_shift:.2f}",
            )
        if pr is None:
            reasons.append("no alarms: precision not tested")
        else:
            check(pr >= cfg.min_precision, f"alarm precision {_f(pr)} >= {cfg.min_precision:.2f}")
        if production is not None:
            why_not = _incomparable(candidate, production)
            if why_not is not None:
                reasons.append(f"no comparable production evidence: {why_not}")
            else:
                prec = _recall(production)
                pfa = _opt_float(production.get("false_alarms_per_shift"))
                if prec is not None and rec is not None:
                    check(
                        rec >= prec - cfg.max_regression,
                        f"failure recall not below production's {prec:.2f} by more than "
                        f"{cfg.max_regression:.2f}",
                    )
                if pfa is not None and fa is not None:
                    check(
                        fa <= pfa + cfg.max_regression,
                        f"false alarms per shift not above production's {pfa:.2f} by more "
                        f"than {cfg.max_regression:.2f}",
                    )
    else:
        no_recall("no ground truth beside the lake to match alarms against")
        aps = _opt_float(candidate.get("alarms_per_shift"))
        if aps is None:
            check(False, "no ground truth: alarms per shift " + _NOT_COMPUTED)
        else:
            check(
                aps <= cfg.max_false_alarms_per_shift,
                f"no ground truth: alarms per shift {aps:.2f} <= "
                f"{cfg.max_false_alarms_per_shift:.2f}",
            )
    if sample_ok:  # a passed sample check goes last; a failed one stays first
        reasons.append(reasons.pop(0))
    verdict = "failed" if not ok else INSUFFICIENT if unshown else "passed"
    return GateDecision(
        verdict == "passed",
        reasons,
        cfg.as_dict(),
        dict(candidate),
        dict(production) if production is not None else None,
        verdict=verdict,
        accepted_without_failures=accepted,
    )


_NOT_COMPUTED = (
    "not computed (no shift starts in the evidence window); backtest over a window "
    "covering at least one shift of the plant's calendar"
)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _check_sample(candidate: Mapping[str, Any], check: Callable[[bool, str], None]) -> bool:
    in_sample = candidate.get("in_sample")
    train = candidate.get("training_window")
    if in_sample is False:
        check(True, "out of sample: the evidence window does not overlap the training window")
        return True
    if in_sample:
        share = candidate.get("training_overlap")
        span = f" [{train[0]}, {train[1]}]" if train else ""
        check(
            False,
            f"in-sample evidence: {_pct(share)} of the evidence window's instants lie in the "
            f"training window{span}; backtest over a window after the training window's end",
        )
        return False
    check(
        False,
        "evidence not shown out of sample (no training window to compare with); "
        "register the model with its training fingerprint and backtest it again",
    )
    return False


def _pct(share: Any) -> str:
    return "some" if share is None else f"{float(share):.0%}"


def _window_key(fig: Mapping[str, Any]) -> tuple[dt.datetime, ...] | None:
    window = fig.get("window")
    if not window or len(window) != 2:
        return None
    try:
        return tuple(dt.datetime.fromisoformat(str(x)) for x in window)
    except ValueError:
        return None


def _incomparable(candidate: Mapping[str, Any], production: Mapping[str, Any]) -> str | None:
    """Why production's figures cannot be compared with the candidate's (None if they can)."""
    version = production.get("version")
    who = "production" + (f" v{version}" if version is not None else "")
    if not production.get("truth"):
        return f"{who} has no figures against ground truth over the candidate's window"
    cw, pw = _window_key(candidate), _window_key(production)
    if cw is None or pw is None or cw != pw:
        shown = production.get("window")
        return (
            f"{who}'s figures cover {shown!r}, the candidate's {candidate.get('window')!r}; "
            "run `factoryax detect shadow` to score both on the same rows"
        )
    return None


def gate_inputs(
    candidate: ModelSummary, production: ModelSummary | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The evidence to gate ``candidate`` on and production's figures to compare it with.

    Evidence: the candidate's shadow figures, else its backtest (None when it has neither).
    Production's figures: the shadow run's ``production`` side when that run compared the
    current production version on the same rows; else production's backtest (the gate
    compares it only when it covers the same window); when production has no figures at
    all, ``{"version": v}`` so the gate says there is no comparable evidence. None when
    there is no production version (or it is the candidate itself).
    """
    shadow_run = candidate.shadow or {}
    evidence = shadow_run.get("candidate") or candidate.backtest
    if production is None or production.version == candidate.version:
        return evidence, None
    side = shadow_run.get("production") if shadow_run.get("candidate") else None
    if side is not None and side.get("version") == production.version:
        return evidence, dict(side)
    if production.backtest is not None:
        return evidence, {"version": production.version, **production.backtest}
    return evidence, {"version": production.version}


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
    ``model_promotion`` record to the workspace ledger. Returns the event payload, whose
    ``decision`` is ``"promoted"``, ``"rejected"`` (a criterion failed) or ``"insufficient
    evidence"`` (see :func:`gate`); an engineer's ``accepted_without_failures``
    justification is in the payload, the evidence and the ledger record.
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
            "verdict": decision.verdict,
            "accepted_without_failures": decision.accepted_without_failures,
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
        "decision": _outcome(decision, promoted),
        "verdict": decision.verdict,
        "accepted_without_failures": decision.accepted_without_failures,
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
            "verdict": decision.verdict,
            "reasons": list(decision.reasons),
            "evidence_sha256": digest,
            "training_sha256": str(summary.fingerprint.get("sha256", "")),
        }
        if decision.accepted_without_failures is not None:
            fields["accepted_without_failures"] = decision.accepted_without_failures
        with Ledger.for_workspace(workspace.root, workspace.plant.site.id) as ledger:
            receipt = ledger.commit("model_promotion", fields, claimed_at=now)
        payload["ledger_index"] = receipt.index
    return payload


def _outcome(decision: GateDecision, promoted: bool) -> str:
    """What happened to the version: promoted, rejected, or refused for lack of evidence."""
    if promoted:
        return "promoted"
    return INSUFFICIENT if decision.verdict == INSUFFICIENT else "rejected"
