"""The lake: atomic, idempotent appends; compaction; retention; plain Parquet layout."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factoryax.core import SchemaError
from factoryax.lake import Lake

T0 = dt.datetime(2026, 11, 23, 23, 59, 58, tzinfo=dt.UTC)


def readings(n: int, *, start: dt.datetime = T0, value: float = 1.0, site: str = "s1") -> pa.Table:
    """n readings of one signal, one per second."""
    return pa.table(
        {
            "site": [site] * n,
            "ts": [start + dt.timedelta(seconds=i) for i in range(n)],
            "asset": ["a1"] * n,
            "signal": ["x"] * n,
            "value": [value + i for i in range(n)],
        }
    )


def test_append_writes_hive_partitions_by_site_and_utc_date(tmp_path: Path) -> None:
    """Rows land in table/site=/date=/part-*.parquet, split at the UTC day boundary."""
    lake = Lake(tmp_path)
    result = lake.append("readings", readings(4))
    assert result.rows_written == 4 and result.duplicates_skipped == 0
    folders = sorted(p.parent.relative_to(tmp_path).as_posix() for p in result.files)
    assert folders == ["readings/site=s1/date=2026-11-23", "readings/site=s1/date=2026-11-24"]
    assert not list(tmp_path.rglob(".tmp-*")), "no temporary file may be left behind"
    stored = pq.read_table(result.files[0], partitioning=None)
    assert (
        "site" not in stored.column_names
        and stored.column("ingest_id")[0].as_py() == result.ingest_id
    )


def test_query_sees_partition_columns_and_values(tmp_path: Path) -> None:
    """SQL over the lake returns the rows with site and date from the path."""
    lake = Lake(tmp_path)
    lake.append("readings", readings(3))
    out = lake.query("SELECT site, date::VARCHAR AS d, value FROM readings ORDER BY ts")
    assert out.to_pylist() == [
        {"site": "s1", "d": "2026-11-23", "value": 1.0},
        {"site": "s1", "d": "2026-11-23", "value": 2.0},
        {"site": "s1", "d": "2026-11-24", "value": 3.0},
    ]


def test_empty_tables_are_queryable(tmp_path: Path) -> None:
    """Every table can be queried before anything is written."""
    lake = Lake(tmp_path)
    for table in ("readings", "production", "states", "events", "quarantine"):
        assert lake.query(f"SELECT count(*) AS n FROM {table}").column("n")[0].as_py() == 0


def test_reappending_is_idempotent(tmp_path: Path) -> None:
    """The same rows appended twice are stored once; the second append counts duplicates."""
    lake = Lake(tmp_path)
    lake.append("readings", readings(10))
    again = lake.append("readings", readings(10))
    assert (again.rows_written, again.duplicates_skipped) == (0, 10)
    assert again.conflicts is None or again.conflicts.num_rows == 0
    assert lake.query("SELECT count(*) n FROM readings").column("n")[0].as_py() == 10


def test_overlapping_append_keeps_new_rows_and_reports_conflicts(tmp_path: Path) -> None:
    """Half-new rows: the new half lands, stored keys with other values are conflicts."""
    lake = Lake(tmp_path)
    lake.append("readings", readings(10))
    result = lake.append("readings", readings(10, start=T0 + dt.timedelta(seconds=5), value=6.0))
    assert result.rows_written == 5 and result.duplicates_skipped == 5
    assert result.conflicts is None  # the overlapping rows hold the same values
    clash = lake.append("readings", readings(2, value=99.0))
    assert clash.rows_written == 0
    assert clash.conflicts is not None and clash.conflicts.column("value").to_pylist() == [
        99.0,
        100.0,
    ]


def test_duplicates_within_one_batch_keep_the_first(tmp_path: Path) -> None:
    """A batch repeating a key stores its first occurrence only."""
    lake = Lake(tmp_path)
    batch = pa.concat_tables([readings(3), readings(3, value=50.0)])
    result = lake.append("readings", batch)
    assert (result.rows_written, result.duplicates_skipped) == (3, 3)
    assert lake.query("SELECT value FROM readings ORDER BY ts").column("value").to_pylist() == [
        1.0,
        2.0,
        3.0,
    ]


def test_naive_timestamps_are_refused(tmp_path: Path) -> None:
    """Instants without a zone are ambiguous and never stored."""
    rows = readings(1).set_column(1, "ts", pa.array([dt.datetime(2026, 1, 1)]))  # noqa: DTZ001
    with pytest.raises(SchemaError, match="naive timestamps"):
        Lake(tmp_path).append("readings", rows)


def test_missing_and_unknown_columns_are_named(tmp_path: Path) -> None:
    """A missing required column or an unknown column is a SchemaError naming it."""
    lake = Lake(tmp_path)
    with pytest.raises(SchemaError, match="required column 'signal'"):
        lake.append("readings", readings(1).drop_columns(["signal"]))
    with pytest.raises(SchemaError, match=r"unknown column\(s\) \['colour'\]"):
        lake.append("readings", readings(1).append_column("colour", pa.array(["red"])))


def test_bad_site_id_cannot_escape_the_lake(tmp_path: Path) -> None:
    """A site id that is not a safe folder name is refused."""
    with pytest.raises(SchemaError, match="cannot name a partition folder"):
        Lake(tmp_path).append("readings", readings(1, site="../etc"))


def test_compaction_merges_files_and_keeps_every_row(tmp_path: Path) -> None:
    """Many small files become one per partition with the same rows, sorted by key."""
    lake = Lake(tmp_path)
    for i in range(5):
        lake.append("readings", readings(1, start=T0 - dt.timedelta(hours=1, seconds=i)))
    before = lake.query("SELECT * EXCLUDE (ingest_id) FROM readings ORDER BY ts")
    result = lake.compact("readings")
    assert (result.files_before, result.files_after) == (5, 1)
    after = lake.query("SELECT * EXCLUDE (ingest_id) FROM readings ORDER BY ts")
    assert after.equals(before)
    assert lake.append("readings", readings(1, start=T0 - dt.timedelta(hours=1))).rows_written == 0


def test_interrupted_compaction_rolls_forward_or_back(tmp_path: Path) -> None:
    """A crash mid-compaction never leaves rows doubled or lost after reopening."""
    lake = Lake(tmp_path)
    for i in range(3):
        lake.append("readings", readings(1, start=T0 - dt.timedelta(hours=1, seconds=i)))
    folder = next((tmp_path / "readings").glob("site=*/date=*"))
    old = sorted(f.name for f in folder.glob("*.parquet"))
    # crash after the new file was renamed in, before the old ones were deleted
    merged = pa.concat_tables([pq.read_table(folder / n, partitioning=None) for n in old])
    pq.write_table(merged, folder / "part-compact-x.parquet")
    (folder / ".compact-part-compact-x.txt").write_text("\n".join(["part-compact-x.parquet", *old]))
    reopened = Lake(tmp_path)
    assert sorted(f.name for f in folder.glob("*.parquet")) == ["part-compact-x.parquet"]
    assert reopened.query("SELECT count(*) n FROM readings").column("n")[0].as_py() == 3
    # crash before the new file existed: the manifest is dropped, old files stay
    (folder / ".compact-part-compact-y.txt").write_text(
        "part-compact-y.parquet\npart-compact-x.parquet"
    )
    Lake(tmp_path)
    assert sorted(f.name for f in folder.glob("*.parquet")) == ["part-compact-x.parquet"]
    assert not list(folder.glob(".compact-*"))


def test_temp_files_of_a_crashed_writer_are_removed_on_open(tmp_path: Path) -> None:
    """Half-written temporary files are invisible to SQL and cleaned up at the next open."""
    lake = Lake(tmp_path)
    lake.append("readings", readings(1))
    folder = next((tmp_path / "readings").glob("site=*/date=*"))
    (folder / ".tmp-999999-part-x.parquet.tmp").write_bytes(b"PAR1 half")
    assert lake.query("SELECT count(*) n FROM readings").column("n")[0].as_py() == 1
    Lake(tmp_path)
    assert not list(folder.glob(".tmp-*"))


def test_retention_drops_only_old_partitions(tmp_path: Path) -> None:
    """Partitions older than keep_days go; newer ones stay."""
    lake = Lake(tmp_path)
    lake.append("readings", readings(3))  # 2026-11-23 and 2026-11-24
    removed = lake.apply_retention("readings", keep_days=1, today=dt.date(2026, 11, 25))
    assert removed == 1
    assert lake.query("SELECT count(*) n FROM readings").column("n")[0].as_py() == 1
    with pytest.raises(ValueError, match="keep_days"):
        lake.apply_retention("readings", keep_days=-1)


def test_status_reads_counts_and_time_range(tmp_path: Path) -> None:
    """status() reports rows, files, partitions and the time range per table."""
    lake = Lake(tmp_path)
    lake.append("readings", readings(3))
    status = {s.table: s for s in lake.status()}
    assert (status["readings"].rows, status["readings"].files, status["readings"].partitions) == (
        3,
        2,
        2,
    )
    assert status["readings"].first == T0
    assert status["readings"].last == T0 + dt.timedelta(seconds=2)
    assert status["events"].rows == 0 and status["events"].first is None


def test_layout_is_plain_parquet_for_other_engines(tmp_path: Path) -> None:
    """Polars reads the lake folder as one Hive-partitioned table."""
    lake = Lake(tmp_path)
    lake.append("readings", readings(5))
    frame = pl.scan_parquet(str(tmp_path / "readings" / "**" / "*.parquet"), hive_partitioning=True)
    out = frame.select(pl.len(), pl.col("value").sum(), pl.col("site").first()).collect()
    assert out.row(0) == (5, 15.0, "s1")


def test_writer_lock_file_is_the_only_extra(tmp_path: Path) -> None:
    """The lake root holds only table folders and its lock file."""
    lake = Lake(tmp_path)
    lake.append(
        "events",
        pa.table(
            {
                "site": ["s1"],
                "ts": [T0],
                "event_id": ["e1"],
                "kind": ["test"],
                "severity": [1],
            }
        ),
    )
    assert sorted(os.listdir(tmp_path)) == [".lock", "events"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.lists(st.integers(0, 40), min_size=1, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
)
def test_any_split_into_batches_stores_each_key_once(
    tmp_path_factory: pytest.TempPathFactory, keys: list[int], cuts: list[int]
) -> None:
    """However rows (with repeats) are split into appends, each key is stored exactly once."""
    lake = Lake(tmp_path_factory.mktemp("lake"))
    rows = pa.table(
        {
            "site": ["s1"] * len(keys),
            "ts": [T0 + dt.timedelta(minutes=k * 37) for k in keys],
            "asset": ["a1"] * len(keys),
            "signal": ["x"] * len(keys),
            "value": [float(k) for k in keys],
        }
    )
    bounds = sorted({0, len(keys), *(c for c in cuts if c < len(keys))})
    written = 0
    for lo, hi in itertools.pairwise(bounds):
        written += lake.append("readings", rows.slice(lo, hi - lo)).rows_written
    assert written == len(set(keys))
    assert lake.query("SELECT count(*) n FROM readings").column("n")[0].as_py() == len(set(keys))


def _n(lake: Lake, table: str = "readings") -> int:
    return int(lake.query(f"SELECT count(*) AS n FROM {table}").column("n")[0].as_py())


def test_query_reuses_its_connection_and_still_sees_every_new_file(tmp_path: Path) -> None:
    """query() keeps one connection per Lake: a table that was empty at the first query,
    files another writer adds later, and a table whose files all vanish are all seen."""
    import pickle

    lake = Lake(tmp_path)
    assert _n(lake) == 0  # readings had no file: its view is an empty table
    lake.append("readings", readings(3))
    assert _n(lake) == 3
    Lake(tmp_path).append("readings", readings(2, start=T0 + dt.timedelta(hours=1)))
    assert _n(lake) == 5  # written by another Lake (another process): the glob sees it
    for f in (tmp_path / "readings").rglob("*.parquet"):
        f.unlink()
    assert _n(lake) == 0  # no file left: the views are rebuilt instead of failing
    copy = pickle.loads(pickle.dumps(lake))  # noqa: S301 (our own bytes; the connection is not pickled)
    lake.append("readings", readings(1))
    assert _n(copy) == 1


def test_queries_from_many_threads_share_the_lake_safely(tmp_path: Path) -> None:
    """Each call gets its own cursor; concurrent readers and a writer do not interfere."""
    from concurrent.futures import ThreadPoolExecutor

    lake = Lake(tmp_path)
    lake.append("readings", readings(100))

    def read(i: int) -> int:
        if i == 10:
            lake.append("readings", readings(50, start=T0 + dt.timedelta(days=1)))
        return _n(lake)

    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(read, range(40)))
    assert set(counts) <= {100, 150} and _n(lake) == 150
