"""Checkpoint pinning: a partner remembers what each log has shown it, and holds it to that.

A log that rewrites its history (or shows different customers different histories) has
to sign two checkpoints that are not consistent. A partner who keeps every checkpoint it
verified catches that the next time it sees the log:

- a checkpoint of a size already pinned must have the same root (else: a fork);
- a larger checkpoint must come with a consistency proof from the largest pinned one
  (RFC 9162 §2.1.4), which the bundle carries;
- a smaller one cannot be placed (nothing proves it is a prefix of the pinned tree) and is
  refused; the supplier can always issue a fresh bundle against its latest checkpoint.

The pin file is JSON, one entry per origin, written atomically::

    {"version": 1, "logs": {"<origin>": {"checkpoints": [{"size": 12, "root": "<b64>"}],
                                           "latest_note": "<signed checkpoint>"}}}
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factoryax.ledger import SignedCheckpoint, VerificationError, verify_consistency
from factoryax.share.errors import ShareError

__all__ = ["PinOutcome", "PinStore"]


@dataclass(frozen=True)
class PinOutcome:
    """What pinning concluded: ``first``, ``same`` or ``advanced`` (from ``previous_size``)."""

    kind: str
    previous_size: int | None

    def describe(self) -> str:
        """One line for people."""
        if self.kind == "first":
            return "first checkpoint seen from this log: pinned (trust on first use)"
        if self.kind == "same":
            return "matches a checkpoint already pinned"
        return f"consistent with the pinned checkpoint of size {self.previous_size}; pin advanced"


def _items(entry: dict[str, object]) -> list[dict[str, Any]]:
    items = entry.get("checkpoints", [])
    if not isinstance(items, list) or not all(isinstance(c, dict) for c in items):
        raise ShareError("pin file: `checkpoints` must be a list of {size, root} objects")
    return items


class PinStore:
    """The checkpoints a partner has verified, per log origin, in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, object]]:
        if not self.path.is_file():
            return {}
        try:
            doc = json.loads(self.path.read_text("utf-8"))
            logs = doc["logs"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ShareError(
                f"pin file {str(self.path)!r} is damaged ({exc}); restore it from a backup "
                "rather than deleting it (deleting forgets every pinned log)"
            ) from None
        return dict(logs)

    def pinned(self, origin: str) -> list[tuple[int, bytes]]:
        """(size, root) of every pinned checkpoint of ``origin``, by size."""
        entry = self._load().get(origin)
        if not isinstance(entry, dict):
            return []
        return sorted((int(c["size"]), base64.b64decode(c["root"])) for c in _items(entry))

    def check(
        self, checkpoint: SignedCheckpoint, consistency: Mapping[int, Sequence[bytes]]
    ) -> PinOutcome:
        """Checks ``checkpoint`` against the pins (writes nothing).

        Args:
            checkpoint: a checkpoint whose signature was already verified.
            consistency: from-size → consistency proof to ``checkpoint``'s size.

        Raises:
            VerificationError: a fork, a failed or missing consistency proof, or a
                checkpoint older than the pins (``step="pin"`` / ``"consistency"``).
        """
        pins = self.pinned(checkpoint.origin)
        if not pins:
            return PinOutcome("first", None)
        for size, root in pins:
            if size == checkpoint.size:
                if root != checkpoint.root:
                    raise VerificationError(
                        f"the log {checkpoint.origin!r} signed two different roots for size "
                        f"{size}: its history was rewritten (or forked). Keep both "
                        "checkpoints as evidence",
                        step="pin",
                    )
                return PinOutcome("same", size)
        latest_size, latest_root = pins[-1]
        if checkpoint.size < latest_size:
            raise VerificationError(
                f"the bundle's checkpoint (size {checkpoint.size}) is older than the one you "
                f"pinned (size {latest_size}) and cannot be placed in it; ask the supplier for "
                "a fresh bundle",
                step="pin",
            )
        proof = consistency.get(latest_size)
        if proof is None:
            raise VerificationError(
                f"you pinned size {latest_size} of {checkpoint.origin!r} but the bundle holds "
                f"no consistency proof from it to {checkpoint.size}; ask the supplier for a "
                f"bundle built with `--since {latest_size}`",
                step="pin",
            )
        try:
            verify_consistency(latest_size, checkpoint.size, proof, latest_root, checkpoint.root)
        except VerificationError as exc:
            raise VerificationError(
                f"the log is not consistent with your pinned checkpoint (size {latest_size}): "
                f"{exc}. Its history was rewritten; keep both checkpoints as evidence",
                step="consistency",
            ) from None
        return PinOutcome("advanced", latest_size)

    def record(self, checkpoint: SignedCheckpoint) -> None:
        """Pins ``checkpoint`` (after :meth:`check` passed); atomic write."""
        logs = self._load()
        entry = logs.setdefault(checkpoint.origin, {"checkpoints": []})
        items = _items(entry)
        entry["checkpoints"] = items
        if not any(int(c["size"]) == checkpoint.size for c in items):
            items.append(
                {"size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode()}
            )
            items.sort(key=lambda c: int(c["size"]))
        if checkpoint.size >= max(int(c["size"]) for c in items):
            entry["latest_note"] = checkpoint.note
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"version": 1, "logs": logs}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
