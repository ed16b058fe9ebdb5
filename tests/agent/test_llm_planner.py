"""The LLM planner against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json

from factoryax.agent import Agent, AgentConfig, LlmConfig
from factoryax.config import Workspace
from factoryax.testing import ScriptedLLM, Step

from .conftest import TODAY


def _agent(ws: Workspace, url: str, **kw: object) -> Agent:
    llm = LlmConfig(base_url=url, model="scripted", timeout_s=kw.pop("timeout_s", 5.0), **kw)  # type: ignore[arg-type]
    return Agent(ws, AgentConfig(today=TODAY, llm=llm))


def test_tool_call_round_trip_with_grounded_final_answer(workspace: Workspace) -> None:
    """The model calls get_kpis, then answers with a number from the result."""
    with ScriptedLLM(
        [Step(tool_calls=[("get_kpis", json.dumps({"period": "2026-11-23"}))])]
    ) as srv:
        agent = _agent(workspace, srv.base_url)
        out = agent.offline  # for the expected figure
        del out
        # the second reply must quote the real OEE: compute it first
        from factoryax.agent import build_registry
        from factoryax.agent.tools import ToolContext

        kpi = build_registry().call(
            ToolContext(workspace, TODAY), "get_kpis", {"period": "2026-11-23"}
        )
        oee = kpi.model_dump()["oee"]
        srv.steps.append(Step(content=f"OEE was {100 * oee:.1f}% on 2026-11-23."))
        r = agent.ask("What was the OEE yesterday?", user="kim", role="viewer")
        agent.close()
    assert r.planner == "llm" and r.fallback is None and not r.blocked
    assert r.answer.startswith(f"OEE was {100 * oee:.1f}%")
    assert r.input_tokens == 200 and r.output_tokens == 40
    tool_msg = srv.requests[1]["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"].startswith("<data")
    assert {t["function"]["name"] for t in srv.requests[0]["tools"]} >= {"get_kpis"}
    assert "issue_certificate" not in {t["function"]["name"] for t in srv.requests[0]["tools"]}


def test_invented_number_is_blocked(workspace: Workspace) -> None:
    """A final answer with a number no tool returned is replaced by the grounded one."""
    steps = [
        Step(tool_calls=[("get_kpis", json.dumps({"period": "2026-11-23"}))]),
        Step(content="OEE was 97.3% yesterday."),
    ]
    with ScriptedLLM(steps) as srv:
        agent = _agent(workspace, srv.base_url)
        r = agent.ask("What was the OEE yesterday?", user="kim", role="viewer")
        agent.close()
    assert r.blocked and "97.3%" in r.unsupported and "97.3" not in r.answer
    assert r.citations[0] in r.answer


def test_malformed_arguments_are_repaired(workspace: Workspace) -> None:
    """Bad JSON goes back to the model as an error; the repaired call succeeds."""
    steps = [
        Step(tool_calls=[("get_kpis", "{period: 2026-11-23")]),
        Step(tool_calls=[("get_kpis", json.dumps({"period": "2026-11-23"}))]),
        Step(content="Done, see the evidence."),
    ]
    with ScriptedLLM(steps) as srv:
        agent = _agent(workspace, srv.base_url)
        r = agent.ask("What was the OEE yesterday?", user="kim", role="viewer")
        agent.close()
    assert r.fallback is None and [t for t, _ in r.tool_calls] == ["get_kpis"]
    assert "error" in srv.requests[1]["messages"][-1]["content"]


def test_timeouts_retry_then_fall_back_to_offline(workspace: Workspace) -> None:
    """Every attempt times out: the offline planner answers; the trace says why."""
    with ScriptedLLM([Step(delay_s=1.0), Step(delay_s=1.0)]) as srv:
        agent = _agent(workspace, srv.base_url, timeout_s=0.2, transport_retries=1)
        r = agent.ask("What was the OEE yesterday?", user="kim", role="viewer")
        assert agent.tracer.store is not None and r.trace_id is not None
        spans = agent.tracer.store.spans(r.trace_id)
        agent.close()
    assert r.fallback is not None and "Timeout" in r.fallback
    assert r.planner == "offline" and r.tool_calls == [("get_kpis", {"period": "2026-11-23"})]
    assert len(srv.requests) == 2
    root = next(s for s in spans if s.parent_id is None)
    assert "Timeout" in str(root.attributes["factoryax.fallback"])
    assert sum(s.name == "chat scripted" for s in spans) == 2


def test_loop_and_client_error_fall_back(workspace: Workspace) -> None:
    """The same call twice is a loop; HTTP 400 is not retried."""
    call = ("get_kpis", json.dumps({"period": "2026-11-23"}))
    with ScriptedLLM([Step(tool_calls=[call]), Step(tool_calls=[call])]) as srv:
        agent = _agent(workspace, srv.base_url)
        r = agent.ask("What was the OEE yesterday?", user="kim", role="viewer")
        agent.close()
    assert r.fallback is not None and r.fallback.startswith("loop")
    with ScriptedLLM([Step(status=400), Step(content="never")]) as srv:
        agent = _agent(workspace, srv.base_url)
        r = agent.ask("What was the OEE yesterday?", user="kim", role="viewer")
        agent.close()
    assert r.fallback == "client error: HTTP 400" and len(srv.requests) == 1


def test_malformed_response_body_falls_back(workspace: Workspace) -> None:
    """A body that is not a chat completion ends the model run."""
    with ScriptedLLM([Step(raw="not json")]) as srv:
        agent = _agent(workspace, srv.base_url)
        r = agent.ask("어제 OEE 알려줘", user="kim", role="viewer")
        agent.close()
    assert r.fallback is not None and r.fallback.startswith("malformed response")
    assert r.tool_calls and r.tool_calls[0][0] == "get_kpis"


def test_state_changing_call_from_model_pauses(workspace: Workspace, lot: str) -> None:
    """A model asking to issue a certificate gets a pending action, nothing is issued."""
    with ScriptedLLM([Step(tool_calls=[("issue_certificate", json.dumps({"lot": lot}))])]) as srv:
        agent = _agent(workspace, srv.base_url)
        r = agent.ask("Issue it", user="kim", role="quality")
        agent.close()
    assert r.pending is not None and r.pending.tool == "issue_certificate"
    assert r.evidence == []
