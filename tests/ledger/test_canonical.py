"""Canonical JSON: the RFC 8785 outputs, the subset's refusals, round trips."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryax.ledger import RecordError, canonical_json, parse_canonical

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def test_rfc8785_sorting_example() -> None:
    """Member names sort by UTF-16 code units (RFC 8785 §3.2.3 example)."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    names = list(json.loads(canonical_json(value)))
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_rfc8785_serialisation_example() -> None:
    """The RFC 8785 §3.2.2 sample serialises byte for byte as the RFC shows."""
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\nA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value).decode() == expected


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (100.0, "100"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (-1.5, "-1.5"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (123456789012345680000.0, "123456789012345680000"),
    ],
)
def test_numbers_follow_ecmascript(number: float, text: str) -> None:
    """Doubles print as ECMAScript Number.prototype.toString (RFC 8785 §3.2.2.3)."""
    assert canonical_json(number).decode() == text


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, 2**53, -(2**53), {1: "x"}, "\ud800", object(), b"bytes"],
    ids=["nan", "inf", "big", "-big", "int-key", "surrogate", "object", "bytes"],
)
def test_values_outside_the_subset_are_refused(value: object) -> None:
    """NaN, infinities, unsafe integers, non-string keys, lone surrogates, others: refused."""
    with pytest.raises(RecordError):
        canonical_json(value)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_round_trip(value: object) -> None:
    """Canonical bytes parse back to an equal value and re-serialise identically."""
    data = canonical_json(value)
    parsed = parse_canonical(data)
    assert canonical_json(parsed) == data
    assert parsed == value


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(st.characters(max_codepoint=0xD7FF), max_size=5), st.text()))
def test_matches_sorted_json_for_bmp_strings(value: dict[str, str]) -> None:
    """For string-only objects below the surrogate range, it equals json's sorted compact form."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value).decode() == expected


@pytest.mark.parametrize(
    "text",
    ['{"b":1,"a":2}', '{"a": 1}', '{"a":1,"a":1}', '{"a":1.0}', '"\\u00e9"', "NaN", "[1,"],
)
def test_non_canonical_input_is_refused(text: str) -> None:
    """Unsorted, spaced, duplicated, non-minimal or invalid JSON is not canonical."""
    with pytest.raises(RecordError):
        parse_canonical(text.encode())
