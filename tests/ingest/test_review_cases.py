"""Edge cases found in review: each once let wrong data in silently, or crashed ingest."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.ingest import ingest_file, ingest_rows
from factoryax.lake import Lake

UTC = dt.UTC


def _ws(tmp_path: Path, timezone: str = "Asia/Seoul") -> Workspace:
    toml = example_plant_toml().replace('timezone = "Asia/Seoul"', f'timezone = "{timezone}"')
    (tmp_path / "plant.toml").write_text(toml, encoding="utf-8")
    return Workspace(tmp_path)


def _utc_times(lake: Lake) -> list[str]:
    out = lake.query(
        "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') t FROM readings ORDER BY ts"
    )
    return [str(t) for t in out.column("t").to_pylist()]


def test_jsonl_offsets_are_honoured_when_the_first_line_has_no_time(tmp_path: Path) -> None:
    """A time field first seen after line 1 keeps its offset (no naive-UTC inference)."""
    ws = _ws(tmp_path)
    lines = [
        {"asset": "press-01", "signal": "power", "value": 1},
        {"ts": "2026-11-23T09:00:01+09:00", "asset": "press-01", "signal": "power", "value": 2},
        {"ts": "2026-11-23T00:00:02Z", "asset": "press-01", "signal": "power", "value": 3},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    report = ingest_file(path, plant=ws.plant, lake=ws.lake)
    assert (report.readings_accepted, report.quarantined) == (2, 1)
    assert _utc_times(ws.lake) == ["2026-11-23T00:00:01", "2026-11-23T00:00:02"]


def test_cp949_jsonl_is_detected(tmp_path: Path) -> None:
    """JSON Lines in cp949 are read like CSV: detected, not crashed on."""
    ws = _ws(tmp_path)
    line = {"ts": "2026-11-23 09:00:00", "asset": "press-01", "signal": "power", "value": 1}
    line["note"] = "정상"
    path = tmp_path / "k.jsonl"
    path.write_bytes((json.dumps(line, ensure_ascii=False) + "\n").encode("cp949"))
    report = ingest_file(path, plant=ws.plant, lake=ws.lake)
    assert report.error is None and report.readings_accepted == 1


def test_nanosecond_parquet_times_are_kept_to_the_microsecond(tmp_path: Path) -> None:
    """timestamp[ns] with sub-microsecond digits lands, truncated to µs (not a crash)."""
    ws = _ws(tmp_path)
    ns = pa.array([1_763_856_000_123_456_789], pa.timestamp("ns", tz="UTC"))
    table = pa.table({"ts": ns, "asset": ["press-01"], "signal": ["power"], "value": [1.0]})
    pq.write_table(table, tmp_path / "ns.parquet")
    report = ingest_file(tmp_path / "ns.parquet", plant=ws.plant, lake=ws.lake)
    assert report.error is None and report.readings_accepted == 1
    micros = ws.lake.query("SELECT epoch_us(ts) us FROM readings").column("us")[0].as_py()
    assert micros == 1_763_856_000_123_456


def test_daylight_saving_gaps_and_repeats_are_quarantined(tmp_path: Path) -> None:
    """In a DST zone, a skipped or repeated local time is rejected with the reason."""
    ws = _ws(tmp_path, "Europe/Berlin")
    path = tmp_path / "dst.csv"
    path.write_text(
        "ts,asset,signal,value\n"
        "2026-10-25 01:30:00,press-01,power,1\n"
        "2026-10-25 02:30:00,press-01,power,2\n"
        "2026-03-29 02:30:00,press-01,power,3\n",
        encoding="utf-8",
    )
    report = ingest_file(path, plant=ws.plant, lake=ws.lake)
    assert (report.readings_accepted, report.quarantined) == (1, 2)
    reasons = ws.lake.query("SELECT reason FROM quarantine").column("reason").to_pylist()
    assert all("daylight-saving" in r for r in reasons)


def test_naive_parquet_time_in_a_dst_gap_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    """The same rule holds for naive Parquet timestamps."""
    ws = _ws(tmp_path, "Europe/Berlin")
    naive = pa.array([dt.datetime(2026, 10, 25, 2, 30), dt.datetime(2026, 10, 25, 4, 0)])  # noqa: DTZ001
    table = pa.table(
        {"ts": naive, "asset": ["press-01"] * 2, "signal": ["power"] * 2, "value": [1.0, 2.0]}
    )
    pq.write_table(table, tmp_path / "n.parquet")
    report = ingest_file(tmp_path / "n.parquet", plant=ws.plant, lake=ws.lake)
    assert report.error is None
    assert (report.readings_accepted, report.quarantined) == (1, 1)


@pytest.mark.parametrize(
    "stamp", ["0001-01-01 00:00:00", "1900-01-01 00:00:00", "2999-12-31 00:00:00"]
)
def test_implausible_times_are_quarantined(tmp_path: Path, stamp: str) -> None:
    """Filler dates and far-future clocks go to quarantine, naming the window to change."""
    ws = _ws(tmp_path)
    path = tmp_path / "y.csv"
    path.write_text(f"ts,asset,signal,value\n{stamp},press-01,power,1\n", encoding="utf-8")
    report = ingest_file(path, plant=ws.plant, lake=ws.lake)
    assert report.error is None and report.quarantined == 1
    (reason,) = ws.lake.query("SELECT reason FROM quarantine").column("reason").to_pylist()
    assert "plausible window" in reason and "ingest.earliest" in reason


def test_blank_lines_keep_line_numbers_true(tmp_path: Path) -> None:
    """Quarantine positions are the file's real line numbers, blank lines included."""
    ws = _ws(tmp_path)
    path = tmp_path / "b.csv"
    path.write_text(
        "ts,asset,signal,value\n\n2026-11-23 09:00:00,press-01,power,1\n\n"
        "2026-11-23 09:00:01,press-01,power,x\n",
        encoding="utf-8",
    )
    report = ingest_file(path, plant=ws.plant, lake=ws.lake)
    assert (report.readings_accepted, report.quarantined) == (1, 1)
    assert ws.lake.query("SELECT position FROM quarantine").column(0).to_pylist() == ["line 5"]


