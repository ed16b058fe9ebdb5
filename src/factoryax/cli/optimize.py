"""``factoryax optimize …``: designs of experiments, Bayesian optimisation, study reports.

Mount in ``cli/__init__.py``::

    from factoryax.cli.optimize import app as optimize_app
    app.add_typer(optimize_app, name="optimize")
"""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape

from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.config import Workspace
from factoryax.core import FactoryAXError
from factoryax.lake import new_ingest_id, table_spec
from factoryax.optimize import RejectedRow, Study, TrialRecord
from factoryax.optimize.design import design as make_design
from factoryax.optimize.report import build_report
from factoryax.optimize.spec import StudySpec, parse_study, read_rows

__all__ = ["STUDIES_FILE", "app", "studies_path"]

console = Console()
err_console = Console(stderr=True)

STUDIES_FILE = Path("optimize") / "studies.db"
"""Where a workspace keeps its studies (SQLite, one file for all)."""

app = typer.Typer(
    help="CAE + AI: designs of experiments, surrogate models and Bayesian optimisation "
    "over the twin, your own simulation or a defect model (see docs/optimize.md).",
    no_args_is_help=True,
)

StudyFileArg = Annotated[
    Path, typer.Argument(help="The study file (TOML; see docs/optimize.md).", exists=True)
]


def studies_path(ws: Workspace) -> Path:
    """The workspace's study database."""
    return ws.root / STUDIES_FILE


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _spec(path: Path, ws: Workspace) -> StudySpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _fail(f"{path}: not valid TOML ({exc})") from None
    try:
        return parse_study(
            data, base=path.resolve().parent, plant=lambda: ws.plant, where=str(path)
        )
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None


def _line(record: TrialRecord, spec: StudySpec) -> str:
    if record.state != "COMPLETE":
        return f"#{record.number:<4} {record.state:<8} {escape(record.error or '')}"
    values = ", ".join(
        f"{o.metric}={v:.5g}"
        for o, v in zip(spec.config.objectives, record.values or (), strict=False)
    )
    flag = "" if record.feasible else " [yellow](infeasible)[/yellow]"
    took = f" ({record.eval_s:.2f} s)" if record.eval_s is not None else ""
    return f"#{record.number:<4} {record.source:<13} {values}{flag}{took}"


@app.command("run")
def run(
    study_file: StudyFileArg,
    workspace: WorkspaceOpt = None,
    trials: Annotated[
        int | None, typer.Option(help="Total trials to reach (default: [study] trials).")
    ] = None,
) -> None:
    """Run (or resume) the study: suggest batches, evaluate them in parallel, store all.

    A `table` study only reads your past runs and writes the next batch of suggested
    runs to optimize/<name>-suggestions.csv.
    """
    ws = open_workspace(workspace)
    spec = _spec(study_file, ws)
    db = studies_path(ws)
    try:
        if spec.target is None:
            _suggest(spec, ws)
            return
        study = Study(spec.config, db)
        before = len(study.optuna.trials)
        if spec.table is not None and before == 0:
            _quarantine(ws, spec.table, study.add_table(read_rows(spec.table)))
        if before:
            console.print(f"resuming {spec.config.name!r} at trial {before}")
        result = study.run(
            spec.target, trials=trials, progress=lambda r: console.print(_line(r, spec))
        )
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"{result.n_trials} trials ({result.n_failed} failed) stored in {db} "
        f"as {spec.config.name!r}"
    )
    if result.best is not None:
        console.print(f"best: trial #{result.best.number} {result.best.params}")
    elif result.pareto:
        console.print(
            f"Pareto front: {len(result.pareto)} trial(s); see `factoryax optimize report`"
        )
    else:
        console.print("no feasible trial yet")


