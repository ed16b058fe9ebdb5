"""Model registry and agent routes over HTTP: list, gated promotion, ask, trace, approval."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from factoryax.agent import AgentConfig
from factoryax.api import ApiConfig, ApiContext, Role, create_app
from factoryax.api.routers.agent import close_agent, configure_agent
from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.detect import DemoReport, Registry, backtest, fit_and_validate_demo
from factoryax.ledger import Ledger
from factoryax.twin import simulate, write_to_lake
from tests.api.conftest import Served, _free_port, stop


def reference_day(ws: Workspace) -> dt.date:
    """The day after the lake's last production day (plant zone), as `factoryax eval` uses,
    so "yesterday" is the fixture's data whatever the wall-clock time."""
    last: dt.datetime = ws.lake.query("SELECT max(ts) AS t FROM production").column("t")[0].as_py()
    return last.astimezone(ws.plant.site.timezone).date() + dt.timedelta(days=1)


# A Monday from 09:00 KST for 16 h: the backtest half (17:00-01:00) holds the 20:00 shift
# start, so per-shift rates are computed; on this seed the gate passes some assets' models
# and fails others (fixed data, so the same ones every run).
FIXED_START = dt.datetime(2026, 11, 16, 0, 0, tzinfo=dt.UTC)
FIXED_HOURS = 16


def serve_fixed_plant(root: Path) -> tuple[Served, DemoReport]:
    """A plant with a fixed simulated day, one model per asset trained, backtested against
    the twin's truth and gated by ``fit_and_validate_demo`` (~1 s), served on loopback."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace.find(root)
    run = simulate(
        ws.plant, start=FIXED_START, horizon=dt.timedelta(hours=FIXED_HOURS), seed=3, sample_s=10
    )
    write_to_lake(run, ws.plant, ws.lake)
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        ledger.keys.generate(ledger.origin)
    report = fit_and_validate_demo(ws, write_scores=False)
    app = create_app(ws, ApiConfig(cache_ttl_s=0))
    ctx: ApiContext = app.state.ctx
    tokens = {r.value: ctx.tokens.issue(f"{r.value} user", r) for r in Role}
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=_free_port(), log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():  # pragma: no cover - environment failure
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    served = Served(f"http://127.0.0.1:{port}", ws, ctx, tokens, None)
    served._server = server  # type: ignore[attr-defined]
    served._thread = thread  # type: ignore[attr-defined]
    return served, report


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, DemoReport]]:
    """:func:`serve_fixed_plant`, once for this module."""
    served, report = serve_fixed_plant(tmp_path_factory.mktemp("models-plant"))
    yield served, report
    stop(served)


@pytest.fixture(scope="module")
def agent_plant(served: Served) -> Iterator[Served]:
    """The served plant whose API agent takes "today" as the day after its data."""
    configure_agent(served.ctx, AgentConfig(today=reference_day(served.ws)))
    yield served
    close_agent(served.ctx)


def _get(s: Served, path: str, role: str = "viewer") -> httpx.Response:
    return httpx.get(s.url + path, headers=s.headers(role), timeout=120)


def _post(s: Served, path: str, role: str, body: Any = None, **kw: Any) -> httpx.Response:
    return httpx.post(s.url + path, headers=s.headers(role), json=body, timeout=120, **kw)


def _audited(s: Served, path: str, want: Callable[[list[Any]], bool]) -> list[Any]:
    """Audit rows of ``path``, newest first, once ``want(rows)`` holds (or after 30 s): the
    middleware writes a row after the response has gone out, so it can lag the client."""
    since = time.monotonic()
    while True:
        rows = [a for a in s.ctx.audit.recent(50) if a.path == path]
        if want(rows) or time.monotonic() - since > 30:
            return rows
        time.sleep(0.05)


def _events(s: Served, kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = s.ws.lake.query(
        "SELECT event_id, payload FROM events WHERE kind = ?", [kind]
    ).to_pylist()
    return rows


def _ledger_records(s: Served, record_type: str) -> list[dict[str, Any]]:
    with Ledger.for_workspace(s.ws.root, s.ws.plant.site.id) as ledger:
        return [dict(ledger.fields(i)) for i in ledger.find(record_type)]


def test_models_lists_versions_with_backtest_figures(fixed: tuple[Served, DemoReport]) -> None:
    """Every asset's model is listed with its stage, fingerprint and backtest figures."""
    served, trained = fixed
    r = _get(served, "/api/models")
    assert r.status_code == 200
    models = {m["name"]: m for m in r.json()}
    assert set(models) == {a["model"] for a in trained.assets.values()} and len(models) == 5
    for asset, rep in trained.assets.items():
        m = models[rep["model"]]
        assert m["asset"] == asset and m["kind"] == "pca" and m["version"] == rep["version"]
        assert m["stage"] == ("production" if rep["promoted"] else "candidate")
        assert m["fingerprint"]["asset"] == asset and m["fingerprint"]["rows"] > 0
        assert m["backtest"]["truth"] is True
        for key in ("detection_rate", "mean_lead_time_s", "false_alarms_per_shift", "precision"):
            assert m["backtest"][key] == rep["backtest"][key]
        dt.datetime.fromisoformat(m["created_at"])