def test_long_layout_reports_unused_columns_and_refuses_case_clashes(tmp_path: Path) -> None:
    """Extra long-layout columns are named; 'value' and 'Value' together are refused."""
    ws = _ws(tmp_path)
    extra = tmp_path / "e.csv"
    extra.write_text("ts,asset,signal,value,comment\n2026-11-23 09:00:00,press-01,power,1,ok\n")
    report = ingest_file(extra, plant=ws.plant, lake=ws.lake)
    assert report.unmapped_columns == ("comment",) and report.readings_accepted == 1
    clash = tmp_path / "c.csv"
    clash.write_text("ts,asset,signal,value,Value\n2026-11-23 09:00:00,press-01,power,1,7\n")
    report = ingest_file(clash, plant=ws.plant, lake=ws.lake)
    assert report.nothing_read and "differ only in case" in (report.error or "")


def test_names_with_stray_spaces_match(tmp_path: Path) -> None:
    """'press-01 ' is press-01: padding from fixed-width exports is not a new asset."""
    ws = _ws(tmp_path)
    path = tmp_path / "s.csv"
    path.write_text('ts,asset,signal,value\n2026-11-23 09:00:00," press-01 ",power ,1\n')
    assert ingest_file(path, plant=ws.plant, lake=ws.lake).readings_accepted == 1


T = dt.datetime(2026, 11, 23, 1, tzinfo=UTC)


def _production(result: str) -> pa.Table:
    return pa.table({"ts": [T], "asset": ["inspect-01"], "part_id": ["P1"], "result": [result]})


