"""The verifiable ledger: an RFC 6962 Merkle log of commitments with signed checkpoints.

A transparency log, not a blockchain: one writer (the plant) appends; anyone holding a
signed checkpoint can check that an entry is in the log (inclusion proof) and that the
log only ever grew (consistency proof). Leaves are commitments to salted fields, never
plaintext, so the plant discloses to each partner only the fields it chooses, and may
delete a payload without breaking any proof.

Contract:

- hashing is RFC 9162 §2.1 (SHA-256, 0x00/0x01 prefixes); proofs interoperate with every
  RFC 6962 verifier (tested against the transparency-dev/merkle vectors);
- :meth:`Ledger.commit` returns only once the entry is durable (SQLite WAL, fsync);
  concurrent callers are group-committed;
- checkpoints are C2SP signed notes (Ed25519, C2SP key IDs), proofs C2SP tlog-proofs;
- commitments are RFC 8785 canonical JSON (the subset in :mod:`.canonical`);
- :meth:`Ledger.audit` recomputes everything from the leaves and lists every
  disagreement with the store.

Examples:
    >>> tree = MemoryTree()
    >>> _ = [tree.append(x) for x in (b"a", b"b", b"c")]
    >>> verify_inclusion(2, 3, leaf_hash(b"c"), inclusion_proof(2, 3, tree.nodes), tree.root())
"""

from __future__ import annotations

from factoryax.ledger.audit import AuditProblem, AuditReport, audit_log
from factoryax.ledger.base import LogStore, NewEntry, PayloadStore, StoredEntry
from factoryax.ledger.canonical import JsonValue, canonical_json, parse_canonical
from factoryax.ledger.checkpoint import Checkpoint, SignedCheckpoint, TlogProof, open_checkpoint
from factoryax.ledger.commitment import (
    Commitment,
    Disclosure,
    commit_fields,
    format_time,
    open_disclosures,
    parse_time,
)
from factoryax.ledger.errors import (
    KeyFileError,
    LedgerError,
    PayloadDeletedError,
    RecordError,
    StoreError,
    VerificationError,
)
from factoryax.ledger.keys import KeyRing
from factoryax.ledger.ledger import (
    LEDGER_DIR,
    CheckpointPolicy,
    Ledger,
    Receipt,
    RecordInput,
    default_origin,
)
from factoryax.ledger.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
)
from factoryax.ledger.note import SignerKey, VerifierKey, open_note, sign_note
from factoryax.ledger.payloads import SqlitePayloadStore
from factoryax.ledger.proof import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from factoryax.ledger.records import RECORD_TYPES, RecordType, rows_digest
from factoryax.ledger.sqlite import SqliteLogStore

__all__ = [
    "EMPTY_ROOT",
    "LEDGER_DIR",
    "RECORD_TYPES",
    "AuditProblem",
    "AuditReport",
    "Checkpoint",
    "CheckpointPolicy",
    "Commitment",
    "Disclosure",
    "JsonValue",
    "KeyFileError",
    "KeyRing",
    "Ledger",
    "LedgerError",
    "LogStore",
    "MemoryTree",
    "NewEntry",
    "PayloadDeletedError",
    "PayloadStore",
    "Receipt",
    "RecordError",
    "RecordInput",
    "RecordType",
    "SignedCheckpoint",
    "SignerKey",
    "SqliteLogStore",
    "SqlitePayloadStore",
    "StoreError",
    "StoredEntry",
    "TlogProof",
    "VerificationError",
    "VerifierKey",
    "audit_log",
    "canonical_json",
    "commit_fields",
    "consistency_proof",
    "default_origin",
    "format_time",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "open_disclosures",
    "open_note",
    "parse_canonical",
    "parse_time",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "rows_digest",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
]
