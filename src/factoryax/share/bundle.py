"""Evidence bundles: one small JSON file a partner can check offline.

A bundle carries exactly what a verifier needs and nothing the plant did not choose to
show::

    {
      "format": "factoryax.evidence/1",
      "origin": "factoryax.local/changwon-1",
      "leaf": "{\\"_sd\\":[…],\\"_sd_alg\\":\\"sha-256\\",…}",      the commitment (RFC 8785)
      "disclosures": ["WyJ…", …],                        the chosen salted fields
      "proof": "c2sp.org/tlog-proof@v1\\nindex 17\\n…",   C2SP tlog-proof incl. checkpoint
      "consistency": [{"from_size": 12, "proof": ["…"]}]   from checkpoints the partner holds
    }

``consistency`` lets a partner who pinned an earlier checkpoint move its pin forward: the
plant adds a proof from each size the partner is known to hold (``since``).

Examples:
    >>> EvidenceBundle.parse('{"format": "something/else"}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    factoryax.share.errors.BundleFormatError: not a FactoryAX evidence bundle: ...
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from factoryax.ledger import Checkpoint, Ledger, SignedCheckpoint, TlogProof, VerificationError
from factoryax.share.errors import BundleFormatError, ShareError

__all__ = [
    "BUNDLE_FORMAT",
    "ConsistencyStep",
    "EvidenceBundle",
    "SharedLog",
    "build_bundle",
]

BUNDLE_FORMAT = "factoryax.evidence/1"


@dataclass(frozen=True)
class ConsistencyStep:
    """A consistency proof from an older tree size to the bundle's checkpoint."""

    from_size: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class EvidenceBundle:
    """Disclosures + leaf + inclusion proof + signed checkpoint (+ consistency steps)."""

    origin: str
    leaf: bytes
    disclosures: tuple[str, ...]
    proof: TlogProof
    consistency: tuple[ConsistencyStep, ...] = ()

    @property
    def index(self) -> int:
        """The entry's log index."""
        return self.proof.index

    @property
    def checkpoint_size(self) -> int:
        """Tree size of the bundle's checkpoint (as written; not verified here)."""
        note = self.proof.checkpoint_note
        return Checkpoint.parse(note[: note.rfind("\n\n") + 1]).size

    def to_json(self) -> str:
        """The bundle file's text."""
        doc = {
            "format": BUNDLE_FORMAT,
            "origin": self.origin,
            "leaf": self.leaf.decode("utf-8"),
            "disclosures": list(self.disclosures),
            "proof": self.proof.encode(),
            "consistency": [
                {"from_size": s.from_size, "proof": [base64.b64encode(h).decode() for h in s.proof]}
                for s in self.consistency
            ],
        }
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def parse(cls, text: str) -> EvidenceBundle:
        """Reads a bundle file (structure only; :func:`verify_bundle` checks it).

        Raises:
            BundleFormatError: not JSON, another format, or missing/mistyped members.
        """
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleFormatError(f"bundle is not JSON: {exc}") from None
        fmt = doc.get("format") if isinstance(doc, dict) else None
        if fmt != BUNDLE_FORMAT:
            raise BundleFormatError(
                f"not a FactoryAX evidence bundle: format is {fmt!r}, expected {BUNDLE_FORMAT!r}"
            )
        try:
            steps = tuple(
                ConsistencyStep(
                    int(s["from_size"]),
                    tuple(base64.b64decode(h, validate=True) for h in s["proof"]),
                )
                for s in doc.get("consistency", [])
            )
            disclosures = doc["disclosures"]
            if not isinstance(disclosures, list) or not all(
                isinstance(d, str) for d in disclosures
            ):
                raise TypeError("disclosures must be a list of strings")
            return cls(
                origin=str(doc["origin"]),
                leaf=str(doc["leaf"]).encode("utf-8"),
                disclosures=tuple(disclosures),
                proof=TlogProof.parse(str(doc["proof"])),
                consistency=steps,
            )
        except VerificationError as exc:
            raise BundleFormatError(f"bundle proof: {exc}") from None
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise BundleFormatError(f"bundle member missing or malformed: {exc}") from None


def build_bundle(
    ledger: Ledger,
    index: int,
    *,
    disclose: Collection[str] | None = None,
    since: Iterable[int] = (),
    checkpoint: SignedCheckpoint | None = None,
) -> EvidenceBundle:
    """Builds the evidence bundle of entry ``index``.

    Args:
        ledger: the plant's ledger.
        index: the entry to prove.
        disclose: field names to reveal; None reveals all, an empty set none (the bundle
            then proves only that the entry exists).
        since: tree sizes of checkpoints the partner already holds; a consistency proof
            from each is added.
        checkpoint: the checkpoint to prove against; default the latest, signing a new
            one when none covers ``index`` yet.

    Raises:
        ShareError: a requested field does not exist, or ``since`` is beyond the checkpoint.
        PayloadDeletedError: fields were requested but the payload was deleted.
    """
    entry = ledger.entry(index)
    cp = checkpoint or ledger.latest_checkpoint()
    if cp is None or cp.size <= index:
        cp = ledger.checkpoint()
    chosen: list[str] = []
    if disclose is None or disclose:
        available = ledger.disclosures(index)
        names = {d.name for d in available}
        unknown = sorted(set(disclose or ()) - names)
        if unknown:
            raise ShareError(
                f"entry {index} has no field(s) {unknown}; its fields are {sorted(names)}"
            )
        chosen = [d.encoded for d in available if disclose is None or d.name in disclose]
    steps = []
    for size in sorted(set(since)):
        if size > cp.size:
            raise ShareError(
                f"the partner's checkpoint size {size} is beyond the bundle's checkpoint "
                f"({cp.size}); sign a new checkpoint first"
            )
        if 0 < size < cp.size:
            steps.append(ConsistencyStep(size, tuple(ledger.consistency_proof(size, cp.size))))
    return EvidenceBundle(
        origin=ledger.origin,
        leaf=entry.leaf,
        disclosures=tuple(chosen),
        proof=ledger.tlog_proof(index, cp),
        consistency=tuple(steps),
    )


class SharedLog:
    """The plant's note of which checkpoint sizes each partner was sent (``partners.json``).

    :func:`build_bundle` adds a consistency proof from the last size sent to a partner, so
    the partner's pin can advance without the partner having to say what it holds.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, list[int]]:
        if not self.path.is_file():
            return {}
        try:
            doc = json.loads(self.path.read_text("utf-8"))
            return {str(k): [int(x) for x in v] for k, v in doc.items()}
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
            raise ShareError(f"{str(self.path)!r} is damaged ({exc}); fix or remove it") from None

    def sizes(self, partner: str) -> list[int]:
        """Checkpoint sizes already sent to ``partner``."""
        return self._load().get(partner, [])

    def record(self, partner: str, size: int) -> None:
        """Notes that ``partner`` was sent a checkpoint of ``size`` (atomic write)."""
        doc = self._load()
        doc[partner] = sorted({*doc.get(partner, []), size})
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
