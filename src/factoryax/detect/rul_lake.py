"""Training an asset's RUL model from the lake: failures from ``states``, signals from
``readings``.

Labels come from the plant's own maintenance history, not from the twin's truth: every
``down`` interval with the breakdown reason code is a failure, and each instant before it
has ``RUL = failure start − instant`` (wall hours). Only failures starting inside the
training window label it (a failure after ``end`` is future data). Readings are averaged
into ``step_s`` bins; each stretch between two failures is one history. The stretch after
the last failure is censored and is not used for training.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from factoryax.config import Workspace
from factoryax.detect.errors import DetectError
from factoryax.detect.frames import Floats, Micros, read_wide
from factoryax.detect.registry import ModelSummary, Registry
from factoryax.detect.rul import RulEstimate, RulModel

__all__ = ["predict_rul", "rul_model_name", "train_rul"]


def rul_model_name(asset: str) -> str:
    """Registry name of an asset's RUL model.

    Examples:
        >>> rul_model_name("press-01")
        'rul-press-01'
    """
    return "rul-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in asset.lower())


def _binned(ts: Any, columns: dict[str, Floats], step_us: int) -> tuple[Any, dict[str, Floats]]:
    b = (ts // step_us).astype(np.int64)
    keys, inv = np.unique(b, return_inverse=True)
    out = {}
    for name, col in columns.items():
        ok = np.isfinite(col)
        s = np.bincount(inv, weights=np.where(ok, col, 0.0), minlength=keys.size)
        n = np.bincount(inv, weights=ok.astype(float), minlength=keys.size)
        out[name] = np.divide(s, n, out=np.full(keys.size, np.nan), where=n > 0)
    return keys * step_us, out


def _failures_us(
    workspace: Workspace,
    asset: str,
    reason_code: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> Micros:
    """Start instants (µs) of the asset's failures that start inside ``[start, end)``."""
    where = ["asset = ?", "state = 'down'", "reason_code = ?"]
    params: list[object] = [asset, reason_code]
    if start is not None:
        where.append("start >= ?")
        params.append(start)
    if end is not None:
        where.append("start < ?")
        params.append(end)
    failures = workspace.lake.query(
        f"SELECT start FROM states WHERE {' AND '.join(where)} ORDER BY start", params
    ).column("start")
    return np.array([int(t.timestamp() * 1e6) for t in failures.to_pylist()], dtype=np.int64)


def _labelled(
    ts_us: Micros, columns: dict[str, Floats], fail_us: Micros, step_us: int
) -> tuple[list[dict[str, Floats]], list[Floats]]:
    """Binned histories and their RUL labels (hours): each stretch of readings up to a
    failure is one history, labelled with the time to that failure. Readings after the
    last failure (the open final segment, whose failure is unknown) are dropped."""
    ts, cols = _binned(ts_us, columns, step_us)
    histories: list[dict[str, Floats]] = []
    ruls: list[Floats] = []
    prev = -(2**62)
    for f in fail_us:
        m = (ts > prev) & (ts < f)
        prev = int(f)
        if m.sum() < 10:
            continue
        histories.append({k: v[m] for k, v in cols.items()})
        ruls.append((f - ts[m]) / 3.6e9)
    return histories, ruls


def train_rul(
    workspace: Workspace,
    asset: str,
    *,
    reason_code: str = "BREAKDOWN",
    step_s: float = 60.0,
    model: RulModel | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> ModelSummary:
    """Trains and registers ``rul-<asset>`` (RUL in hours) from the lake's history.

    Only failures that start inside ``[start, end)`` label the readings of that window, so
    no label looks past ``end``; readings after the last of them have no known RUL and are
    not used.

    Raises:
        DetectError: fewer than two failures with readings before them in the window.
    """
    data = read_wide(workspace.lake, asset, start, end)
    fail_us = _failures_us(workspace, asset, reason_code, start, end)
    histories, ruls = _labelled(data.ts, data.columns, fail_us, int(step_s * 1e6))
    if len(histories) < 2:
        raise DetectError(
            f"asset {asset!r}: {len(histories)} failure(s) ({reason_code!r} down intervals) "
            "with readings before them; a RUL model needs at least 2 — keep collecting data"
        )
    rul_model = (model or RulModel(clip=12.0, window=30, max_iter=200)).fit(histories, ruls)
    reg = Registry.for_workspace(workspace.root)
    fp = dict(data.fingerprint)
    fp["failures"] = len(histories)
    fp["labels"] = f"states: down/{reason_code}"
    return reg.register(
        rul_model_name(asset),
        rul_model,
        asset=asset,
        task="rul",
        fingerprint=fp,
        metrics={"histories": len(histories), "step_s": step_s, "unit": "h"},
    )


def _last_failure_us(
    workspace: Workspace, asset: str, reason_code: str, before: dt.datetime
) -> int:
    rows = workspace.lake.query(
        "SELECT max(\"end\") AS e FROM states WHERE asset = ? AND state = 'down' "
        "AND reason_code = ? AND start < ?",
        [asset, reason_code, before],
    ).to_pylist()
    last = rows[0]["e"] if rows else None
    return int(last.timestamp() * 1e6) if last is not None else -(2**62)


def predict_rul(
    workspace: Workspace,
    asset: str,
    *,
    at: dt.datetime | None = None,
    version: int | None = None,
    reason_code: str = "BREAKDOWN",
    step_s: float | None = None,
) -> tuple[ModelSummary, RulEstimate]:
    """The RUL (hours) of ``asset`` at ``at`` (default: its last reading), from the history
    since its last repair, binned as in training."""
    reg = Registry.for_workspace(workspace.root)
    summary = reg.get(rul_model_name(asset), version)
    model = reg.load(summary.name, summary.version)
    if not isinstance(model, RulModel):
        raise DetectError(f"{summary.name!r} v{summary.version} is not a RUL model")
    step = float(step_s or summary.metrics.get("step_s", 60.0))
    end = at or dt.datetime.now(dt.UTC)
    since_us = _last_failure_us(workspace, asset, reason_code, end)
    start = dt.datetime.fromtimestamp(max(since_us, 0) / 1e6, tz=dt.UTC)
    data = read_wide(workspace.lake, asset, start, end)
    if len(data) == 0:
        raise DetectError(f"asset {asset!r} has no readings since its last repair")
    _, cols = _binned(data.ts, data.columns, int(step * 1e6))
    return summary, model.predict(cols)
