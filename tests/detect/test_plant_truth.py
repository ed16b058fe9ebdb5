"""Without the twin, a backtest is scored against the plant's own breakdown stops."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.detect import Registry, ZScoreDetector, anomaly_model_name, backtest, read_wide
from factoryax.detect.validate import WARNING_HORIZON_S, plant_truth, truth_for
from factoryax.ingest import ingest_rows

T0 = dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def _states(ws: Workspace, rows: list[tuple[dt.datetime, dt.datetime, str]]) -> None:
    table = pa.Table.from_pylist(
        [
            {"start": s, "end": e, "line": "line-1", "asset": "press-01", "state": "down"}
            | {"reason_code": r}
            for s, e, r in rows
        ]
    )
    ingest_rows("states", table, plant=ws.plant, lake=ws.lake, source="test")


def _reason(ws: Workspace, start: dt.datetime, code: str) -> None:
    """An operator's later reason for a stop, as the dashboard writes it."""
    row = {
        "ts": start + H,
        "event_id": f"reason-{start.isoformat()}",
        "kind": "downtime.reason",
        "line": "line-1",
        "asset": "press-01",
        "severity": 1,
        "message": "reason given",
        "payload": json.dumps({"start": start.isoformat(), "reason_code": code}),
        "evidence": None,
    }
    ingest_rows("events", pa.Table.from_pylist([row]), plant=ws.plant, lake=ws.lake, source="t")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    return Workspace(tmp_path)


def test_breakdowns_become_failures_with_a_bounded_warning_window(ws: Workspace) -> None:
    _states(
        ws,
        [
            (T0 + 10 * H, T0 + 11 * H, "BREAKDOWN"),
            (T0 + 12 * H, T0 + 13 * H, "MINOR"),
            (T0 + 15 * H, T0 + 16 * H, "BREAKDOWN"),
        ],
    )
    truth = plant_truth(ws, T0, T0 + 24 * H)
    assert truth is not None
    rows = truth.to_pylist()
    assert [r["failure_at"] for r in rows] == [T0 + 10 * H, T0 + 15 * H]
    assert rows[0]["onset_at"] == T0 + 10 * H - dt.timedelta(seconds=WARNING_HORIZON_S)
    assert rows[1]["onset_at"] == T0 + 11 * H  # not before the previous repair
    assert {r["kind"] for r in rows} == {"wear_failure"}
    # the operator later says the 12:00 stop was a breakdown too: it counts
    _reason(ws, T0 + 12 * H, "BREAKDOWN")
    relabelled = plant_truth(ws, T0, T0 + 24 * H)
    assert relabelled is not None and relabelled.num_rows == 3
    # a window without breakdowns has no truth
    assert plant_truth(ws, T0 + 17 * H, T0 + 24 * H) is None
    assert truth_for(ws, T0 + 17 * H, T0 + 24 * H) == (None, None)


def test_backtest_on_a_plant_counts_a_warned_breakdown(ws: Workspace) -> None:
    """A drift two hours before a breakdown is a warning with a lead time; no twin."""
    rng = np.random.default_rng(0)
    n = 20 * 60  # 20 h at 1 min
    ts = [T0 + dt.timedelta(minutes=i) for i in range(n)]
    value = rng.normal(10.0, 0.5, n)
    value[14 * 60 : 15 * 60] += 8.0  # 14:00-15:00, before the 15:00 breakdown
    readings = pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("us", "UTC")),
            "asset": ["press-01"] * n,
            "signal": ["oil_temp"] * n,
            "value": value,
        }
    )
    ingest_rows("readings", readings, plant=ws.plant, lake=ws.lake, source="test")
    _states(ws, [(T0 + 15 * H, T0 + 16 * H, "BREAKDOWN")])
    assert not (ws.root / "truth").exists()  # a plant, not the twin
    name = anomaly_model_name("press-01")
    train = read_wide(ws.lake, "press-01", T0, T0 + 8 * H)
    reg = Registry.for_workspace(ws.root)
    v = reg.register(
        name, ZScoreDetector().fit(train.columns), asset="press-01", fingerprint=train.fingerprint
    )
    out = backtest(ws, name, v.version, T0 + 8 * H, T0 + 20 * H)
    assert out["truth"] is True and str(out["truth_source"]).startswith("plant: down/BREAKDOWN")
    assert out["wear_total"] == 1 and out["wear_detected"] == 1
    lead_h = out["mean_lead_time_s"] / 3600
    assert 0.9 < lead_h <= 1.0  # the first alarm is in the 14:00 drift, failure at 15:00
