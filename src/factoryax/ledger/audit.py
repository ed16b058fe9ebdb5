"""The audit: recompute the whole tree from the leaves and compare it with everything stored.

What it catches, whoever edited the SQLite file and however:

- an entry deleted, inserted or moved (indices not 0…n-1, or the stored size disagrees);
- a leaf edited or two leaves swapped (its recomputed hash differs from the stored
  node, and every ancestor up to the roots changes);
- a node hash edited, missing or extra;
- a signed checkpoint that no longer matches the recomputed root at its size, one beyond
  the log's end (entries removed), or one whose signature does not verify;
- a payload whose disclosures are not committed in its leaf, or a payload missing
  without a deletion record.

It streams: each tree level is a generator over the level below, merged with the stored
rows of that level, so memory stays O(log n) however long the log.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from factoryax.ledger.base import LogStore, PayloadStore
from factoryax.ledger.checkpoint import open_checkpoint
from factoryax.ledger.commitment import Commitment, decode_payload, open_disclosures
from factoryax.ledger.errors import LedgerError
from factoryax.ledger.merkle import EMPTY_ROOT, NodeId, leaf_hash, node_hash, range_nodes
from factoryax.ledger.note import VerifierKey

__all__ = ["AuditProblem", "AuditReport", "audit_log"]

_MAX_LISTED = 50


@dataclass(frozen=True)
class AuditProblem:
    """One finding: its kind, the index (entry or node) concerned, and an explanation."""

    kind: str
    index: int | None
    message: str


@dataclass(frozen=True)
class AuditReport:
    """What the audit recomputed and what it found (``ok`` when nothing)."""

    size: int
    root: bytes
    entries_checked: int
    nodes_checked: int
    checkpoints_checked: int
    payloads_checked: int
    payloads_deleted: int
    problems: tuple[AuditProblem, ...]
    problem_count: int

    @property
    def ok(self) -> bool:
        """True when the store is exactly what the leaves and checkpoints say."""
        return self.problem_count == 0


@dataclass
class _Findings:
    items: list[AuditProblem] = field(default_factory=list)
    count: int = 0

    def add(self, kind: str, index: int | None, message: str) -> None:
        """Counts a finding; keeps the first few for the report."""
        self.count += 1
        if len(self.items) < _MAX_LISTED:
            self.items.append(AuditProblem(kind, index, message))


def _leaves(log: LogStore, found: _Findings, counter: list[int]) -> Iterator[tuple[int, bytes]]:
    for expected, (index, leaf) in enumerate(log.iter_entries()):
        if index != expected:
            found.add(
                "entry-missing" if index > expected else "entry-order",
                expected,
                f"entries jump from index {expected - 1} to {index}: rows were deleted "
                "or renumbered",
            )
        counter[0] += 1
        yield expected, leaf_hash(leaf)


def _checked(
    log: LogStore,
    level: int,
    computed: Iterator[tuple[int, bytes]],
    found: _Findings,
    wanted: set[NodeId],
    captured: dict[NodeId, bytes],
    last: dict[int, tuple[int, bytes]],
    counter: list[int],
) -> Iterator[tuple[int, bytes]]:
    """Passes a level's recomputed nodes through, comparing each with the stored one.

    Captures the nodes in ``wanted`` and always the level's last node (the right edge
    of whatever size the entries turn out to have).
    """
    stored = log.iter_level(level)
    current = next(stored, None)
    for index, h in computed:
        while current is not None and current[0] < index:
            current = next(stored, None)  # cannot happen unless ids were renumbered
        counter[0] += 1
        if current is None or current[0] != index:
            found.add("node-missing", index, f"tree node (level {level}, {index}) is missing")
        else:
            if current[1] != h:
                what = "leaf" if level == 0 else f"level-{level} node"
                found.add(
                    "leaf-mismatch" if level == 0 else "node-mismatch",
                    index,
                    f"{what} {index}: stored hash differs from the one recomputed from the "
                    "entries (an entry or a node was edited)",
                )
            current = next(stored, None)
        if (level, index) in wanted:
            captured[(level, index)] = h
        last[level] = (index, h)
        yield index, h
    while current is not None:
        found.add(
            "node-extra",
            current[0],
            f"tree node (level {level}, {current[0]}) is beyond the log's entries "
            "(entries were deleted)",
        )
        current = next(stored, None)


def _parents(children: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    left: bytes | None = None
    for index, h in children:
        if index % 2 == 0:
            left = h
        elif left is not None:
            yield index // 2, node_hash(left, h)
            left = None


def audit_log(
    log: LogStore,
    keys: Sequence[VerifierKey],
    payloads: PayloadStore | None = None,
    *,
    stored_size: int | None = None,
) -> AuditReport:
    """Recomputes the tree of ``log`` and reports every disagreement.

    Args:
        log: the store to audit (open it with ``check=False`` so a damaged one opens).
        keys: verifier keys the checkpoints must be signed by.
        payloads: the payload store to cross-check, if any.
        stored_size: the size the store claims (its metadata), compared with the rows.
    """
    found = _Findings()
    checkpoints = log.checkpoints()
    size_claimed = log.size() if stored_size is None else stored_size
    sizes = {cp.size for cp in checkpoints} | {size_claimed}
    wanted = {node for s in sizes for node in range_nodes(0, s)}
    captured: dict[NodeId, bytes] = {}
    last: dict[int, tuple[int, bytes]] = {}
    entry_count, node_count = [0], [0]
    depth = size_claimed.bit_length() + 2  # one level above the root: catches extra nodes
    stream = _leaves(log, found, entry_count)
    for level in range(depth + 1):
        stream = _checked(
            log,
            level,
            stream if level == 0 else _parents(stream),
            found,
            wanted,
            captured,
            last,
            node_count,
        )
    for _ in stream:
        pass
    size = entry_count[0]
    if size != size_claimed:
        found.add(
            "size",
            None,
            f"the store claims {size_claimed} entries but holds {size}: rows were deleted "
            "or added outside FactoryAX",
        )

    def root_at(s: int) -> bytes | None:
        """The recomputed root at size ``s`` (None when its nodes were not recomputed)."""
        if s == 0:
            return EMPTY_ROOT
        hashes = []
        for level, index in range_nodes(0, s):
            if (level, index) in captured:
                hashes.append(captured[(level, index)])
            elif last.get(level, (-1, b""))[0] == index:
                hashes.append(last[level][1])
            else:
                return None
        acc = hashes[-1]
        for h in reversed(hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    for cp in checkpoints:
        try:
            open_checkpoint(cp.note, keys, origin=log.origin)
        except LedgerError as exc:
            found.add("checkpoint-signature", cp.size, f"checkpoint at size {cp.size}: {exc}")
        if cp.size > size:
            found.add(
                "checkpoint-beyond-log",
                cp.size,
                f"a checkpoint was signed at size {cp.size} but the log holds {size} "
                "entries: entries were deleted",
            )
        elif root_at(cp.size) != cp.root:
            found.add(
                "checkpoint-root",
                cp.size,
                f"the entries no longer produce the root signed at size {cp.size}: "
                "history was rewritten",
            )
    checked, deleted = _audit_payloads(log, payloads, found) if payloads else (0, 0)
    return AuditReport(
        size=size,
        root=root_at(size) or b"",
        entries_checked=entry_count[0],
        nodes_checked=node_count[0],
        checkpoints_checked=len(checkpoints),
        payloads_checked=checked,
        payloads_deleted=deleted,
        problems=tuple(found.items),
        problem_count=found.count,
    )


def _audit_payloads(log: LogStore, payloads: PayloadStore, found: _Findings) -> tuple[int, int]:
    deleted = payloads.deleted_reasons()
    stored = payloads.iter_items()
    current = next(stored, None)
    checked = 0
    for index, leaf in log.iter_entries():
        while current is not None and current[0] < index:
            current = next(stored, None)
        body = current[1] if current is not None and current[0] == index else None
        try:
            commitment = Commitment.parse(leaf)
        except LedgerError:
            commitment = None  # a raw leaf: nothing to disclose, no payload expected
        if commitment is None:
            continue
        if body is None:
            if index not in deleted:
                found.add(
                    "payload-missing",
                    index,
                    f"entry {index}: payload missing without a deletion record",
                )
            continue
        checked += 1
        try:
            open_disclosures(commitment, decode_payload(body))
        except LedgerError as exc:
            found.add("payload-mismatch", index, f"entry {index}: {exc}")
    return checked, len(deleted)
