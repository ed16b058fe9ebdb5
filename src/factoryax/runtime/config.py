"""The runtime's settings and sources: the plant model's raw ``[sources]`` table, validated.

::

    [sources]
    batch_rows = 5000          # a micro-batch closes at this many rows …
    batch_ms = 200             # … or this long after its first row
    max_pending_rows = 200000  # back-pressure: sources wait while this many rows queue
    sinks = ["safety"]         # what runs on each durable batch (default: safety rules if
                               # any, plus detect's live scorer when it has a model)

    [sources.line-1]           # every sub-table is one source, named by its key
    kind = "mqtt-json"         # mqtt-json | sparkplug | opcua
    host = "127.0.0.1"
    [[sources.line-1.rules]]
    topic = "factoryax/+/+/{asset}/readings"

Errors name the key path, the value and the fix, like the rest of ``plant.toml``.

Examples:
    >>> cfg = parse_runtime({"batch_rows": 100, "press": {"kind": "opcua",
    ...     "nodes": {"ns=2;i=2": "press-01.oil_temp"}}})
    >>> cfg.batch_rows, cfg.sources["press"].kind
    (100, 'opcua')
    >>> parse_runtime({"press": {"kind": "modbus"}})
    Traceback (most recent call last):
    ...
    factoryax.core.errors.ConfigError: [sources] has 1 problem(s):
      - sources.press.kind: 'modbus' is not a source kind; use mqtt-json, sparkplug or opcua
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factoryax.core import ConfigError
from factoryax.ingest.mqtt import MqttJsonConfig, SparkplugConfig
from factoryax.ingest.opcua import OpcUaConfig

__all__ = ["KINDS", "RuntimeConfig", "SourceConfig", "parse_runtime"]

SourceConfig = Annotated[
    MqttJsonConfig | SparkplugConfig | OpcUaConfig, Field(discriminator="kind")
]
KINDS: dict[str, type[BaseModel]] = {
    "mqtt-json": MqttJsonConfig,
    "sparkplug": SparkplugConfig,
    "opcua": OpcUaConfig,
}


class RuntimeConfig(BaseModel):
    """The validated ``[sources]`` table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_rows: int = Field(5000, gt=0)
    batch_ms: float = Field(200.0, gt=0)
    max_pending_rows: int = Field(200_000, gt=0)
    health_interval_s: float = Field(1.0, gt=0)
    sinks: tuple[str, ...] | None = None
    """Sink names (``safety``, ``detect``); None: every sink that is configured."""
    sources: dict[str, SourceConfig] = Field(default_factory=dict)


def parse_runtime(raw: dict[str, Any]) -> RuntimeConfig:
    """Validates a raw ``[sources]`` table; raises :class:`ConfigError` listing problems."""
    settings = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    problems: list[str] = []
    sources: dict[str, Any] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            continue
        kind = table.get("kind")
        model = KINDS.get(kind) if isinstance(kind, str) else None
        if model is None:
            problems.append(
                f"sources.{name}.kind: {kind!r} is not a source kind; use "
                "mqtt-json, sparkplug or opcua"
            )
            continue
        try:
            sources[name] = model.model_validate(table)
        except ValidationError as exc:
            problems += [_describe(f"sources.{name}", err) for err in exc.errors()]
    try:
        config = RuntimeConfig.model_validate({**settings, "sources": {}})
    except ValidationError as exc:
        problems += [_describe("sources", err) for err in exc.errors()]
        config = None
    if problems or config is None:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"[sources] has {len(problems)} problem(s):\n{lines}")
    return config.model_copy(update={"sources": sources})


def _describe(prefix: str, err: Any) -> str:
    key = ".".join([prefix, *(str(p) for p in err["loc"])])
    kind = err["type"]
    message = str(err["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"{key}: unknown key; check the spelling against docs/streaming.md"
    if kind == "missing":
        return f"{key}: required key is missing; add it (see docs/streaming.md)"
    shown = "" if kind == "value_error" else f" (got {err.get('input')!r})"
    return f"{key}: {message}{shown}"
