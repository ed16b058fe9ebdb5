"""Defect models from the lake: per-part process parameters → the inspection's verdict.

The lake has no table of "process parameters per part", but it holds what is needed to
build one. ``production`` has one row per part per station (its cycle end ``ts`` and
``cycle_time_s``), and ``readings`` has each station's signals over time. A part's
features are therefore, for every station *upstream* of the inspection (before it in the
line's order in ``plant.toml``):

- ``<asset>.cycle_time_s``: the station's cycle time for that part (first pass);
- ``<asset>.parts_since_tool``: cycles the station ran since its last ``down`` interval
  with reason ``TOOL`` ended (a CNC's tool-life counter; only for stations whose tool
  changes are in the lake, missing before the first one);
- ``<asset>.<signal>``: the last reading of each signal at or before the part's cycle end
  there (at most ``max_age_s`` old, else missing);
- ``product=<p>``: one column per product seen, 1.0 for the part's product.

The label is the part's *first* verdict at the inspection asset: anything but ``ok``
(rework or scrap) is a defect. Stations after the inspection (packing) and the inspection
station's own signals (the measured dimension decides the verdict) are left out, since
they would leak the label.

:func:`train_defect` splits the labelled parts by inspection time: the earliest
``1 - holdout`` train a :class:`~factoryax.detect.DefectModel` (its calibration and
threshold come from folds of those rows only), the latest ``holdout`` are held out and
give the reported metrics (Brier, PR-AUC, F1 at the model's threshold). The registered
model is the one that was measured, and its fingerprint names the training rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from factoryax.config import Workspace
from factoryax.core import PlantModel
from factoryax.detect.defect import DefectModel
from factoryax.detect.errors import DetectConfigError, DetectError, ModelFileError
from factoryax.detect.frames import Micros, read_wide
from factoryax.detect.registry import ModelSummary, Registry

__all__ = [
    "DEFECT_KIND",
    "DefectSet",
    "defect_event_rows",
    "defect_metrics",
    "defect_model_name",
    "read_parts",
    "score_parts",
    "stations",
    "train_defect",
]

Floats = npt.NDArray[np.float64]
DEFAULT_MAX_AGE_S = 300.0
TOOL_REASON = "TOOL"
"""``states.reason_code`` of a tool change (the twin's and the example plant's code)."""


def defect_model_name(inspection: str) -> str:
    """Registry name of the defect model judged at ``inspection``: ``defect-<asset>``."""
    return f"defect-{inspection}"


@dataclass(frozen=True)
class DefectSet:
    """Parts as one feature row each.

    Attributes:
        inspection: the asset whose verdict is the label.
        upstream: stations whose parameters are the features, in line order.
        part_ids: one per row.
        ts: µs since the epoch (UTC) of each part's first inspection (when labelled), else
            of its last upstream cycle end; rows are in this order.
        columns: feature name → value per row (NaN where missing).
        labelled: whether the part has been inspected.
        label: True where the first inspection verdict was not ``ok`` (False when unlabelled).
        codes: the first inspection's defect code per row ("" for ok or unlabelled).
        fingerprint: which lake rows these are.
    """

    inspection: str
    upstream: tuple[str, ...]
    part_ids: list[str]
    ts: Micros
    columns: dict[str, Floats]
    labelled: npt.NDArray[np.bool_]
    label: npt.NDArray[np.bool_]
    codes: list[str]
    fingerprint: dict[str, Any]

    def __len__(self) -> int:
        return len(self.part_ids)

    def take(self, rows: npt.NDArray[np.int64]) -> DefectSet:
        """The rows ``rows`` (fingerprint recomputed for them)."""
        cols = {k: v[rows] for k, v in self.columns.items()}
        ids = [self.part_ids[i] for i in rows]
        return DefectSet(
            self.inspection,
            self.upstream,
            ids,
            self.ts[rows],
            cols,
            self.labelled[rows],
            self.label[rows],
            [self.codes[i] for i in rows],
            _fingerprint(
                self.inspection,
                self.upstream,
                ids,
                self.ts[rows],
                cols,
                self.label[rows],
                self.fingerprint.get("ingest_ids", []),
            ),
        )


def stations(plant: PlantModel, inspection: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The inspection asset (given, else the first of kind ``inspection`` on any line) and
    the stations before it on its line.

    Raises:
        DetectConfigError: no such asset, no inspection asset, or nothing upstream of it.
    """
    for line, asset in plant.iter_assets():
        if inspection is None and asset.kind != "inspection":
            continue
        if inspection is not None and asset.id != inspection:
            continue
        ids = [a.id for a in line.assets]
        upstream = tuple(ids[: ids.index(asset.id)])
        if not upstream:
            raise DetectConfigError(
                f"asset {asset.id!r} is the first station of line {line.id!r}: no station "
                "upstream of it has process parameters to learn from; name the asset that "
                "judges parts after processing (plant.toml lists a line's assets in order)"
            )
        return asset.id, upstream
    known = ", ".join(a.id for _, a in plant.iter_assets())
    if inspection is None:
        raise DetectConfigError(
            "plant.toml declares no asset of kind 'inspection' to take defect labels from; "
            f"name the asset that judges parts, e.g. `factoryax detect train ASSET --task "
            f"defect` (assets: {known})"
        )
    raise DetectConfigError(f"unknown asset {inspection!r}; plant.toml declares {known}")


