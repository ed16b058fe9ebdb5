"""What every request handler shares: the workspace, tokens, audit log and locks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from factoryax.api.audit import AuditLog
from factoryax.api.auth import TokenStore
from factoryax.config import Workspace
from factoryax.core import ConfigError

__all__ = ["API_DIR", "ApiConfig", "ApiContext"]

API_DIR = "api"
"""Folder of the API's state inside a workspace (``api.sqlite``: tokens and audit)."""

T = TypeVar("T")


@dataclass(frozen=True)
class ApiConfig:
    """Server settings.

    Attributes:
        max_body_bytes: largest request body accepted (413 above it).
        live_interval_s: seconds between two live (SSE) updates.
        cache_ttl_s: how long a computed KPI/overview is reused.
        cookie_secure: mark the session cookie ``Secure`` (set behind HTTPS).
    """

    max_body_bytes: int = 1_048_576
    live_interval_s: float = 2.0
    cache_ttl_s: float = 5.0
    cookie_secure: bool = False

    def __post_init__(self) -> None:
        if self.max_body_bytes <= 0:
            raise ConfigError(f"api `max_body_bytes` must be > 0, got {self.max_body_bytes!r}")
        if self.live_interval_s <= 0:
            raise ConfigError(f"api `live_interval_s` must be > 0, got {self.live_interval_s!r}")
        if self.cache_ttl_s < 0:
            raise ConfigError(f"api `cache_ttl_s` must be >= 0, got {self.cache_ttl_s!r}")


@dataclass
class ApiContext:
    """State shared by the handlers of one app.

    ``write_lock`` serialises writes to the lake's events table and the ledger made by the
    API (and by an in-process live loop such as ``factoryax demo``'s, which shares it).
    ``engine`` is an optional live :class:`~factoryax.safety.SafetyEngine`; when set,
    operator actions on its rules go through it, so it stays the owner of alarm state.
    """

    ws: Workspace
    config: ApiConfig = field(default_factory=ApiConfig)
    tokens: TokenStore = field(init=False)
    audit: AuditLog = field(init=False)
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    engine: object | None = None
    _cache: dict[tuple[object, ...], tuple[float, object]] = field(default_factory=dict)
    _locks: dict[tuple[object, ...], threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        folder = self.ws.root / API_DIR
        self.tokens = TokenStore(folder / "api.sqlite")
        self.audit = AuditLog(folder / "api.sqlite")

    @property
    def site(self) -> str:
        """The plant's site id."""
        return self.ws.plant.site.id

    @property
    def root(self) -> Path:
        """The workspace folder."""
        return self.ws.root

    def cached(
        self, key: tuple[object, ...], compute: Callable[[], T], ttl_s: float | None = None
    ) -> T:
        """``compute()``, reused for ``ttl_s`` (at most ``cache_ttl_s``) seconds per ``key``."""
        ttl = self.config.cache_ttl_s if ttl_s is None else min(ttl_s, self.config.cache_ttl_s)
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one computation per key at a time; the others reuse its result
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < ttl:
                return hit[1]  # type: ignore[return-value]  # stored here for this key
            value = compute()
            self._cache[key] = (time.monotonic(), value)
            return value

    def close(self) -> None:
        """Closes the token and audit stores."""
        self.tokens.close()
        self.audit.close()
