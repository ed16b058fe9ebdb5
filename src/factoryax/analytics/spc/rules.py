"""Western Electric and Nelson rules: named signals with the points that triggered them.

Zones are measured in standard deviations of the plotted statistic from the centre line
(``z``). A rule *fires at* the point that completes its pattern; a longer run fires again
at each further point (every flagged point is reported, as Minitab and the Western Electric
handbook do); :func:`episodes` merges overlapping firings for people and alarms.

Nelson (1984), "The Shewhart control chart — tests for special causes", J. Qual. Tech. 16:

1. one point more than 3σ from the centre line (outside the control limits);
2. nine points in a row on the same side of the centre line;
3. six points in a row steadily increasing or decreasing;
4. fourteen points in a row alternating up and down;
5. two of three points in a row more than 2σ from the centre line, same side;
6. four of five points in a row more than 1σ from the centre line, same side;
7. fifteen points in a row within 1σ of the centre line, either side;
8. eight points in a row more than 1σ from the centre line, on both sides.

Western Electric (1956) zone rules: 1 = Nelson 1; 2 = Nelson 5; 3 = Nelson 6; 4 = eight
points in a row on the same side of the centre line.

"More than kσ" is strict (a point exactly on a zone line is inside); a point exactly on
the centre line is on neither side and breaks a run; ties break a trend.

Examples:
    >>> z = [0.5] * 8 + [0.2]
    >>> [(s.rule, s.index, s.points[0]) for s in nelson(z)]
    [('nelson_2', 8, 0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["RULES", "RuleSet", "RuleSignal", "episodes", "nelson", "western_electric"]

RuleSet = Literal["nelson", "western_electric"]
FloatArray = npt.NDArray[np.float64]

RULES: dict[str, tuple[str, str]] = {
    "nelson_1": ("one point beyond 3σ", "1점이 3σ 밖"),
    "nelson_2": ("9 points in a row on one side of the centre line", "중심선 한쪽에 9점 연속"),
    "nelson_3": ("6 points in a row steadily increasing or decreasing", "6점 연속 증가 또는 감소"),
    "nelson_4": ("14 points in a row alternating up and down", "14점 연속 교대로 증감"),
    "nelson_5": ("2 of 3 points beyond 2σ on one side", "3점 중 2점이 같은 쪽 2σ 밖"),
    "nelson_6": ("4 of 5 points beyond 1σ on one side", "5점 중 4점이 같은 쪽 1σ 밖"),
    "nelson_7": ("15 points in a row within 1σ", "15점 연속 1σ 이내"),
    "nelson_8": ("8 points in a row beyond 1σ on both sides", "8점 연속 1σ 밖(양쪽)"),
    "we_1": ("one point beyond 3σ", "1점이 3σ 밖"),
    "we_2": ("2 of 3 points beyond 2σ on one side", "3점 중 2점이 같은 쪽 2σ 밖"),
    "we_3": ("4 of 5 points beyond 1σ on one side", "5점 중 4점이 같은 쪽 1σ 밖"),
    "we_4": ("8 points in a row on one side of the centre line", "중심선 한쪽에 8점 연속"),
}
"""Rule id → (English, Korean) description."""


@dataclass(frozen=True)
class RuleSignal:
    """One firing of a rule.

    Attributes:
        rule: rule id, e.g. ``nelson_2`` or ``we_1``.
        index: the point that completed the pattern.
        points: the points that make up the pattern (ascending).
    """

    rule: str
    index: int
    points: tuple[int, ...]

    @property
    def name(self) -> str:
        """The rule in English."""
        return RULES[self.rule][0]

    @property
    def name_ko(self) -> str:
        """The rule in Korean."""
        return RULES[self.rule][1]


def nelson(
    z: Sequence[float] | FloatArray,
    values: Sequence[float] | FloatArray | None = None,
    *,
    beyond: Iterable[int] | None = None,
    rules: Iterable[int] = range(1, 9),
) -> list[RuleSignal]:
    """Nelson rules 1–8 on z-scores (trend rules 3 and 4 use ``values`` when given).

    Args:
        z: (value − centre) / sigma per point; NaN points never take part.
        values: the plotted values, for the trend rules (defaults to ``z``).
        beyond: indices outside the control limits, for rule 1 when limits are clipped
            (defaults to ``|z| > 3``).
        rules: which of the eight rules to run.
    """
    zz = np.asarray(z, dtype=np.float64)
    raw = zz if values is None else np.asarray(values, dtype=np.float64)
    chosen = set(rules)
    out: list[RuleSignal] = []
    if 1 in chosen:
        out += _rule_one("nelson_1", zz, beyond)
    if 2 in chosen:
        out += _runs("nelson_2", _side(zz), 9, same_value=True)
    if 3 in chosen:
        steps = np.sign(np.diff(raw))
        out += _shifted(_runs("nelson_3", steps, 5, same_value=True), 1)
    if 4 in chosen:
        steps = np.sign(np.diff(raw))
        alternating = np.concatenate([[False], (steps[1:] * steps[:-1]) < 0])
        out += _shifted(_runs("nelson_4", alternating.astype(np.float64), 12), 2)
    if 5 in chosen:
        out += _k_of_m("nelson_5", zz, 2.0, 2, 3)
    if 6 in chosen:
        out += _k_of_m("nelson_6", zz, 1.0, 4, 5)
    if 7 in chosen:
        out += _runs("nelson_7", (np.abs(zz) < 1.0).astype(np.float64), 15)
    if 8 in chosen:
        out += _rule_eight(zz)
    return sorted(out, key=lambda s: (s.index, s.rule))


def western_electric(
    z: Sequence[float] | FloatArray, *, beyond: Iterable[int] | None = None
) -> list[RuleSignal]:
    """The four Western Electric zone rules on z-scores."""
    zz = np.asarray(z, dtype=np.float64)
    out = _rule_one("we_1", zz, beyond)
    out += _k_of_m("we_2", zz, 2.0, 2, 3)
    out += _k_of_m("we_3", zz, 1.0, 4, 5)
    out += _runs("we_4", _side(zz), 8, same_value=True)
    return sorted(out, key=lambda s: (s.index, s.rule))


def episodes(signals: Iterable[RuleSignal]) -> list[RuleSignal]:
    """Merges firings of the same rule whose points touch or overlap into one signal.

    The merged signal keeps the *first* completing index (stable as data grows) and the
    union of the points.

    Examples:
        >>> a = RuleSignal("nelson_2", 8, tuple(range(0, 9)))
        >>> b = RuleSignal("nelson_2", 9, tuple(range(1, 10)))
        >>> [(e.index, e.points[-1]) for e in episodes([a, b])]
        [(8, 9)]
    """
    merged: list[RuleSignal] = []
    for s in sorted(signals, key=lambda s: (s.rule, s.points[0], s.index)):
        last = merged[-1] if merged else None
        if last is not None and last.rule == s.rule and s.points[0] <= last.points[-1] + 1:
            points = tuple(sorted(set(last.points) | set(s.points)))
            merged[-1] = RuleSignal(last.rule, min(last.index, s.index), points)
        else:
            merged.append(s)
    return sorted(merged, key=lambda s: (s.index, s.rule))


def _side(z: FloatArray) -> FloatArray:
    """+1 above, −1 below, 0 on the centre line or undefined."""
    return np.where(np.isnan(z), 0.0, np.sign(z))


def _rule_one(rule: str, z: FloatArray, beyond: Iterable[int] | None) -> list[RuleSignal]:
    idx = sorted(beyond) if beyond is not None else np.flatnonzero(np.abs(z) > 3.0).tolist()
    return [RuleSignal(rule, int(i), (int(i),)) for i in idx]


def _runs(
    rule: str, marks: FloatArray, length: int, *, same_value: bool = False
) -> list[RuleSignal]:
    """Fires where ``length`` consecutive marks are non-zero (and equal, if ``same_value``)."""
    out = []
    run = 0
    for i, v in enumerate(marks.tolist()):
        if v == 0 or v != v:  # zero or NaN
            run = 0
        elif same_value and i > 0 and run > 0 and marks[i - 1] != v:
            run = 1
        else:
            run += 1
        if run >= length:
            out.append(RuleSignal(rule, i, tuple(range(i - length + 1, i + 1))))
    return out


def _shifted(signals: list[RuleSignal], extra: int) -> list[RuleSignal]:
    """Signals found on differences, moved to point indices (n diffs span n + 1 points)."""
    out = []
    for s in signals:
        first = s.points[0] - (extra - 1)
        out.append(RuleSignal(s.rule, s.index + 1, tuple(range(first, s.index + 2))))
    return out


def _k_of_m(rule: str, z: FloatArray, limit: float, k: int, m: int) -> list[RuleSignal]:
    """Fires at a point beyond ``limit`` when ``k`` of the last ``m`` are, on its side."""
    out = []
    zs = z.tolist()
    for i, v in enumerate(zs):
        if not (v == v and abs(v) > limit):
            continue
        side = 1.0 if v > 0 else -1.0
        window = range(max(0, i - m + 1), i + 1)
        hits = tuple(j for j in window if zs[j] == zs[j] and zs[j] * side > limit)
        if len(hits) >= k:
            out.append(RuleSignal(rule, i, hits))
    return out


def _rule_eight(z: FloatArray) -> list[RuleSignal]:
    out = []
    outside = np.where(np.isnan(z), False, np.abs(z) > 1.0)
    for s in _runs("nelson_8", outside.astype(np.float64), 8):
        window = z[s.points[0] : s.index + 1]
        if np.any(window > 0) and np.any(window < 0):
            out.append(s)
    return out
