"""The deletable payload store: disclosures in their own SQLite file.

``payloads.sqlite`` holds one row per entry (the JSON array of its disclosures) and a
``deleted`` table recording why a payload was erased. ``secure_delete`` is on, and a
deletion truncates the write-ahead log, so a forgotten payload is overwritten on disk,
not merely unlinked — what retention rules and personal-data requests need. The log's
leaves never change: every proof stays valid after a deletion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from factoryax.ledger.sqlite import connect

__all__ = ["SqlitePayloadStore"]


class SqlitePayloadStore:
    """Deletable payloads in their own SQLite file, erased with ``secure_delete``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = connect(path)
        self._con.execute("PRAGMA secure_delete=ON")  # overwrite deleted content with zeros
        self._lock = threading.Lock()
        self._con.executescript(
            "CREATE TABLE IF NOT EXISTS payloads (idx INTEGER PRIMARY KEY, body TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS deleted (idx INTEGER PRIMARY KEY, reason TEXT NOT NULL,"
            " at INTEGER NOT NULL);"
        )

    def put_many(self, items: Sequence[tuple[int, str]]) -> None:
        """Stores payloads in one durable transaction (replacing crash leftovers)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                self._con.executemany("INSERT OR REPLACE INTO payloads VALUES (?, ?)", items)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

    def get(self, index: int) -> str | None:
        """The payload of ``index``, or None."""
        with self._lock:
            row = self._con.execute("SELECT body FROM payloads WHERE idx = ?", (index,))
            found = row.fetchone()
        return None if found is None else str(found[0])

    def deleted(self, index: int) -> str | None:
        """Why the payload of ``index`` was deleted, or None."""
        with self._lock:
            found = self._con.execute("SELECT reason FROM deleted WHERE idx = ?", (index,))
            row = found.fetchone()
        return None if row is None else str(row[0])

    def delete(self, index: int, reason: str) -> bool:
        """Erases one payload and checkpoints the WAL so no copy stays in it."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            gone = self._con.execute("DELETE FROM payloads WHERE idx = ?", (index,)).rowcount
            self._con.execute(
                "INSERT OR REPLACE INTO deleted VALUES (?, ?, ?)",
                (index, reason, time.time_ns() // 1000),
            )
            self._con.execute("COMMIT")
            self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(gone)

    def truncate(self, size: int) -> int:
        """Drops payloads at indices >= ``size``."""
        with self._lock:
            return int(self._con.execute("DELETE FROM payloads WHERE idx >= ?", (size,)).rowcount)

    def iter_items(self) -> Iterator[tuple[int, str]]:
        """Every stored (index, payload), in index order, on a private connection."""
        con = connect(self.path)
        try:
            for idx, body in con.execute("SELECT idx, body FROM payloads ORDER BY idx"):
                yield int(idx), str(body)
        finally:
            con.close()

    def deleted_reasons(self) -> dict[int, str]:
        """Index → reason of every deleted payload."""
        with self._lock:
            rows = self._con.execute("SELECT idx, reason FROM deleted").fetchall()
        return {int(i): str(r) for i, r in rows}

    def close(self) -> None:
        """Closes the file."""
        self._con.close()