def _suggest(spec: StudySpec, ws: Workspace) -> None:
    assert spec.table is not None
    study = Study(spec.config)  # the table is the store: rebuilt from it each time
    _quarantine(ws, spec.table, study.add_table(read_rows(spec.table)))
    asked = study.ask(spec.config.batch)
    out = ws.root / "optimize" / f"{spec.config.name}-suggestions.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=spec.config.space.names)
        writer.writeheader()
        for _, point in asked:
            writer.writerow(point)
            console.print(point)
    console.print(
        f"{len(asked)} suggested run(s) from {len(study.optuna.trials) - len(asked)} past "
        f"run(s) written to {out}; run them, add the results to {spec.table} and run again"
    )


def _quarantine(ws: Workspace, table: Path, rejected: list[RejectedRow]) -> None:
    """Rejected past-run rows go to the lake's quarantine (nothing handed in is lost)."""
    if not rejected:
        return
    for row in rejected:
        err_console.print(f"[yellow]quarantined[/yellow] {table.name} {escape(str(row))}")
    now = dt.datetime.now(dt.UTC)
    n = len(rejected)
    rows = pa.table(
        {
            "site": [ws.plant.site.id] * n,
            "ts": [now] * n,
            "source": [f"optimize:{table.name}"] * n,
            "position": [f"row {r.position}" for r in rejected],
            "field": [None] * n,
            "reason": [r.reason for r in rejected],
            "raw": [r.raw for r in rejected],
        }
    ).cast(table_spec("quarantine").input_schema)
    ws.lake.append("quarantine", rows, ingest_id=new_ingest_id())


@app.command("report")
def report(
    name: Annotated[str | None, typer.Argument(help="Study name (default: the only one).")] = None,
    workspace: WorkspaceOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for report.html, report.txt and the figures "
            "(default: optimize/reports/<name>)."
        ),
    ] = None,
) -> None:
    """Summarise a study: best or Pareto trials, surrogate accuracy, sensitivity, plots."""
    ws = open_workspace(workspace)
    db = studies_path(ws)
    names = Study.names(db)
    if name is None:
        if len(names) != 1:
            raise _fail(f"name the study to report; stored studies: {names!r}")
        name = names[0]
    try:
        rep = build_report(Study.load(db, name))
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    console.print(escape(rep.text()), highlight=False)
    path = rep.write(out or ws.root / "optimize" / "reports" / name)
    console.print(f"report: {path}")


@app.command("list")
def list_studies(workspace: WorkspaceOpt = None) -> None:
    """The studies stored in this workspace."""
    ws = open_workspace(workspace)
    db = studies_path(ws)
    for name in Study.names(db):
        study = Study.load(db, name)
        result = study.result()
        console.print(
            f"{name}: {result.n_trials} trials, sampler {study.config.sampler}, "
            f"objectives {[o.metric for o in study.config.objectives]}"
        )


@app.command("design")
def design_cmd(
    study_file: StudyFileArg,
    out: Annotated[Path, typer.Option(help="CSV to write, one run per row.")],
    workspace: WorkspaceOpt = None,
    kind: Annotated[str, typer.Option(help="lhs, sobol, random or factorial.")] = "lhs",
    n: Annotated[int, typer.Option(help="Runs (lhs, sobol, random).")] = 16,
    levels: Annotated[int, typer.Option(help="Levels per number parameter (factorial).")] = 2,
    seed: Annotated[int | None, typer.Option(help="Seed (default: [study] seed).")] = None,
) -> None:
    """Write a design of experiments over the study's parameters, to run yourself."""
    ws = open_workspace(workspace)
    spec = _spec(study_file, ws)
    if kind not in {"lhs", "sobol", "random", "factorial"}:
        raise _fail(f"--kind {kind!r}: use lhs, sobol, random or factorial")
    try:
        points = make_design(
            spec.config.space,
            kind,  # type: ignore[arg-type]  # checked just above
            n,
            seed=spec.config.seed if seed is None else seed,
            levels=levels,
        )
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=spec.config.space.names)
        writer.writeheader()
        writer.writerows(points)
    console.print(f"{len(points)} runs ({kind}) written to {out}")
