"""The SQLite ledger: durable appends, proofs from the store, checkpoints, payloads."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from factoryax.ledger import (
    CheckpointPolicy,
    Ledger,
    MemoryTree,
    PayloadDeletedError,
    RecordError,
    RecordInput,
    StoreError,
    TlogProof,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)

from .conftest import ORIGIN

APPROVAL = {"action": "release lot L1", "operator": "kim", "decision": "approved"}


def test_store_proofs_equal_memory_proofs(ledger: Ledger) -> None:
    """Every inclusion and consistency proof from SQLite equals the in-memory one."""
    leaves = [f"leaf-{i}".encode() for i in range(37)]
    tree = MemoryTree()
    for i in range(0, 37, 5):  # batches of different sizes
        ledger.append_leaves(leaves[i : i + 5])
    for leaf in leaves:
        tree.append(leaf)
    for size in range(1, 38):
        assert ledger.root(size) == tree.root(size)
        for index in range(size):
            assert ledger.inclusion_proof(index, size) == inclusion_proof(index, size, tree.nodes)
        for m in range(1, size + 1):
            assert ledger.consistency_proof(m, size) == consistency_proof(m, size, tree.nodes)


def test_commit_returns_durable_indices_that_survive_reopen(tmp_path: Path) -> None:
    """Indices are contiguous; reopening the files gives the same size, root and fields."""
    folder = tmp_path / "ledger"
    with Ledger.open(folder, origin=ORIGIN) as led:
        receipts = led.commit_many([RecordInput("operator_approval", APPROVAL)] * 3)
        one = led.commit("safety_incident", {"kind": "estop", "asset": "press-01", "severity": 1})
        root = led.root()
    assert [r.index for r in receipts] + [one.index] == [0, 1, 2, 3]
    with Ledger.open(folder) as led:
        assert (led.size, led.root()) == (4, root)
        assert led.fields(3) == {"kind": "estop", "asset": "press-01", "severity": 1}
        assert led.entry(3).leaf == one.leaf


def test_origin_is_fixed_at_creation(tmp_path: Path) -> None:
    """A new ledger needs an origin; reopening under another origin is refused."""
    with pytest.raises(StoreError, match="origin"):
        Ledger.open(tmp_path / "a")
    Ledger.open(tmp_path / "b", origin=ORIGIN).close()
    with pytest.raises(StoreError, match=r"not 'other\.example/log'"):
        Ledger.open(tmp_path / "b", origin="other.example/log")


def test_concurrent_commits_are_group_committed(ledger: Ledger) -> None:
    """Threads committing at once all get distinct, contiguous, durable indices."""
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        """Commits 25 records, one at a time."""
        for _ in range(25):
            index = ledger.commit("operator_approval", APPROVAL).index
            with lock:
                got.append(index)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(150))
    assert ledger.audit().ok


def test_two_writers_on_one_file_stay_consistent(tmp_path: Path) -> None:
    """Two handles (as two processes would) interleave appends; the tree stays right."""
    folder = tmp_path / "ledger"
    a = Ledger.open(folder, origin=ORIGIN)
    b = Ledger.open(folder)
    leaves = []
    for i in range(20):
        writer = a if i % 3 else b
        leaf = f"entry {i}".encode()
        leaves.append(leaf)
        assert writer.append_leaves([leaf]) == [i]
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    assert a.root() == b.root() == tree.root()
    a.close()
    b.close()


def test_checkpoint_is_signed_published_and_proves(ledger: Ledger) -> None:
    """A checkpoint verifies with the ledger's key; tlog-proofs check against it."""
    receipts = ledger.commit_many([RecordInput("operator_approval", APPROVAL)] * 5)
    signed = ledger.checkpoint()
    assert ledger.folder is not None
    assert (ledger.folder / "checkpoint").read_text() == signed.note
    opened, _ = open_checkpoint(signed.note, ledger.keys.verifiers())
    assert (opened.origin, opened.size) == (ORIGIN, 5)
    proof = TlogProof.parse(ledger.tlog_proof(3).encode())
    assert proof.index == 3 and proof.checkpoint_note == signed.note
    verify_inclusion(3, 5, receipts[3].leaf_hash, proof.path, opened.root)
    ledger.commit("operator_approval", APPROVAL)
    later = ledger.checkpoint()
    verify_consistency(5, 6, ledger.consistency_proof(5, 6), signed.root, later.root)


def test_maybe_checkpoint_follows_the_policy(tmp_path: Path) -> None:
    """With every_entries=3, a checkpoint is due after the third new entry, not before."""
    policy = CheckpointPolicy(every_entries=3, every_s=3600)
    with Ledger.open(tmp_path / "l", origin=ORIGIN, policy=policy) as led:
        led.keys.generate(ORIGIN)
        led.append_leaves([b"a", b"b"])
        assert led.maybe_checkpoint() is None
        led.append_leaves([b"c"])
        signed = led.maybe_checkpoint()
        assert signed is not None and signed.size == 3
        assert led.maybe_checkpoint() is None


def test_no_checkpoint_means_no_tlog_proof(ledger: Ledger) -> None:
    """A proof needs a signed checkpoint covering the entry; the error says what to run."""
    ledger.append_leaves([b"x"])
    with pytest.raises(StoreError, match="ledger checkpoint"):
        ledger.tlog_proof(0)


def test_record_types_are_checked(ledger: Ledger) -> None:
    """Unknown types and missing required fields are refused before anything is written."""
    with pytest.raises(RecordError, match="unknown record type"):
        ledger.commit("no_such_type", {"a": 1})
    with pytest.raises(RecordError, match="severity"):
        ledger.commit("safety_incident", {"kind": "estop", "asset": "press-01"})
    assert ledger.size == 0


def test_claimed_time_is_kept(ledger: Ledger) -> None:
    """The claimed time given is the one committed (UTC, microseconds)."""
    at = dt.datetime(2026, 11, 23, 17, 5, 1, 250000, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    receipt = ledger.commit("operator_approval", APPROVAL, claimed_at=at)
    assert receipt.commitment.claimed_at == at
    assert b'"claimed_at":"2026-11-23T08:05:01.250000Z"' in receipt.leaf


def test_forgetting_a_payload_breaks_no_proof(ledger: Ledger) -> None:
    """A deleted payload cannot be disclosed, yet its leaf proves and the audit passes."""
    receipts = ledger.commit_many([RecordInput("operator_approval", APPROVAL)] * 4)
    before = ledger.checkpoint()
    assert ledger.forget(2, "retention: 5 years passed")
    with pytest.raises(PayloadDeletedError, match="retention"):
        ledger.disclosures(2)
    assert ledger.root(4) == before.root
    proof = ledger.inclusion_proof(2, 4)
    verify_inclusion(2, 4, leaf_hash(receipts[2].leaf), proof, before.root)
    report = ledger.audit()
    assert report.ok and report.payloads_deleted == 1
    assert ledger.find("operator_approval", operator="kim") == [0, 1, 3]
