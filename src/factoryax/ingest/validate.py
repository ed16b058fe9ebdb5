"""Validation of readings against the plant model, vectorised with Arrow and NumPy.

A chunk of raw records is reshaped to long form (one reading per row), parsed, converted
to the declared unit and checked. Each reading either passes, or goes to quarantine with
the first reason that applies, in this order:

1. timestamp missing or unparseable (text without a zone is plant time);
2. asset missing or not declared; signal not declared for that asset;
3. value missing, not a number, or not finite;
4. unit that cannot be converted to the declared unit;
5. value outside the signal's expected range ``[min, max]``;
6. a second reading for the same asset, signal and instant with a *different* value
   (the same value again is a duplicate: skipped and counted, not quarantined).

Work is per column, never per row: names are dictionary-encoded and looked up once per
distinct value, so a batch of a million readings costs a few vector passes. Only rows
that fail are turned into Python objects, to write their reasons.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factoryax.core import PlantModel
from factoryax.ingest.layout import Layout
from factoryax.ingest.units import conversion
from factoryax.lake import table_spec

__all__ = ["ReadingValidator", "Validated"]

_UTC_US = pa.timestamp("us", tz="UTC")
_ZONE_SUFFIX = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")

# Failure codes, in the order they are checked (the first that applies is reported).
_OK, _NO_TS, _BAD_TS, _NO_ASSET, _BAD_ASSET, _BAD_SIGNAL = 0, 1, 2, 3, 4, 5
_NO_VALUE, _NAN_TEXT, _NOT_FINITE, _BAD_UNIT, _RANGE, _CONFLICT = 6, 7, 8, 9, 10, 11
_LOCAL_GAP, _IMPLAUSIBLE = 12, 13
_FIELD = {
    _NO_TS: "ts", _BAD_TS: "ts", _LOCAL_GAP: "ts", _IMPLAUSIBLE: "ts", _CONFLICT: "ts",
    _NO_ASSET: "asset", _BAD_ASSET: "asset", _BAD_SIGNAL: "signal", _BAD_UNIT: "unit",
    _NO_VALUE: "value", _NAN_TEXT: "value", _NOT_FINITE: "value", _RANGE: "value",
}  # fmt: skip


@dataclass(frozen=True)
class Validated:
    """The outcome of validating one chunk."""

    accepted: pa.Table
    """Readings for the lake, plus ``_pos`` (the source position) as the last column."""
    quarantined: pa.Table
    duplicates: int


@dataclass(frozen=True)
class _Long:
    """A chunk in long form: one reading per row, columns as read."""

    pos: np.ndarray
    ts: pa.Array
    asset: pa.Array
    signal: pa.Array
    value: pa.Array
    unit: pa.Array | None
    quality: pa.Array | None
    column: pa.Array | None

    def __len__(self) -> int:
        return len(self.pos)


class ReadingValidator:
    """Validates chunks of one source against the plant's declared signals.

    Args:
        plant: the plant model the readings must fit.
        source: the file or stream name written into quarantine rows.
        position_label: ``'line'`` or ``'row'``, how positions are shown.
    """

    def __init__(self, plant: PlantModel, *, source: str, position_label: str = "line") -> None:
        self.plant = plant
        self.source = source
        self.position_label = position_label
        sigs = [(line.id, a.id, s) for line, a in plant.iter_assets() for s in a.signals]
        self._index = {(a, s.id): i for i, (_, a, s) in enumerate(sigs)}
        self._assets = {a.id for _, a in plant.iter_assets()}
        self._sigs = sigs
        self._lo = np.array([-np.inf if s.min is None else s.min for _, _, s in sigs])
        self._hi = np.array([np.inf if s.max is None else s.max for _, _, s in sigs])
        # Accepted rows carry the plant's own dictionaries, the same for every batch.
        lines = sorted({line for line, _, _ in sigs})
        assets = sorted({a for _, a, _ in sigs})
        names = sorted({s.id for _, _, s in sigs})
        self._dicts = {
            "line": pa.array(lines),
            "asset": pa.array(assets),
            "signal": pa.array(names),
        }
        self._codes = {
            "line": np.array([lines.index(line) for line, _, _ in sigs], np.int32),
            "asset": np.array([assets.index(a) for _, a, _ in sigs], np.int32),
            "signal": np.array([names.index(s.id) for _, _, s in sigs], np.int32),
        }
        self._duck: duckdb.DuckDBPyConnection | None = None

    def close(self) -> None:
        """Releases the DuckDB connection used for text that Arrow cannot parse."""
        if self._duck is not None:
            self._duck.close()
            self._duck = None

    # ------------------------------------------------------------------ public

    def validate(self, raw: pa.Table, layout: Layout, *, now: dt.datetime) -> Validated:
        """Validates one chunk of raw records laid out as ``layout``."""
        long = _to_long(raw, layout)
        n = len(long)
        ts, local_gap = self._parse_ts(long.ts)
        values = self._parse_values(long.value)
        sig = self._lookup(long.asset, long.signal)
        scale, shift, unit_ok = self._units(long.unit, sig)
        ts_us = _int64(ts)
        v = values.to_numpy(zero_copy_only=False) if n else np.zeros(0)
        v = np.asarray(v, dtype=np.float64) * scale + shift
        safe = np.clip(sig, 0, None)
        earliest = _micros(dt.datetime.combine(self.plant.ingest.earliest, dt.time(), dt.UTC))
        latest = _micros(now) + int(self.plant.ingest.future_tolerance_s * 1e6)
        code = np.select(
            [
                _nulls(long.ts),
                local_gap,
                _nulls(ts),
                (ts_us < earliest) | (ts_us > latest),
                sig == -3,
                sig == -2,
                sig == -1,
                _nulls(long.value),
                _nulls(values),
                ~np.isfinite(v),
                ~unit_ok,
                (v < self._lo[safe]) | (v > self._hi[safe]) if len(self._lo) else np.zeros(n, bool),
            ],
            [
                _NO_TS,
                _LOCAL_GAP,
                _BAD_TS,
                _IMPLAUSIBLE,
                _NO_ASSET,
                _BAD_ASSET,
                _BAD_SIGNAL,
                _NO_VALUE,
                _NAN_TEXT,
                _NOT_FINITE,
                _BAD_UNIT,
                _RANGE,
            ],
            default=_OK,
        ).astype(np.int8)
        keep, first_of, duplicates = _duplicates(code, ts_us, sig, v, len(self._sigs))
        code[first_of >= 0] = _CONFLICT
        keep &= code == _OK
        accepted = self._accepted(keep, ts, sig, v, long)
        quarantined = self._quarantined(code, first_of, long, v, sig, now)
        return Validated(accepted, quarantined, duplicates)

    # ------------------------------------------------------------------ parsing

    def _parse_ts(self, arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
        """Instants as timestamp[us, UTC] (null where missing or unparseable), and a mask
        of plant-local times that a daylight-saving change makes ambiguous or nonexistent.

        Instants are kept to the microsecond; finer digits are truncated.
        """
        none = np.zeros(len(arr), dtype=bool)
        if pa.types.is_timestamp(arr.type):
            if arr.type.tz is None:
                return self._localize(arr)
            return arr.cast(_UTC_US, safe=False), none
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            # The common cases (all naive, or all with a zone) parse in Arrow; try first the
            # one the first value suggests, since a failed cast costs as much as a parse.
            first = next((x for x in arr.slice(0, 64).to_pylist() if x), "")
            for zoned in (True, False) if _ZONE_SUFFIX.search(first) else (False, True):
                try:
                    if zoned:
                        return arr.cast(_UTC_US), none
                    return self._localize(arr.cast(pa.timestamp("us")))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    continue
        return self._duckdb_cast(arr, "TIMESTAMPTZ").cast(_UTC_US, safe=False), none

    def _localize(self, naive: pa.Array) -> tuple[pa.Array, np.ndarray]:
        """Plant wall-clock times to UTC; a time the clock skips or shows twice is flagged."""
        zone = self.plant.site.timezone.key
        naive = naive.cast(pa.timestamp("us"), safe=False)
        try:
            utc = pc.assume_timezone(naive, zone, ambiguous="raise", nonexistent="raise")
            return utc.cast(_UTC_US), np.zeros(len(naive), dtype=bool)
        except pa.ArrowInvalid:
            early = pc.assume_timezone(naive, zone, ambiguous="earliest", nonexistent="earliest")
            late = pc.assume_timezone(naive, zone, ambiguous="latest", nonexistent="latest")
            unclear = pc.fill_null(pc.not_equal(early, late), False)
            mask = np.asarray(unclear.to_numpy(zero_copy_only=False), dtype=bool)
            return pc.if_else(unclear, pa.scalar(None, early.type), early).cast(_UTC_US), mask

    def _parse_values(self, arr: pa.Array) -> pa.Array:
        """Values as float64; null where missing or not a number."""
        if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
            return arr.cast(pa.float64())
        if pa.types.is_null(arr.type):
            return arr.cast(pa.float64())
        try:
            return arr.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return self._duckdb_cast(arr, "DOUBLE")

    def _duckdb_cast(self, arr: pa.Array, sql_type: str) -> pa.Array:
        """Row-by-row tolerant parsing (TRY_CAST) for mixed or dirty text columns."""
        if self._duck is None:
            self._duck = duckdb.connect()
            self._duck.execute(f"SET TimeZone = '{self.plant.site.timezone.key}'")
        column = pa.table({"x": arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr})
        self._duck.register("col_in", column)
        try:
            out = self._duck.execute(f"SELECT TRY_CAST(x AS {sql_type}) AS x FROM col_in")
            return out.to_arrow_table().column("x").combine_chunks()
        finally:
            self._duck.unregister("col_in")

    def _lookup(self, asset: pa.Array, signal: pa.Array) -> np.ndarray:
        """Plant signal index per row; -1 unknown signal, -2 unknown asset, -3 no asset."""
        a_codes, a_dict = _encode(asset)
        s_codes, s_dict = _encode(signal)
        a_known = np.array([a in self._assets for a in a_dict], bool)
        table = np.full((len(a_dict) + 1, len(s_dict) + 1), -1, np.int64)
        table[:-1][~a_known] = -2
        table[-1, :] = -3  # a null asset
        for i, a in enumerate(a_dict):
            if a_known[i]:
                for j, s in enumerate(s_dict):
                    table[i, j] = self._index.get((a, s), -1)
        return np.asarray(table[a_codes, s_codes], dtype=np.int64)

    def _units(
        self, unit: pa.Array | None, sig: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(sig)
        if unit is None or unit.null_count == len(unit):
            return np.ones(n), np.zeros(n), np.ones(n, bool)
        codes, names = _encode(unit)
        scale = np.ones((len(self._sigs) + 1, len(names) + 1))
        shift = np.zeros_like(scale)
        ok = np.ones_like(scale, dtype=bool)
        for i, (_, _, s) in enumerate(self._sigs):
            for j, name in enumerate(names):
                conv = conversion(name, s.unit)
                if conv is None:
                    ok[i, j] = False
                else:
                    scale[i, j], shift[i, j] = conv
        rows = np.where(sig >= 0, sig, len(self._sigs))
        return scale[rows, codes], shift[rows, codes], ok[rows, codes]

    # ------------------------------------------------------------------ output

    def _accepted(
        self, keep: np.ndarray, ts: pa.Array, sig: np.ndarray, v: np.ndarray, long: _Long
    ) -> pa.Table:
        everything = bool(keep.all())
        idx = np.arange(len(keep)) if everything else np.flatnonzero(keep)
        rows = sig if everything else sig[idx]
        columns: dict[str, pa.Array] = {
            "site": _constant(self.plant.site.id, len(idx)),
            "ts": ts if everything else ts.take(pa.array(idx)),
        }
        for name in ("line", "asset", "signal"):
            codes = pa.array(self._codes[name][rows], pa.int32())
            columns[name] = pa.DictionaryArray.from_arrays(codes, self._dicts[name])
        columns["value"] = pa.array(v if everything else v[idx], pa.float64())
        if long.quality is not None:
            quality = pc.utf8_lower(long.quality.cast(pa.string()).take(pa.array(idx)))
            columns["quality"] = quality.dictionary_encode()
        columns["_pos"] = pa.array(long.pos if everything else long.pos[idx], pa.int64())
        return pa.table(columns)

    def _quarantined(
        self,
        code: np.ndarray,
        first_of: np.ndarray,
        long: _Long,
        v: np.ndarray,
        sig: np.ndarray,
        now: dt.datetime,
    ) -> pa.Table:
        bad = np.flatnonzero(code != _OK)
        rows: list[tuple[str, str, str, str]] = []
        if len(bad):
            take = pa.array(bad)
            ts_raw = long.ts.take(take).to_pylist()
            asset = long.asset.take(take).to_pylist()
            signal = long.signal.take(take).to_pylist()
            value = long.value.take(take).to_pylist()
            unit = long.unit.take(take).to_pylist() if long.unit is not None else [None] * len(bad)
            col = (
                long.column.take(take).to_pylist() if long.column is not None else [None] * len(bad)
            )
            for k, i in enumerate(bad):
                where = f"{self.position_label} {long.pos[i]}"
                if col[k] is not None:
                    where += f", column {col[k]!r}"
                record = {"ts": ts_raw[k], "asset": asset[k], "signal": signal[k]}
                record |= {"value": value[k], "unit": unit[k]}
                reason = self._reason(
                    int(code[i]), record, float(v[i]), int(sig[i]), first_of[i], long
                )
                rows.append((where, _FIELD[int(code[i])], reason, json.dumps(record, default=str)))
        return quarantine_table(self.plant.site.id, self.source, now, rows)

    def _reason(
        self, code: int, r: dict[str, object], v: float, sig: int, first: int, long: _Long
    ) -> str:
        zone = self.plant.site.timezone.key
        if code == _NO_TS:
            return "missing timestamp"
        if code == _LOCAL_GAP:
            return (
                f"local time {str(r['ts'])!r} is skipped or repeated by a daylight-saving change "
                f"in {zone}; write it with its UTC offset"
            )
        if code == _IMPLAUSIBLE:
            ingest = self.plant.ingest
            return (
                f"timestamp {str(r['ts'])!r} is outside the plausible window "
                f"[{ingest.earliest}, now + {ingest.future_tolerance_s:g} s]; fix the source's "
                "clock, or set ingest.earliest / ingest.future_tolerance_s in plant.toml"
            )
        if code == _BAD_TS:
            return (
                f"unparseable timestamp {str(r['ts'])!r}; write ISO 8601 such as "
                f"2026-11-23T09:00:00+09:00 (without a zone it is read as plant time {zone})"
            )
        if code == _NO_ASSET:
            return "missing asset; fill the asset column or write the signal as asset.signal"
        if code == _BAD_ASSET:
            return (
                f"unknown asset {r['asset']!r}; declare it under [[lines.assets]] in plant.toml "
                "or correct the name"
            )
        if code == _BAD_SIGNAL:
            return (
                f"unknown signal {r['signal']!r} of asset {r['asset']!r}; "
                "declare it in that asset's signals in plant.toml"
            )
        if code == _NO_VALUE:
            return "missing value"
        if code == _NAN_TEXT:
            return f"value {str(r['value'])!r} is not a number"
        if code == _NOT_FINITE:
            return f"value {v} is not a finite number"
        declared = self._sigs[sig][2].unit
        if code == _BAD_UNIT:
            return (
                f"unit {r['unit']!r} cannot be converted to the declared {declared!r}; "
                "correct the unit or the signal's unit in plant.toml"
            )
        if code == _RANGE:
            _, asset, s = self._sigs[sig]
            return (
                f"value {v} {declared} is outside the expected range [{s.min}, {s.max}] of "
                f"{asset}.{s.id}; check the sensor, or widen min/max in plant.toml"
            )
        return (
            "a second reading for the same asset, signal and time with a different value "
            f"(first at {self.position_label} {long.pos[first]}); "
            "remove the duplicate or fix its timestamp"
        )


def _duplicates(
    code: np.ndarray, ts_us: np.ndarray, sig: np.ndarray, v: np.ndarray, n_sig: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Finds repeated (signal, instant) pairs among valid rows.

    Returns ``keep`` (rows to store), ``first_of`` (for conflicting repeats, the row of
    the first occurrence; -1 elsewhere) and the number of equal repeats dropped.
    """
    n = len(code)
    keep = np.ones(n, bool)
    first_of = np.full(n, -1, np.int64)
    ok = np.flatnonzero(code == _OK)
    if len(ok) < 2:
        return keep, first_of, 0
    key = ts_us[ok] * max(n_sig, 1) + sig[ok]  # exact: µs since 1970 * signals < 2**63
    if np.all(key[1:] > key[:-1]):
        return keep, first_of, 0  # strictly increasing: no repeats (the usual case)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    repeat = np.flatnonzero(sorted_key[1:] == sorted_key[:-1]) + 1
    if len(repeat) == 0:
        return keep, first_of, 0
    starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(key)), 0))
    rows = ok[order[repeat]]
    firsts = ok[order[group_start[repeat]]]
    same = v[rows] == v[firsts]
    keep[rows] = False
    first_of[rows[~same]] = firsts[~same]
    return keep, first_of, int(same.sum())


