"""`factoryax detect` commands on a small twin workspace (mounted on a local Typer)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from typer.testing import CliRunner

from factoryax.cli.detect import app as detect_app
from factoryax.config import Workspace
from factoryax.twin import simulate, write_to_lake


@pytest.fixture(scope="module")
def cli_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One simulated day at 60 s samples."""
    from factoryax.cli.main import example_plant_toml

    root = tmp_path_factory.mktemp("cli")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace(root)
    write_to_lake(
        simulate(ws.plant, start=dt.date(2026, 11, 2), days=1, seed=2, sample_s=60),
        ws.plant,
        ws.lake,
    )
    return ws


def _app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(detect_app, name="detect")
    return root


def test_train_backtest_promote_models(cli_ws: Workspace) -> None:
    """train registers a candidate; backtest records figures; promote records a decision;
    models --json lists it."""
    r = CliRunner()
    w = ["-w", str(cli_ws.root)]
    out = r.invoke(_app(), ["detect", "train", "press-01", "--to", "2026-11-02T12:00Z", *w])
    assert out.exit_code == 0, out.output
    assert "anomaly-press-01" in out.output
    out = r.invoke(
        _app(), ["detect", "backtest", "anomaly-press-01", "--from", "2026-11-02T12:00Z", *w]
    )
    assert out.exit_code == 0, out.output
    assert '"truth": true' in out.output
    out = r.invoke(
        _app(),
        ["detect", "promote", "anomaly-press-01", "1", "--approved-by", "kim", "--force", *w],
    )
    assert out.exit_code == 0, out.output
    out = r.invoke(_app(), ["detect", "models", "--json", *w])
    rows = [json.loads(line) for line in out.output.splitlines() if line.startswith("{")]
    assert rows[0]["stage"] == "production" and rows[0]["backtest"]["truth"] is True
    out = r.invoke(_app(), ["detect", "score", "press-01", "--from", "2026-11-02T12:00Z", *w])
    assert out.exit_code == 0 and "score(s)" in out.output


def test_bad_window_is_a_clear_error(cli_ws: Workspace) -> None:
    """A naive --from names the fix."""
    out = CliRunner().invoke(
        _app(), ["detect", "train", "--from", "2026-11-02T00:00", "-w", str(cli_ws.root)]
    )
    assert out.exit_code == 2
    assert "time zone" in out.output


def test_rul_from_lake_history(tmp_path_factory: pytest.TempPathFactory) -> None:
    """train --task rul labels failures from `states` and `rul` prints an estimate with a
    band; an asset that never failed is skipped with the reason."""
    from factoryax.cli.main import example_plant_toml

    root = tmp_path_factory.mktemp("rul")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace(root)
    run = simulate(ws.plant, start=dt.date(2026, 11, 2), days=7, seed=42, sample_s=60)
    write_to_lake(run, ws.plant, ws.lake)
    r = CliRunner()
    w = ["-w", str(root)]
    out = r.invoke(_app(), ["detect", "train", "press-01", "wash-01", "--task", "rul", *w])
    assert out.exit_code == 0, out.output
    assert "rul-press-01" in out.output and "skipped" in out.output
    out = r.invoke(_app(), ["detect", "rul", "press-01", "--at", "2026-11-05T00:00Z", *w])
    assert out.exit_code == 0, out.output
    assert "RUL" in out.output and "band" in out.output
