"""The ledger's ports: where log entries, tree nodes and payloads are kept.

Two stores, on purpose:

- the **log store** keeps what proofs need and what must never change: the leaves
  (commitments), the perfect-subtree hashes and the signed checkpoints;
- the **payload store** keeps the disclosures (salted field values) and may forget any of
  them (retention, personal data) without touching a leaf, so no proof ever breaks.

:class:`factoryax.ledger.SqliteLogStore` and :class:`factoryax.ledger.SqlitePayloadStore`
are the embedded adapters; a PostgreSQL pair would implement the same two protocols.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from factoryax.ledger.checkpoint import SignedCheckpoint
from factoryax.ledger.merkle import NodeId

__all__ = ["LogStore", "NewEntry", "PayloadStore", "StoredEntry"]


@dataclass(frozen=True)
class NewEntry:
    """One entry to append: the leaf bytes, its record type and its (deletable) payload."""

    leaf: bytes
    record_type: str
    payload: str | None = None


@dataclass(frozen=True)
class StoredEntry:
    """One logged entry as the store returns it."""

    index: int
    leaf: bytes
    record_type: str
    logged_at: dt.datetime


class PayloadStore(Protocol):
    """Deletable payloads keyed by log index."""

    def put_many(self, items: Sequence[tuple[int, str]]) -> None:
        """Stores payloads durably (before the log commits the matching entries)."""
        ...

    def get(self, index: int) -> str | None:
        """The payload of ``index``, or None when absent or deleted."""
        ...

    def deleted(self, index: int) -> str | None:
        """The reason the payload of ``index`` was deleted, or None."""
        ...

    def delete(self, index: int, reason: str) -> bool:
        """Erases a payload for good, leaving a tombstone; False when there was none."""
        ...

    def truncate(self, size: int) -> int:
        """Removes payloads at indices >= ``size`` (left by a crash before the log commit)."""
        ...

    def iter_items(self) -> Iterator[tuple[int, str]]:
        """Every stored (index, payload) in index order (audit)."""
        ...

    def deleted_reasons(self) -> dict[int, str]:
        """Index → reason of every deleted payload (audit)."""
        ...

    def close(self) -> None:
        """Releases the store."""
        ...


class LogStore(Protocol):
    """An append-only Merkle log: entries, perfect-subtree hashes, checkpoints."""

    @property
    def origin(self) -> str:
        """The log's origin line (fixed when the log is created)."""
        ...

    def size(self) -> int:
        """Number of durable entries."""
        ...

    def append(self, entries: Sequence[NewEntry]) -> list[int]:
        """Appends entries and returns their indices once durable (group-committed)."""
        ...

    def nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of perfect subtrees (a :data:`factoryax.ledger.merkle.NodeSource`)."""
        ...

    def entries(self, start: int, stop: int) -> list[StoredEntry]:
        """Entries with ``start <= index < stop``."""
        ...

    def iter_entries(self) -> Iterator[tuple[int, bytes]]:
        """Every (index, leaf) as stored, in index order, whatever its state (audit)."""
        ...

    def iter_level(self, level: int) -> Iterator[tuple[int, bytes]]:
        """Every stored (index, hash) of one tree level, in index order (audit)."""
        ...

    def add_checkpoint(self, checkpoint: SignedCheckpoint) -> None:
        """Keeps a signed checkpoint."""
        ...

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every kept checkpoint, oldest first."""
        ...

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The most recently kept checkpoint, if any."""
        ...

    def close(self) -> None:
        """Releases the store."""
        ...
