"""The runtime: wires a running plant — sources → lake → acknowledgements → sinks.

Contract:

- :class:`Runtime` runs the plant's ``[sources]`` in-process (``start()``/``stop()``);
  ``factoryax run`` is the same class in the foreground;
- a message is acknowledged to its source only after its micro-batch is durable in the
  lake; duplicates from redelivery are skipped by the lake's idempotence;
- :class:`Sink` (``name``, ``process(readings) -> {table: rows}``) receives every durable
  batch; :class:`SafetySink` runs the ``[safety]`` rules, ``factoryax.detect``'s
  ``LiveScorer`` is used when installed and the workspace has a production model;
- the ledger, when the workspace has one, gets ``maybe_checkpoint()`` about once a second;
- health is rewritten atomically to ``<workspace>/runtime/health.json`` about once a
  second; :func:`read_health` reads it.
"""

from __future__ import annotations

from factoryax.runtime.config import RuntimeConfig, SourceConfig, parse_runtime
from factoryax.runtime.health import (
    HEALTH_FILE,
    LakeHealth,
    RuntimeHealth,
    SinkHealth,
    SourceHealth,
    read_health,
    write_health,
)
from factoryax.runtime.runtime import Runtime, build_sources
from factoryax.runtime.sinks import SINK_NAMES, SafetySink, Sink, default_sinks

__all__ = [
    "HEALTH_FILE",
    "SINK_NAMES",
    "LakeHealth",
    "Runtime",
    "RuntimeConfig",
    "RuntimeHealth",
    "SafetySink",
    "Sink",
    "SinkHealth",
    "SourceConfig",
    "SourceHealth",
    "build_sources",
    "default_sinks",
    "parse_runtime",
    "read_health",
    "write_health",
]
