"""Tests of the ``factoryax safety`` command (check, publish, rules)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from factoryax.cli.main import example_plant_toml
from factoryax.cli.safety import app as safety_app
from factoryax.config import Workspace
from factoryax.ingest.rows import ingest_rows

SAFETY = """
[safety]
input_timeout_s = 0

[safety.rules.press-oil-hot]
type = "threshold"
signal = "press-01.oil_temp"
above = 90
deadband = 5
priority = "urgent"
"""

T0 = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)  # 12:00 in Seoul, inside the day shift
PERIOD = "2026-11-16"


def cli() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """Test root."""

    root.add_typer(safety_app, name="safety")
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli(), ["safety", *args])
    return result.exit_code, result.output


def workspace(tmp_path: Path, *, rules: bool = True) -> Path:
    (tmp_path / "plant.toml").write_text(
        example_plant_toml() + (SAFETY if rules else ""), encoding="utf-8"
    )
    (tmp_path / "lake").mkdir()
    return tmp_path


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = workspace(tmp_path)
    w = Workspace.find(folder)
    values = [80.0, 85.0, 95.0, 97.0, 84.0, 80.0]
    rows = pa.table(
        {
            "ts": pa.array([T0 + dt.timedelta(seconds=10 * i) for i in range(len(values))]),
            "asset": ["press-01"] * len(values),
            "signal": ["oil_temp"] * len(values),
            "value": values,
        }
    )
    report = ingest_rows("readings", rows, plant=w.plant, lake=w.lake, source="test")
    assert report.readings_accepted == len(values)
    return folder


def events(folder: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = (
        Workspace.find(folder).lake.query("SELECT * FROM events ORDER BY ts").to_pylist()
    )
    return rows


def test_check_shows_alarm(ws: Path) -> None:
    """A reading over the threshold annunciates and the return shows after the deadband."""
    code, out = run("check", "--period", PERIOD, "-w", str(ws))
    assert code == 0, out
    assert "press-oil-hot" in out
    assert "alarm.active" in out
    assert "alarm.rtn" in out
    assert "6 reading(s)" in out
    assert "alarm health" in out
    assert events(ws) == []  # without --publish nothing is written


def test_publish_is_idempotent(ws: Path) -> None:
    """--publish writes the alarm events once; a second run adds nothing."""
    code, out = run("check", "--period", PERIOD, "-w", str(ws), "--publish")
    assert code == 0, out
    first = events(ws)
    assert [e["kind"] for e in first] == ["alarm.active", "alarm.rtn"]
    assert first[0]["severity"] == 4
    assert first[0]["line"] == "line-1"
    assert first[0]["ts"] == T0 + dt.timedelta(seconds=20)
    code, out = run("check", "--period", PERIOD, "-w", str(ws), "--publish")
    assert code == 0, out
    assert "published 0 event(s)" in out
    assert len(events(ws)) == len(first)


def test_publish_records_incidents_in_the_ledger_once(ws: Path) -> None:
    """With a ledger, --publish commits the activation as a safety_incident, only once."""
    from factoryax.ledger import Ledger

    Ledger.for_workspace(ws, "changwon-1").close()
    for _ in range(2):
        code, out = run("check", "--period", PERIOD, "-w", str(ws), "--publish")
        assert code == 0, out
    with Ledger.for_workspace(ws, "changwon-1") as ledger:
        assert len(ledger.find("safety_incident")) == 1
        assert ledger.size == 1


def test_other_day_has_no_alarms(ws: Path) -> None:
    """A period without readings reports no transitions."""
    code, out = run("check", "--period", "2026-11-10", "-w", str(ws))
    assert code == 0, out
    assert "no alarm transitions" in out


def test_rules_lists_rules(ws: Path) -> None:
    """`rules` lists each rule with its condition."""
    code, out = run("rules", "-w", str(ws))
    assert code == 0, out
    assert "press-oil-hot" in out
    assert "> 90" in out


def test_no_rules_is_a_clear_error(tmp_path: Path) -> None:
    """A plant without [safety] rules exits 2 and shows how to add them."""
    folder = workspace(tmp_path, rules=False)
    for args in (["check", "--period", PERIOD], ["rules"]):
        code, out = run(*args, "-w", str(folder))
        assert code == 2
        assert "no safety rules" in out
        assert "[safety.rules.press-oil-hot]" in out
