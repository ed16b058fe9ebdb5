"""Validation of readings against the plant model, as one vectorised DuckDB pass.

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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from factoryax.core import PlantModel
from factoryax.ingest.layout import Layout
from factoryax.ingest.units import conversion
from factoryax.lake import table_spec

__all__ = ["ReadingValidator", "Validated"]


@dataclass(frozen=True)
class Validated:
    """The outcome of validating one chunk."""

    accepted: pa.Table
    """Readings for the lake, plus ``_pos`` (the source position) as the last column."""
    quarantined: pa.Table
    duplicates: int


def _quoted(expr: str) -> str:
    """SQL that shows a value the way Python's repr shows a string: 'like this'."""
    return f"'''' || CAST({expr} AS VARCHAR) || ''''"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ReadingValidator:
    """Validates chunks of one source; holds the plant's signal table in DuckDB.

    Args:
        plant: the plant model the readings must fit.
        source: the file or stream name written into quarantine rows.
        position_label: ``'line'`` or ``'row'``, how positions are shown.
    """

    def __init__(self, plant: PlantModel, *, source: str, position_label: str = "line") -> None:
        self.plant = plant
        self.source = source
        self.position_label = position_label
        self._con = duckdb.connect()
        self._con.execute(f"SET TimeZone = '{plant.site.timezone.key}'")
        rows = [
            (line.id, asset.id, s.id, s.unit, s.min, s.max)
            for line, asset in plant.iter_assets()
            for s in asset.signals
        ]
        self._con.register(
            "signals",
            pa.table(
                {
                    "line": pa.array([r[0] for r in rows], pa.string()),
                    "asset": pa.array([r[1] for r in rows], pa.string()),
                    "signal": pa.array([r[2] for r in rows], pa.string()),
                    "unit_decl": pa.array([r[3] for r in rows], pa.string()),
                    "lo": pa.array([r[4] for r in rows], pa.float64()),
                    "hi": pa.array([r[5] for r in rows], pa.float64()),
                }
            ),
        )
        self._con.register(
            "assets",
            pa.table({"asset": pa.array([a.id for _, a in plant.iter_assets()], pa.string())}),
        )

    def close(self) -> None:
        """Releases the DuckDB connection."""
        self._con.close()

    def validate(self, raw: pa.Table, layout: Layout, *, now: dt.datetime) -> Validated:
        """Validates one chunk of raw records laid out as ``layout``."""
        con = self._con
        con.register("raw", raw)
        con.execute(f"CREATE OR REPLACE TEMP VIEW long AS {self._reshape_sql(raw, layout)}")
        has_units = layout.kind == "wide" and any(w.unit for w in layout.wide)
        has_units = has_units or "unit" in layout.roles
        self._register_conversions(has_units)
        con.execute(f"CREATE OR REPLACE TEMP TABLE checked AS {self._check_sql(has_units)}")
        dup_keys = con.execute(
            "SELECT 1 FROM checked WHERE reason IS NULL "
            "GROUP BY asset, signal, ts HAVING count(*) > 1 LIMIT 1"
        ).fetchall()
        duplicates = 0
        if dup_keys:
            duplicates = self._resolve_duplicates()
        accepted = con.execute(
            "SELECT ts, line, asset, signal, value, quality, _pos FROM checked "
            "WHERE reason IS NULL ORDER BY _pos"
        ).to_arrow_table()
        site = pa.DictionaryArray.from_arrays(
            pa.nulls(accepted.num_rows, pa.int32()).fill_null(0), pa.array([self.plant.site.id])
        ).cast(pa.string())
        accepted = accepted.add_column(0, "site", site)
        utc = accepted.column("ts").cast(pa.timestamp("us", tz="UTC"))
        accepted = accepted.set_column(accepted.schema.get_field_index("ts"), "ts", utc)
        quarantined = con.execute(
            f"""SELECT ? AS ts, ? AS source,
                   '{self.position_label} ' || _pos
                     || coalesce(', column ' || {_quoted("col")}, '') AS position,
                   field, reason,
                   to_json(struct_pack(ts := ts_raw, asset := asset, signal := signal,
                                       value := value_raw, unit := unit))::VARCHAR AS raw
                FROM checked WHERE reason IS NOT NULL ORDER BY _pos""",
            [now, self.source],
        ).to_arrow_table()
        con.execute("DROP TABLE checked")
        con.unregister("raw")
        return Validated(accepted, _as_quarantine(quarantined, self.plant.site.id), duplicates)

    def _reshape_sql(self, raw: pa.Table, layout: Layout) -> str:
        ts = _ident(layout.ts)
        quality = layout.roles.get("quality")
        quality_sql = f"lower(CAST({_ident(quality)} AS VARCHAR))" if quality else "NULL"
        if layout.kind == "long":
            sig = f"CAST({_ident(layout.roles['signal'])} AS VARCHAR)"
            if "asset" in layout.roles:
                asset_sql, signal_sql = f"CAST({_ident(layout.roles['asset'])} AS VARCHAR)", sig
            else:  # signals written as asset.signal
                asset_sql = f"CASE WHEN contains({sig}, '.') THEN split_part({sig}, '.', 1) END"
                signal_sql = (
                    f"CASE WHEN contains({sig}, '.') "
                    f"THEN substr({sig}, strpos({sig}, '.') + 1) ELSE {sig} END"
                )
            unit = layout.roles.get("unit")
            unit_sql = f"CAST({_ident(unit)} AS VARCHAR)" if unit else "NULL"
            return (
                f"SELECT _pos, NULL::VARCHAR AS col, {ts} AS ts, {asset_sql} AS asset, "
                f"{signal_sql} AS signal, {_ident(layout.roles['value'])} AS value, "
                f"{unit_sql} AS unit, {quality_sql} AS quality FROM raw"
            )
        types = [raw.schema.field(w.column).type for w in layout.wide]
        numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types)
        cast_to = "DOUBLE" if numeric else "VARCHAR"
        cols = ", ".join(
            f"CAST({_ident(w.column)} AS {cast_to}) AS {_ident(w.column)}" for w in layout.wide
        )
        asset_col = layout.roles.get("asset")
        asset_sel = f"CAST({_ident(asset_col)} AS VARCHAR)" if asset_col else "NULL::VARCHAR"
        mapping = pa.table(
            {
                "col": pa.array([w.column for w in layout.wide], pa.string()),
                "m_asset": pa.array([w.asset for w in layout.wide], pa.string()),
                "m_signal": pa.array([w.signal for w in layout.wide], pa.string()),
                "m_unit": pa.array([w.unit for w in layout.wide], pa.string()),
            }
        )
        self._con.register("colmap", mapping)
        on = ", ".join(_ident(w.column) for w in layout.wide)
        return (
            f"SELECT u._pos, u.col, u.ts, coalesce(m.m_asset, u.asset_col) AS asset, "
            f"m.m_signal AS signal, u.value, m.m_unit AS unit, NULL::VARCHAR AS quality "
            f"FROM (UNPIVOT (SELECT _pos, {ts} AS ts, {asset_sel} AS asset_col, {cols} FROM raw) "
            f"ON {on} INTO NAME col VALUE value) u JOIN colmap m ON u.col = m.col"
        )

    def _register_conversions(self, has_units: bool) -> None:
        rows: list[tuple[str, str, str, float | None, float | None]] = []
        if has_units:
            found = self._con.execute(
                "SELECT DISTINCT l.asset, l.signal, l.unit, s.unit_decl FROM long l "
                "JOIN signals s ON l.asset = s.asset AND l.signal = s.signal "
                "WHERE l.unit IS NOT NULL"
            ).fetchall()
            for asset, signal, unit, declared in found:
                conv = conversion(unit, declared or "")
                rows.append((asset, signal, unit, *(conv if conv else (None, None))))
        self._con.register(
            "conv",
            pa.table(
                {
                    "asset": pa.array([r[0] for r in rows], pa.string()),
                    "signal": pa.array([r[1] for r in rows], pa.string()),
                    "unit": pa.array([r[2] for r in rows], pa.string()),
                    "scale": pa.array([r[3] for r in rows], pa.float64()),
                    "shift": pa.array([r[4] for r in rows], pa.float64()),
                }
            ),
        )

    def _check_sql(self, has_units: bool) -> str:
        zone = self.plant.site.timezone.key
        conv_join = (
            "LEFT JOIN conv c ON l.asset = c.asset AND l.signal = c.signal AND l.unit = c.unit"
            if has_units
            else "LEFT JOIN (SELECT NULL::DOUBLE AS scale, NULL::DOUBLE AS shift) c ON false"
        )
        return f"""
        WITH p AS (
            SELECT l._pos, l.col, l.ts AS ts_raw, l.asset, l.signal, l.value AS value_raw,
                   l.unit, l.quality,
                   TRY_CAST(l.ts AS TIMESTAMPTZ) AS ts,
                   TRY_CAST(l.value AS DOUBLE) AS v,
                   s.line, s.unit_decl, s.lo, s.hi, s.signal IS NOT NULL AS signal_known,
                   a.asset IS NOT NULL AS asset_known,
                   (l.unit IS NULL OR c.scale IS NOT NULL) AS unit_ok,
                   coalesce(c.scale, 1.0) AS scale, coalesce(c.shift, 0.0) AS shift
            FROM long l
            LEFT JOIN signals s ON l.asset = s.asset AND l.signal = s.signal
            LEFT JOIN assets a ON l.asset = a.asset
            {conv_join}
        ), q AS (
            SELECT *, v * scale + shift AS value FROM p
        )
        SELECT row_number() OVER () AS _rid, _pos, col, ts_raw, asset, signal, value_raw,
          unit, quality, ts, line, value,
          CASE
            WHEN ts IS NULL THEN 'ts'
            WHEN asset IS NULL OR NOT asset_known THEN 'asset'
            WHEN NOT signal_known THEN 'signal'
            WHEN v IS NULL OR isnan(v) OR isinf(v) THEN 'value'
            WHEN NOT unit_ok THEN 'unit'
            WHEN value < lo OR value > hi THEN 'value'
          END AS field,
          CASE
            WHEN ts_raw IS NULL THEN 'missing timestamp'
            WHEN ts IS NULL THEN 'unparseable timestamp ' || {_quoted("ts_raw")}
              || '; write ISO 8601 such as 2026-11-23T09:00:00+09:00 '
              || '(without a zone it is read as plant time {zone})'
            WHEN asset IS NULL THEN 'missing asset; fill the asset column or write the signal '
              || 'as asset.signal'
            WHEN NOT asset_known THEN 'unknown asset ' || {_quoted("asset")}
              || '; declare it under [[lines.assets]] in plant.toml or correct the name'
            WHEN NOT signal_known THEN 'unknown signal ' || {_quoted("signal")} || ' of asset '
              || {_quoted("asset")} || '; declare it in that asset''s signals in plant.toml'
            WHEN value_raw IS NULL THEN 'missing value'
            WHEN v IS NULL THEN 'value ' || {_quoted("value_raw")} || ' is not a number'
            WHEN isnan(v) OR isinf(v) THEN 'value ' || v || ' is not a finite number'
            WHEN NOT unit_ok THEN 'unit ' || {_quoted("unit")}
              || ' cannot be converted to the declared ' || {_quoted("unit_decl")}
              || '; correct the unit or the signal''s unit in plant.toml'
            WHEN value < lo OR value > hi THEN 'value ' || value || ' ' || coalesce(unit_decl, '')
              || ' is outside the expected range [' || lo || ', ' || hi || '] of '
              || asset || '.' || signal || '; check the sensor, or widen min/max in plant.toml'
          END AS reason
        FROM q
        """

    def _resolve_duplicates(self) -> int:
        """Marks repeated readings: same value → dropped as duplicate; else quarantined."""
        con = self._con
        con.execute(
            """CREATE OR REPLACE TEMP TABLE dups AS
               SELECT _rid, value = first_value(value) OVER w AS same,
                      first_value(_pos) OVER w AS first_pos,
                      row_number() OVER w AS rn
               FROM checked
               WHERE reason IS NULL AND (asset, signal, ts) IN (
                   SELECT (asset, signal, ts) FROM checked WHERE reason IS NULL
                   GROUP BY ALL HAVING count(*) > 1)
               WINDOW w AS (PARTITION BY asset, signal, ts ORDER BY _pos, _rid)"""
        )
        (same,) = con.execute("SELECT count(*) FROM dups WHERE rn > 1 AND same").fetchone() or (0,)
        con.execute(
            f"""UPDATE checked SET field = 'ts',
                  reason = 'a second reading for the same asset, signal and time with a '
                    || 'different value (first at {self.position_label} ' || d.first_pos
                    || '); remove the duplicate or fix its timestamp'
                FROM dups d WHERE checked._rid = d._rid AND d.rn > 1 AND NOT d.same"""
        )
        con.execute(
            "DELETE FROM checked WHERE _rid IN (SELECT _rid FROM dups WHERE rn > 1 AND same)"
        )
        con.execute("DROP TABLE dups")
        return int(same)


def _as_quarantine(rows: pa.Table, site: str) -> pa.Table:
    spec = table_spec("quarantine")
    schema = spec.input_schema
    site_col = pa.array([site] * rows.num_rows, pa.string())
    return pa.Table.from_arrays(
        [site_col, *(rows.column(n).cast(schema.field(n).type) for n in schema.names[1:])],
        schema=schema,
    )
