"""`factoryax optimize`: run, resume, report, list, design and table studies from the CLI."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import typer
from typer.testing import CliRunner

from factoryax.cli.optimize import app as optimize_app
from factoryax.config import Workspace
from factoryax.optimize import Study, branin

runner = CliRunner()
app = typer.Typer()
app.add_typer(optimize_app, name="optimize")

STUDY = """
[study]
name = "{name}"
seed = 5
trials = {trials}
batch = 2
initial = 6

[[parameters]]
name = "x1"
kind = "float"
low = -5
high = 10

[[parameters]]
name = "x2"
kind = "float"
low = 0
high = 15
unit = "mm"

[[objectives]]
metric = "value"

[target]
{target}
"""


def _write(tmp_path: Path, name: str, trials: int, target: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(STUDY.format(name=name, trials=trials, target=target), encoding="utf-8")
    return path


def test_run_resume_report_and_list(workspace: Workspace, tmp_path: Path) -> None:
    """run stores 10 trials, --trials 14 resumes, report writes text, HTML and figures."""
    study = _write(tmp_path, "branin", 10, 'kind = "function"\nname = "branin"')
    ws = ["--workspace", str(workspace.root)]
    first = runner.invoke(app, ["optimize", "run", str(study), *ws])
    assert first.exit_code == 0, first.output
    assert "10 trials (0 failed)" in first.output and "#9" in first.output
    again = runner.invoke(app, ["optimize", "run", str(study), "--trials", "14", *ws])
    assert again.exit_code == 0, again.output
    assert "resuming 'branin' at trial 10" in again.output
    db = workspace.root / "optimize" / "studies.db"
    assert len(Study.load(db, "branin").records()) == 14
    rep = runner.invoke(app, ["optimize", "report", *ws])
    assert rep.exit_code == 0, rep.output
    assert "study 'branin': 14 trials" in rep.output and "sensitivity" in rep.output
    folder = workspace.root / "optimize" / "reports" / "branin"
    assert {p.name for p in folder.iterdir()} >= {
        "report.html",
        "report.txt",
        "history.png",
        "cv.png",
        "sensitivity.png",
    }
    assert "<table>" in (folder / "report.html").read_text(encoding="utf-8")
    listed = runner.invoke(app, ["optimize", "list", *ws])
    assert "branin: 14 trials, sampler gp" in listed.output


def test_command_target_from_a_study_file(workspace: Workspace, tmp_path: Path) -> None:
    """A command line printing JSON is run per trial; its metric is the objective."""
    script = tmp_path / "sim.py"
    script.write_text(
        "import json, math, sys\n"
        "p = json.load(sys.stdin)\n"
        "x1, x2 = p['x1'], p['x2']\n"
        "b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)\n"
        "v = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10\n"
        "print('mesh done')\n"
        "print(json.dumps({'value': v}))\n",
        encoding="utf-8",
    )
    study = _write(tmp_path, "cmd", 6, f'kind = "command"\ncommand = ["{_py()}", "sim.py"]')
    result = runner.invoke(app, ["optimize", "run", str(study), "-w", str(workspace.root)])
    assert result.exit_code == 0, result.output
    records = Study.load(workspace.root / "optimize" / "studies.db", "cmd").records()
    assert [r.state for r in records] == ["COMPLETE"] * 6
    for r in records:
        assert r.values is not None and math.isclose(r.values[0], branin(r.params))


def test_table_study_suggests_the_next_runs(workspace: Workspace, tmp_path: Path) -> None:
    """kind = 'table' reads past runs and writes `batch` new suggestions as CSV."""
    past = tmp_path / "runs.csv"
    with past.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["x1", "x2", "value"])
        for x1, x2 in [(-5, 0), (0, 5), (5, 10), (10, 15), (2, 2), (-2, 12), (8, 1), (3, 4)]:
            writer.writerow([x1, x2, branin({"x1": x1, "x2": x2})])
        writer.writerow([99, 1, 3.0])
    study = _write(tmp_path, "past", 20, 'kind = "table"\npath = "runs.csv"')
    result = runner.invoke(app, ["optimize", "run", str(study), "-w", str(workspace.root)])
    assert result.exit_code == 0, result.output
    assert "row 8" in result.output and "outside" in result.output
    quarantined = workspace.lake.query(
        "SELECT source, position, reason, raw FROM quarantine"
    ).to_pylist()
    assert len(quarantined) == 1
    assert quarantined[0]["source"] == "optimize:runs.csv"
    assert quarantined[0]["position"] == "row 8" and "99" in quarantined[0]["raw"]
    out = workspace.root / "optimize" / "past-suggestions.csv"
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 2 and all(-5 <= float(r["x1"]) <= 10 for r in rows)


def test_design_command_writes_a_doe(workspace: Workspace, tmp_path: Path) -> None:
    """design --kind factorial --levels 3 writes the 9 runs of a 3x3 factorial."""
    study = _write(tmp_path, "doe", 10, 'kind = "function"\nname = "branin"')
    out = tmp_path / "doe.csv"
    result = runner.invoke(
        app,
        [
            "optimize",
            "design",
            str(study),
            "--out",
            str(out),
            "--kind",
            "factorial",
            "--levels",
            "3",
            "-w",
            str(workspace.root),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 9 and {r["x1"] for r in rows} == {"-5.0", "2.5", "10.0"}


def test_bad_study_file_is_reported_with_keys(workspace: Workspace, tmp_path: Path) -> None:
    """Exit 2 with each problem named by its key, and no traceback."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[study]\nname = "b"\ntrials = 0\n[[parameters]]\nname = "x"\nkind = "float"\n'
        'low = 3\nhigh = 1\n[[objectives]]\nmetric = "v"\n[target]\nkind = "nope"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["optimize", "run", str(bad), "-w", str(workspace.root)])
    assert result.exit_code == 2
    assert "study.trials" in result.output and "low < high" in result.output
    assert "Traceback" not in result.output


def _py() -> str:
    import sys

    return sys.executable


def test_example_study_files_parse_against_the_example_plant(workspace: Workspace) -> None:
    """examples/optimize/*.toml validate, map only existing knobs and build twin targets."""
    import tomllib

    from factoryax.optimize import TwinTarget
    from factoryax.optimize.spec import parse_study

    folder = Path(__file__).resolve().parents[2] / "examples" / "optimize"
    files = sorted(folder.glob("*.toml"))
    assert files
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = parse_study(data, base=folder, plant=lambda: workspace.plant, where=path.name)
        assert isinstance(spec.target, TwinTarget)