def read_parts(
    workspace: Workspace,
    inspection: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    by: str = "inspection",
    max_age_s: float = DEFAULT_MAX_AGE_S,
) -> DefectSet:
    """Builds one feature row per part from ``production`` and ``readings`` (module doc).

    Args:
        inspection: asset whose verdict is the label (default: the plant's inspection asset).
        start, end: window ``[start, end)`` on the parts' first inspection (``by=
            "inspection"``, labelled parts only, for training) or on their last upstream
            cycle end (``by="upstream"``, inspected or not, for scoring new parts). Only
            parts that passed every upstream station are rows.
        max_age_s: a reading older than this at a part's cycle end counts as missing.

    Raises:
        DetectError: the lake has no such parts (what, where and how to fix).
    """
    if by not in ("inspection", "upstream"):
        raise DetectConfigError(f"read_parts: `by` must be 'inspection' or 'upstream', got {by!r}")
    insp, upstream = stations(workspace.plant, inspection)
    params: list[object] = [insp]
    window = ""
    if start is not None:
        window += " AND k >= ?"
        params.append(start)
    if end is not None:
        window += " AND k < ?"
        params.append(end)
    marks = ", ".join("?" for _ in upstream)
    firsts = (
        "WITH f AS (SELECT part_id, CAST(asset AS VARCHAR) AS asset, ts, cycle_time_s, "
        "CAST(product AS VARCHAR) AS product, CAST(result AS VARCHAR) AS result, "
        "CAST(defect_code AS VARCHAR) AS code, CAST(ingest_id AS VARCHAR) AS b, "
        "row_number() OVER (PARTITION BY asset, part_id ORDER BY ts) AS n FROM production), "
        "i AS (SELECT part_id, ts AS insp_ts, result, code, b FROM f WHERE n = 1 AND asset = ?), "
        f"u AS (SELECT * FROM f WHERE n = 1 AND asset IN ({marks})), "
        "last_u AS (SELECT part_id, max(ts) AS up_ts, any_value(product) AS product "
        # only parts through every upstream station: a part still on its way would be
        # scored with features the model never saw missing in training
        f"FROM u GROUP BY part_id HAVING count(DISTINCT asset) = {len(upstream)})"
    )
    if by == "inspection":
        keyed = (
            "SELECT i.part_id, i.insp_ts AS k, l.product, i.result, i.code, i.b "
            "FROM i JOIN last_u l USING (part_id)"
        )
    else:
        keyed = (
            "SELECT l.part_id, l.up_ts AS k, l.product, i.result, i.code, i.b "
            "FROM last_u l LEFT JOIN i USING (part_id)"
        )
    parts = workspace.lake.query(
        f"{firsts}, p AS ({keyed}) SELECT * FROM p WHERE true{window} ORDER BY k, part_id",
        [*params[:1], *upstream, *params[1:]],
    )
    if parts.num_rows == 0:
        raise DetectError(_no_parts(insp, upstream, start, end, by))
    ids = [str(x) for x in parts.column("part_id").to_pylist()]
    key_ts = _micros_col(parts.column("k").to_pylist())
    results = parts.column("result").to_pylist()
    labelled = np.array([r is not None for r in results], dtype=bool)
    label = np.array([r is not None and r != "ok" for r in results], dtype=bool)
    codes = [
        str(c) if c is not None and r != "ok" else ""
        for c, r in zip(parts.column("code").to_pylist(), results, strict=True)
    ]
    columns: dict[str, Floats] = {}
    for product in sorted({str(p) for p in parts.column("product").to_pylist() if p}):
        columns[f"product={product}"] = np.array(
            [1.0 if p == product else 0.0 for p in parts.column("product").to_pylist()]
        )
    row_of = {pid: i for i, pid in enumerate(ids)}
    for asset in upstream:
        columns.update(_station_features(workspace, asset, row_of, max_age_s))
    batches = sorted({str(b) for b in parts.column("b").to_pylist() if b})
    fp = _fingerprint(insp, upstream, ids, key_ts, columns, label, batches)
    return DefectSet(insp, upstream, ids, key_ts, columns, labelled, label, codes, fp)


