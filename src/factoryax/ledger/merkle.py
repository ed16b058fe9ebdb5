"""RFC 6962 / RFC 9162 Merkle tree hashing and proof generation over any node source.

Hashing follows RFC 9162 §2.1.1 (identical to RFC 6962 §2.1): SHA-256, a ``0x00`` prefix
for leaves and ``0x01`` for interior nodes, and ``SHA-256("")`` for the empty tree. Only
*perfect* subtrees are ever stored: node ``(level, index)`` covers the leaves
``[index << level, (index + 1) << level)``. Every other hash the proofs need (the roots
of trees whose size is not a power of two, the "ephemeral" right-edge nodes) is folded
from the perfect subtrees that cover the same range, so a store only has to answer
"give me these perfect nodes" (:data:`NodeSource`), which SQLite does in one query.

Examples:
    >>> tree = MemoryTree()
    >>> for data in (b"a", b"b", b"c"):
    ...     _ = tree.append(data)
    >>> proof = inclusion_proof(1, 3, tree.nodes)
    >>> len(proof)
    2
    >>> tree.root() == node_hash(node_hash(leaf_hash(b"a"), leaf_hash(b"b")), leaf_hash(b"c"))
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "NodeId",
    "NodeSource",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_nodes",
    "root_from_leaf_hashes",
    "root_of",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() — RFC 9162 §2.1.1."""

NodeId = tuple[int, int]
"""``(level, index)`` of a perfect subtree: leaves ``[index << level, (index + 1) << level)``."""

NodeSource = Callable[[Sequence[NodeId]], Mapping[NodeId, bytes]]
"""Returns the hashes of the requested perfect subtrees (all of them, or raises)."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d0}) = SHA-256(0x00 || d0) — RFC 9162 §2.1.1."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || MTH(left) || MTH(right)) — RFC 9162 §2.1.1."""
    return _sha256(b"\x01" + left + right).digest()


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The perfect subtrees that exactly cover leaves ``[begin, end)``, left to right.

    Each step takes the largest subtree aligned at ``begin`` that still fits, so for a
    prefix ``[0, n)`` these are the subtrees named by the set bits of ``n``, largest first.

    Examples:
        >>> range_nodes(0, 7)
        [(2, 0), (1, 2), (0, 6)]
        >>> range_nodes(3, 8)
        [(0, 3), (2, 1)]
    """
    out: list[NodeId] = []
    while begin < end:
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length()
        while (1 << level) > end - begin:
            level -= 1
        out.append((level, begin >> level))
        begin += 1 << level
    return out


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Folds range nodes right to left: MTH of the range they cover (RFC 9162 §2.1.1)."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, computed bottom-up in memory."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])  # RFC 9162 §2.1.1: an odd last node is promoted as is
        level = nxt
    return level[0]


def root_of(size: int, nodes: NodeSource) -> bytes:
    """MTH of the first ``size`` leaves, from the perfect subtrees covering ``[0, size)``."""
    if size == 0:
        return EMPTY_ROOT
    ids = range_nodes(0, size)
    found = nodes(ids)
    return _fold([found[i] for i in ids])


def _largest_power_below(n: int) -> int:
    """The k of RFC 9162 §2.1.1: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PATH(index, D[size]) — RFC 9162 §2.1.3.1, leaf first."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_below(hi - lo)
        if index - lo < k:  # PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((lo + k, hi))
            hi = lo + k
        else:  # PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PROOF(size1, D[size2]) — RFC 9162 §2.1.4.1."""
    ranges: list[tuple[int, int]] = []
    lo, hi, complete = 0, size2, True
    while True:
        if size1 == hi:  # SUBPROOF(m, D[m], b): [] if b else [MTH(D[m])]
            if not complete:
                ranges.append((lo, hi))
            break
        k = _largest_power_below(hi - lo)
        if size1 - lo <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((lo + k, hi))
            hi = lo + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((lo, lo + k))
            lo += k
            complete = False
    ranges.reverse()
    return ranges


def _hashes_of(ranges: Iterable[tuple[int, int]], nodes: NodeSource) -> list[bytes]:
    """MTH of each range, fetching every perfect subtree needed in one call."""
    plans = [range_nodes(lo, hi) for lo, hi in ranges]
    wanted = list(dict.fromkeys(node for plan in plans for node in plan))
    found = nodes(wanted)
    return [_fold([found[node] for node in plan]) for plan in plans]


def inclusion_proof(index: int, size: int, nodes: NodeSource) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 §2.1.3.1).

    Raises:
        ValueError: ``index`` is not below ``size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index!r} is not in a tree of size {size!r}")
    return _hashes_of(_inclusion_ranges(index, size), nodes)


def consistency_proof(size1: int, size2: int, nodes: NodeSource) -> list[bytes]:
    """The proof that the tree of ``size1`` leaves is a prefix of ``size2`` (RFC 9162 §2.1.4.1).

    An empty list when ``size1`` is 0 or equals ``size2`` (nothing to prove).

    Raises:
        ValueError: ``size1`` is larger than ``size2`` or negative.
    """
    if not 0 <= size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1!r} to size {size2!r}")
    if size1 in (0, size2):
        return []
    return _hashes_of(_consistency_ranges(size1, size2), nodes)


class MemoryTree:
    """An append-only Merkle tree held in memory: every perfect subtree, level by level.

    Used by tests, by the offline tooling and as the reference the stores are audited
    against; the durable stores keep the same nodes in a table.
    """

    def __init__(self) -> None:
        self.levels_: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels_[0])

    def append(self, data: bytes) -> int:
        """Appends one leaf (its data, not its hash) and returns its index."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, hashed: bytes) -> int:
        """Appends one leaf hash, completing every perfect subtree it closes."""
        index = self.size
        self.levels_[0].append(hashed)
        level, i, h = 0, index, hashed
        while i & 1:  # a right child closes its parent (and maybe more above)
            h = node_hash(self.levels_[level][i - 1], h)
            level, i = level + 1, i >> 1
            if len(self.levels_) == level:
                self.levels_.append([])
            self.levels_[level].append(h)
        return index

    def nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """A :data:`NodeSource` over the tree's perfect subtrees."""
        return {(level, i): self.levels_[level][i] for level, i in ids}

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all)."""
        return root_of(self.size if size is None else size, self.nodes)
