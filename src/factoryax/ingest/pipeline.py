"""File ingestion: read in chunks, validate, quarantine, append — in constant memory.

Each batch (``ingest.batch_rows`` readings, default 500 000) is validated and appended to
the lake on its own, so memory stays flat whatever the file size, and a crash loses at
most the batch in flight: re-running the same file skips what already landed (the lake
is idempotent) and appends the rest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from factoryax.core import IngestError, PlantModel, utc_now
from factoryax.ingest.layout import Layout, plan_layout
from factoryax.ingest.readers import FileFormat, RawChunk, Reject, detect_format, read_file
from factoryax.ingest.validate import ReadingValidator, Validated, quarantine_table
from factoryax.lake import Lake, new_ingest_id

__all__ = ["IngestReport", "ingest_file"]

ProgressFn = Callable[[int, int], None]
"""Called with (bytes done, bytes total) as a file is read."""


@dataclass
class IngestReport:
    """What happened to one source.

    ``records_read`` counts rows (lines) of the source; a wide row holds one reading per
    mapped column. Every reading, and every line that could not be parsed, is counted in
    exactly one of ``readings_accepted``, ``duplicates_skipped`` and ``quarantined``.
    """

    source: str
    ingest_id: str
    layout: str = ""
    records_read: int = 0
    readings_accepted: int = 0
    duplicates_skipped: int = 0
    quarantined: int = 0
    unmapped_columns: tuple[str, ...] = ()
    error: str | None = None
    """Why reading stopped early (the rows before it still landed), or None."""
    quarantine_samples: list[str] = field(default_factory=list)

    @property
    def nothing_read(self) -> bool:
        """True when not a single record could be read (the CLI then exits non-zero)."""
        return self.records_read == 0 and self.error is not None


def ingest_file(
    path: Path,
    *,
    plant: PlantModel,
    lake: Lake,
    fmt: FileFormat | None = None,
    encoding: str | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingests one CSV, Parquet or JSON Lines file of readings into the lake.

    Bad records go to the ``quarantine`` table with their position and reason; good
    records land even when others fail. A file that cannot be read at all is reported
    in ``error`` rather than raised, so a command over many files carries on.
    """
    source = str(path)
    report = IngestReport(source=source, ingest_id=new_ingest_id())
    try:
        if not path.is_file():
            raise IngestError(f"{source!r}: no such file", source=source)
        fmt = fmt or detect_format(path)
        total = path.stat().st_size
        validator = ReadingValidator(
            plant, source=source, position_label="row" if fmt == "parquet" else "line"
        )
    except (IngestError, OSError) as exc:
        report.error = str(exc)
        return report
    batch_id = 0
    # One writer thread: batch N+1 is read and validated while batch N is written (Arrow
    # and Parquet release the GIL). At most one batch waits, so memory stays bounded.
    writing: Future[None] | None = None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-writer") as writer:
            for layout, chunks in _batches(read_file(path, fmt, encoding=encoding), plant, source):
                now = utc_now()
                rejects = _rejects_table([r for c in chunks for r in c.rejects], plant, source, now)
                tables = [c.table for c in chunks if c.table.num_rows]
                result = None
                if tables and layout is not None:
                    raw = pa.concat_tables(tables, promote_options="permissive")
                    if not report.layout:
                        report.layout = layout.kind
                        report.unmapped_columns = layout.unmapped
                        _quarantine_unmapped(layout, report, lake, plant, now)
                    report.records_read += raw.num_rows
                    result = validator.validate(raw, layout, now=now)
                report.records_read += rejects.num_rows
                batch_id += 1
                if writing is not None:
                    writing.result()
                writing = writer.submit(
                    _write_batch,
                    lake,
                    result,
                    rejects,
                    report,
                    f"{report.ingest_id}-{batch_id:04d}",
                    now,
                )
                if progress:
                    progress(chunks[-1].bytes_done, total)
            if writing is not None:
                writing.result()
    except IngestError as exc:
        report.error = str(exc)
    except (pa.ArrowException, OSError, ValueError, OverflowError) as exc:
        # Not a known kind of bad input: stop this file, say where, keep what landed.
        report.error = (
            f"{source!r}: ingest stopped after {report.records_read:,} rows on an unexpected "
            f"{type(exc).__name__}: {exc}; rows before it landed — please report this file"
        )
    finally:
        validator.close()
        if writing is not None and writing.done() and writing.exception() is not None:
            failed = writing.exception()
            report.error = (report.error or "") + f"; writing to the lake failed: {failed}"
    if report.records_read == 0 and report.error is None:
        report.error = f"{source!r}: no records found (empty file?)"
    return report


def _write_batch(
    lake: Lake,
    result: Validated | None,
    rejects: pa.Table,
    report: IngestReport,
    ingest_id: str,
    now: dt.datetime,
) -> None:
    if result is not None:
        append_validated(lake, result, report, ingest_id=ingest_id, now=now)
    quarantine_rows(lake, rejects, report)


