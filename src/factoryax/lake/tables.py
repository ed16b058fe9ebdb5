"""The lake's tables: their Arrow schemas, partitioning time column and row keys.

Every table is partitioned ``<table>/site=<site>/date=<YYYY-MM-DD>/`` where ``date`` is the
UTC date of the table's time column; ``site`` and ``date`` live in the path only (Hive
style), so Spark, Trino, DuckDB and Polars read the folder as one table.

The key columns identify a row: appending a row whose key is already in the lake is a
duplicate and is skipped, which is what makes re-ingesting the same data idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["TABLES", "TableSpec", "table_spec"]

_TS = pa.timestamp("us", tz="UTC")
_STR = pa.string()
_CAT = pa.dictionary(pa.int32(), pa.string())
"""Names that repeat (lines, assets, signals, states): stored dictionary-encoded."""


@dataclass(frozen=True)
class TableSpec:
    """How one lake table is stored.

    Attributes:
        name: table name, also its folder under the lake root.
        schema: columns stored in the files (without the ``site``/``date`` partition keys).
        time_column: the instant that decides the ``date`` partition.
        key: columns that identify a row within a site; duplicates are skipped on append.
        prune_by_time: whether a duplicate can only sit in files whose time range overlaps
            the new rows (true for every table today: all keys include the time).
    """

    name: str
    schema: pa.Schema
    time_column: str
    key: tuple[str, ...]
    prune_by_time: bool = True

    @property
    def input_schema(self) -> pa.Schema:
        """What :meth:`Lake.append` takes: the stored columns plus ``site``, less ``ingest_id``."""
        fields = [f for f in self.schema if f.name != "ingest_id"]
        return pa.schema([pa.field("site", _CAT, nullable=False), *fields])


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema([*fields, pa.field("ingest_id", _CAT, nullable=False)])


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "readings",
            _schema(
                pa.field("ts", _TS, nullable=False),
                pa.field("line", _CAT),
                pa.field("asset", _CAT, nullable=False),
                pa.field("signal", _CAT, nullable=False),
                pa.field("value", pa.float64()),
                pa.field("quality", _CAT),
            ),
            time_column="ts",
            key=("asset", "signal", "ts"),
        ),
        TableSpec(
            "production",
            _schema(
                pa.field("ts", _TS, nullable=False),
                pa.field("line", _CAT),
                pa.field("asset", _CAT, nullable=False),
                pa.field("product", _CAT),
                pa.field("lot", _STR),
                pa.field("part_id", _STR, nullable=False),
                pa.field("result", _CAT, nullable=False),
                pa.field("defect_code", _CAT),
                pa.field("cycle_time_s", pa.float64()),
            ),
            time_column="ts",
            key=("asset", "part_id", "ts"),
        ),
        TableSpec(
            "states",
            _schema(
                pa.field("start", _TS, nullable=False),
                pa.field("end", _TS, nullable=False),
                pa.field("line", _CAT),
                pa.field("asset", _CAT, nullable=False),
                pa.field("state", _CAT, nullable=False),
                pa.field("reason_code", _CAT),
            ),
            time_column="start",
            key=("asset", "start"),
        ),
        TableSpec(
            "events",
            _schema(
                pa.field("ts", _TS, nullable=False),
                pa.field("event_id", _STR, nullable=False),
                pa.field("kind", _CAT, nullable=False),
                pa.field("line", _CAT),
                pa.field("asset", _CAT),
                pa.field("severity", pa.int16()),
                pa.field("message", _STR),
                pa.field("payload", _STR),
                pa.field("evidence", _STR),
            ),
            time_column="ts",
            key=("event_id", "ts"),
        ),
        TableSpec(
            "quarantine",
            _schema(
                pa.field("ts", _TS, nullable=False),
                pa.field("source", _CAT, nullable=False),
                pa.field("position", _STR, nullable=False),
                pa.field("field", _CAT),
                pa.field("reason", _STR, nullable=False),
                pa.field("raw", _STR),
            ),
            time_column="ts",
            key=("source", "position", "field", "reason", "ts"),
        ),
    )
}


def table_spec(name: str) -> TableSpec:
    """Returns the spec of a lake table; raises ``KeyError`` naming the tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown lake table {name!r}; tables are {', '.join(TABLES)}") from None
