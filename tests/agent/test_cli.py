"""The CLI commands, mounted on a local Typer app as cli/__init__.py will mount them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from factoryax.api import API_DIR, Role, TokenStore
from factoryax.cli.agent import app as agent_app
from factoryax.cli.agent import ask
from factoryax.cli.eval import app as eval_app
from factoryax.config import Workspace


def _app() -> typer.Typer:
    root = typer.Typer()
    root.command()(ask)
    root.add_typer(agent_app, name="agent")
    root.add_typer(eval_app, name="eval")
    return root


def _tokens(workspace: Workspace) -> dict[str, str]:
    """Tokens for kim (quality), park (admin) and lee (viewer) in the workspace's store."""
    store = TokenStore(workspace.root / API_DIR / "api.sqlite")
    try:
        return {
            "kim": store.issue("kim", Role.QUALITY),
            "park": store.issue("park", Role.ADMIN),
            "lee": store.issue("lee", Role.VIEWER),
        }
    finally:
        store.close()


def test_ask_then_approve(workspace: Workspace, lot: str) -> None:
    """`ask` with kim's token parks the issue; `agent approve` by another token runs it."""
    runner = CliRunner()
    w = str(workspace.root)
    ref = lot.rsplit("-", 1)[1]
    tok = _tokens(workspace)
    r = runner.invoke(
        _app(),
        [
            "ask",
            f"로트 {ref} 성적서 발행해줘",
            "-w",
            w,
            "--token",
            tok["kim"],
            "--today",
            "2026-11-24",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["user"], out["role"]) == ("kim", "quality")
    pending = out["pending"]
    assert pending and pending.startswith("pa-")
    approve = ["agent", "approve", pending, "-w", w, "--token"]
    r = runner.invoke(_app(), [*approve, tok["kim"]])
    assert r.exit_code == 2 and "cannot approve" in r.output
    r = runner.invoke(_app(), [*approve, tok["lee"]])
    assert r.exit_code == 2 and "may not approve" in r.output
    r = runner.invoke(_app(), [*approve, tok["park"][:-2] + "xx"])
    assert r.exit_code == 2 and "invalid or revoked token" in r.output
    r = runner.invoke(_app(), [*approve, tok["park"]])
    assert r.exit_code == 0 and "done" in r.output and "approved by park" in r.output


def test_ask_identity_comes_from_a_token_or_is_a_local_viewer(
    workspace: Workspace, lot: str
) -> None:
    """No self-declared role: -u/-r are gone; without a token the asker is a local viewer,
    so an issue request is refused by role; a bad token is refused outright."""
    runner = CliRunner()
    w = str(workspace.root)
    ref = lot.rsplit("-", 1)[1]
    question = f"로트 {ref} 성적서 발행해줘"
    r = runner.invoke(_app(), ["ask", question, "-w", w, "-u", "x", "-r", "admin"])
    assert r.exit_code == 2 and "No such option" in r.output
    r = runner.invoke(
        _app(),
        ["ask", question, "-w", w, "--today", "2026-11-24", "--json"],
        env={"FACTORYAX_TOKEN": ""},
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["user"], out["role"]) == ("local", "viewer")
    assert out["pending"] is None and out["abstained"] and "permission" in out["answer"]
    _tokens(workspace)
    r = runner.invoke(_app(), ["ask", question, "-w", w, "--token", "fax_not-a-token"])
    assert r.exit_code == 2 and "refused" in r.output


def test_mcp_takes_no_self_declared_role(workspace: Workspace) -> None:
    """`agent mcp` has no --role/--user; a bad token is refused before serving."""
    runner = CliRunner()
    w = str(workspace.root)
    r = runner.invoke(_app(), ["agent", "mcp", "-w", w, "-r", "admin"])
    assert r.exit_code == 2 and "No such option" in r.output
    _tokens(workspace)
    r = runner.invoke(_app(), ["agent", "mcp", "-w", w, "--token", "fax_not-a-token"])
    assert r.exit_code == 2 and "refused" in r.output


def test_approve_identity_comes_only_from_a_token(workspace: Workspace) -> None:
    """A self-declared user/role is not accepted: --role is gone, --token is required."""
    runner = CliRunner()
    w = str(workspace.root)
    r = runner.invoke(_app(), ["agent", "approve", "pa-x", "-w", w, "-u", "x", "-r", "admin"])
    assert r.exit_code == 2 and "No such option" in r.output
    r = runner.invoke(_app(), ["agent", "approve", "pa-x", "-w", w], env={"FACTORYAX_TOKEN": ""})
    assert r.exit_code == 2


def test_eval_run_reports_figures(workspace: Workspace, tmp_path: Path) -> None:
    """`eval run` scores a small suite and prints pass rate, pass^k and latency."""
    lines = [
        {
            "id": "a-ko",
            "text": "어제 OEE 알려줘",
            "lang": "ko",
            "category": "kpi",
            "scoring": "tool_call",
            "expected_tool": "get_kpis",
            "expected_args": {"period": "{yesterday}"},
        },
        {
            "id": "a-en",
            "text": "What's the weather tomorrow?",
            "lang": "en",
            "category": "unanswerable",
            "scoring": "abstain",
        },
        {
            "id": "b-en",
            "text": "Show the vibration control chart",
            "lang": "en",
            "category": "ambiguous",
            "scoring": "clarify",
        },
    ]
    suite = tmp_path / "s.jsonl"
    suite.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    r = CliRunner().invoke(
        _app(), ["eval", "run", str(suite), "-w", str(workspace.root), "-k", "2", "-o", "json"]
    )
    assert r.exit_code == 0, r.output
    (summary,) = json.loads(r.output)
    assert summary["runs"] == 6 and summary["pass_rate"] == 1.0 and summary["pass^2"] == 1.0
    assert summary["p95_s"] >= summary["p50_s"] > 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "t", "lang": "fr"}\n', encoding="utf-8")
    r = CliRunner().invoke(_app(), ["eval", "run", str(bad), "-w", str(workspace.root)])
    assert r.exit_code == 2 and "line 1" in r.output


def test_eval_with_llm_judge_at_a_loopback_endpoint(workspace: Workspace, tmp_path: Path) -> None:
    """The optional judge grades each answer; its mean is reported beside the scores."""
    from factoryax.testing import ScriptedLLM, Step

    suite = tmp_path / "s.jsonl"
    line = {
        "id": "j-ko",
        "text": "어제 OEE 알려줘",
        "lang": "ko",
        "category": "kpi",
        "scoring": "tool_call",
        "expected_tool": "get_kpis",
        "expected_args": {"period": "{yesterday}"},
    }
    suite.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with ScriptedLLM([Step(content='{"score": 1}'), Step(content="no json here")]) as judge:
        r = CliRunner().invoke(
            _app(),
            [
                "eval",
                "run",
                str(suite),
                "-w",
                str(workspace.root),
                "-k",
                "2",
                "-o",
                "json",
                "--judge-url",
                judge.base_url,
            ],
        )
    assert r.exit_code == 0, r.output
    (summary,) = json.loads(r.output)
    assert summary["judge_mean"] == 1.0 and summary["pass_rate"] == 1.0
    body = judge.requests[0]["messages"][1]["content"]
    assert "get_kpis" in body and "어제 OEE" in body
