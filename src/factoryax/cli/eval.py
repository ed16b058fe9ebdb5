"""``factoryax eval run SUITE.jsonl``: score the agent on a scenario suite.

Mount in ``cli/__init__.py``::

    from factoryax.cli.eval import app as eval_app
    app.add_typer(eval_app, name="eval")
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from factoryax.agent import Agent, AgentConfig
from factoryax.agent.agent import _lots
from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.core import FactoryAXError
from factoryax.llmops import LlmJudge, load_suite, run_suite

__all__ = ["app", "run"]

console = Console()
app = typer.Typer(
    help="Evaluate the agent on scenario suites (see docs/agent.md).", no_args_is_help=True
)


@app.command()
def run(
    suite: Annotated[
        Path,
        typer.Argument(
            help="Suite JSONL, or a shipped suite by name: `default` (dev/test/heldout) "
            "or `plant_v1_heldout2` / `plant_v1_heldout3` (later blind held-out splits)."
        ),
    ],
    workspace: WorkspaceOpt = None,
    split: Annotated[str | None, typer.Option(help="Only this split (dev or test).")] = None,
    k: Annotated[
        int, typer.Option("-k", "--repeat", help="Runs per scenario (pass^k).", min=1)
    ] = 1,
    today: Annotated[
        str | None,
        typer.Option(
            help="Reference date (default: the day after the lake's last production day)."
        ),
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table",
    judge_url: Annotated[
        str | None,
        typer.Option(help="Optional LLM judge: an OpenAI-compatible endpoint (…/v1)."),
    ] = None,
    judge_model: Annotated[str, typer.Option(help="Model name of the judge.")] = "judge",
) -> None:
    """Run the suite against the workspace: pass rate, pass^k, p50/p95, ko/en gap."""
    ws = open_workspace(workspace)
    from factoryax.agent import default_suite

    shipped = default_suite().parent
    if str(suite) == "default":
        path = default_suite()
    elif not suite.exists() and (shipped / f"{suite}.jsonl").is_file():
        path = shipped / f"{suite}.jsonl"  # another shipped suite, by name
    else:
        path = suite
    try:
        scenarios = load_suite(path)
    except FactoryAXError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if split:
        scenarios = [s for s in scenarios if s.split == split]
    if today:
        ref = dt.date.fromisoformat(today)
    else:
        last = ws.lake.query("SELECT max(ts) AS t FROM production").column("t")[0].as_py()
        zone = ws.plant.site.timezone
        ref = (
            last.astimezone(zone).date() if last else dt.datetime.now(zone).date()
        ) + dt.timedelta(days=1)
    agent = Agent(ws, AgentConfig(today=ref))
    changing = [t.name for t in agent.registry if t.state_changing]
    try:
        report = run_suite(
            lambda s: agent.ask(s.text, "eval", s.role, s.lang),
            scenarios,
            today=ref,
            lots=_lots(ws),
            k=k,
            state_changing=changing,
            judge=LlmJudge(judge_url, judge_model) if judge_url else None,
        )
    finally:
        agent.close()
    splits = sorted({s.split for s in scenarios})
    summaries = [report.summary(sp) for sp in splits] + (
        [report.summary()] if len(splits) > 1 else []
    )
    if output == "json":
        print(json.dumps(summaries, ensure_ascii=False))
        return
    console.print(f"suite {path} · {len(scenarios)} scenario(s) · k={k} · today={ref}")
    for s in summaries:
        console.print(
            f"[bold]{s['split']}[/bold]: pass {s['pass_rate']:.1%} · "
            f"pass^{k} {s[f'pass^{k}']:.1%} · "
            f"ko {s['pass_rate_ko']:.1%} / en {s['pass_rate_en']:.1%} "
            f"(gap {s['ko_en_gap_points']} pt) · "
            f"unsupported numbers {s['unsupported_numbers']} · state changes without approval "
            f"{s['state_changes_without_approval']} · p50 {s['p50_s']}s p95 {s['p95_s']}s"
        )
        if s["judge_mean"] is not None:
            console.print(f"  LLM judge mean score {s['judge_mean']}")
        if s["failed"]:
            console.print(f"  failed: {', '.join(s['failed'])}")
            for sid, why in sorted(s["reasons"].items()):
                console.print(f"    {sid}: {why[:300]}", markup=False)
