"""The audit log: one row per write request (who, what, when, outcome), in SQLite.

Rows are only ever inserted. Each row also stores the SHA-256 of the request body, so a
disputed action can be matched to what was sent without keeping the body itself.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from factoryax.core import utc_now

__all__ = ["AuditLog", "AuditRow"]


@dataclass(frozen=True)
class AuditRow:
    """One audited request."""

    ts: dt.datetime
    who: str
    role: str
    method: str
    path: str
    status: int
    body_sha256: str
    client: str


class AuditLog:
    """Append-only audit rows in the ``audit`` table of ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "ts TEXT NOT NULL, who TEXT NOT NULL, role TEXT NOT NULL, method TEXT NOT NULL, "
            "path TEXT NOT NULL, status INTEGER NOT NULL, body_sha256 TEXT NOT NULL, "
            "client TEXT NOT NULL)"
        )
        self._db.commit()

    def close(self) -> None:
        """Closes the database."""
        with self._lock:
            self._db.close()

    def record(self, row: AuditRow) -> None:
        """Appends one row durably."""
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (ts, who, role, method, path, status, body_sha256, client) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.ts.isoformat(),
                    row.who,
                    row.role,
                    row.method,
                    row.path,
                    row.status,
                    row.body_sha256,
                    row.client,
                ),
            )
            self._db.commit()

    def recent(self, limit: int = 200) -> list[AuditRow]:
        """The latest ``limit`` rows, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ts, who, role, method, path, status, body_sha256, client FROM audit "
                "ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            AuditRow(dt.datetime.fromisoformat(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7])
            for r in rows
        ]

    @staticmethod
    def now() -> dt.datetime:
        """The current UTC instant (one place to read the clock)."""
        return utc_now()
