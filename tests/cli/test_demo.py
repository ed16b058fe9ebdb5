"""`factoryax demo`: the README's main job runs end to end, offline."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from factoryax.cli import app
from factoryax.config import Workspace


def test_demo_fills_every_table_through_ingest(tmp_path: Path) -> None:
    """A short demo creates the workspace and lands all four twin tables, nothing quarantined."""
    ws = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "-w", str(ws), "--days", "0.5", "--sample-s", "10", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    lake = Workspace(ws).lake
    counts = {s.table: s.rows for s in lake.status()}
    assert counts["readings"] > 10_000
    assert counts["production"] > 100 and counts["states"] > 10
    assert counts["quarantine"] == 0
    assert (ws / "truth").is_dir() and not (ws / "lake" / "truth").exists()


def test_demo_twice_adds_nothing(tmp_path: Path) -> None:
    """Running the demo again with the same seed is idempotent."""
    ws = tmp_path / "demo"
    args = ["demo", "-w", str(ws), "--days", "0.2", "--sample-s", "30", "--no-serve"]
    assert CliRunner().invoke(app, args).exit_code == 0
    before = {s.table: s.rows for s in Workspace(ws).lake.status()}
    assert CliRunner().invoke(app, args).exit_code == 0
    after = {s.table: s.rows for s in Workspace(ws).lake.status()}
    assert before == after