def test_promote_refused_for_operator_and_audited(fixed: tuple[Served, DemoReport]) -> None:
    """An operator gets 403 and nothing changes; the refusal is in the audit log."""
    served, trained = fixed
    name = next(iter(trained.assets.values()))["model"]
    before = Registry.for_workspace(served.ws.root).get(name).stage
    promotions = len(_events(served, "detect.promotion"))
    r = _post(served, "/api/models/promote", "operator", {"name": name, "version": 1})
    assert r.status_code == 403 and "needs engineer" in r.json()["error"]
    assert Registry.for_workspace(served.ws.root).get(name).stage == before
    assert len(_events(served, "detect.promotion")) == promotions
    rows = _audited(served, "/api/models/promote", lambda r: any(a.status == 403 for a in r))
    hit = [a for a in rows if a.status == 403]
    assert hit and hit[0].role == "operator"


def test_engineer_promotes_through_the_gate(fixed: tuple[Served, DemoReport]) -> None:
    """A version backtested as well as production passes the gate: it goes to production,
    the old one retires, and the decision is an event plus a `model_promotion` record."""
    served, trained = fixed
    promoted = [v for v in trained.assets.values() if v["promoted"]]
    assert promoted, "the fixed day's data should pass some models at the gate"
    rep = promoted[0]
    name = rep["model"]
    reg = Registry.for_workspace(served.ws.root)
    v1 = reg.get(name, 1)
    assert v1.backtest is not None
    v2 = reg.register(name, reg.load_detector(name, 1), asset=v1.asset, fingerprint=v1.fingerprint)
    lo, hi = (dt.datetime.fromisoformat(x) for x in v1.backtest["window"])
    backtest(served.ws, name, v2.version, lo, hi)
    records = len(_ledger_records(served, "model_promotion"))
    r = _post(served, "/api/models/promote", "engineer", {"name": name, "version": v2.version})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["decision"] == "promoted" and out["passed"] is True and not out["forced"]
    assert out["approved_by"] == "engineer user" and out["reasons"]
    assert reg.get(name, v2.version).stage == "production"
    assert reg.get(name, 1).stage == "retired"
    fields = _ledger_records(served, "model_promotion")
    assert len(fields) == records + 1
    assert fields[-1]["model"] == name and fields[-1]["version"] == v2.version
    assert fields[-1]["approved_by"] == "engineer user"
    payloads = [json.loads(e["payload"]) for e in _events(served, "detect.promotion")]
    assert any(p["model"] == name and p["version"] == v2.version for p in payloads)
    audit = _audited(served, "/api/models/promote", lambda r: bool(r) and r[0].status == 200)
    assert audit[0].status == 200 and audit[0].role == "engineer"
    again = _post(served, "/api/models/promote", "admin", {"name": name, "version": v2.version})
    assert again.status_code == 400 and "already in production" in again.json()["error"]


