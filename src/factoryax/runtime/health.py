"""Runtime health: ``<workspace>/runtime/health.json``, rewritten atomically about once a
second, read by ``factoryax run --status``, the API and the dashboard.

Examples:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> h = RuntimeHealth(updated_at="2026-11-23T00:00:00+00:00", pid=1,
    ...                   started_at="2026-11-23T00:00:00+00:00")
    >>> write_health(root, h)
    >>> read_health(root).pid
    1
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "HEALTH_FILE",
    "LakeHealth",
    "RuntimeHealth",
    "SinkHealth",
    "SourceHealth",
    "read_health",
    "write_health",
]

HEALTH_FILE = Path("runtime") / "health.json"


@dataclass(frozen=True)
class SourceHealth:
    """One source: its state, rate, lag behind the lake and counters."""

    name: str
    kind: str
    state: str
    rate_per_s: float = 0.0
    """Messages per second received over the last interval."""
    lag_s: float = 0.0
    """Age of the oldest input still waiting to be durable (0 when none waits)."""
    last_message_at: str | None = None
    reconnects: int = 0
    accepted: int = 0
    quarantined: int = 0
    buffered: int = 0
    """Input received but not yet durable (runtime queue plus the source's own buffer)."""


@dataclass(frozen=True)
class LakeHealth:
    """What the runtime appended: micro-batches, readings rows, when last."""

    batches: int = 0
    rows: int = 0
    last_append_at: str | None = None


@dataclass(frozen=True)
class SinkHealth:
    """One sink (safety, detect …): batches it processed and its errors."""

    name: str
    batches: int = 0
    errors: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class RuntimeHealth:
    """The whole file; times are ISO 8601 UTC strings as stored."""

    updated_at: str
    pid: int
    started_at: str
    sources: list[SourceHealth] = field(default_factory=list)
    lake: LakeHealth = field(default_factory=LakeHealth)
    sinks: list[SinkHealth] = field(default_factory=list)

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RuntimeHealth:
        """Parses the file's JSON object."""
        return cls(
            updated_at=str(doc["updated_at"]),
            pid=int(doc["pid"]),
            started_at=str(doc["started_at"]),
            sources=[SourceHealth(**s) for s in doc.get("sources", [])],
            lake=LakeHealth(**doc.get("lake", {})),
            sinks=[SinkHealth(**s) for s in doc.get("sinks", [])],
        )


def write_health(root: Path, health: RuntimeHealth) -> None:
    """Atomically replaces ``<root>/runtime/health.json`` (temporary file + rename)."""
    path = Path(root) / HEALTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".health-{os.getpid()}.tmp")
    tmp.write_text(health.to_json(), encoding="utf-8")
    os.replace(tmp, path)


def read_health(workspace: Any) -> RuntimeHealth | None:
    """The last health a runtime wrote for ``workspace`` (a ``Workspace`` or its root
    folder), or None when no runtime ever ran there or the file is unreadable."""
    root = Path(workspace) if isinstance(workspace, str | os.PathLike) else Path(workspace.root)
    try:
        doc = json.loads((root / HEALTH_FILE).read_text(encoding="utf-8"))
        return RuntimeHealth.from_dict(doc)
    except (OSError, ValueError, KeyError, TypeError):
        return None
