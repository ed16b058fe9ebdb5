"""The registry over MCP (the SDK's stdio client) and as plain REST functions."""

from __future__ import annotations

import asyncio
import json
import sys

from factoryax.agent import Agent, build_registry, call_tool, list_tools
from factoryax.config import Workspace


def test_rest_functions_run_tools_and_park_state_changes(agent: Agent, lot: str) -> None:
    """call_tool runs read-only tools and returns a pending action for a state change."""
    names = {t["name"]: t["state_changing"] for t in list_tools(build_registry())}
    assert names["issue_certificate"] and not names["get_kpis"]
    out = call_tool(agent, "draft_certificate", {"lot": lot}, "kim", "viewer")
    assert out["result"]["lot"] == lot and out["evidence_id"].startswith("ev-")
    assert "pending" in call_tool(agent, "issue_certificate", {"lot": lot}, "kim", "quality")
    assert (
        "may not use"
        in call_tool(agent, "issue_certificate", {"lot": lot}, "kim", "viewer")["error"]
    )


def test_mcp_server_over_stdio(workspace: Workspace) -> None:
    """The SDK's stdio client lists the tools and calls one."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    code = (
        "import asyncio, datetime as dt, sys;"
        "from factoryax.agent import Agent, AgentConfig, serve_stdio;"
        "from factoryax.config import Workspace;"
        "a = Agent(Workspace.find(sys.argv[1]), AgentConfig(today=dt.date(2026, 11, 24)));"
        "asyncio.run(serve_stdio(a))"
    )
    params = StdioServerParameters(command=sys.executable, args=["-c", code, str(workspace.root)])

    async def main() -> tuple[list[str], dict[str, object]]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("get_kpis", {"period": "2026-11-23"})
            text = result.content[0].text  # type: ignore[union-attr]
            return [t.name for t in tools.tools], json.loads(text)

    names, out = asyncio.run(main())
    assert "get_kpis" in names and "ack_alarm" in names
    assert out["result"]["period"] == "2026-11-23"  # type: ignore[index]


def test_detect_tools_list_and_gate_promotion(agent: Agent) -> None:
    """list_models reads the registry; promote_model waits for approval, then reports a
    version that does not exist as a failure instead of promoting anything."""
    listed = call_tool(agent, "list_models", {}, "kim", "viewer")
    assert listed["result"] == {"count": 0, "models": []}
    parked = call_tool(
        agent, "promote_model", {"name": "press-01-pca", "version": 1}, "kim", "engineer"
    )
    action = agent.approve(parked["pending"]["id"], user="lee", role="engineer")
    assert action.status == "failed" and action.error is not None and "press-01-pca" in action.error