def test_failed_gate_is_recorded_not_forced(fixed: tuple[Served, DemoReport]) -> None:
    """A version the gate fails stays a candidate; the rejection is an event, no record."""
    served, trained = fixed
    rejected = [v for v in trained.assets.values() if not v["promoted"]]
    assert rejected, "the fixed day's data should fail some models at the gate"
    rep = rejected[0]
    records = len(_ledger_records(served, "model_promotion"))
    r = _post(served, "/api/models/promote", "admin", {"name": rep["model"], "version": 1})
    assert r.status_code == 200
    out = r.json()
    assert out["decision"] == "rejected" and out["passed"] is False
    assert any(reason.startswith("FAILED") for reason in out["reasons"])
    assert Registry.for_workspace(served.ws.root).get(rep["model"], 1).stage == "candidate"
    assert len(_ledger_records(served, "model_promotion")) == records
    payloads = [json.loads(e["payload"]) for e in _events(served, "detect.promotion")]
    assert any(
        p["model"] == rep["model"]
        and p["decision"] == "rejected"
        and p["approved_by"] == "admin user"
        for p in payloads
    )


def test_a_window_without_failures_needs_a_recorded_justification(
    fixed: tuple[Served, DemoReport],
) -> None:
    """A model that had nothing to catch in its window is not promoted on silence: the
    decision is "insufficient evidence"; an engineer's justification is kept with it."""
    served, trained = fixed
    silent = []
    for rep in trained.assets.values():
        if rep["promoted"]:
            continue
        r = _post(served, "/api/models/promote", "engineer", {"name": rep["model"], "version": 1})
        assert r.status_code == 200, r.text
        if r.json()["decision"] == "insufficient evidence":
            silent.append(rep["model"])
    assert silent, "the fixed day leaves some assets without a failure in their window"
    short = {"name": silent[0], "version": 1, "accept_without_failures": "ok"}
    assert _post(served, "/api/models/promote", "engineer", short).status_code == 422
    why = "same settings as the press model that caught two failures last month"
    body = {"name": silent[0], "version": 1, "accept_without_failures": why}
    r = _post(served, "/api/models/promote", "engineer", body)
    assert r.status_code == 200, r.text
    assert r.json()["decision"] != "insufficient evidence"
    payloads = [json.loads(e["payload"]) for e in _events(served, "detect.promotion")]
    assert any(
        p["model"] == silent[0] and why in json.dumps(p, ensure_ascii=False) for p in payloads
    )


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/api/models/promote", {"name": "anomaly-press-01"}, 422, "version"),
        ("/api/models/promote", {"name": "anomaly-press-01", "version": 0}, 422, "version"),
        ("/api/models/promote", {"name": "x", "version": 1, "force": True}, 422, "force"),
        ("/api/models/promote", "not json", 422, "invalid request"),
        ("/api/models/promote", {"name": "no-such-model", "version": 1}, 404, "no model"),
        ("/api/agent/ask", {"text": ""}, 422, "text"),
        ("/api/agent/ask", {"text": "OEE?", "lang": "fr"}, 422, "lang"),
        ("/api/agent/approve", {"pending_id": "rm -rf"}, 422, "pending_id"),
        ("/api/agent/approve", {"pending_id": "pa-00000000"}, 404, "no pending action"),
    ],
)
def test_malformed_bodies_get_4xx(
    agent_plant: Served, path: str, body: Any, status: int, needle: str
) -> None:
    """Bad bodies get a JSON error naming what was wrong; the attempt is audited."""
    if isinstance(body, str):
        r = httpx.post(
            agent_plant.url + path,
            headers={**agent_plant.headers("admin"), "content-type": "application/json"},
            content=body,
            timeout=60,
        )
    else:
        r = _post(agent_plant, path, "admin", body)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"] and r.json()["status"] == status
    rows = _audited(agent_plant, path, lambda r: any(a.status == status for a in r))
    assert any(a.status == status for a in rows)


