"""Human approval for state-changing tools: pending actions kept in SQLite.

A state-changing call never runs when planned: it becomes a :class:`PendingAction`
(serialisable, stored). :meth:`ApprovalStore.claim` lets exactly one approver with an
allowed role move it to ``running``; the result is stored, so approving again returns the
same result without running the tool twice (idempotent). The requester cannot approve
their own action.

Personal data never reaches the file: with a :class:`~factoryax.llmops.redact.Redactor`,
every string of the question, the arguments, the result and the error is redacted before
it is stored. The stored (redacted) arguments are the ones the approved tool runs with, so
what runs is exactly what the approver saw, in any process.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from factoryax.llmops.redact import Redactor

__all__ = ["ApprovalStore", "PendingAction"]

Status = Literal["pending", "running", "done", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id TEXT PRIMARY KEY, tool TEXT NOT NULL, args TEXT NOT NULL, question TEXT NOT NULL,
    requested_by TEXT NOT NULL, requested_role TEXT NOT NULL, trace_id TEXT,
    created_at TEXT NOT NULL, status TEXT NOT NULL, approved_by TEXT, approved_role TEXT,
    result TEXT, error TEXT
)
"""


@dataclass(frozen=True)
class PendingAction:
    """A state-changing call waiting for a human."""

    id: str
    tool: str
    args: dict[str, Any]
    question: str
    requested_by: str
    requested_role: str
    trace_id: str | None
    created_at: str
    status: Status = "pending"
    approved_by: str | None = None
    approved_role: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_json(self) -> str:
        """The action as JSON (what a UI or another process needs to resume it)."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


class ApprovalStore:
    """Pending actions in ``path``; ``redactor`` scrubs what is stored (default: RRNs,
    phone numbers and e-mail addresses)."""

    def __init__(self, path: Path | str, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(_SCHEMA)

    def close(self) -> None:
        """Closes the file."""
        self._con.close()

    def create(
        self,
        tool: str,
        args: dict[str, Any],
        *,
        question: str,
        user: str,
        role: str,
        trace_id: str | None,
    ) -> PendingAction:
        """Stores a new pending action (question and every string in ``args`` redacted)."""
        args = self.redactor.redact_value(args)
        question = self.redactor.redact(question)
        action = PendingAction(
            id="pa-" + secrets.token_hex(6),
            tool=tool,
            args=args,
            question=question,
            requested_by=user,
            requested_role=role,
            trace_id=trace_id,
            created_at=dt.datetime.now(dt.UTC).isoformat(),
        )
        with self._lock:
            self._con.execute(
                "INSERT INTO pending VALUES (?,?,?,?,?,?,?,?,?,NULL,NULL,NULL,NULL)",
                (
                    action.id,
                    tool,
                    json.dumps(args, sort_keys=True),
                    question,
                    user,
                    role,
                    trace_id,
                    action.created_at,
                    "pending",
                ),
            )
        return action

    def get(self, action_id: str) -> PendingAction | None:
        """The action, or None."""
        with self._lock:
            row = self._con.execute("SELECT * FROM pending WHERE id = ?", (action_id,)).fetchone()
        if row is None:
            return None
        return PendingAction(
            id=row[0],
            tool=row[1],
            args=json.loads(row[2]),
            question=row[3],
            requested_by=row[4],
            requested_role=row[5],
            trace_id=row[6],
            created_at=row[7],
            status=row[8],
            approved_by=row[9],
            approved_role=row[10],
            result=json.loads(row[11]) if row[11] else None,
            error=row[12],
        )

    def list(self, status: Status | None = None) -> list[PendingAction]:
        """Actions, newest first (optionally of one status)."""
        with self._lock:
            ids = [
                r[0]
                for r in self._con.execute(
                    "SELECT id FROM pending WHERE ?1 IS NULL OR status = ?1 "
                    "ORDER BY created_at DESC",
                    (status,),
                ).fetchall()
            ]
        return [a for a in (self.get(i) for i in ids) if a is not None]

    def claim(self, action_id: str, user: str, role: str) -> bool:
        """Moves a pending action to ``running`` for ``user``; False if someone did first."""
        with self._lock:
            cur = self._con.execute(
                "UPDATE pending SET status = 'running', approved_by = ?, approved_role = ? "
                "WHERE id = ? AND status = 'pending'",
                (user, role, action_id),
            )
            return cur.rowcount == 1

    def finish(self, action_id: str, *, result: dict[str, Any] | None, error: str | None) -> None:
        """Stores the outcome of a claimed action (every string redacted)."""
        result = self.redactor.redact_value(result)
        error = self.redactor.redact(error) if error is not None else None
        with self._lock:
            self._con.execute(
                "UPDATE pending SET status = ?, result = ?, error = ? WHERE id = ?",
                (
                    "failed" if error is not None else "done",
                    json.dumps(result, sort_keys=True, default=str) if result else None,
                    error,
                    action_id,
                ),
            )
