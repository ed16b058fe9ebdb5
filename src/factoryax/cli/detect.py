"""``factoryax detect …``: train, score, backtest, shadow and promote anomaly models;
train and score RUL and defect models.

Mount in ``cli/__init__.py``::

    from factoryax.cli.detect import app as detect_app
    app.add_typer(detect_app, name="detect")
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.config import Workspace
from factoryax.core import FactoryAXError
from factoryax.detect import (
    DETECTORS,
    AlarmTracker,
    Registry,
    anomaly_model_name,
    backtest,
    default_detector,
    gate,
    gate_inputs,
    list_models,
    predict_rul,
    promote,
    read_wide,
    score_and_alarm,
    shadow,
    train_rul,
)
from factoryax.detect.defect_lake import (
    defect_event_rows,
    score_parts,
    stations,
    train_defect,
)

__all__ = ["app"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="AI detection: train anomaly models on the lake, backtest and shadow them, and "
    "promote them through a recorded gate (see docs/detect.md).",
    no_args_is_help=True,
)

FromOpt = Annotated[
    str | None, typer.Option("--from", help="Window start, ISO 8601 (default: first reading).")
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="Window end, ISO 8601, exclusive (default: last).")
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _instant(text: str | None, what: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"{what} {text!r} is not ISO 8601; use e.g. 2026-11-23T08:00+09:00") from None
    if value.tzinfo is None:
        raise _fail(f"{what} {text!r} has no time zone; add one, e.g. {text}+09:00 or {text}Z")
    return value.astimezone(dt.UTC)


def _window(ws: Workspace, start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    lo, hi = _instant(start, "--from"), _instant(end, "--to")
    if lo is None or hi is None:
        span = ws.lake.query(
            "SELECT min(ts) AS lo, max(ts) AS hi FROM readings WHERE signal <> 'anomaly_score'"
        ).to_pylist()[0]
        if span["lo"] is None:
            raise _fail("the lake holds no readings; ingest some or run `factoryax twin run`")
        lo = lo or span["lo"].astimezone(dt.UTC)
        hi = hi or span["hi"].astimezone(dt.UTC) + dt.timedelta(seconds=1)
    if hi <= lo:
        raise _fail(f"empty window: --to {hi.isoformat()} is not after --from {lo.isoformat()}")
    return lo, hi


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str, ensure_ascii=False))


@app.command()
def train(
    assets: Annotated[list[str] | None, typer.Argument(help="Assets (default: all).")] = None,
    start: FromOpt = None,
    end: ToOpt = None,
    kind: Annotated[
        str, typer.Option(help=f"Detector: {', '.join(sorted(DETECTORS))}, or 'default'.")
    ] = "default",
    task: Annotated[str, typer.Option(help="anomaly, rul or defect.")] = "anomaly",
    holdout: Annotated[
        float, typer.Option(help="defect: share of the latest inspected parts held out.")
    ] = 0.25,
    workspace: WorkspaceOpt = None,
) -> None:
    """Train one model per asset on the lake; registers a candidate.

    --task anomaly (default): an anomaly detector on the readings. --task rul: a
    remaining-useful-life model labelled by the asset's BREAKDOWN down intervals.
    --task defect: a calibrated defect model per inspection asset (default: the plant's),
    from the upstream stations' parameters per part in `production` and `readings`,
    measured on the latest --holdout of the inspected parts.
    """
    ws = open_workspace(workspace)
    if task not in ("anomaly", "rul", "defect"):
        raise _fail(f"--task {task!r} is not one of anomaly, rul, defect")
    if task == "defect":
        _train_defect(ws, assets, _instant(start, "--from"), _instant(end, "--to"), holdout)
        return
    lo, hi = _window(ws, start, end)
    if kind != "default" and kind not in DETECTORS:
        raise _fail(f"--kind {kind!r} is not one of default, {', '.join(sorted(DETECTORS))}")
    reg = Registry.for_workspace(ws.root)
    known = [a.id for _, a in ws.plant.iter_assets()]
    for asset in assets or known:
        if asset not in known:
            raise _fail(f"unknown asset {asset!r}; plant.toml declares {', '.join(known)}")
        if task == "rul":
            try:
                v = train_rul(ws, asset, start=lo, end=hi)
            except FactoryAXError as exc:
                console.print(f"{asset}: [yellow]skipped[/yellow] ({escape(str(exc))})")
                continue
            console.print(
                f"{asset}: registered [bold]{v.name}[/bold] v{v.version} (rul, "
                f"{v.metrics.get('histories')} failure histories)"
            )
            continue
        data = read_wide(ws.lake, asset, lo, hi)
        if len(data) < 10:
            console.print(f"{asset}: {len(data)} instant(s) in the window, skipped")
            continue
        proto = default_detector() if kind == "default" else DETECTORS[kind](seed=0)
        try:
            det = proto.fit(data.columns)
            v = reg.register(
                anomaly_model_name(asset),
                det,
                asset=asset,
                fingerprint=data.fingerprint,
                created_by="cli",
            )
        except FactoryAXError as exc:
            raise _fail(str(exc)) from None
        console.print(
            f"{asset}: registered [bold]{v.name}[/bold] v{v.version} ({v.kind}, "
            f"{data.fingerprint['rows']:,} rows, threshold {v.threshold:.4g})"
        )


def _train_defect(
    ws: Workspace,
    assets: list[str] | None,
    lo: dt.datetime | None,
    hi: dt.datetime | None,
    holdout: float,
) -> None:
    if lo is not None and hi is not None and hi <= lo:
        raise _fail(f"empty window: --to {hi.isoformat()} is not after --from {lo.isoformat()}")
    targets: list[str | None] = list(assets) if assets else [None]
    for asset in targets:
        try:
            v = train_defect(ws, asset, start=lo, end=hi, holdout=holdout, created_by="cli")
        except FactoryAXError as exc:
            raise _fail(str(exc)) from None
        console.print(
            f"{v.asset}: registered [bold]{v.name}[/bold] v{v.version} ({v.kind}, "
            f"{v.fingerprint['rows']:,} training parts with {v.fingerprint['positives']} "
            f"defects, {v.metrics['features']} features)"
        )
        console.print("  held out: " + escape(_defect_figures(v.metrics.get("held_out") or {})))


def _defect_figures(m: dict[str, Any]) -> str:
    """One line of a defect model's metrics (held-out or observed)."""

    def f(key: str, fmt: str) -> str:
        value = m.get(key)
        return "n/a" if value is None else format(value, fmt)

    return (
        f"{m.get('n', 0):,} parts, {m.get('positives', 0)} defects; Brier {f('brier', '.4f')} "
        f"(base rate {f('brier_base_rate', '.4f')}), PR-AUC {f('pr_auc', '.3f')} "
        f"(base rate {f('base_rate', '.3f')}), F1 {f('f1', '.2f')} at p >= "
        f"{f('threshold', '.3f')} (precision {f('precision', '.2f')}, recall {f('recall', '.2f')})"
    )


@app.command()
def score(
    asset: Annotated[str, typer.Argument(help="Asset to score.")],
    start: FromOpt = None,
    end: ToOpt = None,
    version: Annotated[
        int | None, typer.Option(help="Model version (default: production, else newest).")
    ] = None,
    write: Annotated[bool, typer.Option(help="Append scores and alarms to the lake.")] = False,
    task: Annotated[str, typer.Option(help="anomaly, or defect (ASSET: the inspection).")] = (
        "anomaly"
    ),
    workspace: WorkspaceOpt = None,
) -> None:
    """Score an asset's readings over a window; print alarms (optionally write them).

    --task defect: the defect probability of each part whose last station before the
    inspection ASSET finished in the window (inspected or not); --write appends a
    `detect.defect_risk` event per part at or above the model's threshold.
    """
    ws = open_workspace(workspace)
    if task == "defect":
        _score_defect(ws, asset, start, end, version, write)
        return
    if task != "anomaly":
        raise _fail(f"--task {task!r} is not one of anomaly, defect")
    lo, hi = _window(ws, start, end)
    reg = Registry.for_workspace(ws.root)
    name = anomaly_model_name(asset)
    try:
        prod = reg.production(name)
        v = version or (prod.version if prod else reg.get(name).version)
        det = reg.load_detector(name, v)
        data = read_wide(ws.lake, asset, lo, hi)
        lines = {a.id: line.id for line, a in ws.plant.iter_assets()}
        r, e = score_and_alarm(
            det,
            data.ts,
            data.columns,
            tracker=AlarmTracker(),
            site=ws.plant.site.id,
            line=lines.get(asset),
            asset=asset,
            model=name,
            version=v,
        )
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{asset}: {r.num_rows:,} score(s) with {name} v{v}, {e.num_rows} alarm(s)")
    for row in e.to_pylist()[:50]:
        console.print(f"  {row['ts'].isoformat()}  {escape(row['message'])}")
    if write:
        ws.lake.append("readings", r)
        ws.lake.append("events", e)
        console.print("[green]written[/green] to the lake")


def _score_defect(
    ws: Workspace,
    asset: str,
    start: str | None,
    end: str | None,
    version: int | None,
    write: bool,
) -> None:
    from factoryax.detect.defect_lake import defect_metrics
    from factoryax.ingest import ingest_rows

    lo, hi = _instant(start, "--from"), _instant(end, "--to")
    try:
        stations(ws.plant, asset)
        summary, parts, proba = score_parts(ws, asset, lo, hi, version=version)
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    threshold = summary.threshold if summary.threshold is not None else 0.5
    flagged = proba >= threshold
    console.print(
        f"{asset}: {len(parts):,} part(s) scored with {summary.name} v{summary.version}, "
        f"{int(flagged.sum())} at or above p {threshold:.3f}"
    )
    table = Table(title="highest defect probability", title_justify="left")
    for col in ("part", "last station at", "p(defect)", "inspected"):
        table.add_column(col, overflow="fold")
    for i in [int(i) for i in proba.argsort()[::-1][:20]]:
        verdict = (parts.codes[i] or "defect") if parts.label[i] else "ok"
        table.add_row(
            parts.part_ids[i],
            dt.datetime.fromtimestamp(int(parts.ts[i]) / 1e6, dt.UTC).isoformat(),
            f"{proba[i]:.3f}",
            verdict if parts.labelled[i] else "not yet",
        )
    console.print(table)
    if parts.labelled.any():
        seen = defect_metrics(parts.label[parts.labelled], proba[parts.labelled], threshold)
        console.print("  on the inspected parts: " + escape(_defect_figures(seen)))
        if summary.fingerprint.get("to") and lo is not None:
            trained_to = dt.datetime.fromisoformat(str(summary.fingerprint["to"]))
            if lo <= trained_to:
                err_console.print(
                    "[yellow]warning:[/yellow] the window overlaps the model's training "
                    f"parts (up to {trained_to.isoformat()}): these figures are in-sample"
                )
    if write:
        rows = defect_event_rows(ws, summary, parts, proba)
        ingest_rows(
            "events", rows, plant=ws.plant, lake=ws.lake, source=f"detect score {summary.name}"
        )
        console.print(f"[green]written[/green] {rows.num_rows} detect.defect_risk event(s)")


@app.command("backtest")
def backtest_cmd(
    name: Annotated[str, typer.Argument(help="Model name, e.g. anomaly-press-01.")],
    version: Annotated[int | None, typer.Option(help="Version (default newest).")] = None,
    start: FromOpt = None,
    end: ToOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Backtest a model over a lake window (against the twin's truth where present).

    Without --from the window starts just after the model's training window, so the
    evidence is out of sample; a window overlapping the training data is recorded as
    in-sample and the promotion gate refuses it.
    """
    ws = open_workspace(workspace)
    start, hint = _after_training(ws, name, version, start)
    lo, hi = _window_or_hint(ws, start, end, hint)
    try:
        result = backtest(ws, name, version, lo, hi)
    except FactoryAXError as exc:
        raise _fail(str(exc) + hint) from None
    _print_json({k: v for k, v in result.items() if k != "fingerprint"})
    _warn_in_sample(result)


def _after_training(
    ws: Workspace, name: str, version: int | None, start: str | None
) -> tuple[str | None, str]:
    """``start``, or (when None) the instant just after the model's training window, with
    a hint for the error an empty window would give."""
    if start is not None:
        return start, ""
    try:
        trained_to = Registry.for_workspace(ws.root).get(name, version).fingerprint.get("to")
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    if not trained_to:
        return None, ""
    after = dt.datetime.fromisoformat(str(trained_to)) + dt.timedelta(microseconds=1)
    hint = (
        f"; {name} was trained on readings up to {trained_to}, and without --from the "
        "window starts after them: ingest newer data, or train on an earlier window "
        "(detect train --to ...)"
    )
    return after.astimezone(dt.UTC).isoformat(), hint


def _window_or_hint(
    ws: Workspace, start: str | None, end: str | None, hint: str
) -> tuple[dt.datetime, dt.datetime]:
    try:
        return _window(ws, start, end)
    except typer.Exit:
        if hint:
            err_console.print(escape(hint[2:]))
        raise


def _warn_in_sample(figures: dict[str, Any]) -> None:
    if figures.get("in_sample"):
        err_console.print(
            f"[yellow]warning:[/yellow] {figures.get('training_overlap') or 0:.0%} of this "
            "window lies in the model's training window: in-sample evidence, the gate will "
            "refuse it"
        )


@app.command("shadow")
def shadow_cmd(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Candidate version.")],
    start: FromOpt = None,
    end: ToOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Run a candidate beside the production version on the same window and compare.

    Without --from the window starts just after the candidate's training window.
    """
    ws = open_workspace(workspace)
    start, hint = _after_training(ws, name, version, start)
    lo, hi = _window_or_hint(ws, start, end, hint)
    try:
        result = shadow(ws, name, version, lo, hi)
    except FactoryAXError as exc:
        raise _fail(str(exc) + hint) from None
    _print_json(result)
    _warn_in_sample(result["candidate"])


@app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Version to promote.")],
    approved_by: Annotated[str, typer.Option("--approved-by", help="Who approves.")],
    force: Annotated[bool, typer.Option(help="Promote even if the gate fails (recorded).")] = False,
    accept_without_failures: Annotated[
        str | None,
        typer.Option(
            "--accept-without-failures",
            metavar="WHY",
            help="Accept a window with no failure or detectable fault (where recall and "
            "lead time cannot be shown) for this recorded reason; the other criteria "
            "still apply.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Gate a backtested version against production; record and apply the decision.

    Exit 1 when the version is not promoted: a criterion failed ("rejected"), or the
    evidence window holds no failure or detectable fault ("insufficient evidence"; accept
    it with --accept-without-failures "why", which is recorded with the decision).
    """
    ws = open_workspace(workspace)
    reg = Registry.for_workspace(ws.root)
    try:
        cand = reg.get(name, version)
        evidence, prod_figures = gate_inputs(cand, reg.production(name))
        if evidence is None:
            raise _fail(
                f"{name} v{version} has no backtest or shadow run; run "
                f"`factoryax detect backtest {name} --version {version}` first"
            )
        decision = gate(evidence, prod_figures, accept_without_failures=accept_without_failures)
        result = promote(ws, name, cand.version, decision, approved_by=approved_by, force=force)
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    for reason in decision.reasons:
        colour = "green"
        if reason.startswith("FAILED"):
            colour = "red"
        elif reason.startswith("INSUFFICIENT"):
            colour = "yellow"
        console.print(f"  [{colour}]" + escape(reason))
    console.print(f"{name} v{cand.version}: [bold]{result['decision']}[/bold]")
    if result["decision"] != "promoted":
        raise typer.Exit(1)


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List registered model versions with stage, metrics and validation figures
    (anomaly: backtest detection, false alarms, lead time; defect: held-out Brier,
    PR-AUC and F1)."""
    ws = open_workspace(workspace)
    items = list_models(ws)
    if as_json:
        for m in items:
            console.print(json.dumps(m.model_dump(mode="json"), ensure_ascii=False), soft_wrap=True)
        return
    table = Table(title=f"{len(items)} model version(s)", title_justify="left")
    for col in (
        "name",
        "v",
        "kind",
        "stage",
        "asset",
        "created",
        "detection",
        "FA/shift",
        "lead h",
    ):
        table.add_column(col)
    for m in items:
        bt = m.backtest or {}
        dr, fa, lead = (
            bt.get("detection_rate"),
            bt.get("false_alarms_per_shift"),
            bt.get("mean_lead_time_s"),
        )
        table.add_row(
            m.name,
            str(m.version),
            m.kind,
            m.stage,
            m.asset or "",
            m.created_at.strftime("%Y-%m-%d %H:%M"),
            "" if dr is None else f"{dr:.0%}",
            "" if fa is None else f"{fa:.2f}",
            "" if lead is None else f"{lead / 3600:.1f}",
        )
    console.print(table)
    for m in items:
        held = m.metrics.get("held_out")
        if m.task == "defect" and isinstance(held, dict):
            console.print(f"{m.name} v{m.version} held out: " + escape(_defect_figures(held)))


@app.command()
def rul(
    asset: Annotated[str, typer.Argument(help="Asset.")],
    at: Annotated[str | None, typer.Option(help="Instant, ISO 8601 (default: now).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Remaining useful life of an asset (hours, with the 10-90 % band)."""
    ws = open_workspace(workspace)
    try:
        summary, est = predict_rul(ws, asset, at=_instant(at, "--at"))
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"{asset}: RUL {est.rul:.1f} h (band {est.low:.1f}–{est.high:.1f} h) "
        f"with {summary.name} v{summary.version}"
    )