def _to_long(raw: pa.Table, layout: Layout) -> _Long:
    pos = raw.column("_pos").to_numpy()
    ts = raw.column(layout.ts).combine_chunks()
    if layout.kind == "long":
        signal = _text(raw.column(layout.roles["signal"]))
        if "asset" in layout.roles:
            asset = _text(raw.column(layout.roles["asset"]))
        else:  # signals written as asset.signal
            signal = signal.cast(pa.string())
            parts = pc.split_pattern(signal, ".", max_splits=1)
            asset = pc.if_else(
                pc.greater(pc.list_value_length(parts), 1), pc.list_element(parts, 0), None
            )
            signal = pc.if_else(
                pc.greater(pc.list_value_length(parts), 1), pc.list_element(parts, 1), signal
            )
        unit = _text(raw.column(layout.roles["unit"])) if "unit" in layout.roles else None
        quality = _text(raw.column(layout.roles["quality"])) if "quality" in layout.roles else None
        value = raw.column(layout.roles["value"]).combine_chunks()
        return _Long(pos, ts, asset, signal, value, unit, quality, None)
    asset_col = None
    if "asset" in layout.roles:
        asset_col = _text(raw.column(layout.roles["asset"])).cast(pa.string())
    numeric = all(_is_number(raw.schema.field(w.column).type) for w in layout.wide)
    pieces: dict[str, list[pa.Array]] = {
        k: [] for k in ("ts", "asset", "signal", "value", "unit", "col")
    }
    positions: list[np.ndarray] = []
    for w in layout.wide:
        values = raw.column(w.column).combine_chunks()
        idx = np.flatnonzero(pc.is_valid(values).to_numpy(zero_copy_only=False))
        take = pa.array(idx)
        m = len(idx)
        positions.append(pos[idx])
        pieces["ts"].append(ts.take(take))
        pieces["asset"].append(
            asset_col.take(take)
            if w.asset is None and asset_col is not None
            else pa.array([w.asset] * m, pa.string())
        )
        pieces["signal"].append(pa.array([w.signal] * m, pa.string()))
        pieces["value"].append(values.take(take).cast(pa.float64() if numeric else pa.string()))
        pieces["unit"].append(pa.array([w.unit] * m, pa.string()))
        pieces["col"].append(pa.array([w.column] * m, pa.string()))
    cat = {k: pa.concat_arrays(v) for k, v in pieces.items()}
    return _Long(
        np.concatenate(positions),
        cat["ts"],
        cat["asset"],
        cat["signal"],
        cat["value"],
        cat["unit"],
        None,
        cat["col"],
    )


