"""The ledger: commit records, sign checkpoints, prove, forget payloads, audit.

One :class:`Ledger` per workspace, in ``<workspace>/ledger/``::

    ledger.sqlite     entries (commitments), tree nodes, checkpoints
    payloads.sqlite   disclosures, deletable
    keys/             signing keys (0600) and verifier keys
    checkpoint        the latest signed checkpoint (what partners fetch)

Examples:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "ledger"
    >>> with Ledger.open(folder, origin="example.com/plant") as ledger:
    ...     _ = ledger.keys.generate(ledger.origin)
    ...     receipt = ledger.commit("operator_approval",
    ...         {"action": "release lot L1", "operator": "kim", "decision": "approved"})
    ...     cp = ledger.checkpoint()
    ...     proof = ledger.inclusion_proof(receipt.index, cp.size)
    >>> (receipt.index, cp.size, len(proof))
    (0, 1, 0)
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from factoryax.core import utc_now
from factoryax.ledger.audit import AuditReport, audit_log
from factoryax.ledger.base import LogStore, NewEntry, PayloadStore, StoredEntry
from factoryax.ledger.canonical import JsonValue
from factoryax.ledger.checkpoint import Checkpoint, SignedCheckpoint, TlogProof
from factoryax.ledger.commitment import (
    Commitment,
    Disclosure,
    commit_fields,
    decode_payload,
    encode_payload,
)
from factoryax.ledger.errors import PayloadDeletedError, RecordError, StoreError
from factoryax.ledger.keys import KeyRing
from factoryax.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, root_of
from factoryax.ledger.note import sign_note
from factoryax.ledger.payloads import SqlitePayloadStore
from factoryax.ledger.records import RAW_RECORD_TYPE, RECORD_TYPES, RecordType
from factoryax.ledger.sqlite import SqliteLogStore

__all__ = ["LEDGER_DIR", "CheckpointPolicy", "Ledger", "Receipt", "RecordInput", "default_origin"]

LEDGER_DIR = "ledger"
"""The ledger's folder inside a workspace."""


def default_origin(site_id: str) -> str:
    """The origin (and key name) a workspace's ledger gets unless told otherwise.

    A schema-less URL, as C2SP recommends for origins and key names; it need not resolve.

    Examples:
        >>> default_origin("changwon-1")
        'factoryax.local/changwon-1'
    """
    return f"factoryax.local/{site_id}"


@dataclass(frozen=True)
class CheckpointPolicy:
    """When :meth:`Ledger.maybe_checkpoint` signs: after N new entries or T seconds."""

    every_entries: int = 1000
    every_s: float = 5.0


@dataclass(frozen=True)
class RecordInput:
    """One record for :meth:`Ledger.commit_many`."""

    record_type: str
    fields: Mapping[str, JsonValue]
    claimed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """What a commit returns once the entry is durable."""

    index: int
    leaf: bytes
    commitment: Commitment
    disclosures: tuple[Disclosure, ...]

    @property
    def leaf_hash(self) -> bytes:
        """RFC 6962 leaf hash of the commitment."""
        return leaf_hash(self.leaf)

    @property
    def record_type(self) -> str:
        """The record's type."""
        return self.commitment.record_type