def _no_parts(
    insp: str,
    upstream: tuple[str, ...],
    start: dt.datetime | None,
    end: dt.datetime | None,
    by: str,
) -> str:
    span = f"[{start.isoformat() if start else '…'}, {end.isoformat() if end else '…'})"
    what = f"inspected at {insp!r}" if by == "inspection" else f"through {', '.join(upstream)}"
    return (
        f"the lake's `production` table holds no parts {what} in {span} that also passed "
        f"{', '.join(upstream)}; a defect model learns from per-part results (one row per "
        "part per station: part_id, ts, result, cycle_time_s) and the stations' readings. "
        "Ingest production results (`factoryax ingest`) or run the twin "
        "(`factoryax twin run --days 7`), and check the window "
        "(factoryax query 'SELECT asset, min(ts), max(ts), count(*) FROM production GROUP BY 1')"
    )


def _micros_col(values: list[Any]) -> Micros:
    return np.array([int(v.timestamp() * 1_000_000) for v in values], dtype=np.int64)


def _station_features(
    workspace: Workspace,
    asset: str,
    row_of: dict[str, int],
    max_age_s: float,
) -> dict[str, Floats]:
    """``<asset>.cycle_time_s`` and the last reading of each signal at each part's cycle end."""
    n = len(row_of)
    rows = workspace.lake.query(
        "SELECT part_id, CAST(asset AS VARCHAR) AS asset, ts, cycle_time_s FROM production "
        "WHERE asset = ? ORDER BY ts",
        [asset],
    )
    ts_all = _micros_col(rows.column("ts").to_pylist())
    ct_all = np.asarray(rows.column("cycle_time_s").to_numpy(zero_copy_only=False), dtype=float)
    src = np.full(n, -1, dtype=np.int64)  # each part's first production row here
    for k, pid in enumerate(rows.column("part_id").to_pylist()):
        i = row_of.get(str(pid))
        if i is not None and src[i] < 0:  # rows are in time order: the first pass
            src[i] = k
    has = src >= 0
    at = np.where(has, ts_all[np.maximum(src, 0)], -1) if ts_all.size else src
    cycle = np.where(has, ct_all[np.maximum(src, 0)], np.nan) if ts_all.size else np.full(n, np.nan)
    out = {f"{asset}.cycle_time_s": cycle}
    since = _parts_since_tool(workspace, asset, ts_all)
    if since is not None:
        out[f"{asset}.parts_since_tool"] = np.where(has, since[np.maximum(src, 0)], np.nan)
    seen = at[at >= 0]
    if seen.size == 0:
        return out
    age = int(max_age_s * 1e6)
    lo = dt.datetime.fromtimestamp((int(seen.min()) - age) / 1e6, dt.UTC)
    hi = dt.datetime.fromtimestamp((int(seen.max()) + 1) / 1e6, dt.UTC)
    wide = read_wide(workspace.lake, asset, lo, hi)
    for signal, col in wide.columns.items():
        ok = ~np.isnan(col)
        t, v = wide.ts[ok], col[ok]
        value = np.full(n, np.nan)
        if t.size:
            j = np.searchsorted(t, at, side="right") - 1
            fresh = (at >= 0) & (j >= 0) & (at - t[np.maximum(j, 0)] <= age)
            value[fresh] = v[j[fresh]]
        out[f"{asset}.{signal}"] = value
    return out


