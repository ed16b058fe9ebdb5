"""The shipped suite, the evaluator, and zero outbound connections by default."""

from __future__ import annotations

import socket
from collections import Counter
from typing import Any

import pytest

from factoryax.agent import Agent, default_suite
from factoryax.agent.agent import _lots
from factoryax.config import Workspace
from factoryax.llmops import load_suite, run_suite

from .conftest import TODAY


def test_shipped_suite_shape() -> None:
    """>= 150 scenarios, ko/en pairs, dev/test/held-out splits, every scoring kind but contains."""
    suite = load_suite(default_suite())
    assert len(suite) >= 150
    pairs = Counter(s.id.split("-")[0] for s in suite)
    assert set(pairs.values()) == {2}
    assert {s.split for s in suite} == {"dev", "test", "heldout"}
    assert {s.scoring for s in suite} >= {"tool_call", "abstain", "clarify"}
    assert Counter(s.lang for s in suite) == {"ko": len(suite) // 2, "en": len(suite) // 2}


def test_test_split_on_a_fresh_workspace_with_no_egress(
    agent: Agent, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline agent runs the test split: no unsupported number, no unapproved state
    change, high pass rate, and not one socket connection beyond loopback."""
    attempts: list[Any] = []
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        attempts.append(address)
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
            raise OSError(f"egress blocked by test: {address!r}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    suite = [s for s in load_suite(default_suite()) if s.split == "test"]
    report = run_suite(
        lambda s: agent.ask(s.text, "eval", s.role, s.lang),
        suite,
        today=TODAY,
        lots=_lots(workspace),
        state_changing=["ack_alarm", "issue_certificate"],
    )
    summary = report.summary("test")
    assert attempts == []
    assert summary["unsupported_numbers"] == 0
    assert summary["state_changes_without_approval"] == 0
    assert summary["pass_rate"] >= 0.85, summary["failed"]
