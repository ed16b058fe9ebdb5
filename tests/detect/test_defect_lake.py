"""Defect models from the lake: per-part features, a time-split measurement, the registry
round trip, the CLI, and clear errors when the lake holds no parts."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from factoryax.cli.detect import app as detect_app
from factoryax.config import Workspace
from factoryax.detect import DefectModel, DetectConfigError, DetectError, Registry
from factoryax.detect.defect_lake import (
    DEFECT_KIND,
    defect_metrics,
    read_parts,
    stations,
    train_defect,
)
from factoryax.twin import simulate, write_to_lake


def _example(root: object) -> Workspace:
    from pathlib import Path

    from factoryax.cli.main import example_plant_toml

    path = Path(str(root))
    (path / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    return Workspace(path)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Two simulated weekdays at 60 s samples (about 6,800 inspected parts)."""
    w = _example(tmp_path_factory.mktemp("defect"))
    run = simulate(w.plant, start=dt.date(2026, 11, 16), days=2, seed=1, sample_s=60)
    write_to_lake(run, w.plant, w.lake)
    return w


def _app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(detect_app, name="detect")
    return root


def test_parts_take_upstream_parameters_and_first_verdicts(ws: Workspace) -> None:
    """One row per inspected part; features come only from stations before the inspection
    (no label leak from its gauge or from packing); the label is the first verdict."""
    parts = read_parts(ws)
    assert parts.inspection == "inspect-01"
    assert parts.upstream == ("press-01", "cnc-01", "wash-01")
    stations_seen = {name.split(".")[0] for name in parts.columns if "." in name}
    assert stations_seen == set(parts.upstream)
    assert "cnc-01.parts_since_tool" in parts.columns  # the lake records its tool changes
    assert "press-01.parts_since_tool" not in parts.columns  # it has none
    first = ws.lake.query(
        "SELECT part_id, arg_min(CAST(result AS VARCHAR), ts) AS r FROM production "
        "WHERE asset = 'inspect-01' GROUP BY part_id"
    ).to_pylist()
    verdict = {row["part_id"]: row["r"] != "ok" for row in first}
    assert len(parts) == len(verdict) and parts.labelled.all()
    assert [verdict[p] for p in parts.part_ids] == parts.label.tolist()
    assert 0 < parts.label.sum() < len(parts)
    assert np.all(np.diff(parts.ts) >= 0)
    assert not np.isnan(parts.columns["cnc-01.cycle_time_s"]).any()
    # the tool-life counter restarts after each tool change and grows in between
    since = parts.columns["cnc-01.parts_since_tool"]
    assert np.nanmin(since) == 0 and np.count_nonzero(np.diff(since[~np.isnan(since)]) < 0) >= 2


def test_train_measures_on_later_parts_and_registers_them(ws: Workspace) -> None:
    """The registered model trained only on parts inspected before the held-out ones; its
    fingerprint names them; the stored held-out figures are reproduced by the stored model
    on those later parts, and it ranks defects above the base rate."""
    summary = train_defect(ws, holdout=0.25, model=DefectModel(max_iter=100, folds=3))
    assert summary.name == "defect-inspect-01" and summary.task == "defect"
    assert summary.kind == "defect-gbt" and summary.asset == "inspect-01"
    fp, m = summary.fingerprint, summary.metrics
    held = m["held_out"]
    parts = read_parts(ws)
    assert fp["table"] == "production" and fp["rows"] == m["train_rows"]
    assert fp["rows"] + held["n"] == len(parts)
    assert fp["to"] < m["held_out_window"][0]
    later = read_parts(ws, start=dt.datetime.fromisoformat(m["held_out_window"][0]))
    assert len(later) == held["n"] and later.fingerprint["sha256"] == m["held_out_sha256"]
    model = Registry.for_workspace(ws.root).load(summary.name, summary.version)
    assert isinstance(model, DefectModel)
    assert summary.threshold is not None
    again = defect_metrics(later.label, model.predict_proba(later.columns), summary.threshold)
    assert again["brier"] == pytest.approx(held["brier"], abs=1e-12)
    assert again["f1"] == pytest.approx(held["f1"], abs=1e-12)
    assert 0.0 <= held["brier"] <= 1.0 and held["pr_auc"] > held["base_rate"]


