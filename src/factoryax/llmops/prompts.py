"""A prompt registry: immutable versions and movable aliases, in SQLite.

A version is the SHA-256 of the template (its first 12 hex digits), so registering the
same text twice gives the same version and a version can never change. Aliases
(``production``, ``canary`` or any name) point at a version and can be moved; each trace
is stamped with the versions and alias it ran with.

Examples:
    >>> reg = PromptRegistry(":memory:")
    >>> v1 = reg.register("planner.system", "You are FactoryAX.")
    >>> reg.set_alias("planner.system", "production", v1)
    >>> reg.get("planner.system", "production").text
    'You are FactoryAX.'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from factoryax.core import ConfigError

__all__ = ["PromptRegistry", "PromptVersion"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
    name TEXT NOT NULL, version TEXT NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL, moved_at TEXT NOT NULL,
    PRIMARY KEY (name, alias)
);
CREATE TRIGGER IF NOT EXISTS prompts_immutable BEFORE UPDATE ON prompts
BEGIN SELECT RAISE(ABORT, 'prompt versions are immutable'); END;
"""


@dataclass(frozen=True)
class PromptVersion:
    """One stored prompt text."""

    name: str
    version: str
    text: str


class PromptRegistry:
    """Prompt versions and aliases kept in ``path`` (``:memory:`` for a throwaway one)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._con:
            self._con.executescript(_SCHEMA)

    def close(self) -> None:
        """Closes the file."""
        self._con.close()

    def register(self, name: str, text: str) -> str:
        """Stores ``text`` as a version of ``name`` (idempotent); returns the version."""
        version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._lock, self._con:
            self._con.execute(
                "INSERT OR IGNORE INTO prompts VALUES (?,?,?,?)", (name, version, text, now)
            )
        return version

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Points ``alias`` of ``name`` at ``version`` (which must exist)."""
        self._version(name, version)
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._lock, self._con:
            self._con.execute(
                "INSERT OR REPLACE INTO aliases VALUES (?,?,?,?)", (name, alias, version, now)
            )

    def get(self, name: str, ref: str = "production") -> PromptVersion:
        """The version named by ``ref``: an alias, else a version id.

        Raises:
            ConfigError: neither an alias nor a version of ``name`` is called ``ref``.
        """
        with self._lock:
            row = self._con.execute(
                "SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, ref)
            ).fetchone()
        return self._version(name, str(row[0]) if row else ref)

    def versions(self, name: str) -> list[str]:
        """Every version of ``name``, oldest first."""
        with self._lock:
            rows = self._con.execute(
                "SELECT version FROM prompts WHERE name = ? ORDER BY created_at, version", (name,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def _version(self, name: str, version: str) -> PromptVersion:
        with self._lock:
            row = self._con.execute(
                "SELECT text FROM prompts WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
        if row is None:
            raise ConfigError(
                f"prompt {name!r} has no alias or version {version!r}; "
                f"versions: {self.versions(name)!r}; register the text first"
            )
        return PromptVersion(name, version, str(row[0]))
