"""Scoring lake readings as they arrive: the runtime's entry point into detection.

:class:`LiveScorer` loads each asset's production anomaly model from the registry and
turns each batch of ``readings`` rows into ``anomaly_score`` readings and
``detect.anomaly`` events. It keeps each detector's streaming state and each asset's
alarm state across batches, so feeding a day in one batch or in a thousand gives the
same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factoryax.config import Workspace
from factoryax.detect.base import Detector, top_contributions
from factoryax.detect.frames import (
    SCORE_SIGNAL,
    Alarm,
    Floats,
    Micros,
    _ts_micros,
    alarm_rows,
    encoded,
    pivot_codes,
    score_rows,
)
from factoryax.detect.registry import Registry
from factoryax.lake import table_spec

__all__ = ["AlarmTracker", "LiveScorer", "anomaly_model_name"]

DEFAULT_CLEAR_S = 300.0
"""An alarm re-arms once the score has stayed at or below 1 for this long."""


def anomaly_model_name(asset: str) -> str:
    """The registry name of an asset's anomaly model.

    Examples:
        >>> anomaly_model_name("Press-01")
        'anomaly-press-01'
    """
    return "anomaly-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in asset.lower())


@dataclass
class AlarmTracker:
    """Rising edges of a normalised score over 1, re-armed after ``clear_s`` at or below 1."""

    clear_s: float = DEFAULT_CLEAR_S
    last_above_us: int | None = None

    def edges(self, ts: Micros, normalised: Floats) -> list[int]:
        """Indices of the rows that start an alarm (state carries over between calls)."""
        above = np.flatnonzero(normalised > 1.0)
        if above.size == 0:
            return []
        t = ts[above]
        prev = np.concatenate(
            ([self.last_above_us if self.last_above_us is not None else -1], t[:-1])
        )
        gap = self.clear_s * 1e6
        starts = (t - prev > gap) | (prev < 0)
        if self.last_above_us is not None:
            starts[0] = bool(t[0] - self.last_above_us > gap)
        self.last_above_us = int(t[-1])
        return [int(i) for i in above[starts]]


@dataclass
class _AssetModel:
    name: str
    version: int
    detector: Detector
    tracker: AlarmTracker = field(default_factory=AlarmTracker)


class LiveScorer:
    """Scores batches of lake readings with each asset's production anomaly model.

    Args:
        workspace: a :class:`~factoryax.config.Workspace` (its plant names the site and
            lines; its registry holds the models).
        clear_s: how long a score must stay at or below 1 before a new alarm can start.
        top_k: contributors kept in each event's payload.

    ``process`` returns ``{"readings": …, "events": …}`` in the lake's input schemas;
    assets without a production model are skipped (see :attr:`assets`). Versions in the
    ``shadow`` stage are scored beside production on the same rows but emit nothing:
    their alarms are only counted (:meth:`shadow_summary`) for the promotion gate.
    """

    def __init__(
        self, workspace: Workspace, *, clear_s: float = DEFAULT_CLEAR_S, top_k: int = 3
    ) -> None:
        self.workspace = workspace
        self.clear_s = clear_s
        self.top_k = top_k
        self.site: str = workspace.plant.site.id
        self._lines = {a.id: line.id for line, a in workspace.plant.iter_assets()}
        self.registry = Registry.for_workspace(workspace.root)
        self._models: dict[str, _AssetModel] = {}
        self._shadows: dict[str, _AssetModel] = {}
        self._shadow_alarms: dict[str, list[int]] = {}
        self._shadow_scored: dict[str, int] = {}
        self.reload()

    @property
    def assets(self) -> list[str]:
        """Assets that have a production model."""
        return sorted(self._models)

    def reload(self) -> None:
        """Picks up newly promoted versions (keeps the state of unchanged ones)."""
        for asset in self._lines:
            name = anomaly_model_name(asset)
            prod = self.registry.production(name)
            current = self._models.get(asset)
            if prod is None:
                self._models.pop(asset, None)
            elif current is None or current.version != prod.version:
                self._models[asset] = _AssetModel(
                    name,
                    prod.version,
                    self.registry.load_detector(name, prod.version),
                    AlarmTracker(self.clear_s),
                )
            shadows = [v for v in self.registry.versions(name) if v.stage == "shadow"]
            cur = self._shadows.get(asset)
            if not shadows:
                self._shadows.pop(asset, None)
            elif cur is None or cur.version != shadows[-1].version:
                v = shadows[-1].version
                self._shadows[asset] = _AssetModel(
                    name, v, self.registry.load_detector(name, v), AlarmTracker(self.clear_s)
                )

    def process(self, readings: pa.Table) -> dict[str, pa.Table]:
        """Scores one batch of ``readings`` rows (long format, any signals, any order)."""
        out_r: list[pa.Table] = []
        out_e: list[pa.Table] = []
        if readings.num_rows and self._models:
            asset_col = pc.cast(readings.column("asset"), pa.string())
            for asset in pc.unique(asset_col).to_pylist():
                model = self._models.get(str(asset))
                if model is None:
                    continue
                part = readings.filter(pc.equal(asset_col, asset))
                sig = pc.cast(part.column("signal"), pa.string())
                part = part.filter(pc.not_equal(sig, SCORE_SIGNAL))
                if part.num_rows == 0:
                    continue
                codes, names = encoded(part.column("signal"))
                ts, cols = pivot_codes(
                    _ts_micros(part.column("ts")),
                    codes,
                    names,
                    np.asarray(
                        part.column("value").to_numpy(zero_copy_only=False), dtype=np.float64
                    ),
                )
                r, e = self._score(str(asset), model, ts, cols)
                self._shadow(str(asset), ts, cols)
                out_r.append(r)
                out_e.append(e)
        return {
            "readings": _concat(out_r, "readings"),
            "events": _concat(out_e, "events"),
        }

    def _shadow(self, asset: str, ts: Micros, cols: dict[str, Floats]) -> None:
        shadow = self._shadows.get(asset)
        if shadow is None:
            return
        norm = shadow.detector.normalise(shadow.detector.score_many(cols))
        key = f"{shadow.name}@v{shadow.version}"
        edges = shadow.tracker.edges(ts, norm)
        self._shadow_alarms.setdefault(key, []).extend(int(ts[i]) for i in edges)
        self._shadow_scored[key] = self._shadow_scored.get(key, 0) + int(ts.shape[0])

    def shadow_summary(self) -> dict[str, dict[str, Any]]:
        """Per shadow model (``name@vN``): instants scored and its alarm instants (µs)."""
        return {
            key: {"scored": self._shadow_scored.get(key, 0), "alarms_us": list(alarms)}
            for key, alarms in self._shadow_alarms.items()
        } | {
            key: {"scored": n, "alarms_us": []}
            for key, n in self._shadow_scored.items()
            if key not in self._shadow_alarms
        }

    def _score(
        self, asset: str, model: _AssetModel, ts: Micros, cols: dict[str, Floats]
    ) -> tuple[pa.Table, pa.Table]:
        return score_and_alarm(
            model.detector,
            ts,
            cols,
            tracker=model.tracker,
            site=self.site,
            line=self._lines.get(asset),
            asset=asset,
            model=model.name,
            version=model.version,
            top_k=self.top_k,
        )


def score_and_alarm(
    detector: Detector,
    ts: Micros,
    cols: dict[str, Floats],
    *,
    tracker: AlarmTracker,
    site: str,
    line: str | None,
    asset: str,
    model: str,
    version: int,
    top_k: int = 3,
) -> tuple[pa.Table, pa.Table]:
    """Scores wide rows and builds the contract's ``readings`` and ``events`` rows."""
    scores, shares = detector.score_and_explain(cols)
    norm = detector.normalise(scores)
    signals = detector.signals_ or ()
    alarms = [
        Alarm(int(ts[i]), float(norm[i]), top_contributions(signals, shares[i], top_k))
        for i in tracker.edges(ts, norm)
    ]
    threshold = float(detector.threshold_ or 0.0)
    return (
        score_rows(site, line, asset, ts, norm),
        alarm_rows(site, line, asset, alarms, model=model, version=version, threshold=threshold),
    )


def _concat(tables: Sequence[pa.Table], name: str) -> pa.Table:
    schema = table_spec(name).input_schema
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([t.cast(schema) for t in tables])
