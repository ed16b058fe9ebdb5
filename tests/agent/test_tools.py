"""Tools read what the lake holds: anomalies with contributions, twin what-if."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from factoryax.agent import Agent, build_registry
from factoryax.agent.tools import ToolContext
from factoryax.config import Workspace

from .conftest import TODAY


def test_anomalies_come_from_scores_and_events(agent: Agent, workspace: Workspace) -> None:
    """anomaly_score readings (1.0 = threshold) and detect.anomaly events are summarised
    per asset with their contributing signals, and the answer states them."""
    t0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    scores = [0.4, 1.6, 2.1, 0.9]
    workspace.lake.append(
        "readings",
        pa.table(
            {
                "site": ["changwon-1"] * len(scores),
                "ts": [t0 + dt.timedelta(minutes=i) for i in range(len(scores))],
                "line": ["line-1"] * len(scores),
                "asset": ["cnc-01"] * len(scores),
                "signal": ["anomaly_score"] * len(scores),
                "value": scores,
            }
        ),
    )
    payload = {
        "model": "cnc-01-pca",
        "version": 2,
        "score": 4.2,
        "threshold": 2.0,
        "contributions": {"bearing_temp": 0.6, "vibration_rms": 0.3, "power": 0.1},
    }
    workspace.lake.append(
        "events",
        pa.table(
            {
                "site": ["changwon-1"],
                "ts": [t0 + dt.timedelta(minutes=1)],
                "event_id": ["detect-test-1"],
                "kind": ["detect.anomaly"],
                "line": ["line-1"],
                "asset": ["cnc-01"],
                "severity": pa.array([2], pa.int16()),
                "message": ["anomaly"],
                "payload": [json.dumps(payload)],
            }
        ),
    )
    r = agent.ask("어제 CNC 이상 점수 알려줘", user="kim", role="viewer")
    out = r.evidence[0].output
    assert out is not None
    (item,) = out["assets"]
    assert item["asset"] == "cnc-01" and item["max_score"] == 2.1
    assert item["samples_over_threshold"] == 2 and item["events"] == 1
    assert item["top_signals"] == {"bearing_temp": 0.6, "vibration_rms": 0.3, "power": 0.1}
    assert item["model"] == "cnc-01-pca@2"
    assert "bearing_temp 60.0%" in r.answer and r.unsupported == []


def test_what_if_compares_same_seed_runs(workspace: Workspace) -> None:
    """A much shorter MTBF on the press cannot add parts; baseline figures are the twin's."""
    reg = build_registry()
    ctx = ToolContext(workspace, TODAY)
    out = reg.call(
        ctx, "twin_what_if", {"asset": "press-01", "parameter": "mtbf_h", "value": 0.5, "hours": 12}
    ).model_dump()
    assert out["baseline_value"] == 30.0 and out["seed"] == 42
    assert out["scenario_down_min"] > out["baseline_down_min"]
    assert out["scenario_parts"] <= out["baseline_parts"]
