"""The tool registry as an MCP server (the ``mcp`` SDK's low-level server), over stdio.

Each tool becomes an MCP tool with its JSON schema; calls go through the same role check
and approval path as the agent: a state-changing tool returns its pending action.
"""

from __future__ import annotations

import json
from typing import Any

from factoryax.agent.agent import Agent

__all__ = ["build_mcp_server", "serve_stdio"]


def build_mcp_server(agent: Agent, *, user: str = "mcp", role: str = "viewer") -> Any:
    """An MCP ``Server`` exposing ``agent``'s tools for ``user`` acting as ``role``."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    from factoryax.agent.rest import call_tool

    server: Any = Server("factoryax")

    @server.list_tools()  # type: ignore[untyped-decorator]  # the SDK's decorator is untyped
    async def _list() -> list[types.Tool]:
        return [
            types.Tool(
                name=t.name,
                description=t.description
                + (
                    " STATE-CHANGING: returns a pending action for approval."
                    if t.state_changing
                    else ""
                ),
                inputSchema=t.json_schema(),
            )
            for t in agent.registry
        ]

    @server.call_tool()  # type: ignore[untyped-decorator]  # the SDK's decorator is untyped
    async def _call(name: str, arguments: dict[str, Any]) -> list[types.TextContent]:
        out = call_tool(agent, name, dict(arguments or {}), user, role)
        return [types.TextContent(type="text", text=json.dumps(out, ensure_ascii=False))]

    return server


async def serve_stdio(agent: Agent, *, user: str = "mcp", role: str = "viewer") -> None:
    """Serves the tools over stdin/stdout until the client disconnects."""
    from mcp.server.stdio import stdio_server

    server = build_mcp_server(agent, user=user, role=role)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
