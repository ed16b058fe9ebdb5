"""Checkpoints (https://c2sp.org/tlog-checkpoint) and proofs (https://c2sp.org/tlog-proof).

A checkpoint is the note text ``<origin>\\n<size>\\n<base64 root>\\n`` (plus optional
extension lines), signed as a C2SP signed note. The origin names the log; a verifier
must check it, because a valid signature over another log's checkpoint proves nothing
about this one.

A tlog-proof is the portable "this entry is in that checkpoint" text::

    c2sp.org/tlog-proof@v1
    [extra <base64>]
    index <decimal>
    <base64 hash>            (the RFC 6962 audit path, leaf's sibling first)
    …
    <blank line>
    <the signed checkpoint, verbatim>

Examples:
    >>> cp = Checkpoint("example.com/log", 1, b"\\x00" * 32)
    >>> Checkpoint.parse(cp.text()) == cp
    True
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from factoryax.ledger.errors import VerificationError
from factoryax.ledger.merkle import HASH_SIZE
from factoryax.ledger.note import Note, VerifierKey, open_note

__all__ = ["PROOF_HEADER", "Checkpoint", "SignedCheckpoint", "TlogProof", "open_checkpoint"]

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,19})$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str, step: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{what} {text[:20]!r} is not standard base64", step=step) from None


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and root hash (the unsigned note text)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text, ending in a newline."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Reads the note text of a checkpoint.

        Raises:
            VerificationError: missing lines, a size with leading zeros or a root that is
                not a base64 SHA-256 hash (``step="checkpoint"``).
        """
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0] or "" in lines[:-1]:
            raise VerificationError(
                "checkpoint is not <origin>, <size>, <root> lines, each ending in a newline",
                step="checkpoint",
            )
        if not _DECIMAL.match(lines[1]):
            raise VerificationError(
                f"checkpoint size {lines[1]!r} is not a decimal without leading zeros",
                step="checkpoint",
            )
        root = _unb64(lines[2], "checkpoint root", "checkpoint")
        if len(root) != HASH_SIZE:
            raise VerificationError(
                f"checkpoint root is {len(root)} bytes, expected {HASH_SIZE}", step="checkpoint"
            )
        return cls(lines[0], int(lines[1]), root, tuple(lines[3:-1]))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with its full signed note text."""

    checkpoint: Checkpoint
    note: str

    @property
    def size(self) -> int:
        """Tree size."""
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        """Root hash."""
        return self.checkpoint.root

    @property
    def origin(self) -> str:
        """Log origin."""
        return self.checkpoint.origin


def open_checkpoint(
    note: str, keys: Iterable[VerifierKey], *, origin: str | None = None
) -> tuple[SignedCheckpoint, Note]:
    """Verifies a signed checkpoint and checks its origin.

    Args:
        note: the signed note text.
        keys: trusted verifier keys.
        origin: the expected origin; by default each verifying key's name must be the
            origin (the C2SP convention for a log's own key).

    Raises:
        VerificationError: bad signature, no trusted signature, malformed text, or the
            origin is not the expected one (``step="origin"``).
    """
    opened = open_note(note, keys)
    checkpoint = Checkpoint.parse(opened.text)
    expected = {origin} if origin is not None else {k.name for k in opened.verified_by}
    if checkpoint.origin not in expected:
        raise VerificationError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected log "
            f"{sorted(expected)[0]!r}",
            step="origin",
        )
    return SignedCheckpoint(checkpoint, note), opened


@dataclass(frozen=True)
class TlogProof:
    """A C2SP tlog-proof: index, audit path and the signed checkpoint."""

    index: int
    path: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None

    def encode(self) -> str:
        """The proof text."""
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {_b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(_b64(h) for h in self.path)
        return "\n".join(lines) + "\n\n" + self.checkpoint_note

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        """Reads a proof text (the checkpoint inside is *not* verified here).

        Raises:
            VerificationError: the text does not follow the format (``step="proof"``).
        """
        head, sep, checkpoint_note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines or lines[0] != PROOF_HEADER:
            raise VerificationError(
                f"proof does not start with {PROOF_HEADER!r} and a blank line before the "
                "checkpoint",
                step="proof",
            )
        rest: Sequence[str] = lines[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            extra = _unb64(rest[0][6:], "extra data", "proof")
            rest = rest[1:]
        if not rest or not rest[0].startswith("index ") or not _DECIMAL.match(rest[0][6:]):
            raise VerificationError("proof has no 'index <decimal>' line", step="proof")
        index = int(rest[0][6:])
        path = tuple(_unb64(line, "proof hash", "proof") for line in rest[1:])
        if any(len(h) != HASH_SIZE for h in path):
            raise VerificationError("a proof hash is not 32 bytes", step="proof")
        return cls(index, path, checkpoint_note, extra)
