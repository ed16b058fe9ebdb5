"""C2SP signed notes with Ed25519 keys (https://c2sp.org/signed-note).

A note is UTF-8 text ending in a newline, a blank line, then one signature line per
signer: ``— <key name> <base64(key ID || signature)>``. The key ID is
``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` (0x01 = Ed25519), so a signature
is bound to both the key and its name. Keys travel as the strings Go's
``golang.org/x/mod/sumdb/note`` uses::

    verifier  <name>+<hex key ID>+<base64(0x01 || 32-byte public key)>
    signer    PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>

Examples:
    >>> signer = SignerKey.generate("example.com/log")
    >>> note = sign_note("hello\\n", [signer])
    >>> open_note(note, [signer.verifier]).text
    'hello\\n'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from factoryax.ledger.errors import KeyFileError, VerificationError

__all__ = ["Note", "NoteSignature", "SignerKey", "VerifierKey", "open_note", "sign_note"]

ED25519 = 0x01
MAX_SIGNATURES = 100
"""The spec asks verifiers to accept at least 16; more than 100 is treated as abuse."""
_EM_DASH = "\u2014"
_NAME = re.compile(r"^[^\s+]+$")


def key_id(name: str, public_key: bytes) -> int:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4], big-endian (signed-note §Signatures)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise KeyFileError(f"key name {name!r} must be non-empty, without spaces or '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{what} is not standard base64: {text[:20]!r}…") from None


@dataclass(frozen=True)
class VerifierKey:
    """A public Ed25519 note key: name, key ID and the 32-byte key."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Reads ``<name>+<hex id>+<base64(0x01 || key)>``.

        Raises:
            KeyFileError: malformed, not Ed25519, or the ID does not match the key.
        """
        parts = text.strip().split("+", 2)  # base64 may itself hold '+'
        if len(parts) != 3 or len(parts[1]) != 8:
            raise KeyFileError(
                f"verifier key {text.strip()[:60]!r} is not <name>+<8 hex digits>+<base64>"
            )
        name, hex_id, b64 = parts
        _check_name(name)
        raw = _b64decode(b64, "verifier key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise KeyFileError(f"verifier key {name!r} is not an Ed25519 (type 0x01) key")
        try:
            claimed = int(hex_id, 16)
        except ValueError:
            raise KeyFileError(f"verifier key {name!r}: key ID {hex_id!r} is not hex") from None
        if claimed != key_id(name, raw[1:]):
            raise KeyFileError(
                f"verifier key {name!r}: key ID {hex_id} does not match the key; "
                "the key string was altered or mistyped"
            )
        return cls(name, claimed, raw[1:])

    def encode(self) -> str:
        """The ``<name>+<hex id>+<base64>`` string to hand to partners."""
        b64 = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{b64}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` (64 bytes) is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """A private Ed25519 note key. Never logged: its ``repr`` hides the seed."""

    name: str
    key_id: int
    seed: bytes

    def __repr__(self) -> str:
        return f"SignerKey(name={self.name!r}, key_id={self.key_id:08x})"

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        """A fresh key from the operating system's CSPRNG."""
        _check_name(name)
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes_raw()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(name, key_id(name, public), seed)

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Reads ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise KeyFileError("signer key is not PRIVATE+KEY+<name>+<hex id>+<base64>")
        name, hex_id, b64 = parts[2:]
        _check_name(name)
        raw = _b64decode(b64, "signer key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise KeyFileError(f"signer key {name!r} is not an Ed25519 (type 0x01) key")
        public = (
            Ed25519PrivateKey.from_private_bytes(raw[1:])
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        key = cls(name, key_id(name, public), raw[1:])
        if f"{key.key_id:08x}" != hex_id.lower():
            raise KeyFileError(f"signer key {name!r}: key ID {hex_id} does not match the key")
        return key

    def encode(self) -> str:
        """The private key string (keep it in a 0600 file)."""
        b64 = base64.b64encode(bytes([ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{b64}"

    @property
    def verifier(self) -> VerifierKey:
        """The matching public key."""
        public = (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return VerifierKey(self.name, key_id(self.name, public), public)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature (RFC 8032) of ``message``."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID, raw signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """``— <name> <base64(id || sig)>`` followed by a newline."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_EM_DASH} {self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A parsed signed note whose text has been verified by at least one trusted key."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified_by: tuple[VerifierKey, ...]


def sign_note(text: str, signers: Sequence[SignerKey]) -> str:
    """Signs ``text`` (which must end in a newline) with every signer; returns the note."""
    _check_text(text)
    if not signers:
        raise KeyFileError("no signing key; run `factoryax ledger keygen`")
    lines = [NoteSignature(s.name, s.key_id, s.sign(text.encode())).line() for s in signers]
    return text + "\n" + "".join(lines)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise VerificationError("note text must end with a newline", step="note")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise VerificationError(
            "note holds an ASCII control character other than newline", step="note"
        )


def _parse_signature(line: str) -> NoteSignature:
    if not line.startswith(_EM_DASH + " "):
        raise VerificationError(f"malformed signature line {line[:40]!r}", step="note")
    parts = line[2:].split(" ")
    if len(parts) != 2:
        raise VerificationError(f"malformed signature line {line[:40]!r}", step="note")
    name, b64 = parts
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"signature of {name!r} is not base64", step="note") from None
    if len(blob) < 5 or not _NAME.match(name):
        raise VerificationError(f"malformed signature line {line[:40]!r}", step="note")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def open_note(note: str | bytes, keys: Iterable[VerifierKey]) -> Note:
    """Verifies a signed note against trusted keys and returns its text.

    Signatures from unknown keys (name and ID not both matching) are ignored; a known
    key whose signature fails rejects the whole note; at least one must verify.

    Raises:
        VerificationError: malformed note, a bad signature, or no trusted signature
            (``step="note"`` or ``"signature"``).
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("signed note is not UTF-8", step="note") from None
    _check_text(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise VerificationError("signed note has no blank line before signatures", step="note")
    text, sig_block = note[: split + 1], note[split + 2 :]
    lines = sig_block.split("\n")
    if lines[-1] != "" or len(lines) < 2:
        raise VerificationError("signed note has no signature lines", step="note")
    if len(lines) - 1 > MAX_SIGNATURES:
        raise VerificationError(f"more than {MAX_SIGNATURES} signatures", step="note")
    signatures = tuple(_parse_signature(line) for line in lines[:-1])
    trusted = {(k.name, k.key_id): k for k in keys}
    verified: list[VerifierKey] = []
    for sig in signatures:
        key = trusted.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(text.encode(), sig.signature):
            raise VerificationError(
                f"signature by {sig.name} ({sig.key_id:08x}) does not verify: the note text "
                "was altered after signing",
                step="signature",
            )
        verified.append(key)
    if not verified:
        names = ", ".join(f"{n}+{i:08x}" for n, i in trusted) or "none"
        raise VerificationError(
            f"no signature from a trusted key (trusted: {names})", step="signature"
        )
    return Note(text, signatures, tuple(verified))
