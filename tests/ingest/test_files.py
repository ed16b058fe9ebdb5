"""File ingestion: every format and layout round-trips; bad records are quarantined."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factoryax.config import Workspace
from factoryax.core import PlantModel
from factoryax.ingest import IngestReport, ingest_file
from factoryax.lake import Lake

KST = dt.timezone(dt.timedelta(hours=9))
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=KST)


def _long_rows(n: int) -> list[dict[str, object]]:
    return [
        {
            "ts": (T0 + dt.timedelta(seconds=i)).isoformat(),
            "asset": "cnc-01",
            "signal": "bearing_temp" if i % 2 else "vibration_rms",
            "value": 10.0 + (i % 200) / 8,
        }
        for i in range(n)
    ]


def _write(path: Path, rows: list[dict[str, object]], fmt: str) -> Path:
    if fmt == "csv":
        cols = list(rows[0])
        lines = [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _stored(lake: Lake) -> list[tuple[str, str, str, float]]:
    out = lake.query(
        "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') t, asset, signal, value "
        "FROM readings ORDER BY ts, asset, signal"
    )
    return [tuple(r.values()) for r in out.to_pylist()]  # type: ignore[misc]


def _expected(rows: list[dict[str, object]]) -> list[tuple[str, str, str, float]]:
    out = []
    for r in rows:
        ts = dt.datetime.fromisoformat(str(r["ts"])).astimezone(dt.UTC)
        out.append((ts.strftime("%Y-%m-%dT%H:%M:%S"), r["asset"], r["signal"], r["value"]))
    return sorted(out)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_long_layout_round_trips(workspace: Workspace, fmt: str) -> None:
    """Long files (ts, asset, signal, value) land exactly, in UTC."""
    rows = _long_rows(50)
    path = _write(workspace.root / f"long.{fmt}", rows, fmt)
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert (report.layout, report.readings_accepted, report.quarantined) == ("long", 50, 0)
    assert _stored(workspace.lake) == _expected(rows)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_wide_layout_round_trips(workspace: Workspace, fmt: str) -> None:
    """Wide files (one column per signal) land as one reading per filled cell."""
    rows = [
        {
            "timestamp": (T0 + dt.timedelta(seconds=i)).isoformat(),
            "press-01.vibration_rms": 2.0 + i,
            "PRESS_VIB_UNUSED" if False else "CNC1_SPINDLE_A": 30.0 + i,
        }
        for i in range(20)
    ]
    path = _write(workspace.root / f"wide.{fmt}", rows, fmt)
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert (report.layout, report.records_read, report.readings_accepted) == ("wide", 20, 40)
    got = workspace.lake.query(
        "SELECT asset, signal, count(*) n, sum(value) s FROM readings GROUP BY ALL ORDER BY asset"
    ).to_pylist()
    assert got == [
        {
            "asset": "cnc-01",
            "signal": "spindle_current",
            "n": 20,
            "s": sum(30.0 + i for i in range(20)),
        },
        {
            "asset": "press-01",
            "signal": "vibration_rms",
            "n": 20,
            "s": sum(2.0 + i for i in range(20)),
        },
    ]


def test_wide_with_asset_column_and_unit_suffix(workspace: Workspace) -> None:
    """An asset column with signal ids as headers, and a [°F] suffix, are understood."""
    path = workspace.root / "w.csv"
    path.write_text(
        "time,asset,bearing_temp [°F],coolant_temp\n"
        "2026-11-23 09:00:00,cnc-01,212,20\n"
        "2026-11-23 09:00:01,cnc-01,,21\n",
        encoding="utf-8",
    )
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert report.readings_accepted == 3, report
    values = workspace.lake.query("SELECT signal, value FROM readings ORDER BY ts, signal")
    assert values.to_pylist() == [
        {"signal": "bearing_temp", "value": pytest.approx(100.0)},
        {"signal": "coolant_temp", "value": 20.0},
        {"signal": "coolant_temp", "value": 21.0},
    ]


def test_wide_column_found_by_alias(workspace: Workspace) -> None:
    """A column named like a signal's alias (PRESS_VIB) maps to that signal."""
    path = workspace.root / "a.csv"
    path.write_text("ts,PRESS_VIB\n2026-11-23 09:00:00,4.5\n", encoding="utf-8")
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    got = workspace.lake.query("SELECT asset, signal, value FROM readings").to_pylist()
    assert report.readings_accepted == 1
    assert got == [{"asset": "press-01", "signal": "vibration_rms", "value": 4.5}]


