"""Regression tests for the review findings: grounding bypasses, personal data in the
approval store, actions stuck ``running``, direct calls of state-changing tools, agent
acks the alarm console ignored."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pydantic import BaseModel

from factoryax.agent import (
    Agent,
    AgentConfig,
    ApprovalRequiredError,
    Evidence,
    NotFoundError,
    ToolContext,
    build_registry,
    check_grounding,
)
from factoryax.agent.agent import Outcome, Session
from factoryax.agent.plan import ToolCall
from factoryax.agent.tools import tool
from factoryax.api import ApiContext, Role, create_app
from factoryax.config import Workspace
from factoryax.ingest import ingest_rows
from factoryax.ledger import Ledger
from factoryax.llmops.guard import DEFAULT_ROLES, RolePolicy
from factoryax.safety import Alarm

from .conftest import TODAY

KPI = [
    Evidence(
        "ev-00000000aa",
        "get_kpis",
        {"period": "2026-11-23"},
        {"period": "2026-11-23", "oee": 0.6234, "parts": 85},
    )
]


@pytest.mark.parametrize(
    ("answer", "unsupported"),
    [
        ("OEE 85% ", ["85%"]),  # a percentage is 100 x a ratio, never a raw count
        ("OEE 23% on 2026-11-23", ["23%"]),  # digits of a date are not evidence numbers
        ("OEE는91%입니다", ["91%"]),  # glued to Hangul
        ("OEE was97.5%", ["97.5%"]),  # glued to letters
    ],
)
def test_grounding_flags_review_bypasses(answer: str, unsupported: list[str]) -> None:
    assert check_grounding(answer, KPI) == unsupported


def test_grounding_accepts_template_figures_and_whole_dates() -> None:
    """What the templates write (ratio x 100 at one decimal, counts, the date) is grounded;
    a date or time the evidence does not hold is not."""
    assert check_grounding("2026-11-23: OEE 62.3%, 85 parts [ev-00000000aa]", KPI) == []
    assert check_grounding("11월 23일 OEE 62%, 85개", KPI) == []
    assert check_grounding("OEE 62.3% on 2026-11-24 at 09:52", KPI) == ["2026-11-24", "09:52"]


class _Planner:
    """Parks one state-changing call with the given arguments (a model would do this)."""

    name = "scripted"

    def __init__(self, tool_name: str, args: dict[str, Any]) -> None:
        self.call = ToolCall(tool_name, args)

    def run(self, question: str, lang: str, session: Session) -> Outcome:
        session.execute(self.call)
        return Outcome("ack")


def _copy(workspace: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the shared workspace (without its agent stores) whose latest
    alarm is a fresh, unacknowledged ``wash-01-leak`` (later than the shared ones)."""
    root = tmp_path / "ws"
    shutil.copytree(workspace.root, root, ignore=shutil.ignore_patterns("agent", "api"))
    ws = Workspace.find(root)
    alarm = Alarm("wash-01-leak", 2, "washer leak", line="line-1", asset="wash-01")
    at = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
    rows = [e.to_row() for e in alarm.set_condition(True, at, why="level low")]
    ingest_rows("events", pa.Table.from_pylist(rows), plant=ws.plant, lake=ws.lake, source="t")
    return ws


