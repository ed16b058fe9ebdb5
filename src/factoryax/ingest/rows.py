"""Ingesting in-memory rows (from the twin, an API push, a connector) into any table.

The same rules as for files: rows that do not fit the plant model go to quarantine with
the reason; the rest are appended idempotently.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pyarrow as pa

from factoryax.core import PlantModel, utc_now
from factoryax.ingest.layout import Layout
from factoryax.ingest.pipeline import IngestReport, append_validated, quarantine_rows
from factoryax.ingest.validate import ReadingValidator, quarantine_table
from factoryax.lake import Lake, new_ingest_id, table_spec

__all__ = ["PRODUCTION_RESULTS", "STATES", "ingest_rows"]

PRODUCTION_RESULTS = ("ok", "ng", "rework", "scrap")
STATES = ("running", "idle", "down", "setup", "planned_stop")


def ingest_rows(
    table: str, rows: pa.Table, *, plant: PlantModel, lake: Lake, source: str
) -> IngestReport:
    """Validates ``rows`` for ``table`` against the plant model and appends them.

    ``rows`` has the table's input columns (see :mod:`factoryax.lake.tables`); ``site``
    and ``line`` may be left out (they follow from the plant and the asset). An optional
    ``_where`` text column names each row's origin for quarantine (a live source's topic
    and message number); without it a rejected row is ``row N``.
    """
    report = IngestReport(source=source, ingest_id=new_ingest_id(), layout="rows")
    report.records_read = rows.num_rows
    if rows.num_rows == 0:
        return report
    rows = rows.append_column("_pos", pa.array(np.arange(1, rows.num_rows + 1)))
    now = utc_now()
    if table == "readings":
        validator = ReadingValidator(plant, source=source, position_label="row")
        try:
            roles = {"asset": "asset", "signal": "signal", "value": "value"}
            if "quality" in rows.column_names:
                roles["quality"] = "quality"
            result = validator.validate(rows, Layout("long", "ts", roles), now=now)
        finally:
            validator.close()
        append_validated(lake, result, report, ingest_id=report.ingest_id, now=now)
        return report
    accepted, quarantined = _check_table(table, rows, plant, source, now)
    appended = lake.append(table, accepted, ingest_id=report.ingest_id, unique_keys=False)
    clashes = appended.conflicts
    n_clashes = clashes.num_rows if clashes is not None else 0
    report.readings_accepted = appended.rows_written
    report.duplicates_skipped = appended.duplicates_skipped - n_clashes
    quarantine_rows(lake, quarantined, report)
    if clashes is not None and n_clashes:
        quarantine_rows(lake, _conflicts(table, clashes, plant.site.id, source, now), report)
    return report


def _conflicts(table: str, clashes: pa.Table, site: str, source: str, now: dt.datetime) -> pa.Table:
    """Quarantine rows for rows whose key is already taken by a row with other values."""
    key = table_spec(table).key
    items = []
    for row in clashes.drop_columns(["site"]).to_pylist():
        ident = ", ".join(f"{k}={row[k]}" for k in key)
        items.append(
            (
                f"row with {ident}",
                None,
                f"a {table} row with {ident} is already stored (or came first in this batch) "
                "with different values; the first one is kept — correct it at the source",
                json.dumps(row, default=str, ensure_ascii=False),
            )
        )
    return quarantine_table(site, source, now, items)


def _typed_nulls(schema: pa.Schema, rows: pa.Table) -> pa.Table:
    """Columns that are entirely null (type ``null``, as ``Table.from_pylist`` makes them
    when every value is None) take the table's type, so they pass like any other null."""
    for i, name in enumerate(rows.column_names):
        if pa.types.is_null(rows.schema.field(i).type) and name in schema.names:
            target = schema.field(name).type
            if pa.types.is_dictionary(target):
                target = target.value_type
            rows = rows.set_column(i, name, pa.nulls(rows.num_rows, target))
    return rows


