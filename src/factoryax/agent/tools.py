"""The tool registry: typed (pydantic) tools, each read-only or state-changing.

One :class:`ToolRegistry` is exposed three ways: in-process to the agent
(:meth:`ToolRegistry.call`), to the REST layer (:func:`factoryax.agent.rest.call_tool`)
and to external agents as an MCP server (:mod:`factoryax.agent.mcp_server`). Tools get a
:class:`ToolContext` (the workspace and the reference date) and a validated input model;
they return an output model. A tool that cannot answer raises a
:class:`~factoryax.core.FactoryAXError`; the executor turns it into a "cannot answer"
result naming what is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from factoryax.config import Workspace
from factoryax.core import ConfigError, FactoryAXError

__all__ = [
    "ApprovalRequiredError",
    "Tool",
    "ToolContext",
    "ToolInputError",
    "ToolRegistry",
    "evidence_id",
    "tool",
]

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class ToolInputError(ConfigError):
    """Arguments for a tool do not validate, or the tool is unknown."""


class ApprovalRequiredError(FactoryAXError, PermissionError):
    """A state-changing tool was called directly instead of through the approval path."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may use: the workspace, the reference day and the caller.

    Attributes:
        workspace: the plant's workspace (plant model, lake, ledger folder).
        today: the plant-local date that "today" means (relative dates hang off it).
        user: who asked (recorded on state changes).
        role: the caller's role.
    """

    workspace: Workspace
    today: dt.date
    user: str = "agent"
    role: str = "viewer"


@dataclass(frozen=True)
class Tool(Generic[In, Out]):
    """One typed tool.

    Attributes:
        name: the tool name models and clients call.
        description: what it does (shown to models and MCP clients).
        input_model: the arguments.
        output_model: the result.
        fn: the implementation.
        state_changing: True when it changes the plant's records (needs approval).
        intent: the planner intent whose plan template calls it (may be empty).
    """

    name: str
    description: str
    input_model: type[In]
    output_model: type[Out]
    fn: Callable[[ToolContext, In], Out]
    state_changing: bool = False
    intent: str = ""

    def json_schema(self) -> dict[str, Any]:
        """The input JSON schema (for models and MCP clients)."""
        return self.input_model.model_json_schema()

    def openai_spec(self) -> dict[str, Any]:
        """The tool in the OpenAI chat-completions ``tools`` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description
                + (" STATE-CHANGING: requires human approval." if self.state_changing else ""),
                "parameters": self.json_schema(),
            },
        }

    def validate(self, args: Mapping[str, Any]) -> In:
        """Validated arguments, or :class:`ToolInputError` naming each bad field."""
        try:
            return self.input_model.model_validate(dict(args))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(args)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ToolInputError(
                f"tool {self.name!r}: arguments {dict(args)!r} do not validate ({problems}); "
                f"schema: {json.dumps(self.json_schema(), ensure_ascii=False)}"
            ) from None

    def run(self, ctx: ToolContext, args: Mapping[str, Any]) -> Out:
        """Validates ``args`` and runs the tool."""
        return self.fn(ctx, self.validate(args))


@dataclass
class ToolRegistry:
    """The set of tools, by name."""

    tools_: dict[str, Tool[Any, Any]] = field(default_factory=dict)

    def register(self, tool: Tool[Any, Any]) -> None:
        """Adds a tool (a name may be registered once)."""
        if tool.name in self.tools_:
            raise ConfigError(f"tool {tool.name!r} is already registered; pick another name")
        self.tools_[tool.name] = tool

    def get(self, name: str) -> Tool[Any, Any]:
        """The tool called ``name``, or :class:`ToolInputError` listing the known ones."""
        try:
            return self.tools_[name]
        except KeyError:
            raise ToolInputError(
                f"unknown tool {name!r}; known tools: {sorted(self.tools_)!r}"
            ) from None

    def __iter__(self) -> Iterator[Tool[Any, Any]]:
        return iter(self.tools_.values())

    def __contains__(self, name: object) -> bool:
        return name in self.tools_

    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self.tools_)

    def call(self, ctx: ToolContext, name: str, args: Mapping[str, Any]) -> BaseModel:
        """Runs one read-only tool directly (no role check, no tracing: callers add those).

        Raises:
            ApprovalRequiredError: ``name`` is state-changing; those run only through
                :meth:`factoryax.agent.Agent.ask` (which parks them as a pending action)
                and :meth:`factoryax.agent.Agent.approve`.
        """
        tool_ = self.get(name)
        if tool_.state_changing:
            raise ApprovalRequiredError(
                f"tool {name!r} changes the plant's records and needs human approval; "
                "call it through Agent.ask (it becomes a pending action) and run it with "
                "Agent.approve by another user, not ToolRegistry.call"
            )
        out: BaseModel = tool_.run(ctx, args)
        return out


def tool(
    registry: ToolRegistry,
    name: str,
    description: str,
    input_model: type[In],
    output_model: type[Out],
    *,
    state_changing: bool = False,
    intent: str = "",
) -> Callable[[Callable[[ToolContext, In], Out]], Callable[[ToolContext, In], Out]]:
    """Decorator registering ``fn(ctx, args) -> output`` as a tool of ``registry``."""

    def wrap(fn: Callable[[ToolContext, In], Out]) -> Callable[[ToolContext, In], Out]:
        registry.register(
            Tool(name, description, input_model, output_model, fn, state_changing, intent)
        )
        return fn

    return wrap


def evidence_id(tool_name: str, args: Mapping[str, Any], output: Mapping[str, Any]) -> str:
    """A short stable id of one tool result (same call, same data → same id).

    Examples:
        >>> evidence_id("get_kpis", {"period": "2026-11-23"}, {"oee": 0.8})
        'ev-221bfbf256'
    """
    blob = json.dumps([tool_name, args, output], sort_keys=True, default=str, ensure_ascii=False)
    return "ev-" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:10]


def is_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is an expected, explainable failure of a tool."""
    return isinstance(exc, FactoryAXError | KeyError | LookupError)