def _parts_since_tool(workspace: Workspace, asset: str, ts_all: Micros) -> Floats | None:
    """Per production row of ``asset`` (in time order), the cycles since the end of the
    last tool change before it; None when the lake records no tool change of the asset."""
    ends = workspace.lake.query(
        'SELECT "end" FROM states WHERE asset = ? AND reason_code = ? ORDER BY "end"',
        [asset, TOOL_REASON],
    )
    if ends.num_rows == 0:
        return None
    tool_end = _micros_col(ends.column("end").to_pylist())
    k = np.searchsorted(tool_end, ts_all, side="right") - 1
    start = np.searchsorted(ts_all, tool_end[np.maximum(k, 0)], side="left")
    count = np.arange(ts_all.size, dtype=np.float64) - start
    return np.where(k >= 0, count, np.nan)


def _fingerprint(
    insp: str,
    upstream: tuple[str, ...],
    ids: list[str],
    ts: Micros,
    columns: dict[str, Floats],
    label: npt.NDArray[np.bool_],
    batches: list[str],
) -> dict[str, Any]:
    h = hashlib.sha256()
    h.update("\n".join(ids).encode())
    h.update(ts.tobytes())
    h.update(label.astype(np.uint8).tobytes())
    for name in sorted(columns):
        h.update(name.encode())
        h.update(np.nan_to_num(columns[name], nan=np.inf).tobytes())
    iso = (
        [dt.datetime.fromtimestamp(int(x) / 1e6, dt.UTC).isoformat() for x in ts[[0, -1]]]
        if ts.size
        else [None, None]
    )
    return {
        "table": "production",
        "asset": insp,
        "upstream": list(upstream),
        "from": iso[0],
        "to": iso[1],
        "rows": len(ids),
        "positives": int(label.sum()),
        "ingest_ids": batches[:50],
        "ingest_batches": len(batches),
        "sha256": h.hexdigest(),
    }


