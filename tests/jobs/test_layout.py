"""Engines read committed files only: no temporary files, no half-finished compaction."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from factoryax.core import ConfigError
from factoryax.jobs import DuckDBEngine, SparkConfig, SparkEngine, committed_files, open_engine
from factoryax.lake import Lake

T0 = dt.datetime(2026, 11, 23, 1, tzinfo=dt.UTC)


def _readings(n: int, offset: int) -> pa.Table:
    return pa.table(
        {
            "site": ["s1"] * n,
            "ts": pa.array(
                [T0 + dt.timedelta(seconds=offset + i) for i in range(n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "asset": ["m1"] * n,
            "signal": ["temp"] * n,
            "value": [float(i) for i in range(n)],
        }
    )


def half_compacted(root: Path) -> tuple[Path, list[Path], Path]:
    """A lake frozen mid-compaction: the merged file renamed in and its manifest written,
    the replaced files not yet removed; plus a dead writer's temporary file."""
    lake = Lake(root)
    files = [lake.append("readings", _readings(100, k * 100)).files[0] for k in range(3)]
    folder = files[0].parent
    merged = folder / "part-compact-0123456789ab.parquet"
    pq.write_table(pa.concat_tables([pq.read_table(f) for f in files]), merged)
    (folder / ".compact-part-compact-0123456789ab.txt").write_text(
        "\n".join([merged.name, *(f.name for f in files)]), encoding="utf-8"
    )
    shutil.copy(files[0], folder / ".tmp-999-part-x.parquet.tmp")
    return folder, files, merged


def test_listing_skips_temporaries_and_files_a_committed_compaction_replaced(
    tmp_path: Path,
) -> None:
    """Mid-compaction, the snapshot is the merged file alone."""
    _, _, merged = half_compacted(tmp_path)
    assert list(committed_files(tmp_path, "readings")) == [str(merged)]


def test_a_manifest_whose_merged_file_is_absent_changes_nothing(tmp_path: Path) -> None:
    """Before the merged file's rename the compaction has not happened: old files count."""
    _, files, merged = half_compacted(tmp_path)
    merged.unlink()
    assert list(committed_files(tmp_path, "readings")) == [str(f) for f in sorted(files)]


def test_both_engines_count_each_row_once_mid_compaction(
    tmp_path: Path, spark: SparkSession
) -> None:
    """DuckDB and Spark see 300 rows where Spark's own folder listing sees 600."""
    half_compacted(tmp_path)
    query = "SELECT count(*) AS n, count(DISTINCT ts) AS k FROM readings WHERE site = 's1'"
    for engine in (DuckDBEngine(tmp_path), SparkEngine(tmp_path, session=spark)):
        assert engine.sql(query).to_pylist() == [{"n": 300, "k": 300}]
    naive = spark.read.parquet(str(tmp_path / "readings")).count()
    assert naive == 600  # what reading the folder blindly would have given


def test_lake_tables_get_site_and_date_from_the_folders_on_spark(
    tmp_path: Path, spark: SparkSession
) -> None:
    """Spark's view has the partition columns typed like DuckDB's: string and date."""
    Lake(tmp_path).append("readings", _readings(10, 0))
    sql = "SELECT site, date, count(*) AS n FROM readings GROUP BY site, date"
    want = DuckDBEngine(tmp_path).sql(sql)
    got = SparkEngine(tmp_path, session=spark).sql(sql)
    assert got.to_pylist() == want.to_pylist() == [{"site": "s1", "date": T0.date(), "n": 10}]


def test_an_empty_table_is_an_empty_view_with_the_table_columns(
    tmp_path: Path, spark: SparkSession
) -> None:
    """A table without files still answers (zero rows), on both engines."""
    sql = "SELECT count(*) AS n, max(value) AS top FROM readings"
    for engine in (DuckDBEngine(tmp_path), SparkEngine(tmp_path, session=spark)):
        assert engine.sql(sql).to_pylist() == [{"n": 0, "top": None}]


def test_engine_options_are_checked(tmp_path: Path) -> None:
    """Unknown engines, Spark options on DuckDB and package downloads are refused."""
    with pytest.raises(ConfigError, match="unknown engine 'flink'"):
        open_engine("flink", tmp_path)
    with pytest.raises(ConfigError, match="--master 'local\\[4\\]' is a Spark option"):
        open_engine("duckdb", tmp_path, master="local[4]")
    with pytest.raises(ConfigError, match="would download packages"):
        SparkConfig(extra=(("spark.jars.packages", "io.delta:delta-spark_2.13:4.0.0"),)).settings()
    settings = SparkConfig().settings()
    assert settings["spark.driver.host"] == settings["spark.driver.bindAddress"] == "127.0.0.1"
    assert settings["spark.ui.enabled"] == "false"


def test_a_query_error_names_the_engine_and_the_sql(tmp_path: Path, spark: SparkSession) -> None:
    """Bad SQL is a QueryError on both engines, with the SQL in the message."""
    from factoryax.core import QueryError

    for engine in (DuckDBEngine(tmp_path), SparkEngine(tmp_path, session=spark)):
        with pytest.raises(QueryError, match=f"{engine.name} job query failed") as info:
            engine.sql("SELECT no_such_column FROM readings")
        assert "no_such_column" in str(info.value)