def _check_table(
    table: str, rows: pa.Table, plant: PlantModel, source: str, now: dt.datetime
) -> tuple[pa.Table, pa.Table]:
    spec = table_spec(table)
    rows = _typed_nulls(spec.schema, rows)
    cols = set(rows.column_names)
    checks: list[tuple[str, str, str]] = []  # (failing condition, field, reason SQL)
    if "asset" in cols:
        checks.append(
            (
                "r.asset IS NOT NULL AND a.asset IS NULL",
                "asset",
                "'unknown asset ''' || r.asset || '''; declare it in plant.toml'",
            )
        )
    if table == "production":
        checks.append(
            (
                f"r.result NOT IN {PRODUCTION_RESULTS!r}",
                "result",
                f"'result ''' || r.result || ''' is not one of {', '.join(PRODUCTION_RESULTS)}'",
            )
        )
    if table == "states":
        checks += [
            (
                f"r.state NOT IN {STATES!r}",
                "state",
                f"'state ''' || r.state || ''' is not one of {', '.join(STATES)}'",
            ),
            ('r."end" <= r.start', "end", "'the interval ends before it starts'"),
            (
                "r.reason_code IS NOT NULL AND r.reason_code NOT IN (SELECT code FROM reasons)",
                "reason_code",
                "'unknown reason code ''' || r.reason_code || '''; declare it in "
                "[[downtime_reasons]]'",
            ),
        ]
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("r_in", rows)
        con.register("assets", _assets(plant))
        con.register(
            "reasons",
            pa.table({"code": pa.array([r.code for r in plant.downtime_reasons], pa.string())}),
        )
        field_sql = " ".join(f"WHEN {c} THEN '{f}'" for c, f, _ in checks) or "WHEN false THEN ''"
        reason_sql = " ".join(f"WHEN {c} THEN {m}" for c, _, m in checks) or "WHEN false THEN ''"
        con.execute(
            f"""CREATE TEMP TABLE checked AS
                SELECT r.* EXCLUDE (line), coalesce(r.line, a.line) AS line,
                       CASE {field_sql} END AS _field, CASE {reason_sql} END AS _reason
                FROM (SELECT *, {"line" if "line" in cols else "NULL::VARCHAR AS line"} FROM r_in) r
                LEFT JOIN assets a ON {"r.asset" if "asset" in cols else "NULL"} = a.asset"""
        )
        keep = [n for n in spec.input_schema.names if n in cols or n in ("line",)]
        keep = [n for n in keep if n != "site"]
        accepted = con.execute(
            f"SELECT {', '.join(chr(34) + n + chr(34) for n in keep)} FROM checked "
            "WHERE _reason IS NULL ORDER BY _pos"
        ).to_arrow_table()
        # rows from a live source carry `_where` (topic and message number) instead
        where = "coalesce(_where, 'row ' || _pos)" if "_where" in cols else "'row ' || _pos"
        bad = con.execute(
            f"""SELECT ? AS ts, ? AS source, {where} AS position, _field AS field,
                      _reason AS reason,
                      to_json(checked)::VARCHAR AS raw
               FROM checked WHERE _reason IS NOT NULL ORDER BY _pos""",
            [now, source],
        ).to_arrow_table()
    finally:
        con.close()
    site = pa.array([plant.site.id] * accepted.num_rows, pa.string())
    quarantined = bad.add_column(0, "site", pa.array([plant.site.id] * bad.num_rows, pa.string()))
    schema = table_spec("quarantine").input_schema
    return accepted.add_column(0, "site", site), quarantined.select(schema.names).cast(schema)


def _assets(plant: PlantModel) -> pa.Table:
    pairs = [(a.id, line.id) for line, a in plant.iter_assets()]
    return pa.table(
        {
            "asset": pa.array([p[0] for p in pairs], pa.string()),
            "line": pa.array([p[1] for p in pairs], pa.string()),
        }
    )
