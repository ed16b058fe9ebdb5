"""The registry as plain functions a REST router can mount (no web framework here).

``list_tools()`` describes the tools; ``call_tool(agent, name, args, user, role)`` runs a
read-only tool or returns the pending action of a state-changing one, as JSON-ready dicts.
"""

from __future__ import annotations

from typing import Any

from factoryax.agent.agent import Agent
from factoryax.agent.plan import ToolCall
from factoryax.agent.tools import ToolContext, ToolRegistry

__all__ = ["call_tool", "list_tools"]


def list_tools(registry: ToolRegistry) -> list[dict[str, Any]]:
    """Name, description, input schema and state-changing flag of every tool."""
    return [
        {
            "name": t.name,
            "description": t.description,
            "state_changing": t.state_changing,
            "input_schema": t.json_schema(),
        }
        for t in registry
    ]


def call_tool(
    agent: Agent, name: str, args: dict[str, Any], user: str, role: str
) -> dict[str, Any]:
    """Runs ``name`` with ``args`` for ``user``/``role`` through the agent's checks.

    Returns ``{"evidence_id", "result"}``, ``{"error"}``, or ``{"pending": {...}}``.
    """
    from factoryax.agent.agent import Session

    ctx = ToolContext(agent.workspace, agent.today(), user, role)
    session = Session(agent, ctx, f"REST call {name}", agent.tracer)
    out = session.execute(ToolCall(name, dict(args)))
    if session.refused:
        return {"error": "; ".join(session.refused)}
    if session.pending is not None:
        return {"pending": {"id": session.pending.id, "tool": name, "args": session.pending.args}}
    if out is None or not session.evidence:
        return {"error": "the tool did not run"}
    ev = session.evidence[-1]
    if ev.error is not None:
        return {"evidence_id": ev.id, "error": ev.error}
    return {"evidence_id": ev.id, "result": ev.output}
