"""Traces of agent runs: OpenTelemetry GenAI span names and attributes, kept in SQLite.

Span names and attribute keys follow the OpenTelemetry GenAI semantic conventions
(``invoke_agent {agent}``, ``chat {model}``, ``execute_tool {tool}``;
``gen_ai.operation.name``, ``gen_ai.usage.input_tokens``, ``gen_ai.tool.name`` …), so a
trace exported over OTLP reads in any GenAI-aware viewer. Storage is one SQLite file;
export happens only when an OTLP endpoint is configured (:class:`OtlpExporter`).
Every string attribute passes the :class:`~factoryax.llmops.redact.Redactor` before it is
stored.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from factoryax.llmops.redact import Redactor

__all__ = [
    "ATTR",
    "AttrValue",
    "OtlpExporter",
    "Span",
    "SpanRecord",
    "TraceStore",
    "Tracer",
]

AttrValue = str | int | float | bool | None

ATTR = {
    "operation": "gen_ai.operation.name",
    "provider": "gen_ai.provider.name",
    "request_model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "tool_name": "gen_ai.tool.name",
    "tool_call_id": "gen_ai.tool.call.id",
    "tool_type": "gen_ai.tool.type",
    "agent_name": "gen_ai.agent.name",
    "conversation_id": "gen_ai.conversation.id",
    "finish_reasons": "gen_ai.response.finish_reasons",
    "error_type": "error.type",
}
"""Short names → OpenTelemetry GenAI semantic-convention attribute keys."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT PRIMARY KEY,
    parent_id TEXT,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    attributes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace_id);
"""


@dataclass(frozen=True)
class SpanRecord:
    """A finished span as stored."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, AttrValue]

    @property
    def duration_s(self) -> float:
        """Wall time of the span in seconds."""
        return (self.end_ns - self.start_ns) / 1e9


@dataclass
class Span:
    """An open span; set attributes, then leave the ``with`` block to end it."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    attributes: dict[str, AttrValue] = field(default_factory=dict)
    status: str = "ok"
    cpu_start_s: float = 0.0

    def set(self, key: str, value: AttrValue) -> None:
        """Sets one attribute (use the GenAI keys in :data:`ATTR` where one fits)."""
        self.attributes[key] = value

    def fail(self, error_type: str) -> None:
        """Marks the span as failed with ``error.type``."""
        self.status = "error"
        self.attributes[ATTR["error_type"]] = error_type


class TraceStore:
    """Spans in one SQLite file (thread-safe; one connection guarded by a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(
            str(self.path) if self.path else ":memory:", check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            if self.path is not None:
                # telemetry: WAL + NORMAL survives a crashed process (not a power cut)
                # and spares one fsync per trace
                self._con.execute("PRAGMA journal_mode=WAL")
                self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)

    def close(self) -> None:
        """Closes the file."""
        with self._lock:
            self._con.close()

    def add(self, spans: list[SpanRecord]) -> None:
        """Stores finished spans in one transaction."""
        rows = [
            (
                s.trace_id,
                s.span_id,
                s.parent_id,
                s.name,
                s.start_ns,
                s.end_ns,
                s.status,
                json.dumps(s.attributes, ensure_ascii=False, sort_keys=True),
            )
            for s in spans
        ]
        with self._lock, self._con:
            self._con.executemany("INSERT OR REPLACE INTO spans VALUES (?,?,?,?,?,?,?,?)", rows)

    def spans(self, trace_id: str) -> list[SpanRecord]:
        """The spans of one trace, in start order."""
        with self._lock:
            cur = self._con.execute(
                "SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id", (trace_id,)
            )
            rows = cur.fetchall()
        return [
            SpanRecord(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), r[6], json.loads(r[7]))
            for r in rows
        ]

    def trace_ids(self, limit: int = 50) -> list[str]:
        """The most recent trace ids, newest first."""
        with self._lock:
            cur = self._con.execute(
                "SELECT trace_id FROM spans GROUP BY trace_id ORDER BY max(end_ns) DESC LIMIT ?",
                (limit,),
            )
            return [str(r[0]) for r in cur.fetchall()]


