"""``rank_rul``: assets ranked by predicted remaining useful life, from real RUL models
trained with :func:`factoryax.detect.train_rul` on a small workspace whose wear signal
rises until each BREAKDOWN stop; and the explicit "missing" path without models."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from factoryax.agent import Agent, AgentConfig
from factoryax.agent.plant_tools import build_registry
from factoryax.agent.rul_tools import MissingRulError, RankRulOut
from factoryax.agent.tools import ToolContext
from factoryax.config import Workspace
from factoryax.detect import RulModel, list_models, train_rul

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
HOURS = 60
PERIOD_H = 10.0
# age (h since the last repair) at the start of the data; HOURS is a multiple of PERIOD_H,
# so at the end press-01 is 8.5 h into its 10 h cycle (1.5 h left), cnc-01 2.5 h (7.5 h left)
PHASE_H = {"press-01": 8.5, "cnc-01": 2.5}
SIGNALS = {"press-01": ("vibration_rms", "oil_temp"), "cnc-01": ("vibration_rms", "bearing_temp")}
TODAY = (START + dt.timedelta(hours=HOURS)).date()  # the data ends at 12:00 UTC of this day


def _write_plant(root: Path) -> Workspace:
    from factoryax.cli.main import example_plant_toml

    root.mkdir(parents=True, exist_ok=True)
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    return Workspace(root)


def _wear_history(ws: Workspace, asset: str, seed: int) -> None:
    """Minute readings whose first signal grows with the age since the last repair, and
    a 20-minute BREAKDOWN stop every ``PERIOD_H`` hours."""
    n = HOURS * 60
    minutes = np.arange(n)
    ts = [START + dt.timedelta(minutes=int(i)) for i in minutes]
    age_h = ((minutes / 60.0) + PHASE_H[asset]) % PERIOD_H
    rng = np.random.default_rng(seed)
    wear, other = SIGNALS[asset]
    ws.lake.append(
        "readings",
        pa.table(
            {
                "site": ["changwon-1"] * (2 * n),
                "ts": ts + ts,
                "asset": [asset] * (2 * n),
                "signal": [wear] * n + [other] * n,
                "value": np.concatenate(
                    [2.0 + 1.5 * age_h + rng.normal(0, 0.2, n), 40 + rng.normal(0, 1, n)]
                ),
            }
        ),
    )
    fails = [
        START + dt.timedelta(hours=PERIOD_H * k - PHASE_H[asset])
        for k in range(1, 10)
        if 0 < PERIOD_H * k - PHASE_H[asset] < HOURS
    ]
    ws.lake.append(
        "states",
        pa.table(
            {
                "site": ["changwon-1"] * len(fails),
                "start": fails,
                "end": [f + dt.timedelta(minutes=20) for f in fails],
                "asset": [asset] * len(fails),
                "state": ["down"] * len(fails),
                "reason_code": ["BREAKDOWN"] * len(fails),
            }
        ),
    )


@pytest.fixture(scope="module")
def rul_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Two assets with wear histories and trained RUL models (20 boosting rounds)."""
    ws = _write_plant(tmp_path_factory.mktemp("rul-ws"))
    for seed, asset in enumerate(PHASE_H):
        _wear_history(ws, asset, seed)
        train_rul(ws, asset, model=RulModel(clip=12.0, window=30, max_iter=20))
    return ws


def _rank(ws: Workspace, **args: object) -> RankRulOut:
    out = build_registry().call(ToolContext(ws, TODAY), "rank_rul", args)
    assert isinstance(out, RankRulOut)
    return out


def test_ranks_the_asset_closest_to_failure_first(rul_ws: Workspace) -> None:
    out = _rank(rul_ws)
    assert [r.asset for r in out.ranking] == ["press-01", "cnc-01"]
    assert [r.rank for r in out.ranking] == [1, 2]
    press, cnc = out.ranking
    # the truth at the end of the data: 1.5 h and 7.5 h left
    assert 0.0 <= press.rul_h < 4.0
    assert 4.5 < cnc.rul_h <= 12.0
    for r in out.ranking:
        assert r.source == "model" and r.model == f"rul-{r.asset}" and r.version == 1
        assert r.low_h is not None and r.high_h is not None
        assert r.low_h <= r.rul_h <= r.high_h
        assert r.failures_trained_on is not None and r.failures_trained_on >= 2
    # assets without a model or rul_h readings are named, not silently dropped
    assert set(out.skipped) == {"wash-01", "inspect-01", "pack-01"}
    assert "no RUL model 'rul-wash-01'" in out.skipped["wash-01"]
    models = {m.name for m in list_models(rul_ws)}
    assert {"rul-press-01", "rul-cnc-01"} <= models


def test_asset_filter_and_top(rul_ws: Workspace) -> None:
    only = _rank(rul_ws, asset="cnc-01")
    assert [r.asset for r in only.ranking] == ["cnc-01"]
    assert [r.asset for r in _rank(rul_ws, top=1).ranking] == ["press-01"]
    with pytest.raises(MissingRulError, match="'robot-9' is not in the plant"):
        _rank(rul_ws, asset="robot-9")


def test_rul_h_readings_are_used_when_there_is_no_model(tmp_path: Path) -> None:
    ws = _write_plant(tmp_path / "ws")
    at = START + dt.timedelta(hours=1)
    ws.lake.append(
        "readings",
        pa.table(
            {
                "site": ["changwon-1"] * 3,
                "ts": [START, at, START],
                "asset": ["wash-01", "wash-01", "pack-01"],
                "signal": ["rul_h"] * 3,
                "value": [30.0, 21.5, 40.0],
            }
        ),
    )
    out = _rank(ws)
    assert [(r.asset, r.rul_h, r.source) for r in out.ranking] == [
        ("wash-01", 21.5, "readings"),
        ("pack-01", 40.0, "readings"),
    ]
    assert out.ranking[0].low_h is None and out.ranking[0].high_h is None


def test_no_model_and_no_readings_cannot_answer(tmp_path: Path) -> None:
    ws = _write_plant(tmp_path / "empty")
    with pytest.raises(MissingRulError, match="missing a RUL model or rul_h readings for press-01"):
        _rank(ws)


def test_registered_read_only_with_intent_rul() -> None:
    t = build_registry().get("rank_rul")
    assert not t.state_changing and t.intent == "rul"
    assert set(t.json_schema()["properties"]) == {"asset", "top"}


def test_agent_answers_which_machine_first(rul_ws: Workspace) -> None:
    """End to end through the offline planner, in English and Korean: the asset closest
    to failure comes first, with its hours and band, every number grounded."""
    agent = Agent(rul_ws, AgentConfig(today=TODAY))
    try:
        en = agent.ask("which machine needs maintenance first?", "t", "viewer", "en")
        ko = agent.ask("어떤 설비부터 정비해야 해?", "t", "viewer", "ko")
    finally:
        agent.close()
    for r in (en, ko):
        assert [tool for tool, _ in r.tool_calls] == ["rank_rul"]
        assert not r.abstained and r.evidence[0].id in str(r.answer)
        assert "1. press-01" in str(r.answer)
        assert not r.unsupported
    assert "shortest first" in str(en.answer) and "잔여 수명" in str(ko.answer)
