"""Verifying inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2).

The checks reproduce the behaviour that the transparency-dev/merkle test vectors encode
(the Go verifier other logs use), so a proof this module accepts is accepted everywhere:

- every hash (leaf hash, roots, proof elements) must be 32 bytes — except that two
  trees of equal, non-zero size are consistent iff the proof is empty and the roots are
  equal, whatever their length;
- a consistency proof *from* size 0 always fails, even 0 → 0: an empty tree commits to
  nothing, so "consistent with it" means nothing (a client must not pin it);
- the proof must have exactly the length the sizes imply (no extra or missing hashes).

Every failure raises :class:`VerificationError` with ``step`` ``"inclusion"`` or
``"consistency"``; success returns ``None``.

Examples:
    >>> from factoryax.ledger.merkle import MemoryTree, inclusion_proof
    >>> tree = MemoryTree()
    >>> for i in range(5):
    ...     _ = tree.append(bytes([i]))
    >>> verify_inclusion(3, 5, tree.levels_[0][3], inclusion_proof(3, 5, tree.nodes), tree.root())
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from factoryax.ledger.errors import VerificationError
from factoryax.ledger.merkle import HASH_SIZE, node_hash

__all__ = ["root_from_inclusion_proof", "verify_consistency", "verify_inclusion"]


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Splits an audit path into its inner part (below the fork with the right border)
    and its border part (left siblings of the right edge) — lengths of each."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _check_sizes(step: str, **hashes: bytes | Sequence[bytes]) -> None:
    for name, value in hashes.items():
        items = [value] if isinstance(value, bytes) else list(value)
        for i, h in enumerate(items):
            if len(h) != HASH_SIZE:
                where = name if isinstance(value, bytes) else f"{name}[{i}]"
                raise VerificationError(
                    f"{where} is {len(h)} bytes; every RFC 6962 SHA-256 hash is {HASH_SIZE}",
                    step=step,
                )


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that an audit path implies (RFC 9162 §2.1.3.2 steps 1-5).

    Raises:
        VerificationError: the index is outside the tree, a hash has the wrong length, or
            the proof has the wrong number of hashes for this index and size.
    """
    if not 0 <= index < size:
        raise VerificationError(
            f"leaf index {index} is not below tree size {size}", step="inclusion"
        )
    _check_sizes("inclusion", leaf_hash=leaf_hash, proof=proof)
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise VerificationError(
            f"inclusion proof for leaf {index} of {size} has {len(proof)} hashes; "
            f"expected {inner + border}",
            step="inclusion",
        )
    node = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(node, proof[inner:])


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Checks that ``leaf_hash`` sits at ``index`` in the tree of ``size`` with ``root``.

    Raises:
        VerificationError: the proof does not lead to ``root`` (``step="inclusion"``).
    """
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)
    _check_sizes("inclusion", root=root)
    if not hmac.compare_digest(calculated, root):
        raise VerificationError(
            f"inclusion proof for leaf {index} does not lead to the root of size {size}",
            step="inclusion",
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Checks that the tree (``size1``, ``root1``) is a prefix of (``size2``, ``root2``).

    Implements RFC 9162 §2.1.4.2 with the edge rules in the module docstring.

    Raises:
        VerificationError: the trees are not shown consistent (``step="consistency"``).
    """
    step = "consistency"
    if size1 < 0 or size2 < size1:
        raise VerificationError(
            f"size2 ({size2}) is smaller than size1 ({size1}): a log never shrinks", step=step
        )
    if size1 == 0:
        raise VerificationError(
            "a consistency proof from the empty tree (size 0) proves nothing; "
            "pin a checkpoint of size >= 1",
            step=step,
        )
    if size1 == size2:
        if proof:
            raise VerificationError(
                f"trees of equal size {size1} need an empty proof, got {len(proof)} hashes",
                step=step,
            )
        if not hmac.compare_digest(root1, root2):
            raise VerificationError(
                f"two different roots for the same size {size1}: the log forked", step=step
            )
        return
    _check_sizes(step, root1=root1, root2=root2, proof=proof)
    if not proof:
        raise VerificationError(
            f"sizes {size1} and {size2} differ but the consistency proof is empty", step=step
        )
    # RFC 9162 §2.1.4.2 step 2: if size1 is an exact power of two, root1 is the seed.
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    if size1 == 1 << shift:
        seed, rest = root1, list(proof)
    else:
        seed, rest = proof[0], list(proof[1:])
    if len(rest) != inner + border:
        expected = inner + border + (0 if size1 == 1 << shift else 1)
        raise VerificationError(
            f"consistency proof {size1} → {size2} has {len(proof)} hashes; expected {expected}",
            step=step,
        )
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if not hmac.compare_digest(hash1, root1):
        raise VerificationError(
            f"consistency proof does not reproduce the root of size {size1}", step=step
        )
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if not hmac.compare_digest(hash2, root2):
        raise VerificationError(
            f"consistency proof does not reproduce the root of size {size2}: "
            f"the tree of size {size2} does not extend the tree of size {size1}",
            step=step,
        )