def test_ask_korean_gives_a_grounded_answer_with_trace(agent_plant: Served) -> None:
    """어제 OEE: the answer states the tool's OEE, cites its evidence id, and the trace holds
    the agent and tool spans with that id."""
    r = _post(agent_plant, "/api/agent/ask", "viewer", {"text": "어제 OEE 알려줘"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["lang"] == "ko" and out["intent"] == "kpi" and not out["abstained"]
    assert out["citations"] and all(f"[{c}]" in out["answer"] for c in out["citations"])
    ev = next(e for e in out["evidence"] if e["tool"] == "get_kpis")
    assert ev["id"] in out["citations"] and ev["error"] is None
    oee = ev["output"]["oee"]
    assert f"{100 * oee:.1f}%" in out["answer"]
    assert out["pending"] is None
    trace = _get(agent_plant, f"/api/agent/traces/{out['trace_id']}").json()
    names = [s["name"] for s in trace["spans"]]
    assert names[0] == "invoke_agent factoryax" and "execute_tool get_kpis" in names
    tool = next(s for s in trace["spans"] if s["name"] == "execute_tool get_kpis")
    assert tool["attributes"]["gen_ai.tool.call.id"] == ev["id"]
    assert trace["spans"][0]["attributes"]["factoryax.user"] == "viewer user"
    missing = _get(agent_plant, "/api/agent/traces/0123abcd")
    assert missing.status_code == 404


def test_ask_english_and_partner_is_refused(agent_plant: Served) -> None:
    """An English question is answered in English; a partner token reaches no agent."""
    r = _post(agent_plant, "/api/agent/ask", "engineer", {"text": "What was yesterday's OEE?"})
    assert r.status_code == 200 and r.json()["lang"] == "en" and r.json()["citations"]
    assert re.search(r"OEE \d+\.\d%", r.json()["answer"])
    p = _post(agent_plant, "/api/agent/ask", "partner", {"text": "어제 OEE 알려줘"})
    assert p.status_code == 403


def test_approval_round_trip(agent_plant: Served) -> None:
    """A Korean ack request pauses; a viewer and the requester are refused (403 with the
    agent's message); an engineer approves; approving again returns the same result and
    writes nothing more."""
    asked = _post(
        agent_plant, "/api/agent/ask", "operator", {"text": "가장 최근 알람 확인 처리해줘"}
    )
    assert asked.status_code == 200, asked.text
    out = asked.json()
    pending = out["pending"]
    assert pending is not None and pending["tool"] == "ack_alarm"
    assert pending["status"] == "pending" and pending["requested_by"] == "operator user"
    assert pending["id"] in out["answer"] and "승인 대기" in out["answer"]
    target = pending["args"]["event_id"]
    listed = _get(agent_plant, "/api/agent/pending").json()
    assert pending["id"] in [a["id"] for a in listed]
    acks = len(_events(agent_plant, "alarm.ack"))

    viewer = _post(agent_plant, "/api/agent/approve", "viewer", {"pending_id": pending["id"]})
    assert viewer.status_code == 403 and "may not approve" in viewer.json()["error"]
    own = _post(agent_plant, "/api/agent/approve", "operator", {"pending_id": pending["id"]})
    assert own.status_code == 403 and "cannot approve it" in own.json()["error"]
    assert len(_events(agent_plant, "alarm.ack")) == acks

    first = _post(agent_plant, "/api/agent/approve", "engineer", {"pending_id": pending["id"]})
    assert first.status_code == 200, first.text
    done = first.json()
    assert done["status"] == "done" and done["approved_by"] == "engineer user"
    assert done["result"]["event_id"] == target and not done["result"]["already_acknowledged"]
    assert len(_events(agent_plant, "alarm.ack")) == acks + 1
    approvals = _ledger_records(agent_plant, "operator_approval")
    assert any(f.get("event_id") == done["result"]["ack_event_id"] for f in approvals)

    second = _post(agent_plant, "/api/agent/approve", "admin", {"pending_id": pending["id"]})
    assert second.status_code == 200 and second.json() == done
    assert len(_events(agent_plant, "alarm.ack")) == acks + 1
    statuses = [200, 200, 403, 403]
    audit = _audited(
        agent_plant, "/api/agent/approve", lambda r: [a.status for a in r[:4]] == statuses
    )
    assert [a.status for a in audit[:4]] == statuses