def test_production_correction_is_quarantined_not_dropped(tmp_path: Path) -> None:
    """A part stored as ok, sent again as scrap, is quarantined as a conflict."""
    ws = _ws(tmp_path)
    first = ingest_rows("production", _production("ok"), plant=ws.plant, lake=ws.lake, source="mes")
    assert first.readings_accepted == 1
    again = ingest_rows(
        "production", _production("scrap"), plant=ws.plant, lake=ws.lake, source="mes"
    )
    assert (again.readings_accepted, again.duplicates_skipped, again.quarantined) == (0, 0, 1)
    (reason,) = ws.lake.query("SELECT reason FROM quarantine").column("reason").to_pylist()
    assert "part_id=P1" in reason and "different values" in reason
    same = ingest_rows("production", _production("ok"), plant=ws.plant, lake=ws.lake, source="mes")
    assert (same.duplicates_skipped, same.quarantined) == (1, 0)


def test_conflicting_rows_within_one_batch_are_quarantined(tmp_path: Path) -> None:
    """Two states with the same start but different ends in one batch: one is quarantined."""
    ws = _ws(tmp_path)
    rows = pa.table(
        {
            "start": [T, T],
            "end": [T + dt.timedelta(minutes=5), T + dt.timedelta(minutes=50)],
            "asset": ["cnc-01", "cnc-01"],
            "state": ["down", "down"],
            "reason_code": ["BREAKDOWN", "BREAKDOWN"],
        }
    )
    report = ingest_rows("states", rows, plant=ws.plant, lake=ws.lake, source="mes")
    assert (report.readings_accepted, report.quarantined) == (1, 1)


def test_events_are_unique_by_id_and_time(tmp_path: Path) -> None:
    """The same event twice is stored once, whatever day it falls on."""
    ws = _ws(tmp_path)
    event = pa.table({"ts": [T], "event_id": ["e1"], "kind": ["safety.estop"], "asset": ["cnc-01"]})
    for _ in range(2):
        ingest_rows("events", event, plant=ws.plant, lake=ws.lake, source="safety")
    assert ws.lake.query("SELECT count(*) n FROM events").column("n")[0].as_py() == 1


def test_empty_compaction_manifest_does_not_brick_the_lake(tmp_path: Path) -> None:
    """A zero-byte manifest (power loss while writing it) is rolled back on open."""
    lake = Lake(tmp_path)
    rows = pa.table({"site": ["s"], "ts": [T], "asset": ["a"], "signal": ["x"], "value": [1.0]})
    lake.append("readings", rows)
    folder = next((tmp_path / "readings").glob("site=*/date=*"))
    (folder / ".compact-part-compact-abc.txt").write_text("")
    reopened = Lake(tmp_path)
    assert reopened.query("SELECT count(*) n FROM readings").column("n")[0].as_py() == 1
    assert not list(folder.glob(".compact-*"))


def test_opening_the_lake_does_not_wait_for_a_busy_writer(tmp_path: Path) -> None:
    """While another process holds the writer lock, a reader opens and queries at once."""
    Lake(tmp_path)
    with open(tmp_path / ".lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        code = (
            "from pathlib import Path; from factoryax.lake import Lake; "
            f"print(Lake(Path({str(tmp_path)!r})).query('SELECT 42 AS x').column(0)[0])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        fcntl.flock(fh, fcntl.LOCK_UN)
    assert out.stdout.strip() == "42"


def test_a_column_that_is_entirely_null_is_stored_as_nulls(tmp_path: Path) -> None:
    """Rows built from dicts whose asset is always None (Arrow type ``null``) are stored."""
    ws = _ws(tmp_path)
    rows = pa.Table.from_pylist(
        [{"ts": T, "event_id": "plant-wide", "kind": "runtime.note", "asset": None}]
    )
    assert rows.schema.field("asset").type == pa.null()
    report = ingest_rows("events", rows, plant=ws.plant, lake=ws.lake, source="runtime")
    assert (report.readings_accepted, report.quarantined) == (1, 0)
    stored = ws.lake.query("SELECT event_id, asset FROM events").to_pylist()
    assert stored == [{"event_id": "plant-wide", "asset": None}]