class Ledger:
    """A verifiable log of commitments with a deletable payload store.

    Args:
        log: the Merkle log store.
        payloads: the payload store.
        keys: the signing keys (checkpoints); None for a read-only or verify-only use.
        folder: where the latest checkpoint file is published (optional).
        policy: when :meth:`maybe_checkpoint` signs.
        clock: the current UTC time (tests pass a fixed one).
    """

    def __init__(
        self,
        log: LogStore,
        payloads: PayloadStore,
        keys: KeyRing,
        *,
        folder: Path | None = None,
        policy: CheckpointPolicy | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.log = log
        self.payloads = payloads
        self.keys = keys
        self.folder = folder
        self.policy = policy or CheckpointPolicy()
        self.clock = clock
        self.record_types: dict[str, RecordType] = dict(RECORD_TYPES)
        self._cp_lock = threading.Lock()
        latest = self.latest_checkpoint()
        self._last_cp_size = latest.size if latest else 0
        self._last_cp_at = time.monotonic()

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        origin: str | None = None,
        check: bool = True,
        policy: CheckpointPolicy | None = None,
    ) -> Ledger:
        """Opens (or creates, given an ``origin``) the ledger kept in ``folder``.

        Raises:
            StoreError: a new ledger without origin, another origin, or a damaged store
                (``check=False`` opens it anyway, for the audit).
        """
        payloads = SqlitePayloadStore(folder / "payloads.sqlite")
        try:
            log = SqliteLogStore(
                folder / "ledger.sqlite", origin=origin, payloads=payloads, check=check
            )
        except BaseException:
            payloads.close()
            raise
        return cls(log, payloads, KeyRing(folder / "keys"), folder=folder, policy=policy)

    @classmethod
    def for_workspace(cls, root: Path, site_id: str, *, check: bool = True) -> Ledger:
        """Opens the ledger of the workspace at ``root`` (``<root>/ledger``), creating it
        with :func:`default_origin` of ``site_id`` when there is none yet."""
        folder = root / LEDGER_DIR
        exists = (folder / "ledger.sqlite").is_file()
        return cls.open(folder, origin=None if exists else default_origin(site_id), check=check)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the stores."""
        self.log.close()
        self.payloads.close()

    @property
    def origin(self) -> str:
        """The log's origin (the first line of its checkpoints)."""
        return self.log.origin

    @property
    def size(self) -> int:
        """Number of durable entries."""
        return self.log.size()

    # ------------------------------------------------------------------ writing

    def register(self, record_type: RecordType) -> None:
        """Adds (or replaces) a record type that :meth:`commit` accepts."""
        self.record_types[record_type.name] = record_type

    def _prepare(
        self, record: RecordInput, now: dt.datetime
    ) -> tuple[NewEntry, Commitment, list[Disclosure]]:
        rt = self.record_types.get(record.record_type)
        if rt is None:
            raise RecordError(
                f"unknown record type {record.record_type!r}; known: "
                f"{sorted(self.record_types)} (register new ones with Ledger.register)"
            )
        rt.check(record.fields)
        claimed = record.claimed_at or now
        commitment, disclosures = commit_fields(rt.name, rt.schema_version, record.fields, claimed)
        entry = NewEntry(commitment.to_json(), rt.name, encode_payload(disclosures))
        return entry, commitment, disclosures

    def commit(
        self,
        record_type: str,
        fields: Mapping[str, JsonValue],
        claimed_at: dt.datetime | None = None,
    ) -> Receipt:
        """Commits one record; returns once its entry is durable.

        Args:
            record_type: a registered type (see :data:`factoryax.ledger.RECORD_TYPES`).
            fields: name → JSON value; each becomes one salted disclosure.
            claimed_at: when the fact happened (aware); default now.

        Raises:
            RecordError: unknown type, missing required fields, or a value with no JSON form.
        """
        return self.commit_many([RecordInput(record_type, fields, claimed_at)])[0]

    def commit_many(self, records: Sequence[RecordInput]) -> list[Receipt]:
        """Commits records in one durable transaction; receipts in input order."""
        now = self.clock()  # the default claimed time of the whole batch
        prepared = [self._prepare(r, now) for r in records]
        indices = self.log.append([p[0] for p in prepared])
        return [
            Receipt(i, entry.leaf, commitment, tuple(disclosures))
            for i, (entry, commitment, disclosures) in zip(indices, prepared, strict=True)
        ]

    def append_leaves(self, leaves: Sequence[bytes]) -> list[int]:
        """Appends bare leaves (no commitment, no payload): imports and benchmarks."""
        return self.log.append([NewEntry(leaf, RAW_RECORD_TYPE) for leaf in leaves])

    # ------------------------------------------------------------------ proving

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` entries (default all)."""
        return root_of(self.size if size is None else size, self.log.nodes)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of entry ``index`` in the tree of ``size`` (default current)."""
        n = self.size if size is None else size
        if n > self.size:
            raise StoreError(f"the log has {self.size} entries, not {n}")
        return inclusion_proof(index, n, self.log.nodes)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Proof that the tree of ``size1`` is a prefix of the tree of ``size2``."""
        n = self.size if size2 is None else size2
        if n > self.size:
            raise StoreError(f"the log has {self.size} entries, not {n}")
        return consistency_proof(size1, n, self.log.nodes)

    def tlog_proof(self, index: int, checkpoint: SignedCheckpoint | None = None) -> TlogProof:
        """A C2SP tlog-proof of entry ``index`` against ``checkpoint`` (default latest).

        Raises:
            StoreError: no checkpoint covers ``index`` yet (sign one first).
        """
        cp = checkpoint or self.latest_checkpoint()
        if cp is None or cp.size <= index:
            raise StoreError(
                f"no signed checkpoint covers entry {index} yet; run `factoryax ledger checkpoint`"
            )
        return TlogProof(index, tuple(self.inclusion_proof(index, cp.size)), cp.note)

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(self) -> SignedCheckpoint:
        """Signs the current tree head with every active key and publishes it.

        Raises:
            KeyFileError: no signing key (run ``factoryax ledger keygen``).
        """
        with self._cp_lock:
            signers = self.keys.signers()
            size = self.size
            cp = Checkpoint(self.origin, size, self.root(size))
            signed = SignedCheckpoint(cp, sign_note(cp.text(), signers))
            self.log.add_checkpoint(signed)
            if self.folder is not None:
                _publish(self.folder / "checkpoint", signed.note)
            self._last_cp_size, self._last_cp_at = size, time.monotonic()
            return signed

    def maybe_checkpoint(self) -> SignedCheckpoint | None:
        """Signs a checkpoint if the policy says it is due and the tree grew."""
        grown = self.size - self._last_cp_size
        due = grown >= self.policy.every_entries or (
            grown > 0 and time.monotonic() - self._last_cp_at >= self.policy.every_s
        )
        return self.checkpoint() if due else None

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The most recently signed checkpoint, if any."""
        return self.log.latest_checkpoint()

    # ------------------------------------------------------------------ reading

    def entry(self, index: int) -> StoredEntry:
        """The stored entry at ``index``.

        Raises:
            IndexError: no such entry.
        """
        found = self.log.entries(index, index + 1)
        if not found:
            raise IndexError(f"no entry {index}; the log has {self.size}")
        return found[0]

    def disclosures(self, index: int) -> list[Disclosure]:
        """The salted fields of entry ``index``.

        Raises:
            PayloadDeletedError: the payload was forgotten.
        """
        body = self.payloads.get(index)
        if body is None:
            raise PayloadDeletedError(index, self.payloads.deleted(index))
        return decode_payload(body)

    def fields(self, index: int) -> dict[str, JsonValue]:
        """Field name → value of entry ``index`` (from its payload)."""
        return {d.name: d.value for d in self.disclosures(index)}

    def find(self, record_type: str, **equals: JsonValue) -> list[int]:
        """Indices of ``record_type`` entries whose fields equal ``equals`` (a scan)."""
        out = []
        step = 10_000
        for start in range(0, self.size, step):
            for e in self.log.entries(start, start + step):
                if e.record_type != record_type:
                    continue
                try:
                    values = self.fields(e.index)
                except PayloadDeletedError:
                    continue
                if all(values.get(k) == v for k, v in equals.items()):
                    out.append(e.index)
        return out

    def forget(self, index: int, reason: str) -> bool:
        """Erases the payload of ``index`` (retention, personal data); proofs still hold."""
        self.entry(index)
        return self.payloads.delete(index, reason)

    def audit(self) -> AuditReport:
        """Recomputes the tree and compares it with the store (see :mod:`.audit`)."""
        return audit_log(self.log, self.keys.verifiers(), self.payloads)


def _publish(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
