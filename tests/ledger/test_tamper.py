"""Tampering with the SQLite files behind FactoryAX's back: the audit names what was done."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from factoryax.ledger import Ledger, RecordInput, StoreError
from factoryax.ledger.commitment import Disclosure, decode_payload, encode_payload

from .conftest import ORIGIN

Tamper = Callable[[sqlite3.Connection, sqlite3.Connection], None]


def _build(folder: Path) -> None:
    with Ledger.open(folder, origin=ORIGIN) as led:
        led.keys.generate(ORIGIN)
        led.commit_many(
            [
                RecordInput(
                    "operator_approval", {"action": f"a{i}", "operator": "kim", "decision": "ok"}
                )
                for i in range(10)
            ]
        )
        led.checkpoint()


def _edit_leaf(log: sqlite3.Connection, _: sqlite3.Connection) -> None:
    leaf = log.execute("SELECT leaf FROM entries WHERE idx = 5").fetchone()[0]
    log.execute("UPDATE entries SET leaf = ? WHERE idx = 5", (leaf.replace(b"2026", b"2025"),))


def _delete_middle(log: sqlite3.Connection, _: sqlite3.Connection) -> None:
    log.execute("DELETE FROM entries WHERE idx = 4")


def _delete_last_cleanly(log: sqlite3.Connection, _: sqlite3.Connection) -> None:
    # A careful attacker: drops the last entry, its leaf node, and fixes the size.
    log.execute("DELETE FROM entries WHERE idx = 9")
    log.execute("DELETE FROM nodes WHERE id = 9")
    log.execute("UPDATE meta SET value = '9' WHERE key = 'size'")


def _swap_rows(log: sqlite3.Connection, _: sqlite3.Connection) -> None:
    two = log.execute("SELECT leaf FROM entries WHERE idx = 2").fetchone()[0]
    three = log.execute("SELECT leaf FROM entries WHERE idx = 3").fetchone()[0]
    log.execute("UPDATE entries SET leaf = ? WHERE idx = 2", (three,))
    log.execute("UPDATE entries SET leaf = ? WHERE idx = 3", (two,))


def _edit_node(log: sqlite3.Connection, _: sqlite3.Connection) -> None:
    log.execute("UPDATE nodes SET hash = ? WHERE id = ?", (b"\x00" * 32, (1 << 56) | 1))


def _edit_payload(_: sqlite3.Connection, payloads: sqlite3.Connection) -> None:
    body = payloads.execute("SELECT body FROM payloads WHERE idx = 7").fetchone()[0]
    forged = [
        Disclosure.create(d.name, "rejected") if d.name == "decision" else d
        for d in decode_payload(body)
    ]
    payloads.execute("UPDATE payloads SET body = ? WHERE idx = 7", (encode_payload(forged),))


def _drop_payload(_: sqlite3.Connection, payloads: sqlite3.Connection) -> None:
    payloads.execute("DELETE FROM payloads WHERE idx = 1")


def _edit_checkpoint(log: sqlite3.Connection, _: sqlite3.Connection) -> None:
    note = log.execute("SELECT note FROM checkpoints").fetchone()[0]
    log.execute("UPDATE checkpoints SET note = ?", (note.replace("\n10\n", "\n11\n", 1),))


CASES: dict[str, tuple[Tamper, set[str]]] = {
    "edit-leaf": (_edit_leaf, {"leaf-mismatch", "node-mismatch", "checkpoint-root"}),
    "delete-middle-row": (_delete_middle, {"entry-missing", "size", "checkpoint-beyond-log"}),
    "delete-last-row-cleanly": (_delete_last_cleanly, {"checkpoint-beyond-log", "node-extra"}),
    "reorder-rows": (_swap_rows, {"leaf-mismatch", "checkpoint-root"}),
    "edit-node": (_edit_node, {"node-mismatch"}),
    "edit-payload": (_edit_payload, {"payload-mismatch"}),
    "drop-payload": (_drop_payload, {"payload-missing"}),
    "edit-checkpoint": (_edit_checkpoint, {"checkpoint-signature"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_audit_detects_tampering(tmp_path: Path, case: str) -> None:
    """Each kind of edit to the SQLite files is reported by the audit under its kind."""
    folder = tmp_path / "ledger"
    _build(folder)
    with Ledger.open(folder) as led:
        assert led.audit().ok
    tamper, expected = CASES[case]
    log = sqlite3.connect(folder / "ledger.sqlite", isolation_level=None)
    payloads = sqlite3.connect(folder / "payloads.sqlite", isolation_level=None)
    tamper(log, payloads)
    log.close()
    payloads.close()
    with Ledger.open(folder, check=False) as led:
        report = led.audit()
    kinds = {p.kind for p in report.problems}
    assert not report.ok
    assert expected <= kinds, kinds


def test_opening_a_store_with_missing_rows_is_refused(tmp_path: Path) -> None:
    """A deleted entry row trips the check at open, pointing to the audit."""
    folder = tmp_path / "ledger"
    _build(folder)
    con = sqlite3.connect(folder / "ledger.sqlite", isolation_level=None)
    con.execute("DELETE FROM entries WHERE idx = 3")
    con.close()
    with pytest.raises(StoreError, match="ledger audit"):
        Ledger.open(folder)


def test_appending_after_tampered_tail_fails_loudly(tmp_path: Path) -> None:
    """If rows vanish but their nodes stay, appending collides instead of rewriting history."""
    folder = tmp_path / "ledger"
    _build(folder)
    con = sqlite3.connect(folder / "ledger.sqlite", isolation_level=None)
    con.execute("DELETE FROM entries WHERE idx = 9")
    con.execute("UPDATE meta SET value = '9' WHERE key = 'size'")
    con.close()
    with Ledger.open(folder) as led, pytest.raises(StoreError, match="append failed"):
        led.append_leaves([b"replacement"])
