"""The transparency-dev/merkle proof vectors and the signed logs of serverless-log / tessera."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from factoryax.ledger import (
    MemoryTree,
    VerificationError,
    VerifierKey,
    consistency_proof,
    inclusion_proof,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from factoryax.ledger.note import key_id

from .conftest import VECTORS, vectors_dir

SERVERLESS_KEY = "astra+cad5a3d2+AZJqeuyE/GnknsCNh1eCtDtwdAwKBddOlS8M2eI1Jt4b"
SERVERLESS_ORIGIN = "example.com/testdata"
TESSERA_KEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
"""The eight leaves behind the transparency-dev/merkle vectors (their SOURCE.md)."""


def _files(kind: str) -> list[Path]:
    folder = VECTORS / "transparency-dev-merkle" / kind
    return sorted(folder.glob("**/*.json")) if folder.is_dir() else []


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(p.parents[1])) for p in paths]


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _load(path: Path | None) -> dict[str, Any]:
    vectors_dir()
    assert path is not None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


INCLUSION = _files("inclusion") or [None]
CONSISTENCY = _files("consistency") or [None]


def _reference_tree() -> MemoryTree:
    tree = MemoryTree()
    for leaf in REFERENCE_LEAVES:
        tree.append(leaf)
    return tree


@pytest.mark.parametrize("path", INCLUSION, ids=_ids(_files("inclusion")) or ["absent"])
def test_inclusion_vector(path: Path | None) -> None:
    """Our inclusion verifier agrees with the vector's wantErr (valid and corrupted)."""
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    try:
        verify_inclusion(
            int(v["leafIdx"]),
            int(v["treeSize"]),
            _b64(str(v["leafHash"])),
            proof,
            _b64(str(v["root"])),
        )
        failed = False
    except VerificationError:
        failed = True
    assert failed == v["wantErr"], v["desc"]


@pytest.mark.parametrize("path", CONSISTENCY, ids=_ids(_files("consistency")) or ["absent"])
def test_consistency_vector(path: Path | None) -> None:
    """Our consistency verifier agrees with the vector's wantErr (valid and corrupted)."""
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    try:
        verify_consistency(
            int(v["size1"]),
            int(v["size2"]),
            proof,
            _b64(str(v["root1"])),
            _b64(str(v["root2"])),
        )
        failed = False
    except VerificationError:
        failed = True
    assert failed == v["wantErr"], v["desc"]


def test_vector_counts() -> None:
    """All 98 + 98 inclusion and consistency files are found (none silently missed)."""
    vectors_dir()
    assert (len(_files("inclusion")), len(_files("consistency"))) == (98, 98)


def test_generator_reproduces_valid_inclusion_vectors() -> None:
    """Proofs we generate for the reference leaves equal every valid inclusion vector."""
    vectors_dir()
    tree = _reference_tree()
    valid = [v for v in map(_load, _files("inclusion")) if not v["wantErr"]]
    checked = 0
    for v in valid:
        size, index = int(v["treeSize"]), int(v["leafIdx"])
        if tree.levels_[0][index] != _b64(str(v["leafHash"])):
            continue  # a vector over other leaves (single-entry cases)
        assert tree.root(size) == _b64(str(v["root"]))
        assert inclusion_proof(index, size, tree.nodes) == [_b64(p) for p in v["proof"] or []]
        checked += 1
    assert checked >= 5


def test_generator_reproduces_valid_consistency_vectors() -> None:
    """Consistency proofs we generate equal every valid consistency vector over the leaves."""
    vectors_dir()
    tree = _reference_tree()
    checked = 0
    for v in map(_load, _files("consistency")):
        size1, size2 = int(v["size1"]), int(v["size2"])
        if v["wantErr"] or size2 > 8 or tree.root(size2) != _b64(str(v["root2"])):
            continue
        assert consistency_proof(size1, size2, tree.nodes) == [_b64(p) for p in v["proof"] or []]
        checked += 1
    assert checked >= 5


def _serverless_entries() -> list[bytes]:
    seq = vectors_dir() / "serverless-log" / "seq" / "00" / "00" / "00" / "00"
    return [(seq / f"{i:02x}").read_bytes() for i in range(15)]


@pytest.mark.parametrize("log", ["serverless-log", "tessera-tlog-tiles"])
def test_signed_checkpoints_verify_and_match_entries(log: str) -> None:
    """All 16 signed checkpoints verify, and each root is the RFC 6962 root of the entries."""
    key, origin = (
        (SERVERLESS_KEY, SERVERLESS_ORIGIN)
        if log == "serverless-log"
        else (TESSERA_KEY, "example.com/log/testdata")
    )
    entries = _serverless_entries()
    tree = MemoryTree()
    for size in range(16):
        note = (vectors_dir() / log / f"checkpoint.{size}").read_text()
        signed, _ = open_checkpoint(note, [VerifierKey.parse(key)], origin=origin)
        assert (signed.origin, signed.size, signed.root) == (origin, size, tree.root())
        if size < 15:
            tree.append(entries[size])


def test_consistency_between_every_pair_of_vector_checkpoints() -> None:
    """Our consistency proofs link every pair of signed checkpoints 1 <= a <= b <= 15."""
    key = VerifierKey.parse(SERVERLESS_KEY)
    roots = {}
    for size in range(1, 16):
        note = (vectors_dir() / "serverless-log" / f"checkpoint.{size}").read_text()
        roots[size] = open_checkpoint(note, [key], origin=SERVERLESS_ORIGIN)[0].root
    tree = MemoryTree()
    for entry in _serverless_entries():
        tree.append(entry)
    for a in range(1, 16):
        for b in range(a, 16):
            proof = consistency_proof(a, b, tree.nodes)
            verify_consistency(a, b, proof, roots[a], roots[b])


def test_signature_is_bound_to_origin_and_key() -> None:
    """An edited origin breaks the signature; another log's key or origin is refused."""
    note = (vectors_dir() / "tessera-tlog-tiles" / "checkpoint.15").read_text()
    tessera = VerifierKey.parse(TESSERA_KEY)
    forged = note.replace("example.com/log/testdata\n15", "example.com/testdata\n15", 1)
    with pytest.raises(VerificationError) as sig:
        open_checkpoint(forged, [tessera])
    assert sig.value.step == "signature"
    with pytest.raises(VerificationError) as unknown:
        open_checkpoint(note, [VerifierKey.parse(SERVERLESS_KEY)])
    assert unknown.value.step == "signature"
    with pytest.raises(VerificationError) as origin:
        open_checkpoint(note, [tessera], origin=SERVERLESS_ORIGIN)
    assert origin.value.step == "origin"


def test_vector_key_ids_follow_c2sp() -> None:
    """Key IDs are SHA-256(name || 0x0A || 0x01 || key)[:4], as in the vectors' keys."""
    for text in (SERVERLESS_KEY, TESSERA_KEY):
        key = VerifierKey.parse(text)
        assert key_id(key.name, key.public_key) == key.key_id
        assert key.encode() == text
