"""Long lake rows ↔ wide in-memory windows, and the rows detectors write back.

The lake keeps readings long (one row per signal sample); detectors want one row per
instant. :func:`pivot` does that in numpy; :func:`score_rows` and :func:`alarm_rows`
build the ``readings`` / ``events`` rows of the contract (``anomaly_score`` with 1.0 at
the threshold; ``detect.anomaly`` on each alarm's rising edge).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from factoryax.detect.errors import DetectError
from factoryax.lake import Lake, table_spec

__all__ = [
    "ANOMALY_KIND",
    "SCORE_SIGNAL",
    "Alarm",
    "Wide",
    "alarm_rows",
    "encoded",
    "pivot",
    "pivot_codes",
    "read_wide",
    "score_rows",
]

SCORE_SIGNAL = "anomaly_score"
ANOMALY_KIND = "detect.anomaly"
Floats = npt.NDArray[np.float64]
Micros = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Wide:
    """One asset's readings as one row per instant.

    Attributes:
        ts: instants, µs since the epoch (UTC), ascending.
        columns: signal → value per instant (NaN where the signal has no sample).
        fingerprint: which lake rows these are (see :func:`read_wide`).
    """

    ts: Micros
    columns: dict[str, Floats]
    fingerprint: dict[str, Any]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice(self, lo: int, hi: int) -> Wide:
        """Rows ``[lo, hi)``."""
        return Wide(
            self.ts[lo:hi], {k: v[lo:hi] for k, v in self.columns.items()}, self.fingerprint
        )

    def before(self, at: dt.datetime) -> int:
        """Index of the first row at or after ``at``."""
        return int(np.searchsorted(self.ts, _micros(at)))


def _micros(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def pivot(
    ts: Micros, signals: Sequence[str] | npt.NDArray[Any], values: Floats
) -> tuple[Micros, dict[str, Floats]]:
    """Long (ts, signal, value) → ascending unique instants and one column per signal.

    A later duplicate (same instant and signal) wins.

    Examples:
        >>> t, cols = pivot(np.array([2, 1, 2]), ["a", "a", "b"], np.array([5.0, 4.0, 6.0]))
        >>> t.tolist(), cols["a"].tolist(), cols["b"].tolist()
        ([1, 2], [4.0, 5.0], [nan, 6.0])
    """
    names, codes = np.unique(np.asarray(signals, dtype=object).astype(str), return_inverse=True)
    return pivot_codes(ts, codes, [str(n) for n in names], values)


def pivot_codes(
    ts: Micros, codes: npt.NDArray[Any], names: Sequence[str], values: Floats
) -> tuple[Micros, dict[str, Floats]]:
    """:func:`pivot` with signals given as integer codes into ``names`` (dictionary
    encoded, as the lake stores them), which avoids sorting millions of strings."""
    uts, row = np.unique(np.asarray(ts, dtype=np.int64), return_inverse=True)
    M = np.full((uts.shape[0], len(names)), np.nan)
    M[row, np.asarray(codes, dtype=np.int64)] = values
    return uts, {str(n): M[:, j] for j, n in enumerate(names)}


def encoded(column: pa.ChunkedArray | pa.Array) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Integer codes and names of a string (or dictionary) column."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr.cast(pa.string()))
    names = [str(x) for x in arr.dictionary.cast(pa.string()).to_pylist()]
    codes = np.asarray(arr.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, names


def _ts_micros(column: pa.ChunkedArray | pa.Array) -> Micros:
    arr = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)


def read_wide(
    lake: Lake, asset: str, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> Wide:
    """An asset's readings in ``[start, end)`` (derived ``anomaly_score`` rows excluded).

    The fingerprint names the rows: table, asset, time range, row count, the ingest batches
    and a SHA-256 over (ts, signal, value) in order, so a model's training data can be
    found and checked again.
    """
    where = ["asset = ?", f"signal <> '{SCORE_SIGNAL}'"]
    params: list[object] = [asset]
    if start is not None:
        where.append("ts >= ?")
        params.append(start)
    if end is not None:
        where.append("ts < ?")
        params.append(end)
    cond = " AND ".join(where)
    for _ in range(3):  # rows appended between the two queries: read both again
        rows = lake.query(
            "SELECT ts, CAST(signal AS VARCHAR) AS signal, value "
            f"FROM readings WHERE {cond} ORDER BY ts, signal",
            params,
        )
        # the batches in a second, narrow query (an id per row cost ~0.2 GB per 2 M rows);
        # its row count must match, so the fingerprint never names rows it did not read
        found = lake.query(
            f"SELECT CAST(ingest_id AS VARCHAR) AS b, count(*) AS n FROM readings "
            f"WHERE {cond} GROUP BY 1",
            params,
        )
        if sum(int(n) for n in found.column("n").to_pylist()) == rows.num_rows:
            break
    else:
        raise DetectError(
            f"asset {asset!r}: readings kept arriving while the training window was read; "
            "pass an end time (`--to`) that lies in the past"
        )
    batches = sorted(str(b) for b in found.column("b").to_pylist())
    ts = _ts_micros(rows.column("ts"))
    codes, names = encoded(rows.column("signal"))
    values = np.asarray(rows.column("value").to_numpy(zero_copy_only=False), dtype=np.float64)
    h = hashlib.sha256()
    h.update(ts.tobytes())
    h.update("\n".join(names).encode())
    h.update(codes.tobytes())
    h.update(np.nan_to_num(values, nan=np.inf).tobytes())
    fp: dict[str, Any] = {
        "table": "readings",
        "asset": asset,
        "from": _iso(int(ts[0])) if ts.size else None,
        "to": _iso(int(ts[-1])) if ts.size else None,
        "rows": rows.num_rows,
        "ingest_ids": batches[:50],
        "ingest_batches": len(batches),
        "sha256": h.hexdigest(),
    }
    uts, cols = pivot_codes(ts, codes, names, values)
    fp["signals"] = sorted(cols)
    return Wide(uts, cols, fp)


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, tz=dt.UTC).isoformat()


def score_rows(site: str, line: str | None, asset: str, ts: Micros, normalised: Floats) -> pa.Table:
    """``readings`` input rows of ``anomaly_score`` (1.0 = threshold)."""
    n = ts.shape[0]
    schema = table_spec("readings").input_schema
    return pa.table(
        {
            "site": pa.array([site] * n, pa.string()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "line": pa.array([line] * n, pa.string()),
            "asset": pa.array([asset] * n, pa.string()),
            "signal": pa.array([SCORE_SIGNAL] * n, pa.string()),
            "value": pa.array(np.round(normalised, 6), pa.float64()),
            "quality": pa.array(["good"] * n, pa.string()),
        }
    ).cast(schema)


@dataclass(frozen=True)
class Alarm:
    """One alarm: the rising edge of the normalised score over 1."""

    ts_us: int
    score: float
    contributions: dict[str, float]


def alarm_rows(
    site: str,
    line: str | None,
    asset: str,
    alarms: Sequence[Alarm],
    *,
    model: str,
    version: int,
    threshold: float,
) -> pa.Table:
    """``events`` input rows of kind ``detect.anomaly``, one per alarm."""
    schema = table_spec("events").input_schema
    rows = []
    for a in alarms:
        payload = {
            "model": model,
            "version": version,
            "score": round(a.score, 6),
            "threshold": threshold,
            "contributions": a.contributions,
        }
        top = ", ".join(f"{k} {v:.0%}" for k, v in a.contributions.items())
        rows.append(
            {
                "site": site,
                "ts": dt.datetime.fromtimestamp(a.ts_us / 1e6, tz=dt.UTC),
                "event_id": f"detect-{asset}-{model}-v{version}-{a.ts_us}",
                "kind": ANOMALY_KIND,
                "line": line,
                "asset": asset,
                "severity": 3,
                "message": f"{asset}: anomaly score {a.score:.2f}× threshold ({top})",
                "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
                "evidence": json.dumps(
                    {"model": f"{model}@v{version}", "signal": SCORE_SIGNAL}, sort_keys=True
                ),
            }
        )
    if not rows:
        return schema.empty_table()
    return pa.Table.from_pylist(rows).cast(schema)
