"""Batch scoring and backtests of registered anomaly models, on DuckDB or Spark.

:class:`ScoreJob` scores registered model versions (``factoryax.detect``'s registry) over
a window of the lake. The engine pivots the long ``readings`` rows to one wide row per
asset and instant in SQL (the rows :func:`factoryax.detect.read_wide` builds: every
instant at which the asset has any reading other than ``anomaly_score``, one column per
signal the model learned); the model is then applied by :class:`BatchScorer`, which calls
the detector's own NumPy scoring (:meth:`~factoryax.detect.Detector.score_many`,
:meth:`~factoryax.detect.Detector.normalise`) and detect's
:class:`~factoryax.detect.AlarmTracker`, so the model math exists once. On Spark the
scorer runs on the executors through ``mapInArrow`` (Arrow batches, no pandas); on DuckDB
the same function runs in-process (:meth:`~factoryax.jobs.base.Engine.map_in_arrow`).

Streaming state (forward-filled gaps, EWMA smoothing, the alarm re-arm timer) runs along
each asset's instants in time order. The engines hash-partition by asset and sort by time
inside each partition, so one asset's whole history reaches one scorer in order; batch
boundaries inside a partition carry the state (the detector keeps it between
``score_many`` calls, exactly as :class:`~factoryax.detect.LiveScorer` does), and the
scorer refuses rows that arrive out of order rather than score them wrongly. Results
equal detect's in-process scoring to float round-off (the filter and matrix products run
over other batch lengths): scores to a relative 1e-9.

The model travels to executors as its registry form — JSON metadata and an ``.npz``
archive read with ``allow_pickle=False`` — never as a pickled detector.

:class:`BacktestJob` turns the scores' alarms into :func:`factoryax.detect.backtest`'s
figures with detect's own functions (:func:`~factoryax.detect.score_alarms`,
:func:`~factoryax.detect.validate.count_shifts`, :func:`~factoryax.detect.validate.truth_for`,
:func:`~factoryax.detect.training_overlap`).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factoryax.core import ConfigError, PlantModel
from factoryax.detect import (
    SCORE_SIGNAL,
    AlarmTracker,
    DetectError,
    Detector,
    Registry,
    Wide,
    score_alarms,
    training_overlap,
)
from factoryax.detect.frames import encoded
from factoryax.detect.live import DEFAULT_CLEAR_S
from factoryax.detect.validate import count_shifts, truth_for
from factoryax.jobs.base import Engine

__all__ = [
    "SCORE_SCHEMA",
    "BacktestJob",
    "BatchScorer",
    "ModelPayload",
    "ScoreJob",
    "parse_model_ref",
]

SCORE_SCHEMA = pa.schema(
    [
        ("asset", pa.string()),
        ("model", pa.string()),
        ("version", pa.int32()),
        ("ts_us", pa.int64()),
        ("score", pa.float64()),
        ("normalised", pa.float64()),
        ("alarm", pa.bool_()),
    ]
)
"""What :class:`BatchScorer` emits: one row per asset and instant; ``normalised`` is the
score over the model's threshold (1.0 = threshold, the lake's ``anomaly_score``);
``alarm`` marks the rising edges :class:`~factoryax.detect.AlarmTracker` reports."""

_RESULT_SCHEMA = pa.schema(
    [
        ("asset", pa.string()),
        ("model", pa.string()),
        ("version", pa.int32()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("score", pa.float64()),
        ("normalised", pa.float64()),
        ("alarm", pa.bool_()),
    ]
)


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name@version`` → (name, version or None for the newest).

    Raises:
        ConfigError: the version is not a positive integer.

    Examples:
        >>> parse_model_ref("anomaly-press-01@3"), parse_model_ref("anomaly-cnc-01")
        (('anomaly-press-01', 3), ('anomaly-cnc-01', None))
    """
    name, sep, version = ref.partition("@")
    if not sep:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise ConfigError(
            f"model reference {ref!r}: the version after '@' must be a positive integer, "
            "e.g. anomaly-press-01@2 (or leave it out for the newest)"
        )
    return name, int(version)


