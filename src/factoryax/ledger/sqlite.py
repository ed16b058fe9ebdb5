"""The embedded log and payload stores: SQLite in WAL mode, ``synchronous=FULL``.

Durability: an index is returned only after the transaction holding its entry and every
tree node it completes has committed, and with ``synchronous=FULL`` SQLite has fsynced
the write-ahead log by then — a crash or power loss afterwards cannot lose it.

Throughput comes from *group commit*: concurrent :meth:`SqliteLogStore.append` calls
queue their entries; whichever caller holds the writer lock commits everything queued in
one transaction (one fsync) and hands each caller its indices. A single caller batches by
passing many entries at once.

Tree nodes are maintained incrementally (RFC 9162 §2.1.1 structure): each appended leaf
stores its hash at level 0 and every perfect subtree it completes, computed from the
in-memory right edge (the "frontier": one hash per set bit of the size). Node
``(level, index)`` lives at row id ``level << 56 | index``. A proof then needs one indexed
lookup of at most 2·log2(n) rows.

Tables of ``ledger.sqlite``: ``meta`` (origin, size), ``entries`` (idx, leaf,
record_type, logged_at µs), ``nodes`` (id, hash), ``checkpoints`` (size, root, note).
Payloads live in a second file (:mod:`.payloads`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from factoryax.ledger.base import NewEntry, PayloadStore, StoredEntry
from factoryax.ledger.checkpoint import Checkpoint, SignedCheckpoint
from factoryax.ledger.errors import StoreError
from factoryax.ledger.merkle import NodeId, leaf_hash, node_hash, range_nodes

__all__ = ["SqliteLogStore", "connect"]

_LEVEL_SHIFT = 56
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, record_type TEXT NOT NULL,
    logged_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL, root BLOB NOT NULL,
    note TEXT NOT NULL, signed_at INTEGER NOT NULL);
"""


