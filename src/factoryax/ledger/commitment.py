"""Commitments: what a leaf holds instead of plaintext (RFC 9901 SD-JWT style disclosures).

Each field of a record becomes a *disclosure* (RFC 9901 §4.2.1): the base64url (no
padding) of the JSON array ``[salt, name, value]``, where ``salt`` is 128 random bits in
base64url (§4.2.1 recommends at least 128). The leaf commits to the SHA-256 digest of each
disclosure (§4.2.3), sorted so that their order reveals nothing (§4.2.4.1), together with
the public envelope: record type, schema version and the claimed time::

    {"_sd":["<digest>",…],"_sd_alg":"sha-256","claimed_at":"2026-11-23T08:00:00.000000Z",
     "record_type":"quality_certificate","schema_version":1}

serialised as RFC 8785 canonical JSON (:mod:`factoryax.ledger.canonical`). A partner
shown some disclosures recomputes their digests and finds each in ``_sd``; the salts
make a guessed value (a lot number, a yield) unverifiable without the disclosure, and the
undisclosed fields stay hidden. Deleting the disclosures (the payload) later leaves the
commitment, and so every proof, intact.

Examples:
    >>> import datetime as dt
    >>> at = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    >>> c, ds = commit_fields("operator_approval", 1, {"operator": "kim", "ok": True}, at)
    >>> sorted(open_disclosures(c, ds[:1]))
    ['operator']
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import json.encoder
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from factoryax.ledger.canonical import JsonValue, canonical_text, parse_canonical
from factoryax.ledger.errors import RecordError, VerificationError

__all__ = [
    "SALT_BYTES",
    "SD_ALG",
    "Commitment",
    "Disclosure",
    "commit_fields",
    "decode_payload",
    "encode_payload",
    "format_time",
    "open_disclosures",
    "parse_time",
]

SD_ALG = "sha-256"
SALT_BYTES = 16
"""128-bit salts (RFC 9901 §9.3)."""

RECORD_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_TIME_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
_DIGEST_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_RESERVED_NAMES = frozenset({"_sd", "..."})  # RFC 9901 §4.2.1


_quote: Callable[[str], str] = json.encoder.encode_basestring
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64url(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5), as SD-JWT uses it."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_URLSAFE).decode()


def _b64url_many(chunks: Sequence[bytes], size: int) -> list[str]:
    """:func:`_b64url` of many ``size``-byte chunks in one base64 call.

    Each chunk is zero-padded to a multiple of 3 bytes so that no base64 group spans two
    chunks; the first ceil(4·size/3) characters of a slot are then exactly the unpadded
    encoding of the chunk (the zero bytes only supply the final group's filler bits).
    """
    if not chunks:
        return []
    pad = b"\0" * (-size % 3)
    slot, keep = (size + len(pad)) // 3 * 4, -(-4 * size // 3)
    text = binascii.b2a_base64(pad.join(chunks) + pad, newline=False).translate(_URLSAFE)
    decoded = text.decode()
    return [decoded[i : i + keep] for i in range(0, len(decoded), slot)]


def _b64url_decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def format_time(at: dt.datetime) -> str:
    """RFC 3339 UTC with microseconds, the one form a commitment accepts.

    Raises:
        RecordError: ``at`` is naive (no time zone).
    """
    global _last_time
    last = _last_time
    if last[0] is at:  # a batch shares one default time: format it once
        return last[1]
    if at.tzinfo is None or at.utcoffset() is None:
        raise RecordError(f"claimed time {at!r} has no time zone; pass an aware UTC datetime")
    text = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    _last_time = (at, text)
    return text


_last_time: tuple[dt.datetime | None, str] = (None, "")


def parse_time(text: str) -> dt.datetime:
    """Reads a time written by :func:`format_time`."""
    if not _TIME_PATTERN.match(text):
        raise RecordError(f"time {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Disclosure:
    """One salted field: the ``encoded`` string is what is hashed and what is shown."""

    salt: str
    name: str
    value: JsonValue
    encoded: str

    @classmethod
    def create(cls, name: str, value: JsonValue, salt: bytes | None = None) -> Disclosure:
        """Makes a disclosure with a fresh 128-bit salt (or the given one)."""
        if name in _RESERVED_NAMES or not name:
            raise RecordError(f"field name {name!r} is reserved by RFC 9901 or empty")
        salt_text = _b64url(salt if salt is not None else secrets.token_bytes(SALT_BYTES))
        # The array need not be canonical (the digest covers the string as issued); it is,
        # so that two implementations given the same salt produce the same disclosure.
        text = f'["{salt_text}",{_quote(name)},{canonical_text(value)}]'
        try:
            encoded = _b64url(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise RecordError(f"field {name!r} holds a lone surrogate") from None
        return cls(salt_text, name, value, encoded)

    @classmethod
    def parse(cls, encoded: str) -> Disclosure:
        """Decodes a disclosure string.

        Raises:
            VerificationError: it is not base64url of a ``[salt, name, value]`` array.
        """
        try:
            items = json.loads(_b64url_decode(encoded))
        except (ValueError, UnicodeDecodeError):
            raise VerificationError(
                f"disclosure {encoded[:24]!r}… is not base64url-encoded JSON", step="disclosure"
            ) from None
        if (
            not isinstance(items, list)
            or len(items) != 3
            or not isinstance(items[0], str)
            or not isinstance(items[1], str)
        ):
            raise VerificationError(
                f"disclosure {encoded[:24]!r}… is not a [salt, name, value] array",
                step="disclosure",
            )
        return cls(items[0], items[1], items[2], encoded)

    @property
    def digest(self) -> str:
        """base64url(SHA-256(ASCII(disclosure))) — RFC 9901 §4.2.3."""
        return _b64url(hashlib.sha256(self.encoded.encode("ascii")).digest())


@dataclass(frozen=True)
class Commitment:
    """The leaf of one record: public envelope plus sorted disclosure digests."""

    record_type: str
    schema_version: int
    claimed_at: dt.datetime
    digests: tuple[str, ...]

    def to_json(self) -> bytes:
        """The canonical bytes that become the Merkle leaf.

        Written out directly: the member names are fixed and already in RFC 8785 order,
        and every value is ASCII that needs no escaping (base64url digests, a record type
        matching :data:`RECORD_TYPE_PATTERN`, a fixed-format time, an integer), so this
        equals ``canonical_json`` of the same object (a test holds it to that).
        """
        digests = ",".join(['"' + d + '"' for d in self.digests])
        return (
            f'{{"_sd":[{digests}],"_sd_alg":"{SD_ALG}",'
            f'"claimed_at":"{format_time(self.claimed_at)}","record_type":"{self.record_type}",'
            f'"schema_version":{self.schema_version}}}'
        ).encode("ascii")

    def to_object(self) -> dict[str, JsonValue]:
        """The commitment as a JSON object (what :meth:`to_json` serialises)."""
        return {
            "_sd": list(self.digests),
            "_sd_alg": SD_ALG,
            "claimed_at": format_time(self.claimed_at),
            "record_type": self.record_type,
            "schema_version": self.schema_version,
        }

    @classmethod
    def parse(cls, data: bytes) -> Commitment:
        """Reads a leaf back, strictly (canonical form, known members, sorted digests).

        Raises:
            VerificationError: the bytes are not a FactoryAX commitment (``step="leaf"``).
        """
        try:
            obj = parse_canonical(data)
        except RecordError as exc:
            raise VerificationError(f"leaf: {exc}", step="leaf") from None
        expected = {"_sd", "_sd_alg", "claimed_at", "record_type", "schema_version"}
        if not isinstance(obj, dict) or set(obj) != expected:
            raise VerificationError(
                f"leaf is not a commitment; expected members {sorted(expected)}", step="leaf"
            )
        digests, version = obj["_sd"], obj["schema_version"]
        ok = (
            obj["_sd_alg"] == SD_ALG
            and isinstance(digests, list)
            and all(isinstance(d, str) and _DIGEST_PATTERN.match(d) for d in digests)
            and digests == sorted(set(digests))
            and isinstance(obj["record_type"], str)
            and RECORD_TYPE_PATTERN.match(obj["record_type"]) is not None
            and isinstance(version, int)
            and not isinstance(version, bool)
            and isinstance(obj["claimed_at"], str)
        )
        if not ok:
            raise VerificationError(
                "leaf commitment has a malformed member (digest list, algorithm, type or version)",
                step="leaf",
            )
        try:
            claimed = parse_time(str(obj["claimed_at"]))
        except RecordError as exc:
            raise VerificationError(f"leaf: {exc}", step="leaf") from None
        return cls(str(obj["record_type"]), int(version), claimed, tuple(digests))


def commit_fields(
    record_type: str,
    schema_version: int,
    fields: Mapping[str, JsonValue],
    claimed_at: dt.datetime,
    *,
    salts: Sequence[bytes] | None = None,
) -> tuple[Commitment, list[Disclosure]]:
    """Builds the commitment and the disclosures (in field order) for one record.

    Args:
        record_type: lower-case identifier, e.g. ``"quality_certificate"``.
        schema_version: version of the record type's field set, >= 1.
        fields: name → JSON value; each becomes one disclosure.
        claimed_at: when the recorded fact happened, per its producer (aware).
        salts: one 16-byte salt per field (tests); default fresh random salts.

    Raises:
        RecordError: a name, value, type or time is not acceptable.
    """
    if not RECORD_TYPE_PATTERN.match(record_type):
        raise RecordError(
            f"record type {record_type!r} must be lower-case letters, digits, '_', '.' or '-'"
        )
    if isinstance(schema_version, bool) or not 1 <= schema_version <= 2**31:
        raise RecordError(f"schema version must be an integer >= 1, got {schema_version!r}")
    if claimed_at.tzinfo is None or claimed_at.utcoffset() is None:
        format_time(claimed_at)  # raises the explanatory error
    if salts is None:
        pool = secrets.token_bytes(SALT_BYTES * len(fields))  # one syscall per record
        salts = [pool[i : i + SALT_BYTES] for i in range(0, len(pool), SALT_BYTES)]
    if len(salts) != len(fields) or any(len(salt) != SALT_BYTES for salt in salts):
        raise RecordError(f"need one {SALT_BYTES}-byte salt per field ({len(fields)})")
    # Disclosure.create, unrolled: this loop is the ledger's hot path (see benchmarks).
    disclosures = []
    for (name, value), salt_text in zip(
        fields.items(), _b64url_many(salts, SALT_BYTES), strict=True
    ):
        if name in _RESERVED_NAMES or not name:
            raise RecordError(f"field name {name!r} is reserved by RFC 9901 or empty")
        text = f'["{salt_text}",{_quote(name)},{canonical_text(value)}]'
        try:
            encoded = _b64url(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise RecordError(f"field {name!r} holds a lone surrogate") from None
        disclosures.append(Disclosure(salt_text, name, value, encoded))
    hashed = [hashlib.sha256(d.encoded.encode("ascii")).digest() for d in disclosures]
    digests = tuple(sorted(_b64url_many(hashed, 32)))
    if len(set(digests)) != len(digests):
        raise RecordError("two disclosures share a digest; salts must be unique")
    return Commitment(record_type, schema_version, claimed_at, digests), disclosures


def open_disclosures(
    commitment: Commitment, disclosures: Sequence[Disclosure | str]
) -> dict[str, JsonValue]:
    """Checks disclosures against a commitment and returns the disclosed fields.

    Raises:
        VerificationError: a disclosure's digest is not in the commitment, or two
            disclosures claim the same field (``step="disclosure"``).
    """
    committed = set(commitment.digests)
    out: dict[str, JsonValue] = {}
    for item in disclosures:
        disclosure = Disclosure.parse(item) if isinstance(item, str) else item
        if disclosure.digest not in committed:
            raise VerificationError(
                f"disclosure of field {disclosure.name!r} is not committed in the leaf: "
                "its value or salt was altered",
                step="disclosure",
            )
        if disclosure.name in out:
            raise VerificationError(
                f"field {disclosure.name!r} is disclosed twice", step="disclosure"
            )
        out[disclosure.name] = disclosure.value
    return out


def encode_payload(disclosures: Sequence[Disclosure]) -> str:
    """The payload kept beside a leaf: a JSON array of the disclosure strings.

    Disclosures are base64url, which JSON never escapes, so the array is written directly.
    """
    return '["' + '","'.join([d.encoded for d in disclosures]) + '"]' if disclosures else "[]"


def decode_payload(body: str) -> list[Disclosure]:
    """Reads a payload back into disclosures.

    Raises:
        VerificationError: the payload is not a JSON array of disclosure strings.
    """
    try:
        items = json.loads(body)
    except json.JSONDecodeError:
        raise VerificationError("payload is not JSON", step="disclosure") from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise VerificationError("payload is not a list of disclosures", step="disclosure")
    return [Disclosure.parse(i) for i in items]
