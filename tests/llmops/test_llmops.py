"""Redaction, prompt registry, guards, traces and OTLP export."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from factoryax.core import ConfigError
from factoryax.llmops import (
    OtlpExporter,
    PromptRegistry,
    Redactor,
    RolePolicy,
    Tracer,
    TraceStore,
    injection_findings,
)


def test_redaction_of_korean_personal_data() -> None:
    """RRNs, mobile and landline numbers, e-mails and listed names are replaced."""
    r = Redactor(names=["김철수"])
    text = "김철수(850315-1234567) 연락처 010-9876-5432, 02-123-4567, kim@plant.co.kr"
    assert r.redact(text) == "[NAME]([RRN]) 연락처 [PHONE], [PHONE], [EMAIL]"
    assert (
        r.redact("lot line-1-261123T0000-L0003 OEE 85.3%")
        == "lot line-1-261123T0000-L0003 OEE 85.3%"
    )


def test_prompt_versions_are_immutable_and_aliases_move(tmp_path: Path) -> None:
    """Same text, same version; the store refuses edits; aliases point anywhere."""
    reg = PromptRegistry(tmp_path / "p.sqlite")
    v1 = reg.register("sys", "one")
    v2 = reg.register("sys", "two")
    assert reg.register("sys", "one") == v1 and v1 != v2
    reg.set_alias("sys", "production", v1)
    reg.set_alias("sys", "canary", v2)
    assert reg.get("sys", "production").text == "one" and reg.get("sys", "canary").text == "two"
    with pytest.raises(ConfigError, match="no alias or version"):
        reg.get("sys", "staging")
    con = sqlite3.connect(tmp_path / "p.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        con.execute("UPDATE prompts SET text = 'x'")
    con.close()
    reg.close()


def test_role_policy_and_injection_findings() -> None:
    """Read tools for everyone listed; state changes by name only."""
    p = RolePolicy()
    assert p.allows("viewer", "get_kpis", state_changing=False)
    assert not p.allows("viewer", "ack_alarm") and p.allows("operator", "ack_alarm")
    assert not p.allows("stranger", "get_kpis", state_changing=False)
    assert injection_findings("normal bore diameter complaint") == []
    assert "tool-injection" in injection_findings('{"tool_calls": [1]}')


def test_tracer_nests_spans_and_stamps_roots(tmp_path: Path) -> None:
    """Child spans share the trace id; stamps go on the root only; errors are kept."""
    store = TraceStore(tmp_path / "t.sqlite")
    tracer = Tracer(store, redactor=Redactor(), stamp={"factoryax.prompt.alias": "canary"})
    with tracer.span("invoke_agent x") as root, tracer.span("execute_tool y"):
        pass
    with pytest.raises(ValueError, match="boom"), tracer.span("invoke_agent z"):
        raise ValueError("boom")
    spans = store.spans(root.trace_id)
    assert [s.name for s in spans] == ["invoke_agent x", "execute_tool y"]
    assert spans[1].parent_id == spans[0].span_id
    assert spans[0].attributes["factoryax.prompt.alias"] == "canary"
    assert "factoryax.prompt.alias" not in spans[1].attributes
    failed = store.spans(store.trace_ids()[0])
    assert failed[0].status == "error" and failed[0].attributes["error.type"] == "ValueError"
    store.close()


def test_otlp_export_posts_json_to_the_configured_endpoint() -> None:
    """The exporter sends OTLP/HTTP JSON to a loopback collector."""
    got: list[dict[str, Any]] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        exporter = OtlpExporter(f"http://127.0.0.1:{srv.server_address[1]}/v1/traces")
        tracer = Tracer(None, exporter=exporter)
        with tracer.span("chat m", {"gen_ai.usage.input_tokens": 5}):
            pass
    finally:
        srv.shutdown()
        srv.server_close()
    assert exporter.errors_ == []
    span = got[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["name"] == "chat m"
    assert {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "5"}} in span["attributes"]


def test_forbidden_tools_fail_a_scenario_even_when_only_proposed() -> None:
    """'Draft only, don't issue': a parked issue action fails, a plain draft passes."""
    import datetime as dt
    from types import SimpleNamespace

    from factoryax.llmops.evaluate import Scenario, score

    s = Scenario(
        id="x",
        text="draft only",
        lang="en",
        category="certificate",
        scoring="tool_call",
        expected_tool="draft_certificate",
        expected_args={"lot": "L1"},
        forbidden_tools=["issue_certificate"],
    )
    calls = [("draft_certificate", {"lot": "L1"})]
    base = dict(answer="ok", tool_calls=calls, evidence=[], unsupported=[], pending=None)
    today = dt.date(2026, 11, 24)
    assert score(s, SimpleNamespace(**base), today, []) == (True, "")
    parked = SimpleNamespace(**{**base, "pending": SimpleNamespace(tool="issue_certificate")})
    ok, why = score(s, parked, today, [])
    assert not ok and "issue_certificate" in why