def _text(col: pa.ChunkedArray) -> pa.Array:
    """A column of names as one array: dictionary-encoded kept so, others as strings."""
    if pa.types.is_dictionary(col.type):
        return col.unify_dictionaries().combine_chunks()
    arr = col.combine_chunks()
    return arr if pa.types.is_string(arr.type) else arr.cast(pa.string())


def _is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _encode(arr: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes per row (nulls → len(dictionary)) and the dictionary values."""
    if pa.types.is_dictionary(arr.type):
        enc = arr
    else:
        enc = pc.dictionary_encode(arr if pa.types.is_string(arr.type) else arr.cast(pa.string()))
    names = [str(x).strip() for x in enc.dictionary.to_pylist()]
    codes = enc.indices.fill_null(len(names)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, names


def _nulls(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)


def _int64(ts: pa.Array) -> np.ndarray:
    return np.asarray(ts.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), np.int64)


def _micros(value: dt.datetime) -> int:
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()).fill_null(0), pa.array([value]))


def quarantine_table(
    site: str, source: str, now: dt.datetime, items: Sequence[tuple[str, str | None, str, str]]
) -> pa.Table:
    """Quarantine rows from (position, field, reason, raw) tuples."""
    schema = table_spec("quarantine").input_schema
    return pa.table(
        {
            "site": [site] * len(items),
            "ts": [now] * len(items),
            "source": [source] * len(items),
            "position": [i[0] for i in items],
            "field": [i[1] for i in items],
            "reason": [i[2] for i in items],
            "raw": [i[3] for i in items],
        },
        schema=schema,
    )
