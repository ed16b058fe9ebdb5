"""Nelson rules 1–8 and the Western Electric rules: each triggered, none by its near-miss."""

from __future__ import annotations

import pytest

from factoryax.analytics import RuleSignal, episodes, nelson, western_electric

FLAT = [0.0] * 3
"""Points on the centre line: on neither side, so they break every run."""

# rule → (z-scores that trigger it, index where it fires, near-miss z-scores)
CASES: dict[int, tuple[list[float], int, list[float]]] = {
    1: ([0.0, 0.5, 3.2], 2, [0.0, 0.5, 3.0]),
    2: ([0.4] * 9, 8, [0.4] * 8 + [-0.4] + [0.4] * 8),
    5: ([0.0, 2.5, 0.0, 2.5], 3, [2.5, 0.0, 0.0, 2.5, 0.0, -2.5]),
    6: ([1.5, 1.5, 0.0, 1.5, 1.5], 4, [1.5, 1.5, 0.0, 0.0, 1.5, 1.5]),
    7: ([0.5, -0.5] * 7 + [0.5], 14, [0.5, -0.5] * 7 + [1.5]),
    8: ([1.5, -1.5] * 4, 7, [1.5] * 8),
}
"""Rules 3 and 4 look at the plotted values themselves; see the tests below."""


def _fired(signals: list[RuleSignal], rule: str) -> list[int]:
    return [s.index for s in signals if s.rule == rule]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_zone_and_run_rules_fire_on_their_pattern_and_not_on_the_near_miss(rule: int) -> None:
    """Nelson rules 1, 2, 5, 6, 7, 8: the pattern fires at its last point; the near-miss
    (exactly on a zone line, one point short, wrong spacing or one side only) does not."""
    z, index, near = CASES[rule]
    assert _fired(nelson(z, rules=[rule]), f"nelson_{rule}") == [index]
    assert _fired(nelson(near, rules=[rule]), f"nelson_{rule}") == []


def test_rule_3_six_points_steadily_increasing_or_decreasing() -> None:
    """Six rising (or falling) values fire; a tie in the sixth breaks the trend."""
    z = [0.0] * 6
    up = nelson(z, [1, 2, 3, 4, 5, 6], rules=[3])
    assert [(s.index, s.points) for s in up] == [(5, (0, 1, 2, 3, 4, 5))]
    assert _fired(nelson(z, [6, 5, 4, 3, 2, 1], rules=[3]), "nelson_3") == [5]
    assert _fired(nelson(z, [1, 2, 3, 4, 5, 5], rules=[3]), "nelson_3") == []


def test_rule_4_fourteen_points_alternating() -> None:
    """Fourteen alternating values fire at the 14th; thirteen then a repeat direction do not."""
    values = [0.0, 1.0] * 7
    fired = nelson([0.0] * 14, values, rules=[4])
    assert [(s.index, len(s.points)) for s in fired] == [(13, 14)]
    near = [0.0, 1.0] * 6 + [0.0, -1.0]
    assert _fired(nelson([0.0] * 14, near, rules=[4]), "nelson_4") == []


def test_western_electric_rules() -> None:
    """WE 1–3 are Nelson 1, 5, 6; WE 4 fires on eight points on one side, not seven."""
    assert _fired(western_electric([3.5]), "we_1") == [0]
    assert _fired(western_electric([0.0, 2.5, 2.5]), "we_2") == [2]
    assert _fired(western_electric([1.5] * 4), "we_3") == [3]
    assert _fired(western_electric([0.3] * 8), "we_4") == [7]
    assert _fired(western_electric([0.3] * 7 + FLAT), "we_4") == []


def test_signals_name_their_rule_and_points_and_merge_into_episodes() -> None:
    """A ten-point run fires twice (9th and 10th); the episode keeps the first index."""
    fired = nelson([0.4] * 10, rules=[2])
    assert [s.index for s in fired] == [8, 9]
    assert fired[0].points == tuple(range(9))
    assert fired[0].name.startswith("9 points") and "9점" in fired[0].name_ko
    [episode] = episodes(fired)
    assert (episode.index, episode.points) == (8, tuple(range(10)))


def test_undefined_points_never_take_part() -> None:
    """NaN z-scores (an undefined first moving range) break runs and never fire."""
    nan = float("nan")
    assert nelson([nan] * 20) == []
    assert _fired(nelson([0.4] * 5 + [nan] + [0.4] * 5, rules=[2]), "nelson_2") == []