@dataclass(frozen=True)
class ModelPayload:
    """One registered detector version as plain data (what travels to executors).

    Attributes:
        name, version, asset: the registry entry and the asset it scores.
        kind: the detector kind (``pca``, ``hst``, ``zscore``).
        state_json: the detector's metadata state (:meth:`Detector.to_state`), JSON.
        arrays_npz: its arrays as an ``.npz`` archive, loaded with ``allow_pickle=False``.
        signals: the signals the detector learned, in its order.
    """

    name: str
    version: int
    asset: str
    kind: str
    state_json: str
    arrays_npz: bytes
    signals: tuple[str, ...]

    @classmethod
    def load(cls, registry: Registry, name: str, version: int | None = None) -> ModelPayload:
        """The payload of a registered detector version (default the newest).

        Raises:
            ModelNotFoundError: no such model or version.
            ModelFileError: the version is not a detector.
            DetectError: the version names no asset.
        """
        summary = registry.get(name, version)
        if summary.asset is None:
            raise DetectError(
                f"model {name!r} v{summary.version} names no asset; register it with "
                "asset=... to score it over the lake"
            )
        det = registry.load_detector(name, summary.version)
        meta, arrays = det.to_state()
        buf = io.BytesIO()
        savez: Any = np.savez  # numpy's stub types **kwds as its allow_pickle flag
        savez(buf, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
        return cls(
            name=name,
            version=summary.version,
            asset=summary.asset,
            kind=det.kind,
            state_json=json.dumps(meta, allow_nan=False),
            arrays_npz=buf.getvalue(),
            signals=tuple(det.signals_ or ()),
        )

    def detector(self) -> Detector:
        """A fitted detector with a fresh stream, rebuilt without unpickling anything."""
        from factoryax.detect import DETECTORS

        cls = DETECTORS[self.kind]
        with np.load(io.BytesIO(self.arrays_npz), allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], dtype=np.float64) for k in data.files}
        return cls.from_state(json.loads(self.state_json), arrays)