def test_cli_trains_scores_writes_and_lists_defect_models(ws: Workspace) -> None:
    """`train --task defect` prints held-out figures; `score --task defect --write` scores
    parts and writes one event per flagged part; `models` shows the held-out metrics."""
    r = CliRunner()
    w = ["-w", str(ws.root)]
    out = r.invoke(_app(), ["detect", "train", "--task", "defect", *w], color=False)
    assert out.exit_code == 0, out.output
    flat = " ".join(out.output.split())
    assert "registered defect-inspect-01" in flat and "PR-AUC" in flat and "Brier" in flat
    summary = Registry.for_workspace(ws.root).get("defect-inspect-01")
    start = summary.metrics["held_out_window"][0]
    args = ["detect", "score", "inspect-01", "--task", "defect", "--from", start, "--write", *w]
    out = r.invoke(_app(), args, color=False)
    assert out.exit_code == 0, out.output
    assert "on the inspected parts" in " ".join(out.output.split())
    events = ws.lake.query(f"SELECT payload FROM events WHERE kind = '{DEFECT_KIND}'").to_pylist()
    payloads = [json.loads(e["payload"]) for e in events]
    assert payloads and all(p["probability"] >= p["threshold"] for p in payloads)
    written = len(events)
    out = r.invoke(_app(), args, color=False)  # writing again adds nothing
    assert ws.lake.query(
        f"SELECT count(*) AS n FROM events WHERE kind = '{DEFECT_KIND}'"
    ).to_pylist() == [{"n": written}]
    out = r.invoke(_app(), ["detect", "models", "--json", *w])
    rows = [json.loads(line) for line in out.output.splitlines() if line.startswith("{")]
    defect = [row for row in rows if row["task"] == "defect"]
    assert defect and all("pr_auc" in row["metrics"]["held_out"] for row in defect)
    out = r.invoke(_app(), ["detect", "models", *w], color=False)
    assert f"defect-inspect-01 v{summary.version} held out:" in " ".join(out.output.split())
    assert "PR-AUC" in out.output


def test_empty_lake_and_bad_assets_are_clear_errors(tmp_path: object) -> None:
    """No parts: the error names the table, the window and the fix; an asset with nothing
    upstream, or none of kind inspection, is a config error saying what to pass."""
    w = _example(tmp_path)
    with pytest.raises(DetectError, match=r"`production` table holds no parts inspected at"):
        read_parts(w)
    out = CliRunner().invoke(
        _app(), ["detect", "train", "--task", "defect", "-w", str(w.root)], color=False
    )
    assert out.exit_code == 2
    assert "factoryax twin run" in " ".join(out.output.split())
    with pytest.raises(DetectConfigError, match="first station of line"):
        stations(w.plant, "press-01")
    with pytest.raises(DetectConfigError, match="unknown asset 'nope'"):
        stations(w.plant, "nope")


def test_too_few_defects_to_calibrate_is_refused(ws: Workspace) -> None:
    """An hour of parts holds too few defects to calibrate: the error says how many."""
    start = dt.datetime(2026, 11, 16, 0, 0, tzinfo=dt.UTC)
    with pytest.raises(DetectError, match=r"defect\(s\) among \d+ inspected parts"):
        train_defect(ws, start=start, end=start + dt.timedelta(minutes=20))


def test_scoring_takes_parts_through_every_upstream_station(ws: Workspace) -> None:
    """Parts still on their way (not yet through every station before the inspection) are
    not scored; inspected or not, every scored part has all its stations' cycle times."""
    parts = read_parts(ws, by="upstream")
    rows = ws.lake.query(
        "SELECT part_id, CAST(asset AS VARCHAR) AS asset FROM production "
        "WHERE asset IN ('press-01', 'cnc-01', 'wash-01')"
    ).to_pylist()
    seen: dict[str, set[str]] = {}
    for row in rows:
        seen.setdefault(row["part_id"], set()).add(row["asset"])
    through = {p for p, assets in seen.items() if len(assets) == 3}
    assert len(through) < len(seen)  # the run ends with parts in progress
    assert set(parts.part_ids) == through
    for station in parts.upstream:
        assert not np.isnan(parts.columns[f"{station}.cycle_time_s"]).any()
