"""The lake: Hive-partitioned Parquet tables with atomic, idempotent appends.

Layout (plain Parquet, readable by DuckDB, Spark, Trino and Polars)::

    <root>/<table>/site=<site>/date=<YYYY-MM-DD>/part-<ingest_id>-<n>.parquet

Guarantees:

- **Atomic append.** Each file is written under a hidden temporary name, fsynced, renamed
  into place and its folder fsynced; a reader (or a crash) never sees half a file.
- **Idempotent.** A row whose key (see :mod:`factoryax.lake.tables`) is already stored is
  skipped and counted as a duplicate, so re-ingesting data, or a source redelivering it
  after a crash, never doubles it.
- **One writer at a time.** Appends, compaction and retention take an exclusive
  ``flock`` on ``<root>/.lock``; readers take no lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from factoryax.core import QueryError, SchemaError, utc_now
from factoryax.lake.tables import TABLES, TableSpec, table_spec

__all__ = ["AppendResult", "CompactResult", "Lake", "TableStatus", "new_ingest_id"]

_TMP_PREFIX = ".tmp-"
_COMPACT_PREFIX = ".compact-"
_MIN_DAY = (dt.date(1900, 1, 1) - dt.date(1970, 1, 1)).days
_MAX_DAY = (dt.date(2199, 12, 31) - dt.date(1970, 1, 1)).days
_PARTITION = re.compile(r"^site=(?P<site>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})$")


def new_ingest_id() -> str:
    """A fresh, time-sortable batch id such as ``20261123T010203-1a2b3c4d``."""
    return f"{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class AppendResult:
    """What one append did."""

    table: str
    ingest_id: str
    rows_written: int
    duplicates_skipped: int
    files: tuple[Path, ...] = ()
    conflicts: pa.Table | None = None
    """Rows skipped because their key is stored with *different* values (first write
    wins); counted in ``duplicates_skipped`` too. Callers quarantine them."""


@dataclass(frozen=True)
class CompactResult:
    """What compaction did to one table."""

    table: str
    partitions_compacted: int
    files_before: int
    files_after: int


@dataclass(frozen=True)
class TableStatus:
    """Size and extent of one table, from Parquet footers (no data is scanned)."""

    table: str
    files: int
    rows: int
    bytes: int
    partitions: int
    first: dt.datetime | None
    last: dt.datetime | None


_CONNECTION_MAX_AGE_S = 3600.0
"""`Lake.query`'s shared connection is reopened after this long (see `Lake._cursor`)."""


@dataclass
class _FileInfo:
    rows: int
    first: dt.datetime | None
    last: dt.datetime | None
    size: int