class OtlpExporter:
    """Posts finished traces as OTLP/HTTP JSON to ``endpoint`` (``…/v1/traces``).

    Only built when an endpoint is configured; nothing is sent otherwise. Failures are
    recorded on :attr:`errors_` and never break the agent run.
    """

    def __init__(self, endpoint: str, *, timeout_s: float = 2.0, service: str = "factoryax"):
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.service = service
        self.errors_: list[str] = []

    def payload(self, spans: list[SpanRecord]) -> dict[str, object]:
        """The OTLP JSON request body of ``spans``."""

        def value(v: AttrValue) -> dict[str, object]:
            if isinstance(v, bool):
                return {"boolValue": v}
            if isinstance(v, int):
                return {"intValue": str(v)}
            if isinstance(v, float):
                return {"doubleValue": v}
            return {"stringValue": "" if v is None else str(v)}

        return {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": self.service}}
                        ]
                    },
                    "scopeSpans": [
                        {
                            "scope": {"name": "factoryax.llmops"},
                            "spans": [
                                {
                                    "traceId": s.trace_id,
                                    "spanId": s.span_id,
                                    **({"parentSpanId": s.parent_id} if s.parent_id else {}),
                                    "name": s.name,
                                    "kind": 1,
                                    "startTimeUnixNano": str(s.start_ns),
                                    "endTimeUnixNano": str(s.end_ns),
                                    "attributes": [
                                        {"key": k, "value": value(v)}
                                        for k, v in s.attributes.items()
                                    ],
                                    "status": {"code": 2 if s.status == "error" else 1},
                                }
                                for s in spans
                            ],
                        }
                    ],
                }
            ]
        }

    def export(self, spans: list[SpanRecord]) -> None:
        """Sends ``spans``; an error is kept on :attr:`errors_`."""
        import httpx

        try:
            response = httpx.post(self.endpoint, json=self.payload(spans), timeout=self.timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.errors_.append(f"{type(exc).__name__}: {exc}")


class Tracer:
    """Opens spans of one process and stores each finished trace.

    Args:
        store: where spans go; None disables tracing (spans still time the work but
            nothing is kept, for the tracing-overhead benchmark).
        redactor: scrubs string attributes before they are stored.
        exporter: optional OTLP exporter (configured endpoints only).
        stamp: attributes put on every root span (prompt versions and aliases).
    """

    def __init__(
        self,
        store: TraceStore | None,
        *,
        redactor: Redactor | None = None,
        exporter: OtlpExporter | None = None,
        stamp: Mapping[str, AttrValue] | None = None,
    ) -> None:
        self.store = store
        self.redactor = redactor or Redactor()
        self.exporter = exporter
        self.stamp = dict(stamp or {})
        self._local = threading.local()

    @property
    def enabled(self) -> bool:
        """Whether finished spans are kept."""
        return self.store is not None

    def _stack(self) -> list[Span]:
        stack: list[Span] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = []
            self._local.stack = stack
            self._local.done = []
        return stack

    @contextlib.contextmanager
    def span(self, name: str, attributes: Mapping[str, AttrValue] | None = None) -> Iterator[Span]:
        """Opens a span (a root span starts a new trace)."""
        stack = self._stack()
        parent = stack[-1] if stack else None
        span = Span(
            trace_id=parent.trace_id if parent else secrets.token_hex(16),
            span_id=secrets.token_hex(8),
            parent_id=parent.span_id if parent else None,
            name=name,
            start_ns=time.time_ns(),
            attributes=dict(attributes or {}),
            cpu_start_s=time.process_time(),
        )
        if parent is None:
            span.attributes.update(self.stamp)
        stack.append(span)
        try:
            yield span
        except BaseException as exc:
            span.fail(type(exc).__name__)
            raise
        finally:
            stack.pop()
            span.attributes.setdefault(
                "factoryax.compute_s", round(time.process_time() - span.cpu_start_s, 6)
            )
            record = SpanRecord(
                span.trace_id,
                span.span_id,
                span.parent_id,
                name,
                span.start_ns,
                time.time_ns(),
                span.status,
                {k: self._scrub(v) for k, v in span.attributes.items()},
            )
            done: list[SpanRecord] = self._local.done
            done.append(record)
            if not stack:
                self._local.done = []
                if self.store is not None:
                    self.store.add(done)
                if self.exporter is not None:
                    self.exporter.export(done)

    def _scrub(self, value: AttrValue) -> AttrValue:
        return self.redactor.redact(value) if isinstance(value, str) else value
