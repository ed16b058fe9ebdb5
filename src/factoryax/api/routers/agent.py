"""The plant assistant over HTTP: ask, read a trace, list and approve pending actions.

One :class:`~factoryax.agent.Agent` per API context (built the way ``factoryax ask``
builds it: ``Agent(workspace, AgentConfig(...))``, offline by default), created at the
first request; :func:`configure_agent` installs one with other settings (an LLM endpoint,
a fixed reference date). Questions are asked as the caller's token name and role, so the
agent's own role policy decides which tools they reach; a state-changing call becomes a
pending action that ``POST /api/agent/approve`` runs for another user whose role the
agent allows (its refusal comes back as 403 with its message).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from factoryax.agent import Agent, AgentConfig, ApprovalError, PendingAction
from factoryax.api.auth import AuthError, Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.core import ConfigError

__all__ = [
    "AgentLookupError",
    "Approve",
    "Ask",
    "agent_of",
    "close_agent",
    "configure_agent",
    "router",
]

router = APIRouter(prefix="/api/agent", tags=["agent"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]

MAX_OUTPUT_CHARS = 20_000
"""Tool outputs longer than this (as JSON) are left out of the answer's evidence list."""

_agents: dict[int, tuple[ApiContext, Agent, threading.Lock]] = {}
_guard = threading.Lock()


class AgentLookupError(ConfigError, LookupError):
    """An unknown trace or pending action (404)."""


class Ask(BaseModel):
    """A question in Korean or English (``lang`` default: detected)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    lang: Literal["ko", "en"] | None = None


class Approve(BaseModel):
    """A pending action to approve and run."""

    model_config = ConfigDict(extra="forbid")

    pending_id: str = Field(pattern=r"^pa-[0-9a-f]{4,64}$")


def configure_agent(ctx: ApiContext, config: AgentConfig | None = None) -> Agent:
    """Builds (replacing any earlier one) the agent the API uses for ``ctx``'s workspace."""
    agent = Agent(ctx.ws, config or AgentConfig())
    with _guard:
        old = _agents.pop(id(ctx), None)
        _agents[id(ctx)] = (ctx, agent, threading.Lock())
    if old is not None:
        with old[2]:
            old[1].close()
    return agent


def close_agent(ctx: ApiContext) -> None:
    """Closes and forgets ``ctx``'s agent (its approval, prompt and trace stores)."""
    with _guard:
        old = _agents.pop(id(ctx), None)
    if old is not None:
        with old[2]:
            old[1].close()


def agent_of(ctx: ApiContext) -> tuple[Agent, threading.Lock]:
    """``ctx``'s agent (built with default settings at first use) and its lock."""
    with _guard:
        hit = _agents.get(id(ctx))
        if hit is not None and hit[0] is ctx:
            return hit[1], hit[2]
    configure_agent(ctx)
    with _guard:
        _, agent, lock = _agents[id(ctx)]
    return agent, lock


def _pending(action: PendingAction | None) -> dict[str, Any] | None:
    return dataclasses.asdict(action) if action is not None else None


def _output(output: dict[str, Any] | None) -> dict[str, Any] | None:
    if output is None:
        return None
    size = len(json.dumps(output, ensure_ascii=False, default=str))
    return output if size <= MAX_OUTPUT_CHARS else {"omitted_chars": size}


@router.post("/ask")
def ask(body: Ask, who: Viewer, ctx: Ctx) -> dict[str, Any]:
    """Asks the assistant as the caller (token name and role): the grounded answer, the
    evidence ids it cites, its trace id and any action waiting for approval."""
    agent, lock = agent_of(ctx)
    with lock:
        r = agent.ask(body.text, user=who.name, role=who.role.value, lang=body.lang)
    return {
        "answer": r.answer,
        "lang": r.lang,
        "intent": r.intent,
        "planner": r.planner,
        "fallback": r.fallback,
        "citations": r.citations,
        "evidence": [
            {
                "id": e.id,
                "tool": e.tool,
                "args": e.args,
                "error": e.error,
                "output": _output(e.output),
            }
            for e in r.evidence
        ],
        "trace_id": r.trace_id,
        "pending": _pending(r.pending),
        "clarify": r.clarify,
        "options": r.options,
        "abstained": r.abstained,
        "blocked": r.blocked,
        "unsupported": r.unsupported,
        "latency_s": round(r.latency_s, 3),
    }


@router.get("/traces/{trace_id}")
def trace(trace_id: str, _: Viewer, ctx: Ctx) -> dict[str, Any]:
    """The spans of one trace from the agent's trace store, in start order."""
    agent, _lock = agent_of(ctx)
    store = agent.tracer.store
    if store is None:
        raise ConfigError("tracing is off for this server's agent (AgentConfig.tracing=False)")
    spans = store.spans(trace_id)
    if not spans:
        raise AgentLookupError(f"no trace {trace_id!r} in the agent's trace store; ask again")
    return {
        "trace_id": trace_id,
        "spans": [
            {
                "span_id": s.span_id,
                "parent_id": s.parent_id,
                "name": s.name,
                "status": s.status,
                "start_ns": s.start_ns,
                "duration_ms": round(s.duration_s * 1000, 3),
                "attributes": s.attributes,
            }
            for s in spans
        ],
    }


@router.get("/pending")
def pending(_: Viewer, ctx: Ctx) -> list[dict[str, Any]]:
    """Actions waiting for approval, newest first."""
    agent, _lock = agent_of(ctx)
    return [dataclasses.asdict(a) for a in agent.approvals.list("pending")]


@router.post("/approve")
def approve(body: Approve, who: Viewer, ctx: Ctx) -> dict[str, Any]:
    """Approves and runs a pending action as the caller; approving a finished one returns
    its stored result again (idempotent). The agent refuses (403, its message) a role its
    policy does not allow for the tool and the requester approving their own action."""
    agent, lock = agent_of(ctx)
    if agent.approvals.get(body.pending_id) is None:
        raise AgentLookupError(
            f"no pending action {body.pending_id!r}; GET /api/agent/pending lists them"
        )
    try:
        with lock, ctx.write_lock:
            action = agent.approve(body.pending_id, user=who.name, role=who.role.value)
    except ApprovalError as exc:
        raise AuthError(str(exc), status=403) from None
    return dataclasses.asdict(action)