@dataclass
class Lake:
    """A folder of partitioned Parquet tables.

    Args:
        root: the lake folder (created if missing).
        timezone: IANA zone used by SQL for ``date_trunc`` and for showing instants;
            stored instants are always UTC.

    Examples:
        >>> import tempfile, pyarrow as pa, datetime as dt
        >>> lake = Lake(Path(tempfile.mkdtemp()))
        >>> t0 = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        >>> rows = pa.table({"site": ["s1", "s1"], "ts": [t0, t0], "asset": ["a", "a"],
        ...                  "signal": ["x", "y"], "value": [1.0, 2.0]})
        >>> lake.append("readings", rows).rows_written
        2
        >>> lake.append("readings", rows).duplicates_skipped
        2
        >>> lake.query("SELECT count(*) AS n FROM readings").column("n").to_pylist()
        [2]
    """

    root: Path
    timezone: str = "UTC"
    _infos: dict[Path, _FileInfo] = field(default_factory=dict, init=False, repr=False)
    # query(): one DuckDB database per Lake, a cursor per call (see _cursor)
    _con: duckdb.DuckDBPyConnection | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _empty: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _opened_at: float = field(default=0.0, init=False, repr=False, compare=False)
    _con_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._recover_if_idle()

    def __getstate__(self) -> dict[str, object]:
        """Pickles the location only: the connection and its lock stay in this process."""
        return {"root": self.root, "timezone": self.timezone, "_infos": {}}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._con, self._empty, self._con_lock = None, frozenset(), threading.Lock()

    # ----------------------------------------------------------------- writing

    def append(
        self,
        table: str,
        rows: pa.Table,
        *,
        ingest_id: str | None = None,
        unique_keys: bool = False,
    ) -> AppendResult:
        """Appends rows durably; rows already in the lake (by key) are skipped.

        Args:
            table: one of :data:`~factoryax.lake.tables.TABLES`.
            rows: columns of the table's ``input_schema``; nullable columns may be left
                out. Instants must be timezone-aware.
            ingest_id: the batch id stored on every row; a new one when omitted.
            unique_keys: the caller guarantees no key occurs twice within ``rows``
                (ingest checks this while validating), which skips that check here.

        Raises:
            SchemaError: a column is missing, unknown, of the wrong type or null where
                the table needs a value.
        """
        spec = table_spec(table)
        ingest_id = ingest_id or new_ingest_id()
        data = _conform(spec, rows)
        written: list[Path] = []
        conflicts: list[pa.Table] = []
        kept_total = 0
        with self._writer_lock():
            for site, day, part in _split_partitions(spec, data):
                folder = self.root / spec.name / f"site={site}" / f"date={day}"
                part, clash = self._drop_duplicates(spec, folder, part, unique_keys=unique_keys)
                if clash is not None and clash.num_rows:
                    conflicts.append(clash)
                if part.num_rows == 0:
                    continue
                stored = part.drop_columns(["site"]).append_column(
                    "ingest_id", _repeat(ingest_id, part.num_rows)
                )
                path = folder / f"part-{ingest_id}-{uuid.uuid4().hex[:8]}.parquet"
                self._write_atomic(stored.select(spec.schema.names).cast(spec.schema), path)
                written.append(path)
                kept_total += part.num_rows
        return AppendResult(
            table=table,
            ingest_id=ingest_id,
            rows_written=kept_total,
            duplicates_skipped=data.num_rows - kept_total,
            files=tuple(written),
            conflicts=pa.concat_tables(conflicts) if conflicts else None,
        )

    def compact(self, table: str, *, min_files: int = 2) -> CompactResult:
        """Rewrites each partition with at least ``min_files`` files as one sorted file.

        Crash-safe: the list of files being replaced is written (fsynced) before the new
        file is renamed into place; opening the lake finishes or undoes an interrupted
        compaction, so rows are never lost or left doubled.
        """
        spec = table_spec(table)
        before = after = compacted = 0
        with self._writer_lock():
            for folder in self._partitions(spec):
                files = sorted(folder.glob("*.parquet"))
                before += len(files)
                if len(files) < min_files:
                    after += len(files)
                    continue
                target = folder / f"part-compact-{uuid.uuid4().hex[:12]}.parquet"
                manifest = folder / f"{_COMPACT_PREFIX}{target.stem}.txt"
                _write_text_durably(manifest, "\n".join([target.name, *(f.name for f in files)]))
                self._write_sorted(spec, files, target)
                _finish_compaction(manifest)
                for f in files:
                    self._infos.pop(f, None)
                after += 1
                compacted += 1
        return CompactResult(table, compacted, before, after)

    def apply_retention(self, table: str, *, keep_days: int, today: dt.date | None = None) -> int:
        """Deletes partitions whose date is more than ``keep_days`` before ``today`` (UTC).

        Returns the number of partitions removed.
        """
        if keep_days < 0:
            raise ValueError(f"keep_days must be >= 0, got {keep_days!r}")
        spec = table_spec(table)
        cutoff = (today or utc_now().date()) - dt.timedelta(days=keep_days)
        removed = 0
        with self._writer_lock():
            for folder in self._partitions(spec):
                if dt.date.fromisoformat(folder.name.removeprefix("date=")) < cutoff:
                    for f in folder.glob("*.parquet"):
                        self._infos.pop(f, None)
                    shutil.rmtree(folder)
                    removed += 1
        return removed

    # ----------------------------------------------------------------- reading

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection with one view per lake table (empty tables included);
        the caller closes it. :meth:`query` reuses one instead."""
        con, _ = self._open(shared=False)
        return con

    def _open(self, *, shared: bool = True) -> tuple[duckdb.DuckDBPyConnection, frozenset[str]]:
        """A connection with the views, and the tables that had no file yet."""
        con = duckdb.connect()
        con.execute(f"SET GLOBAL TimeZone = '{_sql_text(self.timezone)}'")
        con.execute("SET GLOBAL enable_object_cache = true")  # Parquet footers, per file
        empty = []
        for spec in TABLES.values():
            if self._has_files(spec.name):
                glob = _sql_text(str(self.root / spec.name / "site=*" / "date=*" / "*.parquet"))
                con.execute(
                    f"CREATE VIEW {spec.name} AS SELECT * FROM read_parquet('{glob}', "
                    "hive_partitioning = true, union_by_name = true, "
                    "hive_types = {'site': VARCHAR, 'date': DATE})"
                )
            else:
                con.register(f"_{spec.name}_rows", _empty_view_table(spec))
                if shared:  # a real empty table: a registered object is not seen by cursors
                    con.execute(
                        f"CREATE TABLE _{spec.name}_empty AS SELECT * FROM _{spec.name}_rows"
                    )
                    con.unregister(f"_{spec.name}_rows")
                else:
                    rows = f"_{spec.name}_rows"
                    con.execute(f"CREATE VIEW _{spec.name}_empty AS SELECT * FROM {rows}")
                con.execute(f"CREATE VIEW {spec.name} AS SELECT * FROM _{spec.name}_empty")
                empty.append(spec.name)
        return con, frozenset(empty)

    def _has_files(self, table: str) -> bool:
        return any((self.root / table).glob("site=*/date=*/*.parquet"))

    def _cursor(self, *, fresh: bool = False) -> duckdb.DuckDBPyConnection:
        """A cursor on this Lake's long-lived connection.

        Opening a connection and creating the views costs more than a small query (about
        25 ms of the 40 ms a dashboard query took); the views read a glob, so files
        written since (by this process or another) are seen without reopening, and
        DuckDB's object cache keeps each immutable file's footer. The connection is
        rebuilt when a table that had no file gets its first one (its view was an empty
        table), when ``fresh`` (files vanished under a query), and every hour, so footers
        cached for files that compaction or retention removed are let go. Each call gets
        its own cursor, so threads never share one.
        """
        with self._con_lock:
            if (
                fresh
                or self._con is None
                or time.monotonic() - self._opened_at > _CONNECTION_MAX_AGE_S
                or any(self._has_files(name) for name in self._empty)
            ):
                self._con, self._empty = self._open()
                self._opened_at = time.monotonic()
            return self._con.cursor()

    def query(self, sql: str, params: list[object] | None = None) -> pa.Table:
        """Runs SQL over the lake's tables and returns the result as Arrow.

        Raises:
            QueryError: DuckDB rejected the SQL; the message keeps its explanation.
        """
        fresh = False
        for attempt in range(3):
            cur = self._cursor(fresh=fresh)
            try:
                return cur.execute(sql, params or []).to_arrow_table()
            except duckdb.IOException as exc:
                # A compaction replaced files between listing and reading them, or a
                # table lost all its files: list again on a new connection.
                text = str(exc)
                gone = "No such file" in text or "No files found" in text
                if attempt == 2 or not gone:
                    raise QueryError(f"query failed: {exc}\n  SQL: {sql.strip()[:500]}") from None
                fresh = True
            except duckdb.Error as exc:
                raise QueryError(f"query failed: {exc}\n  SQL: {sql.strip()[:500]}") from None
            finally:
                cur.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self) -> list[TableStatus]:
        """Rows, files, bytes and time range per table, read from Parquet footers."""
        out = []
        for spec in TABLES.values():
            infos = [self._info(spec, f) for f in self._files(spec)]
            firsts = [i.first for i in infos if i.first is not None]
            lasts = [i.last for i in infos if i.last is not None]
            out.append(
                TableStatus(
                    table=spec.name,
                    files=len(infos),
                    rows=sum(i.rows for i in infos),
                    bytes=sum(i.size for i in infos),
                    partitions=len(list(self._partitions(spec))),
                    first=min(firsts) if firsts else None,
                    last=max(lasts) if lasts else None,
                )
            )
        return out

    # ----------------------------------------------------------------- internals

    def _files(self, spec: TableSpec) -> list[Path]:
        return sorted((self.root / spec.name).glob("site=*/date=*/*.parquet"))

    def _partitions(self, spec: TableSpec) -> Iterator[Path]:
        yield from sorted(p for p in (self.root / spec.name).glob("site=*/date=*") if p.is_dir())

    def _info(self, spec: TableSpec, path: Path) -> _FileInfo:
        info = self._infos.get(path)
        if info is None:
            meta = pq.ParquetFile(path).metadata
            col = spec.schema.get_field_index(spec.time_column)
            first: dt.datetime | None = None
            last: dt.datetime | None = None
            for g in range(meta.num_row_groups):
                stats = meta.row_group(g).column(col).statistics
                if stats is None or not stats.has_min_max:
                    first = last = None  # unknown range: the file is always checked
                    break
                lo, hi = _as_utc(stats.min), _as_utc(stats.max)
                first = lo if first is None else min(first, lo)
                last = hi if last is None else max(last, hi)
            info = _FileInfo(meta.num_rows, first, last, path.stat().st_size)
            self._infos[path] = info
        return info

    def _drop_duplicates(
        self, spec: TableSpec, folder: Path, part: pa.Table, *, unique_keys: bool
    ) -> tuple[pa.Table, pa.Table | None]:
        """Removes rows whose key is already stored in ``folder`` or earlier in ``part``.

        Returns the rows to write and, when some stored keys hold different values, the
        new rows that conflict with them. Only new rows inside the time range of a stored
        file can be duplicates, so only those are joined against the stored rows.
        """
        repeats = None
        if not unique_keys:
            part, repeats = _first_per_key(part, spec.key)
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not files:
            return part, repeats
        kept, conflicts = self._against_stored(spec, files, part)
        clashes = [t for t in (repeats, conflicts) if t is not None and t.num_rows]
        return kept, (pa.concat_tables(clashes) if clashes else None)

    def _against_stored(
        self, spec: TableSpec, files: list[Path], part: pa.Table
    ) -> tuple[pa.Table, pa.Table | None]:
        if not spec.prune_by_time:
            return _anti_join(spec, files, part, None)
        micros = part.column(spec.time_column).cast(pa.int64()).to_numpy()
        inside = np.zeros(part.num_rows, dtype=bool)
        candidates = []
        for f in files:
            info = self._info(spec, f)
            if info.first is None or info.last is None:
                inside[:] = True
                candidates.append(f)
                continue
            hit = (micros >= _micros(info.first)) & (micros <= _micros(info.last))
            if hit.any():
                inside |= hit
                candidates.append(f)
        if not candidates:
            return part, None
        window = (int(micros[inside].min()), int(micros[inside].max()))
        kept, conflicts = _anti_join(spec, candidates, part.filter(pa.array(inside)), window)
        fresh = part.filter(pa.array(~inside))
        return pa.concat_tables([fresh, kept.cast(part.schema)]), conflicts

    def _write_atomic(self, table: pa.Table, path: Path, compression: str = "snappy") -> None:
        """Writes a file under a temporary name, fsyncs it and renames it into place.

        Appends use snappy (fast, on the hot path); compaction rewrites with zstd, which
        makes files about a third smaller for the same rows.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f"{_TMP_PREFIX}{os.getpid()}-{path.name}.tmp"
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, compression=compression)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    def _write_sorted(self, spec: TableSpec, files: list[Path], target: Path) -> None:
        """Writes the rows of ``files`` sorted by key into ``target``, atomically.

        DuckDB sorts (in parallel, spilling to disk when needed) and hands over record
        batches, so a partition of any size is rewritten in bounded memory.
        """
        tmp = target.parent / f"{_TMP_PREFIX}{os.getpid()}-{target.name}.tmp"
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            names = ", ".join(f"'{_sql_text(str(f))}'" for f in files)
            order = ", ".join(f'"{k}"' for k in spec.key)
            batches = con.sql(
                f"SELECT * FROM read_parquet([{names}], hive_partitioning = false) ORDER BY {order}"
            ).to_arrow_reader(256_000)
            with open(tmp, "wb") as fh:
                with pq.ParquetWriter(fh, spec.schema, compression="zstd") as writer:
                    for batch in batches:
                        writer.write_table(pa.Table.from_batches([batch]).cast(spec.schema))
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            con.close()
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        with open(self.root / ".lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _recover_if_idle(self) -> None:
        """Recovers from a crashed writer, unless a live writer holds the lock.

        Readers never wait: when a writer is busy (it recovers itself) or the lake is
        read-only for this user, recovery is left to the next writer.
        """
        try:
            fh = open(self.root / ".lock", "a+b")  # noqa: SIM115  # held across the flock below
        except OSError:
            return  # read-only lake: nothing to recover from here
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                self._recover()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _recover(self) -> None:
        """Removes temp files of dead writers and settles interrupted compactions."""
        for spec in TABLES.values():
            for folder in self._partitions(spec):
                for manifest in folder.glob(f"{_COMPACT_PREFIX}*.txt"):
                    _finish_compaction(manifest)
                for tmp in folder.glob(f"{_TMP_PREFIX}*.tmp"):
                    tmp.unlink(missing_ok=True)


def _first_per_key(part: pa.Table, key: tuple[str, ...]) -> tuple[pa.Table, pa.Table | None]:
    """The first row of each key (in the original order), and the later rows that repeat
    a key with *different* values (equal repeats are plain duplicates)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("rows_in", part.append_column("_pos", pa.array(np.arange(part.num_rows))))
        keys = ", ".join(f'"{k}"' for k in key)
        con.execute(
            f"CREATE TEMP TABLE ranked AS SELECT *, row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY _pos) AS _rn FROM rows_in"
        )
        out = con.execute(
            "SELECT * EXCLUDE (_rn) FROM ranked WHERE _rn = 1 ORDER BY _pos"
        ).to_arrow_table()
        same = " AND ".join(
            f'r."{c}" IS NOT DISTINCT FROM f."{c}"' for c in part.column_names if c != "ingest_id"
        )
        on = " AND ".join(f'r."{k}" IS NOT DISTINCT FROM f."{k}"' for k in key)
        clash = con.execute(
            f"SELECT r.* EXCLUDE (_rn, _pos) FROM ranked r JOIN ranked f ON {on} AND f._rn = 1 "
            f"WHERE r._rn > 1 AND NOT ({same}) ORDER BY r._pos"
        ).to_arrow_table()
    finally:
        con.close()
    kept = out.drop_columns(["_pos"]).cast(part.schema)
    return kept, (clash.cast(part.schema) if clash.num_rows else None)


def _anti_join(
    spec: TableSpec, files: list[Path], new: pa.Table, window: tuple[int, int] | None
) -> tuple[pa.Table, pa.Table | None]:
    """New rows whose key is not in ``files``, and those whose key is stored with other values."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("new_rows", new.append_column("_pos", pa.array(np.arange(new.num_rows))))
        names = ", ".join(f"'{_sql_text(str(f))}'" for f in files)
        where = ""
        if window is not None:
            col = spec.time_column
            where = f' WHERE epoch_us("{col}") BETWEEN {window[0]} AND {window[1]}'
        con.execute(
            f"CREATE TEMP VIEW old_rows AS SELECT * FROM read_parquet([{names}], "
            f"hive_partitioning = false){where}"
        )
        on = " AND ".join(f'n."{k}" IS NOT DISTINCT FROM o."{k}"' for k in spec.key)
        payload = [c for c in new.column_names if c not in (*spec.key, "site", "ingest_id")]
        same = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM o."{c}"' for c in payload) or "true"
        conflicts = con.execute(
            f"SELECT n.* EXCLUDE (_pos) FROM new_rows n JOIN old_rows o ON {on} "
            f"WHERE NOT ({same}) ORDER BY n._pos"
        ).to_arrow_table()
        kept = con.execute(
            f"SELECT n.* FROM new_rows n ANTI JOIN old_rows o ON {on} ORDER BY n._pos"
        ).to_arrow_table()
    finally:
        con.close()
    return kept.drop_columns(["_pos"]), (conflicts if conflicts.num_rows else None)


def _micros(value: dt.datetime) -> int:
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _conform(spec: TableSpec, rows: pa.Table) -> pa.Table:
    """Checks and casts ``rows`` to the table's input schema; fills nullable gaps."""
    target = spec.input_schema
    unknown = [n for n in rows.column_names if n not in target.names]
    if unknown:
        raise SchemaError(
            f"table {spec.name!r}: unknown column(s) {unknown!r}; expected some of {target.names!r}"
        )
    columns = []
    for fld in target:
        if fld.name in rows.column_names:
            col = rows.column(fld.name)
            if pa.types.is_timestamp(fld.type) and getattr(col.type, "tz", "x") is None:
                raise SchemaError(
                    f"table {spec.name!r}: column {fld.name!r} holds naive timestamps; "
                    "store instants as timezone-aware UTC"
                )
            try:
                col = col.cast(fld.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaError(
                    f"table {spec.name!r}: column {fld.name!r} of type {col.type} "
                    f"cannot be stored as {fld.type}: {exc}"
                ) from None
        elif fld.nullable:
            col = pa.nulls(rows.num_rows, fld.type)
        else:
            raise SchemaError(
                f"table {spec.name!r}: required column {fld.name!r} is missing; "
                f"expected columns {target.names!r}"
            )
        if not fld.nullable and col.null_count:
            raise SchemaError(
                f"table {spec.name!r}: column {fld.name!r} has {col.null_count} null value(s) "
                "but every row needs one"
            )
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=target)


def _split_partitions(spec: TableSpec, data: pa.Table) -> Iterator[tuple[str, str, pa.Table]]:
    """Yields (site, YYYY-MM-DD, rows) per partition; the date is the UTC date."""
    if data.num_rows == 0:
        return
    micros = data.column(spec.time_column).cast(pa.int64()).to_numpy()
    days = np.floor_divide(micros, 86_400_000_000)
    if len(days) and (days.min() < _MIN_DAY or days.max() > _MAX_DAY):
        raise SchemaError(
            f"table {spec.name!r}: column {spec.time_column!r} holds a date outside "
            "1900-01-01..2199-12-31; such instants are clock errors, not data"
        )
    sites = pc.unique(data.column("site")).to_pylist()
    for site in sites:
        _check_site_name(site)
        at_site = None if len(sites) == 1 else pc.equal(data.column("site"), site).to_numpy(False)
        site_days = days if at_site is None else days[at_site]
        lo, hi = int(site_days.min()), int(site_days.max())
        for day in range(lo, hi + 1) if hi - lo < 1000 else np.unique(site_days):
            if lo == hi and at_site is None:
                part = data  # one site, one day: the usual micro-batch, no copy
            else:
                mask = days == day if at_site is None else (days == day) & at_site
                if not mask.any():
                    continue
                part = data.filter(pa.array(mask))
            name = (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()
            yield site, name, part


def _check_site_name(site: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", site):
        raise SchemaError(
            f"site id {site!r} cannot name a partition folder; "
            "use letters, digits, '-' and '_' (as in plant.toml)"
        )


def _repeat(value: str, n: int) -> pa.Array:
    indices = pa.nulls(n, pa.int32()).fill_null(0)
    return pa.DictionaryArray.from_arrays(indices, pa.array([value]))


def _empty_view_table(spec: TableSpec) -> pa.Table:
    schema = spec.schema.append(pa.field("site", pa.string())).append(pa.field("date", pa.date32()))
    return schema.empty_table()


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_text_durably(path: Path, text: str) -> None:
    """Writes a small file so that it exists either whole or not at all."""
    tmp = path.parent / f"{_TMP_PREFIX}{os.getpid()}-{path.name}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _finish_compaction(manifest: Path) -> None:
    """Rolls an interrupted compaction forward (new file present) or back (absent)."""
    lines = manifest.read_text(encoding="utf-8", errors="replace").splitlines()
    target, old = (lines[0], lines[1:]) if lines else ("", [])
    if target and (manifest.parent / target).exists():
        for name in old:
            (manifest.parent / name).unlink(missing_ok=True)
    _fsync_dir(manifest.parent)
    manifest.unlink()
    _fsync_dir(manifest.parent)
