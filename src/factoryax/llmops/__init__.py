"""LLMOps for the agent: traces, prompt registry, guardrails, evaluation.

Contract:
- traces use OpenTelemetry GenAI span names and attributes, are stored in SQLite, and are
  exported over OTLP only when an endpoint is configured (zero egress by default);
- prompt versions are immutable (content hashes); aliases (production, canary) move and
  are stamped on every trace;
- personal data (Korean RRNs, phone numbers, e-mail, configured names) is redacted before
  anything is persisted;
- evaluation is deterministic: pass rate, pass^k, p50/p95 latency per split and language.
"""

from __future__ import annotations

from factoryax.llmops.evaluate import (
    EvalReport,
    LlmJudge,
    Scenario,
    load_suite,
    resolve_args,
    run_suite,
    score,
)
from factoryax.llmops.guard import DEFAULT_ROLES, RolePolicy, injection_findings, quote_data
from factoryax.llmops.prompts import PromptRegistry, PromptVersion
from factoryax.llmops.redact import Redactor
from factoryax.llmops.trace import ATTR, OtlpExporter, Span, SpanRecord, Tracer, TraceStore

__all__ = [
    "ATTR",
    "DEFAULT_ROLES",
    "EvalReport",
    "LlmJudge",
    "OtlpExporter",
    "PromptRegistry",
    "PromptVersion",
    "Redactor",
    "RolePolicy",
    "Scenario",
    "Span",
    "SpanRecord",
    "TraceStore",
    "Tracer",
    "injection_findings",
    "load_suite",
    "quote_data",
    "resolve_args",
    "run_suite",
    "score",
]
