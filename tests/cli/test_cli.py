"""The command line: init, ingest, query, status, lake upkeep, workspace discovery."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factoryax.cli import app

runner = CliRunner()


def _init(tmp_path: Path) -> Path:
    ws = tmp_path / "plant"
    result = runner.invoke(app, ["init", str(ws)])
    assert result.exit_code == 0, result.output
    return ws


def test_init_writes_a_valid_commented_example(tmp_path: Path) -> None:
    """init writes plant.toml with comments and refuses to overwrite it."""
    ws = _init(tmp_path)
    text = (ws / "plant.toml").read_text(encoding="utf-8")
    assert text.startswith("# FactoryAX plant model") and "[[lines.assets]]" in text
    again = runner.invoke(app, ["init", str(ws)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_ingest_status_and_query_end_to_end(tmp_path: Path) -> None:
    """A CSV goes in, status counts it, query returns it, bad rows are summarised."""
    ws = _init(tmp_path)
    csv = tmp_path / "data.csv"
    csv.write_text(
        "ts,asset,signal,value\n"
        "2026-11-23 09:00:00,press-01,power,10\n"
        "2026-11-23 09:00:01,press-01,power,11\n"
        "2026-11-23 09:00:02,press-01,power,9999\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ingest", str(csv), "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    assert "outside the expected range" in " ".join(result.output.split())
    status = runner.invoke(app, ["status", "-w", str(ws)])
    assert status.exit_code == 0 and "readings" in status.output
    out = runner.invoke(
        app, ["query", "SELECT sum(value) AS s FROM readings", "-w", str(ws), "-o", "json"]
    )
    assert out.exit_code == 0 and json.loads(out.output) == {"s": 21.0}


def test_ingest_exits_non_zero_only_when_nothing_was_read(tmp_path: Path) -> None:
    """A missing file alone fails; with one readable file beside it the run succeeds."""
    ws = _init(tmp_path)
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.csv"), "-w", str(ws)])
    assert missing.exit_code == 1 and "no such file" in " ".join(missing.output.split())
    good = tmp_path / "g.csv"
    good.write_text(
        "ts,asset,signal,value\n2026-11-23 09:00:00,press-01,power,1\n", encoding="utf-8"
    )
    mixed = runner.invoke(app, ["ingest", str(tmp_path / "nope.csv"), str(good), "-w", str(ws)])
    assert mixed.exit_code == 0


def test_workspace_is_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like git, commands find plant.toml in the current folder or a parent."""
    ws = _init(tmp_path)
    sub = ws / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("FACTORYAX_WORKSPACE", raising=False)
    assert runner.invoke(app, ["status"]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    lost = runner.invoke(app, ["status"])
    assert lost.exit_code == 2 and "factoryax init" in lost.output


def test_bad_sql_is_a_clear_error(tmp_path: Path) -> None:
    """SQL errors show DuckDB's explanation and exit 2."""
    ws = _init(tmp_path)
    result = runner.invoke(app, ["query", "SELEC 1", "-w", str(ws)])
    assert result.exit_code == 2 and "query failed" in result.output


def test_invalid_plant_model_is_reported_with_keys(tmp_path: Path) -> None:
    """A broken plant.toml stops every command with the key path and the fix."""
    ws = _init(tmp_path)
    path = ws / "plant.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('timezone = "Asia/Seoul"', 'timezone = "Seoul"'),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["status", "-w", str(ws)])
    assert result.exit_code == 2 and "site.timezone" in result.output


def test_lake_compact_and_retention_commands(tmp_path: Path) -> None:
    """lake compact merges files; lake retention removes old partitions."""
    ws = _init(tmp_path)
    for i in range(3):
        f = tmp_path / f"d{i}.csv"
        f.write_text(
            f"ts,asset,signal,value\n2020-01-01 09:00:0{i},press-01,power,1\n", encoding="utf-8"
        )
        runner.invoke(app, ["ingest", str(f), "-w", str(ws)])
    compact = runner.invoke(app, ["lake", "compact", "readings", "-w", str(ws)])
    assert compact.exit_code == 0 and "files 3 → 1" in compact.output
    retention = runner.invoke(
        app, ["lake", "retention", "--keep-days", "30", "readings", "-w", str(ws)]
    )
    assert retention.exit_code == 0 and "1 partition(s) removed" in retention.output


def test_python_m_factoryax_is_the_same_command() -> None:
    """`python -m factoryax --help` shows the same command line."""
    out = subprocess.run(
        [sys.executable, "-m", "factoryax", "--help"], capture_output=True, text=True, check=True
    )
    assert "ingest" in out.stdout and "query" in out.stdout