def _node_row(node: NodeId) -> int:
    return (node[0] << _LEVEL_SHIFT) | node[1]


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=FULL`` (autocommit; BEGIN by hand)."""
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")  # fsync the WAL at every commit: durable indices
    return con


@dataclass
class _Ticket:
    entries: Sequence[NewEntry]
    indices: list[int] = field(default_factory=list)
    error: BaseException | None = None
    done: bool = False


class SqliteLogStore:
    """The Merkle log in one SQLite file.

    Args:
        path: the database file (created with its folder).
        origin: the log origin; required when the file is new, checked otherwise.
        payloads: where payloads go (written and fsynced before the log commits).
        check: compare the stored size with the rows at open (a cheap tripwire for
            deleted rows); ``False`` for :func:`factoryax.ledger.audit`, which looks closer.

    Raises:
        StoreError: no origin for a new log, another origin, or rows missing.
    """

    def __init__(
        self,
        path: Path,
        *,
        origin: str | None = None,
        payloads: PayloadStore | None = None,
        check: bool = True,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._payloads = payloads
        self._con = connect(path)
        self._reader = connect(path)
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Ticket] = []
        try:
            self._con.executescript(_SCHEMA)
            self._origin = self._init_origin(origin)
            self._size = self._stored_size()
            if check:
                self._tripwire()
        except BaseException:
            self.close()
            raise
        self._frontier: list[bytes] | None = None  # loaded at the first append
        if payloads is not None and check:
            # Payloads written before a crash that kept their entries from committing.
            # Under the log's write lock, so no other process is between its two commits.
            self._con.execute("BEGIN IMMEDIATE")
            try:
                payloads.truncate(self._stored_size())
            finally:
                self._con.execute("COMMIT")

    def _init_origin(self, origin: str | None) -> str:
        row = self._con.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        if row is None:
            if not origin:
                raise StoreError(f"{self.path} is a new ledger; give it an origin")
            self._con.execute("BEGIN IMMEDIATE")
            self._con.execute("INSERT OR IGNORE INTO meta VALUES ('origin', ?)", (origin,))
            self._con.execute("INSERT OR IGNORE INTO meta VALUES ('size', '0')")
            self._con.execute("COMMIT")
            row = self._con.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        stored = str(row[0])
        if origin is not None and origin != stored:
            raise StoreError(f"{self.path} is the log {stored!r}, not {origin!r}")
        return stored

    def _stored_size(self) -> int:
        row = self._con.execute("SELECT value FROM meta WHERE key = 'size'").fetchone()
        return int(row[0]) if row else 0

    def _tripwire(self) -> None:
        count, top = self._con.execute("SELECT count(*), max(idx) FROM entries").fetchone()
        if count != self._size or (top if top is not None else -1) != self._size - 1:
            raise StoreError(
                f"{self.path}: the log says {self._size} entries but holds {count} rows "
                f"(highest index {top}); rows were deleted or added outside FactoryAX. "
                "Run `factoryax ledger audit` and restore from a backup"
            )

    @property
    def origin(self) -> str:
        """The log's origin."""
        return self._origin

    def size(self) -> int:
        """Number of durable entries."""
        with self._read_lock:
            return int(
                self._reader.execute("SELECT value FROM meta WHERE key = 'size'").fetchone()[0]
            )

    # ------------------------------------------------------------------ appending

    def append(self, entries: Sequence[NewEntry]) -> list[int]:
        """Appends ``entries``; returns their indices once durable (group commit)."""
        ticket = _Ticket(entries)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._write_lock:
            if not ticket.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if ticket.error is not None:
            raise ticket.error
        return ticket.indices

    def _commit(self, batch: list[_Ticket]) -> None:
        con = self._con
        try:
            con.execute("BEGIN IMMEDIATE")  # the write lock across processes, too
            start = self._stored_size()
            if self._frontier is None or start != self._size:
                # First append, or another process appended: (re)load the right edge.
                self._size = start
                self._frontier = [self._node(n) for n in range_nodes(0, start)]
            flat = [e for t in batch for e in t.entries]
            if self._payloads is not None:
                items = [(start + i, e.payload) for i, e in enumerate(flat) if e.payload]
                self._payloads.put_many(items)
            frontier = list(self._frontier)
            node_rows: list[tuple[int, bytes]] = []
            now = time.time_ns() // 1000
            for i, e in enumerate(flat):
                index = start + i
                h = leaf_hash(e.leaf)
                node_rows.append((index, h))
                level, j = 0, index
                while j & 1:  # a right child completes its parent: RFC 9162 §2.1.1
                    h = node_hash(frontier.pop(), h)
                    level, j = level + 1, j >> 1
                    node_rows.append(((level << _LEVEL_SHIFT) | j, h))
                frontier.append(h)
            con.executemany(
                "INSERT INTO entries VALUES (?, ?, ?, ?)",
                [(start + i, e.leaf, e.record_type, now) for i, e in enumerate(flat)],
            )
            con.executemany("INSERT INTO nodes VALUES (?, ?)", node_rows)
            con.execute("UPDATE meta SET value = ? WHERE key = 'size'", (str(start + len(flat)),))
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            for t in batch:
                t.error, t.done = exc, True
            if isinstance(exc, sqlite3.Error):
                for t in batch:
                    t.error = StoreError(f"{self.path}: append failed: {exc}")
            return
        self._frontier, self._size = frontier, start + len(flat)
        position = start
        for t in batch:
            t.indices = list(range(position, position + len(t.entries)))
            position += len(t.entries)
            t.done = True

    # ------------------------------------------------------------------ reading

    def _node(self, node: NodeId) -> bytes:
        row = self._con.execute("SELECT hash FROM nodes WHERE id = ?", (_node_row(node),))
        found = row.fetchone()
        if found is None:
            raise StoreError(f"{self.path}: tree node {node} is missing; run ledger audit")
        return bytes(found[0])

    def nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of perfect subtrees, in one indexed query."""
        keys = {_node_row(n): n for n in ids}
        marks = ",".join("?" * len(keys))
        with self._read_lock:
            rows = self._reader.execute(
                f"SELECT id, hash FROM nodes WHERE id IN ({marks})", list(keys)
            ).fetchall()
        found = {keys[r[0]]: bytes(r[1]) for r in rows}
        if len(found) != len(keys):
            missing = sorted(set(keys.values()) - set(found))
            raise StoreError(f"{self.path}: tree nodes {missing[:3]} missing; run ledger audit")
        return found

    def entries(self, start: int, stop: int) -> list[StoredEntry]:
        """Entries with ``start <= index < stop``."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT idx, leaf, record_type, logged_at FROM entries "
                "WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, stop),
            ).fetchall()
        return [
            StoredEntry(
                int(r[0]),
                bytes(r[1]),
                str(r[2]),
                dt.datetime.fromtimestamp(r[3] / 1e6, dt.UTC),
            )
            for r in rows
        ]

    def iter_entries(self) -> Iterator[tuple[int, bytes]]:
        """Every stored (index, leaf) in index order, on a private connection."""
        con = connect(self.path)
        try:
            for idx, leaf in con.execute("SELECT idx, leaf FROM entries ORDER BY idx"):
                yield int(idx), bytes(leaf)
        finally:
            con.close()

    def iter_level(self, level: int) -> Iterator[tuple[int, bytes]]:
        """Every stored (index, hash) of ``level``, in index order."""
        con = connect(self.path)
        lo, hi = level << _LEVEL_SHIFT, ((level + 1) << _LEVEL_SHIFT) - 1
        try:
            for row_id, h in con.execute(
                "SELECT id, hash FROM nodes WHERE id BETWEEN ? AND ? ORDER BY id", (lo, hi)
            ):
                yield int(row_id) - lo, bytes(h)
        finally:
            con.close()

    # ------------------------------------------------------------------ checkpoints

    def add_checkpoint(self, checkpoint: SignedCheckpoint) -> None:
        """Keeps a signed checkpoint (durably)."""
        with self._write_lock:
            self._con.execute(
                "INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)",
                (checkpoint.size, checkpoint.root, checkpoint.note, time.time_ns() // 1000),
            )

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every kept checkpoint, oldest first (not re-verified: see the audit)."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT size, root, note FROM checkpoints ORDER BY id"
            ).fetchall()
        return [self._checkpoint(*row) for row in rows]

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The most recently kept checkpoint, if any."""
        with self._read_lock:
            row = self._reader.execute(
                "SELECT size, root, note FROM checkpoints ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else self._checkpoint(*row)

    def _checkpoint(self, size: int, root: bytes, note: str) -> SignedCheckpoint:
        text = str(note)
        body = text[: text.rfind("\n\n") + 1] if "\n\n" in text else text
        try:
            cp = Checkpoint.parse(body)
        except ValueError:  # a damaged note: keep the columns, the audit reports it
            cp = Checkpoint(self._origin, int(size), bytes(root))
        return SignedCheckpoint(cp, text)

    def close(self) -> None:
        """Closes both connections."""
        self._con.close()
        self._reader.close()
