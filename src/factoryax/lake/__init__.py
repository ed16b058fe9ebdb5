"""The big-data lake: partitioned Parquet tables, atomic idempotent appends, SQL via DuckDB.

Public surface: :class:`Lake` and the table specs. Everything else is private.
"""

from __future__ import annotations

from factoryax.lake.store import AppendResult, CompactResult, Lake, TableStatus, new_ingest_id
from factoryax.lake.tables import TABLES, TableSpec, table_spec

__all__ = [
    "TABLES",
    "AppendResult",
    "CompactResult",
    "Lake",
    "TableSpec",
    "TableStatus",
    "new_ingest_id",
    "table_spec",
]
