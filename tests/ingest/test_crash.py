"""Crash safety: kill -9 in the middle of an ingest, run it again, lose and double nothing."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace

ROWS = 1_000_000


def _big_csv(path: Path) -> None:
    i = np.arange(ROWS)
    # a week that ended well before now: recent enough to be plausible, never in the future
    start = np.datetime64(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30), "s")
    table = pa.table(
        {
            "ts": pa.array((start + (i // 2).astype("timedelta64[s]")).astype(str)),
            "asset": pa.array(np.where(i % 2 == 0, "press-01", "cnc-01")),
            "signal": pa.array(["power"] * ROWS),
            "value": pa.array(1.0 + (i % 1000) / 100),
        }
    )
    pa_csv.write_csv(table, path)


def _run(ws: Path, csv: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "factoryax", "ingest", str(csv), "--workspace", str(ws)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_kill_9_mid_file_then_rerun_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """After kill -9 mid-file only whole files are visible; a re-run completes exactly."""
    toml = example_plant_toml().replace("batch_rows = 500000", "batch_rows = 50000")
    (tmp_path / "plant.toml").write_text(toml, encoding="utf-8")
    csv = tmp_path / "big.csv"
    _big_csv(csv)
    lake_dir = tmp_path / "lake" / "readings"

    proc = _run(tmp_path, csv)
    deadline = time.monotonic() + 120
    while not list(lake_dir.glob("site=*/date=*/part-*.parquet")):  # wait for the first batch
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "no batch landed in time"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stderr:
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    lake = Workspace(tmp_path).lake  # opening the lake clears a dead writer's temp files
    for part in lake_dir.glob("site=*/date=*/*.parquet"):
        pq.read_metadata(part)  # every visible file is complete
    partial = lake.query("SELECT count(*) n FROM readings").column("n")[0].as_py()
    assert 0 < partial < ROWS, "the kill must land mid-file for this test to mean anything"

    rerun = _run(tmp_path, csv)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    counts = lake.query(
        "SELECT count(*) n, count(DISTINCT (asset, signal, ts)) k, sum(value) s FROM readings"
    ).to_pylist()[0]
    assert counts["n"] == counts["k"] == ROWS
    assert counts["s"] == pytest.approx(float(np.sum(1.0 + (np.arange(ROWS) % 1000) / 100)))
    assert not list(lake_dir.rglob(".tmp-*"))
