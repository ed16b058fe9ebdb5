"""``factoryax report``, ``kpi`` and ``spc`` commands, mounted as the main CLI will."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from factoryax.cli.analytics import kpi_app, report, spc_app
from factoryax.config import Workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """A root app with the analytics commands mounted like ``cli/__init__.py`` will."""
    root = typer.Typer()
    root.command("report")(report)
    root.add_typer(kpi_app, name="kpi")
    root.add_typer(spc_app, name="spc")
    return root


def test_kpi_show_prints_json_rows_per_asset_and_shift(
    app: typer.Typer, twin_ws: Workspace
) -> None:
    """One JSON object per (asset, shift) with A, P, Q, OEE and the time elements."""
    result = runner.invoke(
        app,
        [
            "kpi",
            "show",
            "-p",
            "2026-11-23",
            "--by",
            "asset,shift",
            "-o",
            "json",
            "-w",
            str(twin_ws.root),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 10 and {r["shift"] for r in rows} == {"day", "night"}
    for r in rows:
        assert r["oee"] == pytest.approx(
            r["availability"] * r["effectiveness"] * r["quality_ratio"]
        )


def test_kpi_downtime_and_spc_commands_run(app: typer.Typer, twin_ws: Workspace) -> None:
    """The Pareto, a chart with its signals and the capability table print without error."""
    ws = str(twin_ws.root)
    down = runner.invoke(app, ["kpi", "downtime", "-p", "2026-11-23", "--depth", "1", "-w", ws])
    assert down.exit_code == 0 and "cumulative" in down.output
    chart = runner.invoke(
        app,
        [
            "spc",
            "chart",
            "inspect-01.bore_diameter",
            "-p",
            "2026-11-23",
            "--chart",
            "Xbar-R",
            "--baseline",
            "2026-11-16..2026-11-22",
            "-w",
            ws,
        ],
    )
    assert chart.exit_code == 0, chart.output
    assert "Xbar-R" in chart.output and "rule episode" in chart.output
    cap = runner.invoke(
        app, ["spc", "capability", "inspect-01.bore_diameter", "-p", "2026-11-23", "-w", ws]
    )
    assert cap.exit_code == 0 and "Cpk" in cap.output and "41.975" in cap.output


def test_report_command_writes_both_files(
    app: typer.Typer, twin_ws: Workspace, tmp_path: Path
) -> None:
    """``report --period … --lang en --kind week`` writes the PDF and XLSX it names."""
    result = runner.invoke(
        app,
        [
            "report",
            "--period",
            "2026-11-18",
            "--lang",
            "en",
            "--kind",
            "week",
            "-w",
            str(twin_ws.root),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "factoryax-week-2026-W47-en.pdf").is_file()
    assert (tmp_path / "factoryax-week-2026-W47-en.xlsx").is_file()


def test_errors_exit_2_with_the_reason(app: typer.Typer, twin_ws: Workspace) -> None:
    """A bad period or unknown grouping is a one-line error, exit status 2."""
    bad = runner.invoke(app, ["kpi", "show", "-p", "yesterday", "-w", str(twin_ws.root)])
    assert bad.exit_code == 2 and "not understood" in bad.output
    key = runner.invoke(
        app, ["kpi", "show", "-p", "2026-11-23", "--by", "machine", "-w", str(twin_ws.root)]
    )
    assert key.exit_code == 2 and "grouping" in key.output
