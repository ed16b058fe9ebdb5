"""Canonical JSON: the RFC 8785 (JCS) serialisation for the values a ledger commits.

Two parties that hash "the same JSON" must hash the same bytes. RFC 8785 fixes the bytes:

- no whitespace; object members sorted by their names as UTF-16 code units (§3.2.3);
- strings as UTF-8, escaping only ``"``, ``\\`` and U+0000-U+001F, the latter as ``\\b``,
  ``\\t``, ``\\n``, ``\\f``, ``\\r`` or ``\\u00xx`` with lower-case hex (§3.2.2.2);
- numbers as ECMAScript's Number.prototype.toString (§3.2.2.3): ``1e+21``, ``1e-7``,
  ``100`` for 100.0, ``0`` for -0.0.

**The subset implemented** (everything else is rejected with :class:`RecordError`, never
silently converted): values built from ``None``, ``bool``, ``int`` within the I-JSON safe
range ±(2**53 − 1) (RFC 7493 §2.2, so every integer survives a round trip through an
IEEE double), finite ``float``, ``str`` without lone surrogates, ``list``/``tuple`` and
``dict`` with ``str`` keys. Within that subset the output is exactly RFC 8785's.
:func:`parse_canonical` reads JSON back and refuses input that is not already canonical
(duplicate names, extra whitespace, other escapes), so a leaf has one byte form.

Examples:
    >>> canonical_json({"b": [1, 2.5, None], "a": "é", "c": 1e21}).decode()
    '{"a":"é","b":[1,2.5,null],"c":1e+21}'
    >>> canonical_json(100.0)
    b'100'
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import SupportsIndex, TypeAlias

from factoryax.ledger.errors import RecordError

__all__ = [
    "MAX_SAFE_INTEGER",
    "JsonValue",
    "canonical_json",
    "canonical_text",
    "parse_canonical",
]

JsonValue: TypeAlias = (
    bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
"""A JSON value as Python builds it (lists may be tuples, objects any str-keyed mapping)."""

MAX_SAFE_INTEGER = 2**53 - 1


def _number(value: float) -> str:
    """ECMAScript Number::toString for a finite double (ECMA-262 §6.1.6.1.20)."""
    if value == 0:
        return "0"
    if value < 0:
        return "-" + _number(-value)
    # repr() gives the shortest digits that round-trip, as ECMAScript requires; rewrite
    # them as 0.d1…dk × 10^n and lay that out by the ECMAScript rules.
    mantissa, _, exp_text = float.__repr__(value).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    exponent = (int(exp_text) if exp_text else 0) + len(int_part)
    stripped = digits.lstrip("0")
    exponent -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), exponent  # value = 0.d1d2…dk × 10^n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    sign = "+" if n - 1 >= 0 else "-"
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{head}e{sign}{abs(n - 1)}"


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


# The C string encoder behind json.dumps(ensure_ascii=False): it escapes exactly ", \ and
# U+0000-U+001F (short forms where they exist, else \u00xx in lower case), which is the
# RFC 8785 §3.2.2.2 rule. Lone surrogates pass through and are caught at the final encode.
_quote: Callable[[str], str] = json.encoder.encode_basestring


def _encode(value: object, out: list[str], depth: int) -> None:
    # isinstance on concrete types is cheap; the Mapping ABC check (slow) comes last.
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise RecordError(
                f"integer {value!r} is outside ±(2**53 - 1) and would not survive JSON "
                "parsers that use doubles; commit it as a string"
            )
        out.append(int.__repr__(value))  # an IntEnum's repr is not its number
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"number {value!r} has no JSON form; use null or a string")
        out.append(_number(value))
    elif depth > 64:
        raise RecordError("JSON nested deeper than 64 levels; flatten the record")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, depth + 1)
        out.append("]")
    elif isinstance(value, dict | Mapping):
        out.append("{")
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise RecordError(f"object key {key!r} is not a string")
        for i, key in enumerate(sorted(keys, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_quote(key))
            out.append(":")
            _encode(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, SupportsIndex):  # numpy integers and the like
        _encode(operator.index(value), out, depth)
    else:
        raise RecordError(
            f"value {value!r} of type {type(value).__name__} has no JSON form; "
            "convert it (times to RFC 3339 strings, decimals to float or str)"
        )


def canonical_text(value: object) -> str:
    """:func:`canonical_json` as a ``str`` (lone surrogates not yet rejected)."""
    out: list[str] = []
    _encode(value, out, 0)
    return "".join(out)


def canonical_json(value: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value`` (within the subset above).

    Raises:
        RecordError: the value holds something outside the subset.
    """
    text = canonical_text(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(
            "a string holds a lone surrogate; JSON text must be valid Unicode"
        ) from None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, val in pairs:
        if key in result:
            raise RecordError(f"JSON object repeats the member name {key!r}")
        result[key] = val
    return result


def _reject_constant(name: str) -> object:
    raise RecordError(f"JSON holds {name}, which RFC 8259 does not allow")


def _parse_int(text: str) -> int | float:
    """JSON numbers are doubles (RFC 8785 §3.2.2.3): an integer beyond ±(2**53 - 1) is read
    as the double it denotes, as ``canonical_json`` wrote it."""
    value = int(text)
    return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else float(value)


def parse_canonical(data: bytes) -> object:
    """Parses JSON that must already be in canonical form.

    Raises:
        RecordError: the bytes are not UTF-8 JSON, repeat a member name, or differ from
            their canonical serialisation.
    """
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"not UTF-8 JSON: {exc}") from None
    if canonical_json(value) != data:
        raise RecordError(
            "JSON is not in RFC 8785 canonical form (member order, spacing, escapes or "
            "number format differ); re-serialise it canonically"
        )
    return value
