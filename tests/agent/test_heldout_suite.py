"""The ``heldout`` split of the shipped suite: it loads, pairs ko/en, covers every
category of the other splits, and shares no text with dev or test."""

from __future__ import annotations

import json
import re
from collections import Counter

from factoryax.agent import default_suite
from factoryax.agent.suite_source import scenarios
from factoryax.llmops.evaluate import load_suite


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def test_heldout_loads_and_is_paired() -> None:
    suite = load_suite(default_suite())
    held = [s for s in suite if s.split == "heldout"]
    assert len(held) >= 60
    pairs = Counter(s.id.rsplit("-", 1)[0] for s in held)
    assert set(pairs.values()) == {2}
    assert Counter(s.lang for s in held) == {"ko": len(held) // 2, "en": len(held) // 2}
    assert len({s.id for s in suite}) == len(suite)
    for s in held:
        if s.scoring == "tool_call":
            assert s.expected_tool, s.id


def test_heldout_covers_every_category_and_scoring() -> None:
    suite = load_suite(default_suite())
    held = [s for s in suite if s.split == "heldout"]
    others = [s for s in suite if s.split in ("dev", "test")]
    assert {s.category for s in others} <= {s.category for s in held}
    assert {"tool_call", "abstain", "clarify"} <= {s.scoring for s in held}
    assert {s.role for s in held} >= {"manager", "viewer"}


def test_heldout_text_is_disjoint_from_dev_and_test() -> None:
    suite = load_suite(default_suite())
    held = {_norm(s.text) for s in suite if s.split == "heldout"}
    seen = {_norm(s.text) for s in suite if s.split in ("dev", "test")}
    assert len(held) == len([s for s in suite if s.split == "heldout"])
    assert not held & seen, sorted(held & seen)


def test_shipped_jsonl_is_generated_from_the_source() -> None:
    lines = default_suite().read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines if line.strip()] == scenarios()


def test_second_heldout_split_is_paired_and_disjoint_from_the_shipped_suite() -> None:
    """plant_v1_heldout2: 50 ko/en pairs, every scoring kind, no sentence in common."""
    path = default_suite().parent / "plant_v1_heldout2.jsonl"
    held = load_suite(path)
    assert len(held) == 100 and {s.split for s in held} == {"heldout2"}
    pairs = Counter(s.id.rsplit("-", 1)[0] for s in held)
    assert set(pairs.values()) == {2}
    assert Counter(s.lang for s in held) == {"ko": 50, "en": 50}
    assert {"tool_call", "abstain", "clarify"} <= {s.scoring for s in held}
    shipped = {_norm(s.text) for s in load_suite(default_suite())}
    assert not shipped & {_norm(s.text) for s in held}


def test_third_heldout_split_is_paired_and_disjoint_from_the_earlier_ones() -> None:
    """plant_v1_heldout3: 48 ko/en pairs as measured, no sentence in common with the
    shipped suite or the second held-out split."""
    folder = default_suite().parent
    held = load_suite(folder / "plant_v1_heldout3.jsonl")
    assert len(held) == 96 and {s.split for s in held} == {"heldout3"}
    assert set(Counter(s.id.rsplit("-", 1)[0] for s in held).values()) == {2}
    earlier = load_suite(default_suite()) + load_suite(folder / "plant_v1_heldout2.jsonl")
    assert not {_norm(s.text) for s in earlier} & {_norm(s.text) for s in held}
