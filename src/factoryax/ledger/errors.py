"""The ledger's errors, all under :class:`factoryax.core.FactoryAXError`.

::

    FactoryAXError
    └── LedgerError                        the ledger cannot do what was asked
        ├── VerificationError (ValueError) a proof, signature, note or disclosure does not check
        ├── RecordError (ValueError)       a record's type or fields are not acceptable
        ├── KeyFileError (ValueError)      a signing/verifier key is missing, malformed or exposed
        ├── StoreError (OSError)           the log store is damaged or cannot be opened
        └── PayloadDeletedError (LookupError)  the payload of an entry was deleted (retention)

Each message names the value it rejects and what to do; ``VerificationError.step`` says
which check failed (``"inclusion"``, ``"signature"``, ``"consistency"`` …) so programs can
react without parsing text.
"""

from __future__ import annotations

from factoryax.core import FactoryAXError

__all__ = [
    "KeyFileError",
    "LedgerError",
    "PayloadDeletedError",
    "RecordError",
    "StoreError",
    "VerificationError",
]


class LedgerError(FactoryAXError):
    """The ledger cannot do what was asked."""


class VerificationError(LedgerError, ValueError):
    """A proof, checkpoint signature, note or disclosure failed to verify.

    Attributes:
        step: the check that failed, e.g. ``"inclusion"``, ``"consistency"``,
            ``"signature"``, ``"note"``, ``"disclosure"``, ``"pin"``.
    """

    def __init__(self, message: str, *, step: str = "proof") -> None:
        self.step = step
        super().__init__(message)


class RecordError(LedgerError, ValueError):
    """A record's type, schema version or fields are not acceptable."""


class KeyFileError(LedgerError, ValueError):
    """A signing or verifier key is missing, malformed, or readable by others."""


class StoreError(LedgerError, OSError):
    """The log store is damaged (rows missing or out of place) or cannot be opened."""


class PayloadDeletedError(LedgerError, LookupError):
    """The payload (disclosures) of an entry was deleted; its commitment still proves.

    Attributes:
        index: the log index whose payload is gone.
    """

    def __init__(self, index: int, reason: str | None = None) -> None:
        self.index = index
        self.reason = reason
        what = (
            f"was deleted ({reason})"
            if reason
            else "is missing (never stored for a bare leaf, or removed outside FactoryAX)"
        )
        super().__init__(
            f"the payload of entry {index} {what}; its leaf and proofs remain valid, but its "
            "fields can no longer be disclosed"
        )