def test_naive_times_are_plant_time_and_offsets_are_honoured(workspace: Workspace) -> None:
    """'09:00' without a zone is 09:00 in Asia/Seoul, i.e. 00:00 UTC; 'Z' is UTC."""
    path = workspace.root / "t.csv"
    path.write_text(
        "ts,asset,signal,value\n"
        "2026-11-23 09:00:00,press-01,power,1\n"
        "2026-11-23T00:00:01Z,press-01,power,2\n"
        "2026-11-23T09:00:02+09:00,press-01,power,3\n",
        encoding="utf-8",
    )
    ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert [r[0] for r in _stored(workspace.lake)] == [
        "2026-11-23T00:00:00",
        "2026-11-23T00:00:01",
        "2026-11-23T00:00:02",
    ]


BAD_ROWS = [
    ("not-a-time,press-01,power,1", "ts", "unparseable timestamp 'not-a-time'"),
    ("2026-11-23 09:00:00,ghost,power,1", "asset", "unknown asset 'ghost'"),
    (
        "2026-11-23 09:00:00,press-01,torque,1",
        "signal",
        "unknown signal 'torque' of asset 'press-01'",
    ),
    ("2026-11-23 09:00:00,press-01,power,", "value", "missing value"),
    ("2026-11-23 09:00:00,press-01,power,12kW", "value", "value '12kW' is not a number"),
    ("2026-11-23 09:00:00,press-01,power,nan", "value", "is not a finite number"),
    ("2026-11-23 09:00:00,press-01,power,999", "value", "outside the expected range [0.0, 150.0]"),
    ("2026-11-23 09:00:00,press-01,power", None, "expected 4 fields, found 3"),
]


@pytest.mark.parametrize(("line", "field", "reason"), BAD_ROWS)
def test_each_bad_record_is_quarantined_with_its_reason(
    workspace: Workspace, line: str, field: str | None, reason: str
) -> None:
    """A bad record goes to quarantine with line, field and reason; good ones still land."""
    path = workspace.root / "bad.csv"
    path.write_text(
        f"ts,asset,signal,value\n2026-11-23 08:00:00,press-01,power,5\n{line}\n", encoding="utf-8"
    )
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert (report.readings_accepted, report.quarantined) == (1, 1)
    (row,) = workspace.lake.query("SELECT * FROM quarantine").to_pylist()
    assert row["position"] == "line 3" and row["field"] == field
    assert reason in row["reason"]
    assert row["source"] == str(path)


def test_conflicting_duplicate_timestamp_is_quarantined(workspace: Workspace) -> None:
    """The same time twice: equal value is a skipped duplicate, a different one is quarantined."""
    path = workspace.root / "d.csv"
    path.write_text(
        "ts,asset,signal,value\n"
        "2026-11-23 09:00:00,press-01,power,5\n"
        "2026-11-23 09:00:00,press-01,power,5\n"
        "2026-11-23 09:00:00,press-01,power,6\n",
        encoding="utf-8",
    )
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert (report.readings_accepted, report.duplicates_skipped, report.quarantined) == (1, 1, 1)
    (reason,) = workspace.lake.query("SELECT reason FROM quarantine").column("reason").to_pylist()
    assert "different value (first at line 2)" in reason


def test_reingesting_a_file_adds_nothing(workspace: Workspace) -> None:
    """The same file twice: second run counts every reading as a duplicate."""
    path = _write(workspace.root / "r.csv", _long_rows(30), "csv")
    ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    again = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert (again.readings_accepted, again.duplicates_skipped) == (0, 30)
    assert len(_stored(workspace.lake)) == 30


def test_cp949_korean_csv_is_detected(workspace: Workspace) -> None:
    """A cp949 (EUC-KR) file with Korean headers is read without --encoding."""
    path = workspace.root / "kr.csv"
    path.write_bytes(
        "일시,설비,신호,값,비고\n2026-11-23 09:00:00,press-01,power,7.5,정상\n".encode("cp949")
    )
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert report.readings_accepted == 1, report


def test_wrong_encoding_error_names_the_fix(workspace: Workspace) -> None:
    """A cp949 file forced to read as UTF-8 fails with a hint to pass --encoding."""
    path = workspace.root / "kr.csv"
    body = "ts,asset,signal,value\n" + "2026-11-23 09:00:00,press-01,power,7.5\n" * 10
    path.write_bytes((body + "2026-11-23 09:00:01,프레스,power,1\n").encode("cp949"))
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake, encoding="utf-8")
    assert report.error is not None and "--encoding" in report.error


