"""C2SP signed notes and the key ring (generation, permissions, rotation)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from factoryax.ledger import (
    KeyFileError,
    KeyRing,
    SignerKey,
    VerificationError,
    VerifierKey,
    open_note,
    sign_note,
)


def test_sign_and_open_round_trip() -> None:
    """A note signed by a key opens with its verifier and carries the text."""
    key = SignerKey.generate("example.com/a")
    note = sign_note("line one\nline two\n", [key])
    opened = open_note(note, [key.verifier])
    assert opened.text == "line one\nline two\n"
    assert opened.verified_by == (key.verifier,)
    assert note.split("\n")[-2].startswith("\u2014 example.com/a ")


def test_key_strings_round_trip() -> None:
    """Signer and verifier keys survive their C2SP/sumdb text form; repr hides the seed."""
    key = SignerKey.generate("example.com/a")
    assert SignerKey.parse(key.encode()) == key
    assert VerifierKey.parse(key.verifier.encode()) == key.verifier
    assert key.seed.hex() not in repr(key)


def test_unknown_signatures_are_ignored_known_bad_ones_reject() -> None:
    """Foreign signatures are skipped; a failing trusted signature rejects the note."""
    ours, theirs = SignerKey.generate("example.com/a"), SignerKey.generate("example.com/b")
    note = sign_note("hello\n", [theirs, ours])
    assert open_note(note, [ours.verifier]).verified_by == (ours.verifier,)
    with pytest.raises(VerificationError) as none:
        open_note(sign_note("hello\n", [theirs]), [ours.verifier])
    assert none.value.step == "signature"
    tampered = note.replace("hello", "HELLO", 1)
    with pytest.raises(VerificationError) as bad:
        open_note(tampered, [ours.verifier])
    assert bad.value.step == "signature"


@pytest.mark.parametrize(
    "note",
    ["no newline", "text\n", "te\tx\n\n\u2014 a AAAAAAA=\n", "text\n\nnot a signature\n"],
    ids=["no-final-newline", "no-signatures", "control-char", "garbage-line"],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    """Notes without signatures, with control characters or bad lines are refused."""
    key = SignerKey.generate("a")
    with pytest.raises(VerificationError):
        open_note(note, [key.verifier])


@pytest.mark.parametrize(
    "text",
    [
        "name+zzzzzzzz+AZJqeuyE/GnknsCNh1eCtDtwdAwKBddOlS8M2eI1Jt4b",
        "astra+cad5a3d3+AZJqeuyE/GnknsCNh1eCtDtwdAwKBddOlS8M2eI1Jt4b",
        "astra+cad5a3d2+ApJqeuyE/GnknsCNh1eCtDtwdAwKBddOlS8M2eI1Jt4b",
        "astra+cad5a3d2",
        "has space+cad5a3d2+AZJqeuyE/GnknsCNh1eCtDtwdAwKBddOlS8M2eI1Jt4b",
    ],
    ids=["hex", "wrong-id", "wrong-type", "short", "space-in-name"],
)
def test_malformed_verifier_keys_are_rejected(text: str) -> None:
    """A verifier key with a bad ID, type, name or shape raises KeyFileError."""
    with pytest.raises(KeyFileError):
        VerifierKey.parse(text)


def test_keyring_files_and_permissions(tmp_path: Path) -> None:
    """Keys are written 0600 in a 0700 folder; a key readable by others is refused."""
    ring = KeyRing(tmp_path / "keys")
    key = ring.generate("example.com/a")
    private = tmp_path / "keys" / f"{key.key_id:08x}.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert ring.signers() == [key]
    os.chmod(private, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        ring.signers()


def test_keyring_rotation_co_signs_then_retires(tmp_path: Path) -> None:
    """Rotation adds a co-signer; both sign until the old one is retired; both still verify."""
    ring = KeyRing(tmp_path / "keys")
    old = ring.generate("example.com/a")
    with pytest.raises(KeyFileError, match="--rotate"):
        ring.generate("example.com/a")
    new = ring.generate("example.com/a", rotate=True)
    assert [k.key_id for k in ring.signers()] == [old.key_id, new.key_id]
    note = sign_note("tree head\n", ring.signers())
    assert open_note(note, [old.verifier]).text == open_note(note, [new.verifier]).text
    ring.retire(f"{old.key_id:08x}")
    assert ring.signers() == [new]
    assert {k.key_id for k in ring.verifiers()} == {old.key_id, new.key_id}
    with pytest.raises(KeyFileError, match="only signing key"):
        ring.retire(f"{new.key_id:08x}")


def test_keyring_without_keys_explains(tmp_path: Path) -> None:
    """Asking an empty key ring for signers says to run keygen."""
    with pytest.raises(KeyFileError, match="keygen"):
        KeyRing(tmp_path / "none").signers()