def test_approvals_persist_no_personal_data(workspace: Workspace, tmp_path: Path) -> None:
    """Question, args, result: nothing under <ws>/agent/ (nor the lake) holds the name or
    the phone number, in UTF-8 or as JSON \\u escapes. The tool runs with the stored,
    redacted note."""
    ws = _copy(workspace, tmp_path)
    agent = Agent(ws, AgentConfig(today=TODAY, redact_names=("홍길동",)))
    note = "홍길동 010-1234-5678"
    agent.planner = _Planner("ack_alarm", {"event_id": "wash-01-leak", "note": note})
    try:
        r = agent.ask(f"{note} 알람 확인해줘", user="kim", role="operator")
        assert r.pending is not None
        assert r.pending.args == {"event_id": "wash-01-leak", "note": "[NAME] [PHONE]"}
        done = agent.approve(r.pending.id, user="lee", role="operator")
        assert done.status == "done" and done.result is not None
        assert done.result["state"] == "acknowledged"
        forbidden = [
            "홍길동".encode(),
            json.dumps("홍길동").strip('"').encode(),
            json.dumps("홍길동").strip('"').upper().encode(),
            b"010-1234-5678",
            b"01012345678",
        ]
        files = [p for p in (ws.root / "agent").rglob("*") if p.is_file()]
        assert any(p.name == "approvals.sqlite" for p in files)
        for path in files:
            data = path.read_bytes()
            assert not [f for f in forbidden if f in data], path
    finally:
        agent.close()
    for path in (p for p in (ws.root / "agent").rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert not [f for f in forbidden if f in data], path
    why = ws.lake.query("SELECT payload FROM events WHERE kind = 'alarm.ack'").column("payload")
    notes = [json.loads(p.as_py()) for p in why]
    assert [n["why"] for n in notes if n["rule"] == "wash-01-leak"] == ["[NAME] [PHONE]"]


def _flaky_registry(calls: list[int]) -> tuple[Any, RolePolicy]:
    class In(BaseModel):
        x: int

    class Out(BaseModel):
        x: int

    reg = build_registry()

    @tool(reg, "flaky_change", "fails with a bug the first time", In, Out, state_changing=True)
    def _flaky(ctx: ToolContext, args: In) -> Out:
        calls.append(args.x)
        if len(calls) == 1:
            raise RuntimeError("disk went away")
        return Out(x=args.x)

    roles = {**DEFAULT_ROLES, "operator": (*DEFAULT_ROLES["operator"], "flaky_change")}
    return reg, RolePolicy(roles=roles)


def test_unexpected_failure_is_stored_failed_and_retry_is_a_new_request(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A non-FactoryAX exception leaves the action ``failed`` (not ``running``) and is
    re-raised; approving the failed action again returns it without running the tool; a
    retry is a new request, which runs."""
    ws = _copy(workspace, tmp_path)
    calls: list[int] = []
    reg, roles = _flaky_registry(calls)
    agent = Agent(ws, AgentConfig(today=TODAY, roles=roles), registry=reg)
    try:
        agent.planner = _Planner("flaky_change", {"x": 7})
        first = agent.ask("change it", user="kim", role="operator")
        assert first.pending is not None
        with pytest.raises(RuntimeError, match="disk went away"):
            agent.approve(first.pending.id, user="lee", role="operator")
        stored = agent.approvals.get(first.pending.id)
        assert stored is not None and stored.status == "failed"
        assert stored.error == "RuntimeError: disk went away"
        again = agent.approve(first.pending.id, user="lee", role="operator")
        assert again.status == "failed" and calls == [7]
        retry = agent.ask("change it", user="kim", role="operator")
        assert retry.pending is not None and retry.pending.id != first.pending.id
        done = agent.approve(retry.pending.id, user="lee", role="operator")
        assert done.status == "done" and done.result == {"x": 7} and calls == [7, 7]
    finally:
        agent.close()


def test_registry_call_refuses_state_changing_tools(workspace: Workspace) -> None:
    """ToolRegistry.call runs read-only tools only; state changes go through approval."""
    reg = build_registry()
    ctx = ToolContext(workspace, TODAY, "kim", "admin")
    count = "SELECT count(*) AS n FROM events WHERE kind = 'alarm.ack'"
    before = workspace.lake.query(count).column("n")[0].as_py()
    with pytest.raises(ApprovalRequiredError, match=r"Agent\.ask"):
        reg.call(ctx, "ack_alarm", {"event_id": "cnc-01-guard-open"})
    assert workspace.lake.query(count).column("n")[0].as_py() == before
    out = reg.call(ctx, "list_alarms", {"period": "2026-11-23"}).model_dump()
    assert out["count"] >= 2


def test_agent_ack_shows_acknowledged_in_alarm_console(
    workspace: Workspace, tmp_path: Path
) -> None:
    """After approval the alarms API reports the rule acknowledged, by the approver, and
    the ledger holds the operator_approval; the same question again acknowledges nothing."""
    ws = _copy(workspace, tmp_path)
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        if not ledger.keys.verifiers():
            ledger.keys.generate(ledger.origin)
    ctx = ApiContext(ws)
    token = ctx.tokens.issue("viewer-1", Role.VIEWER)
    app = create_app(ws)
    agent = Agent(ws, AgentConfig(today=TODAY))

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            return await client.get("/api/alarms", headers={"Authorization": f"Bearer {token}"})

    def console() -> dict[str, dict[str, Any]]:
        res = asyncio.run(get())
        assert res.status_code == 200, res.text
        return {a["rule"]: a for a in res.json()}

    try:
        assert console()["wash-01-leak"]["state"] == "unacknowledged"
        r = agent.ask("Acknowledge the latest alarm", user="kim", role="operator")
        assert r.pending is not None
        assert r.pending.args["event_id"].startswith("safety-wash-01-leak-")
        done = agent.approve(r.pending.id, user="lee", role="operator")
        assert done.status == "done" and done.result is not None, done.error
        assert done.result["rule"] == "wash-01-leak" and not done.result["already_acknowledged"]
        alarm = console()["wash-01-leak"]
        assert alarm["state"] == "acknowledged" and alarm["who"] == "lee"
        assert alarm["last_kind"] == "alarm.ack"
        index = done.result["ledger_index"]
        with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
            assert ledger.entry(index).record_type == "operator_approval"
            assert index in ledger.find("operator_approval", operator="lee")
        again = agent.ask("Acknowledge the latest alarm", user="kim", role="operator")
        assert again.pending is not None
        noop = agent.approve(again.pending.id, user="park", role="operator")
        assert noop.result is not None and noop.result["already_acknowledged"]
        assert noop.result["acknowledged_by"] == "lee"
    finally:
        agent.close()
        ctx.close()


def test_ack_rejects_events_that_are_not_alarms(workspace: Workspace) -> None:
    """A twin safety.* event (or any non-alarm event) cannot be acknowledged."""
    reg = build_registry()
    ctx = ToolContext(workspace, TODAY, "lee", "operator")
    ack = reg.get("ack_alarm")
    rows = workspace.lake.query(
        "SELECT event_id, kind FROM events WHERE NOT starts_with(kind, 'alarm.') LIMIT 1"
    ).to_pylist()
    assert rows, "the shared workspace has twin events"
    with pytest.raises(NotFoundError, match="not an alarm"):
        ack.run(ctx, {"event_id": rows[0]["event_id"]})
    with pytest.raises(NotFoundError, match="no alarm event or rule"):
        ack.run(ctx, {"event_id": "no-such-thing"})
