"""The LLM planner: any OpenAI-compatible chat-completions endpoint, with tool calls.

Retries are separated by kind: transport failures (timeouts, connection errors, HTTP 5xx
and 429) are retried ``transport_retries`` times; a malformed tool call (arguments that
are not JSON or do not validate, an unknown tool) is sent back to the model to repair up
to ``repair_retries`` times; anything else (HTTP 4xx, a malformed response body) is not
retried. A step cap and loop detection (the same call twice) end the run. Whenever the
model cannot finish, the offline planner answers and the trace records why.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from factoryax.agent.approval import PendingAction
from factoryax.agent.plan import ToolCall
from factoryax.agent.tools import ToolInputError
from factoryax.llmops.guard import quote_data
from factoryax.llmops.trace import ATTR

__all__ = ["LlmPlanner"]


class _GiveUp(Exception):
    """The model run cannot continue; ``args[0]`` is the reason recorded in the trace."""


class LlmPlanner:
    """Plans with a model; falls back to ``offline`` (recorded as ``factoryax.fallback``)."""

    name = "llm"

    def __init__(self, config: Any, offline: Any, system_prompt: str) -> None:
        self.config = config
        self.offline = offline
        self.system_prompt = system_prompt

    def _post(
        self, session: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        cfg = self.config
        headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        body = {"model": cfg.model, "messages": messages, "tools": tools, "temperature": 0}
        last = ""
        for attempt in range(cfg.transport_retries + 1):
            with session.tracer.span(
                f"chat {cfg.model}",
                {
                    ATTR["operation"]: "chat",
                    ATTR["provider"]: "openai",
                    ATTR["request_model"]: cfg.model,
                    "factoryax.attempt": attempt,
                },
            ) as span:
                try:
                    r = httpx.post(
                        cfg.base_url.rstrip("/") + "/chat/completions",
                        json=body,
                        headers=headers,
                        timeout=cfg.timeout_s,
                    )
                except httpx.TransportError as exc:
                    span.fail(type(exc).__name__)
                    last = f"transport: {type(exc).__name__}"
                    time.sleep(min(0.05 * 2**attempt, 1.0))
                    continue
                if r.status_code >= 500 or r.status_code == 429:
                    span.fail(f"http_{r.status_code}")
                    last = f"transport: HTTP {r.status_code}"
                    time.sleep(min(0.05 * 2**attempt, 1.0))
                    continue
                if r.status_code >= 400:
                    span.fail(f"http_{r.status_code}")
                    raise _GiveUp(f"client error: HTTP {r.status_code}")
                try:
                    data: dict[str, Any] = r.json()
                    usage = data.get("usage") or {}
                    span.set(ATTR["input_tokens"], int(usage.get("prompt_tokens", 0)))
                    span.set(ATTR["output_tokens"], int(usage.get("completion_tokens", 0)))
                    span.set(ATTR["response_model"], str(data.get("model", cfg.model)))
                    session.input_tokens += int(usage.get("prompt_tokens", 0))
                    session.output_tokens += int(usage.get("completion_tokens", 0))
                    message = data["choices"][0]["message"]
                    span.set(ATTR["finish_reasons"], str(data["choices"][0].get("finish_reason")))
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    span.fail("malformed_response")
                    raise _GiveUp(f"malformed response: {type(exc).__name__}") from None
                return dict(message)
        raise _GiveUp(f"{last} after {cfg.transport_retries + 1} attempt(s)")

    def run(self, question: str, lang: str, session: Any) -> Any:
        """Runs the model loop; on any give-up, the offline planner answers."""
        try:
            return self._run(question, lang, session)
        except _GiveUp as exc:
            reason = str(exc)
        session.evidence.clear()
        session.calls.clear()
        outcome = self.offline.run(question, lang, session)
        outcome.fallback = reason
        return outcome

    def _run(self, question: str, lang: str, session: Any) -> Any:
        from factoryax.agent.agent import Outcome

        reg = session.agent.registry
        roles = session.agent.config.roles
        tools = [
            t.openai_spec()
            for t in reg
            if roles.allows(session.ctx.role, t.name, state_changing=t.state_changing)
        ]
        messages: list[dict[str, Any]] = [
            {
                "role": "system",
                "content": f"{self.system_prompt} Today is {session.ctx.today.isoformat()} "
                f"(plant-local); answer in {'Korean' if lang == 'ko' else 'English'}.",
            },
            {"role": "user", "content": question},
        ]
        seen: set[str] = set()
        repairs = 0
        for _step in range(self.config.max_steps):
            message = self._post(session, messages, tools)
            calls = message.get("tool_calls") or []
            if not calls:
                text = message.get("content")
                if not isinstance(text, str) or not text.strip():
                    raise _GiveUp("empty answer")
                intent = session.evidence[-1].tool if session.evidence else "llm"
                return Outcome(intent=intent, text=text)
            messages.append(
                {"role": "assistant", "content": message.get("content"), "tool_calls": calls}
            )
            for call in calls:
                fn = call.get("function") or {}
                name, raw, call_id = fn.get("name"), fn.get("arguments") or "{}", call.get("id", "")
                try:
                    args = json.loads(raw) if isinstance(raw, str) else dict(raw)
                    if not isinstance(args, dict):
                        raise ValueError("arguments must be a JSON object")
                    reg.get(str(name)).validate(args)
                except (ValueError, ToolInputError) as exc:
                    repairs += 1
                    if repairs > self.config.repair_retries:
                        raise _GiveUp(f"malformed tool call after {repairs} repair(s)") from None
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": call_id,
                            "content": f"error: {exc}. Fix the call.",
                        }
                    )
                    continue
                key = json.dumps([name, args], sort_keys=True)
                if key in seen:
                    raise _GiveUp(f"loop: {name} called twice with the same arguments")
                seen.add(key)
                result = session.execute(ToolCall(str(name), args))
                if isinstance(result, PendingAction):
                    return Outcome(intent=str(name))
                if result is None:
                    return Outcome(intent=str(name))
                payload = {"evidence_id": result.id, "result": result.output, "error": result.error}
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "content": quote_data(json.dumps(payload, ensure_ascii=False)),
                    }
                )
        raise _GiveUp(f"step cap ({self.config.max_steps}) reached")
