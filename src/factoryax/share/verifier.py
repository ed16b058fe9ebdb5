"""The offline verifier a partner runs: no access to the plant, only the bundle and a key.

Checks, in order, each failing with :class:`~factoryax.ledger.VerificationError` whose
``step`` names it:

1. ``signature`` / ``origin`` — the checkpoint is a C2SP signed note by a trusted key,
   for the expected log;
2. ``leaf`` — the leaf is a well-formed commitment in canonical JSON;
3. ``inclusion`` — the leaf's RFC 6962 hash is at the bundle's index in the checkpoint's
   tree (RFC 9162 §2.1.3.2);
4. ``disclosure`` — every disclosed field's salted digest is committed in the leaf;
5. ``attachment`` — each attached file's SHA-256 equals a disclosed ``*_sha256`` field;
6. ``pin`` / ``consistency`` — the checkpoint agrees with the checkpoints pinned before.

Only when all pass are the disclosed fields returned (and the checkpoint pinned).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from factoryax.ledger import (
    Commitment,
    JsonValue,
    SignedCheckpoint,
    VerificationError,
    VerifierKey,
    leaf_hash,
    open_checkpoint,
    open_disclosures,
    verify_inclusion,
)
from factoryax.share.bundle import EvidenceBundle
from factoryax.share.pins import PinOutcome, PinStore

__all__ = ["VerifiedEvidence", "verify_bundle"]


@dataclass(frozen=True)
class VerifiedEvidence:
    """What a bundle proved.

    Attributes:
        origin: the log.
        index: the entry's position in it.
        record_type: e.g. ``"quality_certificate"``.
        schema_version: the record type's schema version.
        claimed_at: when the producer says the fact happened.
        fields: the disclosed fields (name → value).
        undisclosed: how many committed fields stayed hidden.
        checkpoint: the signed checkpoint the entry is proven in.
        signed_by: ``name+keyid`` of each trusted key that signed it.
        pin: what pinning concluded (None when no pin store was used).
        attachments: file name → the ``*_sha256`` field it matched.
    """

    origin: str
    index: int
    record_type: str
    schema_version: int
    claimed_at: dt.datetime
    fields: dict[str, JsonValue]
    undisclosed: int
    checkpoint: SignedCheckpoint
    signed_by: tuple[str, ...]
    pin: PinOutcome | None
    attachments: dict[str, str]

    def summary(self) -> dict[str, JsonValue]:
        """The result as a JSON object (``factoryax verify --json``)."""
        return {
            "verified": True,
            "origin": self.origin,
            "index": self.index,
            "record_type": self.record_type,
            "schema_version": self.schema_version,
            "claimed_at": self.claimed_at.isoformat(),
            "checkpoint_size": self.checkpoint.size,
            "signed_by": list(self.signed_by),
            "pin": self.pin.kind if self.pin else None,
            "fields": self.fields,
            "undisclosed": self.undisclosed,
            "attachments": dict(self.attachments),
        }


def _check_attachments(paths: Sequence[Path], fields: dict[str, JsonValue]) -> dict[str, str]:
    digests = {
        str(v).lower(): name
        for name, v in fields.items()
        if name.endswith("_sha256") and isinstance(v, str)
    }
    matched = {}
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        name = digests.get(digest)
        if name is None:
            raise VerificationError(
                f"file {path.name!r} (SHA-256 {digest[:16]}…) matches no disclosed digest "
                f"({', '.join(sorted(digests.values())) or 'none disclosed'}): it is not the "
                "document that was committed",
                step="attachment",
            )
        matched[path.name] = name
    return matched


def verify_bundle(
    bundle: EvidenceBundle | str,
    keys: Sequence[VerifierKey],
    *,
    origin: str | None = None,
    pins: PinStore | None = None,
    attachments: Sequence[Path] = (),
) -> VerifiedEvidence:
    """Verifies an evidence bundle offline.

    Args:
        bundle: the bundle or its JSON text.
        keys: trusted verifier keys of the log (``<name>+<id>+<base64>``).
        origin: the log expected; default the key name (the C2SP convention).
        pins: the partner's pin store; None skips pinning (and pins nothing).
        attachments: files (the certificate PDF/JSON) whose digests must be disclosed.

    Raises:
        VerificationError: the first check that fails (see the module docstring).
        BundleFormatError: the text is not a bundle.
    """
    if isinstance(bundle, str):
        bundle = EvidenceBundle.parse(bundle)
    signed, note = open_checkpoint(bundle.proof.checkpoint_note, keys, origin=origin)
    if signed.origin != bundle.origin:
        raise VerificationError(
            f"bundle names log {bundle.origin!r} but its checkpoint is from {signed.origin!r}",
            step="origin",
        )
    commitment = Commitment.parse(bundle.leaf)
    verify_inclusion(
        bundle.index, signed.size, leaf_hash(bundle.leaf), bundle.proof.path, signed.root
    )
    fields = open_disclosures(commitment, bundle.disclosures)
    matched = _check_attachments(attachments, fields)
    outcome = None
    if pins is not None:
        outcome = pins.check(signed, {s.from_size: s.proof for s in bundle.consistency})
        pins.record(signed)
    return VerifiedEvidence(
        origin=signed.origin,
        index=bundle.index,
        record_type=commitment.record_type,
        schema_version=commitment.schema_version,
        claimed_at=commitment.claimed_at,
        fields=fields,
        undisclosed=len(commitment.digests) - len(fields),
        checkpoint=signed,
        signed_by=tuple(f"{k.name}+{k.key_id:08x}" for k in note.verified_by),
        pin=outcome,
        attachments=matched,
    )
