"""Writing a run: lake tables through the normal ingest path, ground truth beside the lake.

Rows go to ingest one UTC day at a time, the lake's partition: validating a week of 1 Hz
readings in one batch held several full-length temporaries (instants, values, codes, the
duplicate check's sort) at once, about 1.5 GB for the demo's week. A key holds its
instant, so a key can only repeat within a day: per-day batches skip and quarantine
exactly the rows one whole batch would, and each partition still gets one file per call.

The truth goes to ``<lake root>/../truth/<table>/site=<site>/<run_id>.parquet`` (for a
workspace: ``<workspace>/truth/…``), outside the lake's table set, so nothing that
queries the lake (detectors, the agent, the dashboard) can see it. Writing the same run
again replaces its truth files and adds nothing to the lake (ingest skips duplicates).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from factoryax.core import PlantModel
from factoryax.ingest import IngestReport, ingest_rows
from factoryax.lake import Lake, table_spec
from factoryax.twin.result import TwinResult

__all__ = ["WriteReport", "truth_dir_for", "write_to_lake"]

_ONE_US = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_to_lake` did.

    Attributes:
        source: the ingest source name of the run (``twin:<run_id>``).
        rows_written: rows that landed per lake table.
        duplicates_skipped: rows already in the lake per table (a re-run).
        quarantined: rows ingest rejected per table (expected to be 0).
        truth_files: the Parquet file of each truth table.
    """

    source: str
    rows_written: dict[str, int] = field(default_factory=dict)
    duplicates_skipped: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    truth_files: dict[str, Path] = field(default_factory=dict)


def truth_dir_for(lake: Lake) -> Path:
    """Where a lake's ground truth lives: ``truth`` beside the lake folder."""
    return Path(lake.root).resolve().parent / "truth"


def write_to_lake(
    result: TwinResult,
    plant: PlantModel,
    lake: Lake,
    *,
    truth_dir: Path | None = None,
    until: dt.datetime | None = None,
) -> WriteReport:
    """Ingests the run's tables into ``lake`` and writes its ground truth beside it.

    Args:
        result: a run from :func:`~factoryax.twin.simulate`.
        plant: the plant model the rows are validated against.
        lake: the lake to append to.
        truth_dir: where the truth goes (default :func:`truth_dir_for` the lake).
        until: write only the lake rows before this instant (by each table's time
            column; the truth is still written whole), e.g. the past of a run that goes
            on into the future. Default: every row.

    Examples:
        >>> import datetime as dt, tempfile
        >>> from factoryax.twin import example_plant, simulate
        >>> plant = example_plant()
        >>> run = simulate(plant, start=dt.date(2026, 11, 23),
        ...                horizon=dt.timedelta(minutes=30), seed=3, sample_s=60)
        >>> root = Path(tempfile.mkdtemp())
        >>> report = write_to_lake(run, plant, Lake(root / "lake"))
        >>> report.quarantined["readings"], report.truth_files["rul"].parent.name
        (0, 'site=changwon-1')
    """
    source = f"twin:{result.run_id}"
    report = WriteReport(source=source)
    for name, table in result.lake_tables().items():
        report.rows_written[name] = report.duplicates_skipped[name] = 0
        report.quarantined[name] = 0
        for day in _days(table, table_spec(name).time_column, until):
            ingested = _ingest(name, day, plant=plant, lake=lake, source=source)
            report.rows_written[name] += ingested.readings_accepted
            report.duplicates_skipped[name] += ingested.duplicates_skipped
            report.quarantined[name] += ingested.quarantined
    folder = truth_dir if truth_dir is not None else truth_dir_for(lake)
    for name, table in result.truth.tables().items():
        path = folder / name / f"site={result.site}" / f"{result.run_id}.parquet"
        _write_atomic(table, path)
        report.truth_files[name] = path
    return report


def _days(table: pa.Table, column: str, until: dt.datetime | None) -> Iterator[pa.Table]:
    """The rows of each UTC day (each lake partition) before ``until``, in table order.

    Each day is one filter over the whole table, so at most one day's rows are copied at
    a time; a run's tables span a handful of days.
    """
    if table.num_rows == 0:
        return
    ts = table.column(column)
    span = pc.min_max(ts)
    first: dt.datetime = span["min"].as_py()
    end: dt.datetime = span["max"].as_py() + _ONE_US
    if until is not None:
        end = min(end, until)
    day = dt.datetime.combine(first.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    while day < end:
        hi = min(day + dt.timedelta(days=1), end)
        inside = pc.and_(
            pc.greater_equal(ts, pa.scalar(day, ts.type)), pc.less(ts, pa.scalar(hi, ts.type))
        )
        part = table.filter(inside)
        if part.num_rows:
            yield part
        day += dt.timedelta(days=1)


def _ingest(
    table: str, rows: pa.Table, *, plant: PlantModel, lake: Lake, source: str
) -> IngestReport:
    """The one place the twin hands rows to the lake: the normal ingest path."""
    return ingest_rows(table, rows, plant=plant, lake=lake, source=source)


def _write_atomic(table: pa.Table, path: Path) -> None:
    """Temp file, fsync, rename: a reader never sees half a truth file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
