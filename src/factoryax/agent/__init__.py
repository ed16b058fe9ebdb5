"""The plant's assistant: typed tools, offline ko/en planner, LLM planner, approvals, MCP.

Contract:
- one :class:`ToolRegistry` (:func:`build_registry`) of typed tools, each read-only or
  state-changing, exposed in-process, over REST (:func:`call_tool`) and over MCP
  (:func:`build_mcp_server`);
- :meth:`Agent.ask` answers in Korean or English; every number and entity in an answer
  comes from a tool result whose evidence id is cited, else the answer says
  "cannot answer: missing X"; an ambiguous slot gets a clarifying question, not a guess;
- a state-changing call never runs from a question: it becomes a
  :class:`PendingAction` that :meth:`Agent.approve` runs once, for another user whose role
  allows it;
- with no LLM configured nothing leaves the machine; with one, any failure falls back to
  the offline planner and the trace says why.
"""

from __future__ import annotations

from factoryax.agent.agent import (
    Agent,
    AgentConfig,
    AgentResult,
    ApprovalError,
    LlmConfig,
    default_suite,
    load_intent_model,
)
from factoryax.agent.answer import Evidence, check_grounding
from factoryax.agent.approval import ApprovalStore, PendingAction
from factoryax.agent.mcp_server import build_mcp_server, serve_stdio
from factoryax.agent.nlu import IntentModel, Slots, detect_lang, fill_slots
from factoryax.agent.plant_tools import NotFoundError, build_registry
from factoryax.agent.rest import call_tool, list_tools
from factoryax.agent.tools import (
    ApprovalRequiredError,
    Tool,
    ToolContext,
    ToolInputError,
    ToolRegistry,
    tool,
)

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentResult",
    "ApprovalError",
    "ApprovalRequiredError",
    "ApprovalStore",
    "Evidence",
    "IntentModel",
    "LlmConfig",
    "NotFoundError",
    "PendingAction",
    "Slots",
    "Tool",
    "ToolContext",
    "ToolInputError",
    "ToolRegistry",
    "build_mcp_server",
    "build_registry",
    "call_tool",
    "check_grounding",
    "default_suite",
    "detect_lang",
    "fill_slots",
    "list_tools",
    "load_intent_model",
    "serve_stdio",
    "tool",
]
