"""Writing a run one UTC day at a time stores exactly what one whole batch per table did."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from factoryax.core import PlantModel
from factoryax.ingest import ingest_rows
from factoryax.lake import Lake, table_spec
from factoryax.twin import TwinResult, simulate, write_to_lake

from .conftest import MONDAY


@pytest.fixture(scope="module")
def span_run(plant: PlantModel) -> TwinResult:
    """36 hours from a Seoul midnight (15:00 UTC), so the rows span three UTC dates."""
    return simulate(plant, start=MONDAY, horizon=dt.timedelta(hours=36), seed=5, sample_s=120)


def _whole_batches(
    run: TwinResult, plant: PlantModel, lake: Lake, until: dt.datetime | None = None
) -> dict[str, int]:
    """The reference: each table (before ``until``) handed to ingest in one call."""
    written = {}
    for name, table in run.lake_tables().items():
        if until is not None:
            ts = table.column(table_spec(name).time_column)
            table = table.filter(pc.less(ts, pa.scalar(until, ts.type)))
        report = ingest_rows(name, table, plant=plant, lake=lake, source=f"twin:{run.run_id}")
        written[name] = report.readings_accepted
    return written


def _partitions(root: Path) -> dict[str, tuple[int, pa.Table]]:
    """Per partition folder: its number of files and its rows in stored order, without
    the ingest id (a fresh one per ingest call)."""
    out = {}
    for folder in sorted(root.glob("*/site=*/date=*")):
        files = sorted(folder.glob("*.parquet"))
        rows = pa.concat_tables(pq.read_table(f).drop_columns(["ingest_id"]) for f in files)
        out[str(folder.relative_to(root))] = (len(files), rows)
    return out


def test_daily_batches_store_the_same_rows_as_whole_tables(
    plant: PlantModel, span_run: TwinResult, tmp_path: Path
) -> None:
    """Every partition gets one file holding the same rows in the same order."""
    whole = _whole_batches(span_run, plant, Lake(tmp_path / "whole"))
    report = write_to_lake(span_run, plant, Lake(tmp_path / "daily"))
    expected, got = _partitions(tmp_path / "whole"), _partitions(tmp_path / "daily")
    assert len([p for p in expected if p.startswith("readings/")]) == 3
    assert list(got) == list(expected)
    for folder, (files, rows) in expected.items():
        assert files == 1, folder
        assert got[folder][0] == 1, folder
        assert got[folder][1].equals(rows), folder
    assert report.rows_written == whole
    assert sum(report.quarantined.values()) == 0


def test_until_writes_exactly_the_rows_before_it(
    plant: PlantModel, span_run: TwinResult, tmp_path: Path
) -> None:
    """``until`` in the middle of a day writes what filtering each table first did."""
    cut = span_run.start + dt.timedelta(hours=20, minutes=7, seconds=30)
    whole = _whole_batches(span_run, plant, Lake(tmp_path / "whole"), until=cut)
    report = write_to_lake(span_run, plant, Lake(tmp_path / "daily"), until=cut)
    expected, got = _partitions(tmp_path / "whole"), _partitions(tmp_path / "daily")
    assert list(got) == list(expected)
    assert all(got[k][1].equals(rows) for k, (_, rows) in expected.items())
    assert report.rows_written == whole
    assert 0 < report.rows_written["readings"] < span_run.readings.num_rows
    latest = Lake(tmp_path / "daily").query("SELECT max(ts) AS t FROM readings")
    assert latest.column("t")[0].as_py() < cut
    assert all(p.is_file() for p in report.truth_files.values())
