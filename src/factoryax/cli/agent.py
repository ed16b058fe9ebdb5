"""``factoryax ask …`` and ``factoryax agent …``: the plant assistant from the shell.

Mount in ``cli/__init__.py``::

    from factoryax.cli.agent import app as agent_app, ask
    app.add_typer(agent_app, name="agent")
    app.command()(ask)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from factoryax.agent import Agent, AgentConfig, ApprovalError, LlmConfig, serve_stdio
from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.core import FactoryAXError

__all__ = ["app", "ask"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="The plant assistant: approvals, pending actions, traces and the MCP server "
    "(see docs/agent.md).",
    no_args_is_help=True,
)

LOCAL_USER = "local"
LOCAL_ROLE = "viewer"
"""Offline local mode: without a token the caller is ``local`` with the ``viewer`` role
(read-only tools; every state-changing request is refused). Nobody types a role in."""

AskTokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="FACTORYAX_TOKEN",
        help="Your API token (fax_…, from `factoryax token issue`; or $FACTORYAX_TOKEN): "
        "name and role are the token's. Without one: offline local mode, user 'local', "
        "role 'viewer' (read-only).",
    ),
]
TodayOpt = Annotated[
    str | None,
    typer.Option("--today", help="Reference date YYYY-MM-DD (default: today, plant zone)."),
]


def _agent(
    workspace: object, today: str | None, llm_url: str | None = None, llm_model: str | None = None
) -> Agent:
    ws = open_workspace(workspace)  # type: ignore[arg-type]
    llm = LlmConfig(base_url=llm_url, model=llm_model or "default") if llm_url else None
    return Agent(ws, AgentConfig(today=dt.date.fromisoformat(today) if today else None, llm=llm))


def ask(
    question: Annotated[str, typer.Argument(help="The question, in Korean or English.")],
    workspace: WorkspaceOpt = None,
    token: AskTokenOpt = None,
    today: TodayOpt = None,
    llm_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    llm_model: Annotated[str | None, typer.Option(help="Model name at --llm-url.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Ask the plant assistant (offline by default). Example: factoryax ask "어제 OEE 알려줘".

    Who asks comes from --token (an API token of this workspace); without one the question
    runs in offline local mode as a viewer, so a state change can only be requested with
    a token whose role allows it.
    """
    user, role = _identity(workspace, token)
    agent = _agent(workspace, today, llm_url, llm_model)
    try:
        result = agent.ask(question, user=user, role=role)
    finally:
        agent.close()
    if as_json:
        print(
            json.dumps(
                {
                    "answer": result.answer,
                    "intent": result.intent,
                    "citations": result.citations,
                    "trace_id": result.trace_id,
                    "pending": result.pending.id if result.pending else None,
                    "clarify": result.clarify,
                    "abstained": result.abstained,
                    "planner": result.planner,
                    "fallback": result.fallback,
                    "user": user,
                    "role": role,
                },
                ensure_ascii=False,
            )
        )
        return
    console.print(escape(result.answer))
    console.print(f"[dim]trace {result.trace_id} · planner {result.planner}[/dim]")


TokenOpt = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="FACTORYAX_TOKEN",
        help="Your API token (fax_…, from `factoryax token issue`; or $FACTORYAX_TOKEN). "
        "The approver's name and role are the token's, never typed in.",
    ),
]


def _principal(workspace: object, token: str) -> tuple[str, str]:
    """The name and role of ``token`` in the workspace's API token store."""
    from factoryax.api import API_DIR, TokenStore

    ws = open_workspace(workspace)  # type: ignore[arg-type]
    path = ws.root / API_DIR / "api.sqlite"
    if not path.is_file():
        raise ApprovalError(
            f"no API token store at {str(path)!r}; an admin issues tokens with "
            "`factoryax token issue NAME --role ROLE`"
        )
    store = TokenStore(path)
    try:
        principal = store.authenticate(token)
    finally:
        store.close()
    site = ws.plant.site.id
    if not principal.sees_site(site):
        raise ApprovalError(
            f"token of {principal.name!r} is scoped to {list(principal.sites)!r}, not site "
            f"{site!r}; use a token for this site"
        )
    return principal.name, principal.role.value


def _identity(workspace: object, token: str | None) -> tuple[str, str]:
    """The caller's name and role: the token's, or offline local mode without a token.

    Exits with status 2 (``refused: …``) for an unknown, revoked or off-site token.
    """
    from factoryax.api import AuthError

    if not token:
        return LOCAL_USER, LOCAL_ROLE
    try:
        return _principal(workspace, token)
    except (AuthError, ApprovalError) as exc:
        err_console.print(f"[red]refused:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def approve(
    pending_id: Annotated[str, typer.Argument(help="The pending action id (pa-…).")],
    token: TokenOpt,
    workspace: WorkspaceOpt = None,
) -> None:
    """Approve and run a pending state-changing action (idempotent).

    A trusted local operator action: the approver is the holder of --token (an API token
    of this workspace); name and role come from the token, and the requester cannot
    approve their own action.
    """
    from factoryax.api import AuthError

    try:
        user, role = _principal(workspace, token)
    except (AuthError, ApprovalError) as exc:
        err_console.print(f"[red]refused:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    agent = _agent(workspace, None)
    try:
        action = agent.approve(pending_id, user=user, role=role)
    except ApprovalError as exc:
        err_console.print(f"[red]refused:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        agent.close()
    console.print(f"{action.id}: {action.status} (approved by {action.approved_by})")
    if action.error:
        console.print(f"[red]error:[/red] {escape(action.error)}")
    elif action.result:
        console.print_json(json.dumps(action.result, ensure_ascii=False))


@app.command()
def pending(workspace: WorkspaceOpt = None) -> None:
    """List pending actions waiting for approval."""
    agent = _agent(workspace, None)
    try:
        for a in agent.approvals.list("pending"):
            console.print(
                f"{a.id}  {a.tool} {json.dumps(a.args, ensure_ascii=False)}  by {a.requested_by}"
            )
    finally:
        agent.close()


@app.command()
def mcp(
    workspace: WorkspaceOpt = None,
    token: AskTokenOpt = None,
) -> None:
    """Serve the plant's tools as an MCP server over stdio.

    The session acts as the holder of --token (its name and role scope the tools); without
    a token, offline local mode: user 'local', role 'viewer'.
    """
    user, role = _identity(workspace, token)
    agent = _agent(workspace, None)
    try:
        asyncio.run(serve_stdio(agent, user=user, role=role))
    except FactoryAXError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        agent.close()