def append_validated(
    lake: Lake, result: Validated, report: IngestReport, *, ingest_id: str, now: dt.datetime
) -> None:
    """Appends validated readings; quarantines them and counts every row once.

    A reading whose key is already stored with a different value is not a duplicate but a
    conflict: it goes to quarantine (the stored value stays, first write wins).
    """
    appended = lake.append(
        "readings", result.accepted.drop_columns(["_pos"]), ingest_id=ingest_id, unique_keys=True
    )
    conflicts = appended.conflicts
    n_conflicts = conflicts.num_rows if conflicts is not None else 0
    report.readings_accepted += appended.rows_written
    report.duplicates_skipped += appended.duplicates_skipped - n_conflicts + result.duplicates
    quarantine_rows(lake, result.quarantined, report)
    if conflicts is not None and n_conflicts:
        keys = ["asset", "signal", "ts"]
        located = conflicts.select([*keys, "value"]).join(
            result.accepted.select([*keys, "_pos"]), keys=keys
        )
        items = [
            (
                f"{(report.layout == 'rows' and 'row') or 'line'} {r['_pos']}",
                "value",
                f"the lake already holds {r['asset']}.{r['signal']} at {r['ts'].isoformat()} "
                f"with a different value (kept); new value {r['value']!r} was not stored",
                json.dumps({k: str(v) for k, v in r.items() if k != "_pos"}),
            )
            for r in located.to_pylist()
        ]
        quarantine_rows(
            lake, quarantine_table(lake_site(result), report.source, now, items), report
        )


def lake_site(result: Validated) -> str:
    """The site id of a validated batch."""
    return str(result.accepted.column("site")[0].as_py())


def _batches(
    chunks: Iterator[RawChunk], plant: PlantModel, source: str
) -> Iterator[tuple[Layout | None, list[RawChunk]]]:
    """Groups reader chunks into batches of about ``batch_rows`` readings.

    The layout is planned from the first chunk with records (a wide record holds one
    reading per mapped column, which is what the batch size counts).
    """
    limit = plant.ingest.batch_rows
    layout: Layout | None = None
    pending: list[RawChunk] = []
    size = 0
    for chunk in chunks:
        if layout is None and chunk.table.num_rows:
            layout = plan_layout(chunk.table.column_names, plant, source=source)
        width = len(layout.wide) if layout is not None and layout.kind == "wide" else 1
        rows_left = max(1, -(-(limit - size) // width))  # rows that still fit this batch
        while chunk.table.num_rows > rows_left:  # split a chunk larger than the batch
            head = RawChunk(chunk.table.slice(0, rows_left), chunk.bytes_done, chunk.rejects)
            chunk = RawChunk(chunk.table.slice(rows_left), chunk.bytes_done)
            yield layout, [*pending, head]
            pending, size = [], 0
            rows_left = max(1, -(-limit // width))
        pending.append(chunk)
        size += chunk.table.num_rows * width
        if size >= limit:
            yield layout, pending
            pending, size = [], 0
    if pending:
        yield layout, pending


def quarantine_rows(lake: Lake, rows: pa.Table, report: IngestReport) -> None:
    """Appends rows to the quarantine table and counts them in the report."""
    if rows.num_rows == 0:
        return
    lake.append("quarantine", rows, ingest_id=report.ingest_id)
    report.quarantined += rows.num_rows
    room = 5 - len(report.quarantine_samples)
    if room > 0:
        pos, reason = rows.column("position").to_pylist(), rows.column("reason").to_pylist()
        report.quarantine_samples += [
            f"{p}: {r}" for p, r in zip(pos[:room], reason[:room], strict=True)
        ]


def _rejects_table(
    rejects: list[Reject], plant: PlantModel, source: str, now: dt.datetime
) -> pa.Table:
    return quarantine_table(
        plant.site.id, source, now, [(f"line {r.position}", None, r.reason, r.raw) for r in rejects]
    )


def _quarantine_unmapped(
    layout: Layout, report: IngestReport, lake: Lake, plant: PlantModel, now: dt.datetime
) -> None:
    """Records each unmapped column once, so no column is dropped without a trace."""
    items = [
        (
            f"column {col!r}",
            col,
            (
                f"column {col!r} maps to no declared signal and was not ingested; name it "
                "'asset.signal', add it to a signal's aliases, or map it under [ingest.columns]"
                if layout.kind == "wide"
                else f"column {col!r} is not read in the long layout (ts, asset, signal, value, "
                "unit, quality) and was not ingested"
            ),
            col,
        )
        for col in layout.unmapped
    ]
    if items:  # not counted as quarantined records: a column is not a record
        lake.append("quarantine", quarantine_table(plant.site.id, report.source, now, items))
