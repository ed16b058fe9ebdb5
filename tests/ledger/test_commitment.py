"""Commitments and salted disclosures (RFC 9901 style)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryax.ledger import (
    Commitment,
    Disclosure,
    RecordError,
    VerificationError,
    canonical_json,
    commit_fields,
    open_disclosures,
)
from factoryax.ledger.commitment import decode_payload, encode_payload

AT = dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.UTC)


def test_rfc9901_disclosure_digest() -> None:
    """The RFC 9901 example disclosure hashes to the digest the RFC gives."""
    encoded = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
    disclosure = Disclosure.parse(encoded)
    assert (disclosure.name, disclosure.value) == ("family_name", "Möbius")
    assert disclosure.digest == "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"


def test_commitment_is_canonical_and_sorted() -> None:
    """The leaf is canonical JSON of the envelope with sorted digests and no plaintext."""
    commitment, disclosures = commit_fields("quality_certificate", 1, {"lot": "L-7"}, AT)
    leaf = commitment.to_json()
    assert leaf == canonical_json(commitment.to_object())
    assert b"L-7" not in leaf
    assert Commitment.parse(leaf) == commitment
    assert json.loads(leaf)["claimed_at"] == "2026-11-23T08:30:00.000000Z"
    assert list(commitment.digests) == sorted(d.digest for d in disclosures)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda s: s not in ("_sd", "...")),
        st.none() | st.integers(-1000, 1000) | st.text(max_size=10) | st.floats(-1e6, 1e6),
        max_size=8,
    )
)
def test_every_field_discloses_and_round_trips(fields: dict[str, object]) -> None:
    """Each disclosure opens against its commitment; the payload round-trips."""
    commitment, disclosures = commit_fields("operator_approval", 2, fields, AT)  # type: ignore[arg-type]
    assert Commitment.parse(commitment.to_json()) == commitment
    opened = open_disclosures(commitment, decode_payload(encode_payload(disclosures)))
    assert opened == fields


def test_salts_are_128_bit_and_fresh() -> None:
    """Salts are 16 random bytes (22 base64url chars) and differ between commits."""
    _, first = commit_fields("operator_approval", 1, {"a": 1, "b": 1}, AT)
    _, second = commit_fields("operator_approval", 1, {"a": 1, "b": 1}, AT)
    salts = {d.salt for d in first + second}
    assert len(salts) == 4
    assert all(len(s) == 22 for s in salts)


def test_altered_disclosure_is_rejected() -> None:
    """A changed value, or a field of another record, does not open the commitment."""
    commitment, disclosures = commit_fields("operator_approval", 1, {"decision": "reject"}, AT)
    d = disclosures[0]
    forged = Disclosure.create(d.name, "approve", salt=b"\x00" * 16)
    with pytest.raises(VerificationError, match="not committed") as exc:
        open_disclosures(commitment, [forged])
    assert exc.value.step == "disclosure"
    _, other = commit_fields("operator_approval", 1, {"decision": "reject"}, AT)
    with pytest.raises(VerificationError):
        open_disclosures(commitment, other)
    with pytest.raises(VerificationError, match="twice"):
        open_disclosures(commitment, [d, d])


@pytest.mark.parametrize(
    ("record_type", "fields", "at"),
    [
        ("Bad Type", {"a": 1}, AT),
        ("ok", {"_sd": 1}, AT),
        ("ok", {"": 1}, AT),
        ("ok", {"a": 1}, dt.datetime(2026, 1, 1)),  # noqa: DTZ001 - naive on purpose
        ("ok", {"a": float("nan")}, AT),
    ],
    ids=["type", "reserved-name", "empty-name", "naive-time", "nan"],
)
def test_bad_records_are_refused(
    record_type: str, fields: dict[str, object], at: dt.datetime
) -> None:
    """Bad record types, reserved names, naive times and non-JSON values raise RecordError."""
    with pytest.raises(RecordError):
        commit_fields(record_type, 1, fields, at)[0].to_json()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "leaf",
    [
        b'{"_sd":[],"_sd_alg":"sha-512","claimed_at":"2026-11-23T08:30:00.000000Z",'
        b'"record_type":"x","schema_version":1}',
        b'{"_sd":["b","a"],"_sd_alg":"sha-256","claimed_at":"2026-11-23T08:30:00.000000Z",'
        b'"record_type":"x","schema_version":1}',
        b'{"_sd":[],"_sd_alg":"sha-256","claimed_at":"2026-11-23","record_type":"x",'
        b'"schema_version":1}',
        b'{"_sd":[], "_sd_alg":"sha-256"}',
        b"raw leaf bytes",
    ],
    ids=["algorithm", "unsorted", "time", "spacing", "not-json"],
)
def test_malformed_leaves_are_refused(leaf: bytes) -> None:
    """A leaf that is not a strict commitment fails at step 'leaf'."""
    with pytest.raises(VerificationError) as exc:
        Commitment.parse(leaf)
    assert exc.value.step == "leaf"