@dataclass(frozen=True)
class BatchScorer:
    """Scores wide rows (``asset``, ``ts_us``, one column per signal) with each asset's
    model; a function of an iterator of Arrow batches, as ``mapInArrow`` wants.

    Each asset's rows must arrive in strictly increasing ``ts_us`` (the engines'
    partitioning guarantees it); the detector's and the alarm tracker's state carry
    across batches. Rows of an asset without a model are dropped.

    Attributes:
        models: one payload per asset.
        columns: (signal, column name) pairs of the wide rows.
        clear_s: the alarm re-arm time (:class:`~factoryax.detect.AlarmTracker`).
    """

    models: tuple[ModelPayload, ...]
    columns: tuple[tuple[str, str], ...]
    clear_s: float = DEFAULT_CLEAR_S

    def __call__(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Scores ``batches`` in order; yields :data:`SCORE_SCHEMA` batches."""
        by_asset = {m.asset: m for m in self.models}
        column = dict(self.columns)
        live: dict[str, tuple[Detector, AlarmTracker]] = {}
        last: dict[str, int] = {}
        for batch in batches:
            if batch.num_rows == 0:
                continue
            codes, names = encoded(batch.column("asset"))
            ts_all = np.asarray(
                batch.column("ts_us").to_numpy(zero_copy_only=False), dtype=np.int64
            )
            cuts = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), batch.num_rows]
            for lo, hi in itertools.pairwise(cuts):
                asset = names[int(codes[lo])]
                model = by_asset.get(asset)
                if model is None:
                    continue
                if asset not in live:
                    live[asset] = (model.detector(), AlarmTracker(self.clear_s))
                det, tracker = live[asset]
                ts = ts_all[lo:hi]
                previous = last.get(asset)
                if (previous is not None and ts[0] <= previous) or np.any(np.diff(ts) <= 0):
                    raise DetectError(
                        f"rows of asset {asset!r} reached the scorer out of time order "
                        "(or twice); the engine must partition by asset and sort by ts_us "
                        "(Engine.map_in_arrow does)"
                    )
                last[asset] = int(ts[-1])
                cols = {
                    s: np.asarray(
                        batch.column(column[s]).slice(lo, hi - lo).to_numpy(zero_copy_only=False),
                        dtype=np.float64,
                    )
                    for s in model.signals
                }
                scores = det.score_many(cols)
                norm = det.normalise(scores)
                alarm = np.zeros(hi - lo, dtype=bool)
                alarm[tracker.edges(ts, norm)] = True
                n = hi - lo
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array([asset] * n, pa.string()),
                        pa.array([model.name] * n, pa.string()),
                        pa.array(np.full(n, model.version, dtype=np.int32), pa.int32()),
                        pa.array(ts, pa.int64()),
                        pa.array(scores, pa.float64()),
                        pa.array(norm, pa.float64()),
                        pa.array(alarm, pa.bool_()),
                    ],
                    schema=SCORE_SCHEMA,
                )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _check_window(start: dt.datetime, end: dt.datetime, what: str) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ConfigError(f"{what}: the window [{start!r}, {end!r}) must be timezone-aware")
    if not start < end:
        raise ConfigError(
            f"{what}: window start {start.isoformat()!r} is not before end "
            f"{end.isoformat()!r}; pass --start before --end"
        )


@dataclass(frozen=True)
class ScoreJob:
    """Scores registered anomaly models over ``[start, end)`` of the lake.

    Args:
        workspace: the workspace folder (models are read from its ``models/`` registry).
        models: ``name`` or ``name@version`` (default the newest), one per asset.
        start, end: the window (aware instants).
        clear_s: the alarm re-arm time, as in ``factoryax.detect``.

    ``run`` returns :data:`_RESULT_SCHEMA` rows (asset, model, version, ts, score,
    normalised, alarm) sorted by asset and ts.
    """

    workspace: Path
    models: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    clear_s: float = DEFAULT_CLEAR_S

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("score job: name at least one model (--model anomaly-press-01)")
        _check_window(self.start, self.end, "score job")
        if not self.clear_s >= 0:
            raise ConfigError(f"score job: `clear_s` must be >= 0 seconds, got {self.clear_s!r}")

    @property
    def name(self) -> str:
        """``score``."""
        return "score"

    def payloads(self) -> tuple[ModelPayload, ...]:
        """The models to score, loaded from the registry.

        Raises:
            ConfigError: two models score the same asset (run one job per version).
        """
        registry = Registry.for_workspace(Path(self.workspace))
        out = tuple(ModelPayload.load(registry, *parse_model_ref(r)) for r in self.models)
        seen: dict[str, str] = {}
        for p in out:
            if p.asset in seen:
                raise ConfigError(
                    f"models {seen[p.asset]!r} and {p.name!r}@{p.version} both score asset "
                    f"{p.asset!r}; one job scores one model per asset: run a job per version"
                )
            seen[p.asset] = f"{p.name}@{p.version}"
        return out

    def sql(self, engine: Engine, payloads: tuple[ModelPayload, ...]) -> str:
        """The pivot query (long readings → one wide row per asset and instant)."""
        d = engine.dialect
        signals = sorted({s for p in payloads for s in p.signals})
        assets = ", ".join(_literal(p.asset) for p in payloads)
        wide = "".join(
            f",\n       CAST(max(CASE WHEN signal = {_literal(s)} THEN value END) AS DOUBLE)"
            f" AS {d.ident(f'f{j}')}"
            for j, s in enumerate(signals)
        )
        return f"""
WITH r AS (
    SELECT CAST(asset AS STRING) AS asset, {d.micros("ts")} AS ts_us,
           CAST(signal AS STRING) AS signal, value
    FROM readings
    WHERE ts >= {d.instant(self.start)} AND ts < {d.instant(self.end)}
      AND asset IN ({assets})
)
SELECT asset, ts_us{wide}
FROM r WHERE signal <> {_literal(SCORE_SIGNAL)}
GROUP BY asset, ts_us
"""

    def scorer(self, payloads: tuple[ModelPayload, ...]) -> BatchScorer:
        """The function the engine maps over the wide rows."""
        signals = sorted({s for p in payloads for s in p.signals})
        return BatchScorer(
            payloads, tuple((s, f"f{j}") for j, s in enumerate(signals)), self.clear_s
        )

    def run(self, engine: Engine) -> pa.Table:
        """Scores the models on ``engine``.

        Raises:
            ModelNotFoundError: a model or version is not registered.
            QueryError: the engine could not run the query or the scorer failed.
        """
        payloads = self.payloads()
        out = engine.map_in_arrow(
            self.sql(engine, payloads),
            self.scorer(payloads),
            SCORE_SCHEMA,
            key="asset",
            order="ts_us",
        )
        out = out.cast(SCORE_SCHEMA).sort_by([("asset", "ascending"), ("ts_us", "ascending")])
        ts = out.column("ts_us").cast(pa.timestamp("us", tz="UTC"))
        return out.set_column(out.schema.get_field_index("ts_us"), "ts", ts).cast(_RESULT_SCHEMA)


@dataclass(frozen=True)
class BacktestJob:
    """:func:`factoryax.detect.backtest`'s figures, from :class:`ScoreJob`'s scores.

    Per model: ``window``, ``alarms``, ``alarms_per_shift``, ``truth`` and, with the
    twin's ground truth beside the lake, every :class:`~factoryax.detect.AlarmScore`
    field; plus ``training_window`` / ``training_overlap`` / ``in_sample`` and ``model`` /
    ``version``. Not recorded on the registry version (``factoryax detect backtest``
    does that); detect's row ``fingerprint`` (a SHA-256 over the long rows) is not
    computed.

    Args:
        workspace: the workspace folder (registry in ``models/``, truth in ``truth/``).
        plant: its plant model (the calendar gives the shift count).
        models, start, end, clear_s: as :class:`ScoreJob`.
    """

    workspace: Path
    plant: PlantModel
    models: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    clear_s: float = DEFAULT_CLEAR_S

    @property
    def name(self) -> str:
        """``backtest``."""
        return "backtest"

    def score_job(self) -> ScoreJob:
        """The scoring this backtest runs."""
        return ScoreJob(self.workspace, self.models, self.start, self.end, self.clear_s)

    def run(self, engine: Engine) -> dict[str, dict[str, Any]]:
        """Figures per model name, computed on ``engine``.

        Raises:
            DetectError: a model's asset has no readings in the window.
        """
        job = self.score_job()
        scores = job.run(engine)
        registry = Registry.for_workspace(Path(self.workspace))
        from factoryax.config import Workspace

        truth, source = truth_for(Workspace(Path(self.workspace)), self.start, self.end)
        shifts = count_shifts(self.plant, self.start, self.end)
        start_us = _micros(self.start)
        end_us = _micros(self.end)
        out: dict[str, dict[str, Any]] = {}
        for ref in self.models:
            name, version = parse_model_ref(ref)
            summary = registry.get(name, version)
            rows = scores.filter(pc.equal(scores.column("model"), name))
            if rows.num_rows == 0:
                raise DetectError(
                    f"no readings of asset {summary.asset!r} in [{self.start.isoformat()}, "
                    f"{self.end.isoformat()}); pick a window that holds data "
                    "(factoryax query 'SELECT min(ts), max(ts) FROM readings')"
                )
            ts = np.asarray(
                rows.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64
            )
            alarm = np.asarray(rows.column("alarm").to_numpy(zero_copy_only=False), dtype=bool)
            alarms = ts[alarm]
            figures: dict[str, Any] = {
                "window": [self.start.isoformat(), self.end.isoformat()],
                "alarms": int(alarms.shape[0]),
                "alarms_per_shift": alarms.shape[0] / shifts if shifts else None,
                "truth": truth is not None,
                "truth_source": source,
            }
            if truth is not None:
                asset = str(summary.asset)
                score = score_alarms(alarms, truth, asset, start_us, end_us, shifts=shifts)
                figures.update(score.as_dict())
            figures.update(training_overlap(summary.fingerprint, Wide(ts, {}, {})))
            figures.update(model=name, version=summary.version)
            out[name] = figures
        return out


def _micros(at: dt.datetime) -> int:
    # the same conversion detect.validate applies to window bounds
    return int(at.timestamp() * 1_000_000)
