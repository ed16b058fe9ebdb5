"""Record types: what other packages commit to the ledger, and the fields each must carry.

A record type is a name, a schema version (bumped when its field set changes meaning)
and the fields every record of that type must have; extra fields are allowed and are
committed like the rest. The built-in types cover the evidence a supplier is asked for:

=======================  ===================================================================
``production_batch``     a digest of a lot's/shift's production rows (not the rows)
``quality_certificate``  a certificate of analysis/conformance for a lot (``factoryax.share``)
``safety_incident``      an alarm or safety event and its handling
``model_promotion``      an AI model version promoted to production, with its evidence
``operator_approval``    a person approving (or rejecting) an action proposed to them
=======================  ===================================================================

Examples:
    >>> RECORD_TYPES["safety_incident"].missing({"kind": "estop", "asset": "press-01"})
    ['severity']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from factoryax.ledger.canonical import JsonValue, canonical_json
from factoryax.ledger.commitment import RECORD_TYPE_PATTERN
from factoryax.ledger.errors import RecordError

__all__ = ["RAW_RECORD_TYPE", "RECORD_TYPES", "RecordType", "rows_digest"]

RAW_RECORD_TYPE = "raw"
"""Entries appended as bare leaves (imports, benchmarks): no commitment, no payload."""


@dataclass(frozen=True)
class RecordType:
    """One kind of ledger record.

    Attributes:
        name: lower-case identifier stored in every commitment.
        schema_version: version of the field set, stored in every commitment.
        required: fields every record must carry.
        description: one line for people (shown by ``factoryax ledger types``).
    """

    name: str
    schema_version: int
    required: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        if not RECORD_TYPE_PATTERN.match(self.name) or self.name == RAW_RECORD_TYPE:
            raise RecordError(f"record type name {self.name!r} is not a lower-case identifier")

    def missing(self, fields: Mapping[str, object]) -> list[str]:
        """Required fields absent from ``fields``."""
        return [f for f in self.required if f not in fields]

    def check(self, fields: Mapping[str, object]) -> None:
        """Raises :class:`RecordError` naming the missing fields, if any."""
        missing = self.missing(fields)
        if missing:
            raise RecordError(
                f"a {self.name!r} record needs field(s) {missing}; "
                f"got {sorted(fields)} (required: {list(self.required)})"
            )


RECORD_TYPES: dict[str, RecordType] = {
    rt.name: rt
    for rt in (
        RecordType(
            "production_batch",
            1,
            ("line", "period_start", "period_end", "parts", "rows_sha256"),
            "digest of production rows for a lot or period (see rows_digest)",
        ),
        RecordType(
            "quality_certificate",
            1,
            ("lot", "product", "verdict", "certificate_sha256"),
            "certificate of analysis / conformance for a lot",
        ),
        RecordType(
            "safety_incident",
            1,
            ("kind", "asset", "severity"),
            "an alarm or safety event and its handling",
        ),
        RecordType(
            "model_promotion",
            1,
            ("model", "version", "approved_by"),
            "an AI model version promoted to production",
        ),
        RecordType(
            "operator_approval",
            1,
            ("action", "operator", "decision"),
            "a person approving or rejecting a proposed action",
        ),
    )
}


def rows_digest(rows: Iterable[Mapping[str, JsonValue]]) -> str:
    """SHA-256 (hex) over the canonical JSON of each row, one per line, in order.

    Lets a ``production_batch`` commit to thousands of rows with one field; whoever holds
    the same rows recomputes the digest.

    Examples:
        >>> rows_digest([{"part_id": "p1", "result": "ok"}])[:12]
        'de7fa0d44885'
    """
    h = hashlib.sha256()
    for row in rows:
        h.update(canonical_json(row))
        h.update(b"\n")
    return h.hexdigest()
