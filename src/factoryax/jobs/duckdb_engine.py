"""The in-process engine: DuckDB over the lake's committed files (the default)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from factoryax.core import QueryError
from factoryax.jobs.base import DUCKDB_DIALECT, Dialect, EngineName
from factoryax.jobs.layout import committed_files
from factoryax.lake import TABLES

__all__ = ["DuckDBEngine", "lake_view_schema", "referenced_tables"]

_ATTEMPTS = 3
_BATCH_ROWS = 65_536


def referenced_tables(query: str) -> list[str]:
    """The lake tables whose names appear as words in ``query``.

    Examples:
        >>> referenced_tables("SELECT * FROM readings r JOIN states s ON true")
        ['readings', 'states']
    """
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query))
    return [t for t in TABLES if t in words]


def lake_view_schema(table: str) -> pa.Schema:
    """A lake table as the views show it: stored columns plus ``site`` and ``date``."""
    spec = TABLES[table]
    return spec.schema.append(pa.field("site", pa.string())).append(pa.field("date", pa.date32()))


@dataclass
class DuckDBEngine:
    """DuckDB over the committed files of the lake at ``root``.

    Args:
        root: the lake folder (``<workspace>/lake``).
        timezone: the SQL session's zone (for ``date_trunc`` and display); instants in
            and out are UTC-aware either way.
        threads: DuckDB worker threads (None: DuckDB's default, one per core).

    Examples:
        >>> import tempfile
        >>> engine = DuckDBEngine(Path(tempfile.mkdtemp()))
        >>> engine.sql("SELECT count(*) AS n FROM readings").column("n").to_pylist()
        [0]
    """

    root: Path | str
    timezone: str = "UTC"
    threads: int | None = None
    _name: EngineName = field(default="duckdb", init=False, repr=False)

    @property
    def name(self) -> EngineName:
        """``duckdb``."""
        return self._name

    @property
    def dialect(self) -> Dialect:
        """DuckDB's spellings."""
        return DUCKDB_DIALECT

    def sql(self, query: str, inputs: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """Runs ``query`` over the lake's committed files and ``inputs``; returns Arrow.

        Raises:
            QueryError: DuckDB rejected the query.
        """
        for attempt in range(_ATTEMPTS):
            con = duckdb.connect()
            try:
                con.execute(f"SET TimeZone = '{self.timezone.replace(chr(39), '')}'")
                if self.threads:
                    con.execute(f"SET threads = {int(self.threads)}")
                for name, table in (inputs or {}).items():
                    con.register(name, table)
                for table in referenced_tables(query):
                    self._view(con, table)
                return con.sql(query).to_arrow_table()
            except duckdb.IOException as exc:
                # a compaction replaced files between listing and reading: list again
                if attempt == _ATTEMPTS - 1 or "No such file" not in str(exc):
                    raise QueryError(f"duckdb job query failed: {exc}") from None
            except duckdb.Error as exc:
                raise QueryError(
                    f"duckdb job query failed: {exc}\n  SQL: {query.strip()[:500]}"
                ) from None
            finally:
                con.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def map_in_arrow(
        self,
        query: str,
        fn: Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]],
        schema: pa.Schema,
        *,
        key: str,
        order: str,
        inputs: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        """Runs ``query``, sorts by ``key, order`` and feeds the Arrow batches to ``fn``
        in-process (the same contract as :meth:`SparkEngine.map_in_arrow
        <factoryax.jobs.spark_engine.SparkEngine.map_in_arrow>`, one partition).

        Raises:
            QueryError: DuckDB rejected the query.
        """
        table = self.sql(query, inputs).sort_by([(key, "ascending"), (order, "ascending")])
        batches = list(fn(iter(table.to_batches(max_chunksize=_BATCH_ROWS))))
        return pa.Table.from_batches(batches, schema=schema)

    def close(self) -> None:
        """Nothing to release: each query opens and closes its own connection."""

    def _view(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        files = committed_files(self.root, table)
        if not files:
            con.register(f"_{table}_empty", lake_view_schema(table).empty_table())
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")
            return
        names = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{names}], "
            "hive_partitioning = true, union_by_name = true, "
            "hive_types = {'site': VARCHAR, 'date': DATE})"
        )