def defect_metrics(
    label: npt.ArrayLike, proba: npt.ArrayLike, threshold: float
) -> dict[str, float | int | None]:
    """Brier score, PR-AUC (average precision), ROC-AUC, and precision/recall/F1 at
    ``threshold``; the base-rate Brier score ``r(1 - r)`` is the no-skill reference.

    Examples:
        >>> m = defect_metrics([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], 0.5)
        >>> m["f1"], m["pr_auc"], round(m["brier"], 4)
        (1.0, 1.0, 0.0375)
    """
    from sklearn.metrics import (  # type: ignore[import-untyped]  # no stubs
        average_precision_score,
        roc_auc_score,
    )

    t = np.asarray(label).astype(bool)
    p = np.asarray(proba, dtype=np.float64)
    hit = p >= threshold
    tp = int(np.sum(t & hit))
    both = bool(t.any() and (~t).any())
    rate = float(t.mean()) if t.size else 0.0
    precision = tp / int(hit.sum()) if hit.any() else None
    recall = tp / int(t.sum()) if t.any() else None
    f1 = 2 * tp / (int(t.sum()) + int(hit.sum())) if (t.any() or hit.any()) else None
    return {
        "n": int(t.size),
        "positives": int(t.sum()),
        "base_rate": round(rate, 6),
        "brier": float(np.mean((p - t) ** 2)) if t.size else None,
        "brier_base_rate": rate * (1 - rate),
        "pr_auc": float(average_precision_score(t, p)) if t.any() else None,
        "roc_auc": float(roc_auc_score(t, p)) if both else None,
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def train_defect(
    workspace: Workspace,
    inspection: str | None = None,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    holdout: float = 0.25,
    model: DefectModel | None = None,
    created_by: str = "factoryax",
) -> ModelSummary:
    """Trains, measures on the held-out latest parts and registers a defect model.

    Args:
        inspection: the asset whose verdict is the label (default: the plant's inspection).
        start, end: window on the parts' first inspection instant.
        holdout: share of the labelled parts, the latest by inspection time, held out to
            measure the model (never used for fitting, calibration or the threshold).
        model: an unfitted prototype (default ``DefectModel(max_iter=200)``).

    Raises:
        DetectError: no parts, or too few defects on either side of the split to fit or
            measure (says how many and what to do).
    """
    if not 0.0 < holdout < 1.0:
        raise DetectConfigError(f"holdout must be in (0, 1), got {holdout!r}")
    proto = model if model is not None else DefectModel(max_iter=200)
    parts = read_parts(workspace, inspection, start, end, by="inspection")
    cut = round(len(parts) * (1.0 - holdout))
    train = parts.take(np.arange(cut, dtype=np.int64))
    test = parts.take(np.arange(cut, len(parts), dtype=np.int64))
    need = proto.folds
    if int(train.label.sum()) < need or int((~train.label).sum()) < need or len(test) == 0:
        raise DetectError(
            f"{parts.inspection}: {int(parts.label.sum())} defect(s) among {len(parts)} "
            f"inspected parts; the earliest {1 - holdout:.0%} ({len(train)} parts) hold "
            f"{int(train.label.sum())} defect(s), and the model needs at least {need} defects "
            f"and {need} good parts to calibrate, plus held-out parts to be measured; "
            "train over a longer window (--from/--to) or run the twin longer"
        )
    fitted = proto.clone().fit(train.columns, train.label)
    held = defect_metrics(test.label, fitted.predict_proba(test.columns), fitted.threshold_ or 0.5)
    metrics: dict[str, Any] = {
        "held_out": held,
        "held_out_window": [test.fingerprint["from"], test.fingerprint["to"]],
        "held_out_sha256": test.fingerprint["sha256"],
        "train_rows": len(train),
        "train_positives": int(train.label.sum()),
        "label": f"first verdict at {parts.inspection} is not 'ok'",
        "features": len(train.columns),
    }
    reg = Registry.for_workspace(workspace.root)
    return reg.register(
        defect_model_name(parts.inspection),
        fitted,
        asset=parts.inspection,
        task="defect",
        metrics=metrics,
        fingerprint=train.fingerprint,
        created_by=created_by,
    )


def score_parts(
    workspace: Workspace,
    inspection: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    version: int | None = None,
) -> tuple[ModelSummary, DefectSet, Floats]:
    """Calibrated defect probability of every part whose last upstream cycle ends in
    ``[start, end)``, inspected or not, with the model used (default: the production
    version, else the newest)."""
    insp, _ = stations(workspace.plant, inspection)
    reg = Registry.for_workspace(workspace.root)
    name = defect_model_name(insp)
    prod = reg.production(name)
    summary = reg.get(name, version if version is not None else prod.version if prod else None)
    model = reg.load(name, summary.version)
    if not isinstance(model, DefectModel):
        raise ModelFileError(f"model {name!r} v{summary.version} is a {model.kind!r} model")
    parts = read_parts(workspace, insp, start, end, by="upstream")
    return summary, parts, model.predict_proba(parts.columns)


DEFECT_KIND = "detect.defect_risk"
"""``events`` kind of a part whose calibrated defect probability reached the threshold."""


def defect_event_rows(
    workspace: Workspace, summary: ModelSummary, parts: DefectSet, proba: Floats
) -> pa.Table:
    """``events`` rows (kind ``detect.defect_risk``) for the parts at or above the model's
    threshold, stamped at the part's last upstream cycle end. The event id is
    ``detect-defect-<part>-<model>-v<version>``, so writing again is idempotent."""
    from factoryax.lake import table_spec

    threshold = summary.threshold if summary.threshold is not None else 0.5
    lines = {a.id: line.id for line, a in workspace.plant.iter_assets()}
    rows = []
    for i in np.flatnonzero(proba >= threshold):
        pid, p = parts.part_ids[i], float(proba[i])
        payload = {
            "model": summary.name,
            "version": summary.version,
            "part_id": pid,
            "probability": round(p, 6),
            "threshold": threshold,
        }
        rows.append(
            {
                "site": workspace.plant.site.id,
                "ts": dt.datetime.fromtimestamp(int(parts.ts[i]) / 1e6, tz=dt.UTC),
                "event_id": f"detect-defect-{pid}-{summary.name}-v{summary.version}",
                "kind": DEFECT_KIND,
                "line": lines.get(parts.inspection),
                "asset": parts.inspection,
                "severity": 2,
                "message": f"part {pid}: defect probability {p:.0%} (threshold {threshold:.0%})",
                "payload": json.dumps(payload, sort_keys=True),
                "evidence": json.dumps({"model": f"{summary.name}@v{summary.version}"}),
            }
        )
    schema = table_spec("events").input_schema
    return pa.Table.from_pylist(rows).cast(schema) if rows else schema.empty_table()