def test_truncated_csv_keeps_the_complete_lines(workspace: Workspace) -> None:
    """A file cut mid-line: the cut line is quarantined, all complete lines land."""
    path = _write(workspace.root / "cut.csv", _long_rows(10), "csv")
    data = path.read_bytes()
    path.write_bytes(data[: data.rfind(b",")])  # cut inside the last line
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert (report.readings_accepted, report.quarantined) == (9, 1)


def test_truncated_parquet_is_an_error_and_reads_nothing(workspace: Workspace) -> None:
    """A Parquet file without its footer cannot be read; the report says so."""
    path = _write(workspace.root / "cut.parquet", _long_rows(10), "parquet")
    path.write_bytes(path.read_bytes()[:-20])
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert report.nothing_read and "truncated" in (report.error or "")


def test_bad_json_lines_are_quarantined(workspace: Workspace) -> None:
    """Broken JSON lines and non-objects are quarantined; the rest land."""
    path = workspace.root / "j.jsonl"
    good = json.dumps(
        {"ts": "2026-11-23T09:00:00+09:00", "asset": "press-01", "signal": "power", "value": 3}
    )
    path.write_text(f'{good}\n{{"ts": \n[1, 2]\n', encoding="utf-8")
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert (report.readings_accepted, report.quarantined) == (1, 2)
    positions = workspace.lake.query("SELECT position FROM quarantine ORDER BY position")
    assert positions.column("position").to_pylist() == ["line 2", "line 3"]


def test_unmapped_wide_column_is_recorded_not_dropped(workspace: Workspace) -> None:
    """A wide column that maps to nothing is named in the report and in quarantine."""
    path = workspace.root / "w.csv"
    path.write_text("ts,press-01.power,operator\n2026-11-23 09:00:00,3,kim\n", encoding="utf-8")
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert report.unmapped_columns == ("operator",) and report.readings_accepted == 1
    assert "operator" in workspace.lake.query("SELECT reason FROM quarantine").column(0)[0].as_py()


def test_no_time_column_is_a_clear_error(workspace: Workspace) -> None:
    """A file without a recognisable time column is refused with the accepted names."""
    path = workspace.root / "x.csv"
    path.write_text("when,asset,signal,value\n1,press-01,power,1\n", encoding="utf-8")
    report = ingest_file(path, plant=workspace.plant, lake=workspace.lake)
    assert report.nothing_read
    assert report.error is not None and "no time column" in report.error


def test_large_file_streams_in_batches(workspace: Workspace, plant: PlantModel) -> None:
    """A file larger than one batch lands whole, in several lake files, with progress."""
    small = plant.model_copy(update={"ingest": plant.ingest.model_copy(update={"batch_rows": 100})})
    rows = _long_rows(1000)
    path = _write(workspace.root / "big.csv", rows, "csv")
    seen: list[int] = []
    report = ingest_file(
        path, plant=small, lake=workspace.lake, progress=lambda done, total: seen.append(done)
    )
    assert report.readings_accepted == 1000
    assert _stored(workspace.lake) == _expected(rows)
    assert seen[-1] == path.stat().st_size
    files = {s.table: s.files for s in workspace.lake.status()}
    assert files["readings"] >= 2


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.floats(min_value=0, max_value=150, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=40,
    ),
    offset_min=st.integers(-12 * 60, 14 * 60),
    fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
)
def test_parsers_round_trip_any_values_and_zones(
    tmp_path_factory: pytest.TempPathFactory,
    plant: PlantModel,
    values: list[float],
    offset_min: int,
    fmt: str,
) -> None:
    """Any in-range float at any UTC offset is stored exactly, at the right instant."""
    root = tmp_path_factory.mktemp("ws")
    zone = dt.timezone(dt.timedelta(minutes=offset_min))
    start = dt.datetime(2026, 6, 1, 12, tzinfo=zone)
    rows: list[dict[str, object]] = [
        {
            "ts": (start + dt.timedelta(seconds=i)).isoformat(),
            "asset": "press-01",
            "signal": "power",
            "value": v,
        }
        for i, v in enumerate(values)
    ]
    lake = Lake(root / "lake")
    report: IngestReport = ingest_file(_write(root / f"f.{fmt}", rows, fmt), plant=plant, lake=lake)
    assert report.readings_accepted == len(values), report
    got = lake.query("SELECT ts, value FROM readings ORDER BY ts").to_pylist()
    assert [g["value"] for g in got] == values
    assert [g["ts"] for g in got] == [start + dt.timedelta(seconds=i) for i in range(len(values))]
