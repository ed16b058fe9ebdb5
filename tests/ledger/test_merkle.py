"""Merkle properties (Hypothesis): every leaf proves inclusion, every pair of sizes proves
consistency, and any flipped bit makes a proof fail."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryax.ledger import (
    EMPTY_ROOT,
    MemoryTree,
    VerificationError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from factoryax.ledger.merkle import range_nodes

SETTINGS = settings(max_examples=60, deadline=None)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written recursively as the RFC states it (the oracle)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _tree(leaves: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@SETTINGS
@given(leaf_lists)
def test_roots_match_the_rfc_definition(leaves: list[bytes]) -> None:
    """The incremental tree, the bottom-up root and the recursive RFC MTH agree at every size."""
    tree = _tree(leaves)
    for size in range(len(leaves) + 1):
        assert tree.root(size) == _mth(leaves[:size])
    assert root_from_leaf_hashes([leaf_hash(x) for x in leaves]) == _mth(leaves)


@SETTINGS
@given(leaf_lists)
def test_every_leaf_proves_inclusion(leaves: list[bytes]) -> None:
    """Each leaf of each tree size verifies; the path is at most ceil(log2 n) hashes."""
    tree = _tree(leaves)
    for size in range(1, len(leaves) + 1):
        root = tree.root(size)
        for index in range(size):
            proof = inclusion_proof(index, size, tree.nodes)
            assert len(proof) <= math.ceil(math.log2(size))
            verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)


@SETTINGS
@given(leaf_lists)
def test_every_pair_of_sizes_proves_consistency(leaves: list[bytes]) -> None:
    """For all 1 <= m <= n the consistency proof verifies between the two roots."""
    tree = _tree(leaves)
    n = len(leaves)
    for m in range(1, n + 1):
        for size in range(m, n + 1):
            proof = consistency_proof(m, size, tree.nodes)
            verify_consistency(m, size, proof, tree.root(m), tree.root(size))


@SETTINGS
@given(leaf_lists, st.data())
def test_any_flipped_bit_fails_inclusion(leaves: list[bytes], data: st.DataObject) -> None:
    """Flipping one bit of the leaf hash, the root or any proof hash makes inclusion fail."""
    tree = _tree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, tree.nodes)
    root, lh = tree.root(size), leaf_hash(leaves[index])
    target = data.draw(st.integers(0, len(proof) + 1))
    bit = data.draw(st.integers(0, 255))
    if target == len(proof):
        lh = _flip(lh, bit)
    elif target == len(proof) + 1:
        root = _flip(root, bit)
    else:
        proof[target] = _flip(proof[target], bit)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, lh, proof, root)


@SETTINGS
@given(st.lists(st.binary(max_size=12), min_size=2, max_size=70), st.data())
def test_any_flipped_bit_fails_consistency(leaves: list[bytes], data: st.DataObject) -> None:
    """Flipping one bit of either root or any proof hash makes consistency fail."""
    tree = _tree(leaves)
    size2 = data.draw(st.integers(2, len(leaves)))
    size1 = data.draw(st.integers(1, size2 - 1))
    proof = consistency_proof(size1, size2, tree.nodes)
    root1, root2 = tree.root(size1), tree.root(size2)
    target = data.draw(st.integers(0, len(proof) + 1))
    bit = data.draw(st.integers(0, 255))
    if target == len(proof):
        root1 = _flip(root1, bit)
    elif target == len(proof) + 1:
        root2 = _flip(root2, bit)
    else:
        proof[target] = _flip(proof[target], bit)
    with pytest.raises(VerificationError):
        verify_consistency(size1, size2, proof, root1, root2)


@SETTINGS
@given(leaf_lists, st.data())
def test_wrong_index_fails(leaves: list[bytes], data: st.DataObject) -> None:
    """A leaf claimed at another position (holding a different leaf) does not verify."""
    tree = _tree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, tree.nodes)
    other = data.draw(st.integers(0, len(leaves) - 1))
    if other < size and leaves[other] != leaves[index]:
        with pytest.raises(VerificationError):
            verify_inclusion(other, size, leaf_hash(leaves[index]), proof, tree.root(size))


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_range_nodes_cover_exactly(begin: int, length: int) -> None:
    """The perfect subtrees of a range are aligned, disjoint and cover it exactly."""
    end = begin + length % 5000
    position = begin
    for level, index in range_nodes(begin, end):
        assert index << level == position
        position += 1 << level
    assert position == end


def test_empty_tree_root_and_edges() -> None:
    """The empty tree's root is SHA-256(""); out-of-range requests are refused."""
    tree = MemoryTree()
    assert tree.root() == EMPTY_ROOT
    tree.append(b"x")
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(1, 1, tree.nodes)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(2, 1, tree.nodes)
    assert consistency_proof(0, 1, tree.nodes) == []
