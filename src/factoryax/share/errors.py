"""Errors of the partner-evidence package, under :class:`factoryax.core.FactoryAXError`.

::

    FactoryAXError
    └── ShareError                          evidence cannot be built or read
        ├── LotNotFoundError (LookupError)  no production rows for the lot
        └── BundleFormatError (ValueError)  a bundle file is not a FactoryAX evidence bundle

A bundle that is well formed but does not *verify* raises
:class:`factoryax.ledger.VerificationError` instead, with the failing ``step``.
"""

from __future__ import annotations

from factoryax.core import FactoryAXError

__all__ = ["BundleFormatError", "LotNotFoundError", "ShareError"]


class ShareError(FactoryAXError):
    """Evidence for a partner cannot be built or read."""


class LotNotFoundError(ShareError, LookupError):
    """The lake holds no production rows for the requested lot.

    Attributes:
        lot: the lot asked for.
        known: a few lots that do exist (for the message and for programs).
    """

    def __init__(self, lot: str, known: list[str]) -> None:
        self.lot = lot
        self.known = known
        hint = f"; lots in the lake include {', '.join(known[:5])}" if known else ""
        super().__init__(f"no production rows for lot {lot!r}{hint}")


class BundleFormatError(ShareError, ValueError):
    """A file is not a FactoryAX evidence bundle (wrong format name, missing members)."""
