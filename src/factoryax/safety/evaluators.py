"""One evaluator per rule type: ``update(t, key, value, values) -> bool``.

Each keeps only the state it needs and raises on a value it cannot judge (NaN, infinity);
the engine turns any exception into an active alarm (fail closed). ``t`` is the reading's
timestamp in epoch seconds: readings are the clock, so evaluation is deterministic.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from factoryax.safety.expr import MissingSignalError, parse_expr
from factoryax.safety.rules import (
    ExpressionRule,
    RateRule,
    StaleRule,
    ThresholdRule,
    TwaRule,
)

__all__ = ["Delay", "Evaluator", "make_evaluator"]

Key = tuple[str, str]
Values = Mapping[Key, float]


def _finite(value: float, key: Key) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{key[0]}.{key[1]} is not finite: {value!r}")
    return value


class Delay:
    """On/off delay (ISA-18.2 §10.5): a change must persist before it is reported."""

    def __init__(self, on_s: float, off_s: float) -> None:
        self.on_s = on_s
        self.off_s = off_s
        self.shown_ = False
        self.since_: float | None = None

    def filter(self, t: float, raw: bool) -> bool:
        """The delayed condition, given the raw condition at ``t``."""
        if raw == self.shown_:
            self.since_ = None
            return self.shown_
        if self.since_ is None:
            self.since_ = t
        if t - self.since_ >= (self.on_s if raw else self.off_s):
            self.shown_ = raw
            self.since_ = None
        return self.shown_


class Evaluator:
    """Base class: the raw condition of one rule."""

    def update(self, t: float, key: Key, value: float, values: Values) -> bool:
        """The rule's condition after the reading ``key = value`` at ``t``."""
        raise NotImplementedError

    def assume(self, active: bool) -> None:
        """Starts from a known condition (restored after a restart), so hysteresis and
        delays carry on instead of re-qualifying from scratch. Rules whose condition
        needs a history (frozen value, time-weighted average) cannot be seeded: they
        re-qualify over their window, which may report a return to normal meanwhile."""


class _Threshold(Evaluator):
    def __init__(self, rule: ThresholdRule) -> None:
        self.rule = rule
        self.raw_ = False
        self.delay_ = Delay(rule.on_delay_s, rule.off_delay_s)

    def update(self, t: float, key: Key, value: float, values: Values) -> bool:
        v, r = _finite(value, key), self.rule
        # hysteresis: trip at the limit, clear only past limit ∓ deadband
        high = r.above is not None and (v > r.above or (self.raw_ and v >= r.above - r.deadband))
        low = r.below is not None and (v < r.below or (self.raw_ and v <= r.below + r.deadband))
        self.raw_ = high or low
        return self.delay_.filter(t, self.raw_)

    def assume(self, active: bool) -> None:
        self.raw_ = self.delay_.shown_ = active
        self.delay_.since_ = None


class _Rate(Evaluator):
    def __init__(self, rule: RateRule) -> None:
        self.rule = rule
        self.prev_: tuple[float, float] | None = None
        self.active_ = False

    def update(self, t: float, key: Key, value: float, values: Values) -> bool:
        v = _finite(value, key)
        if self.prev_ is not None and t > self.prev_[0]:
            rate = (v - self.prev_[1]) / (t - self.prev_[0])
            limit, d = self.rule.max_rate_per_s, self.rule.direction
            self.active_ = (d != "falling" and rate > limit) or (d != "rising" and rate < -limit)
        self.prev_ = (t, v)
        return self.active_

    def assume(self, active: bool) -> None:
        self.active_ = active


class _Frozen(Evaluator):
    def __init__(self, rule: StaleRule) -> None:
        self.rule = rule
        self.ref_: tuple[float, float] | None = None  # (since, value)

    def update(self, t: float, key: Key, value: float, values: Values) -> bool:
        v = _finite(value, key)
        if self.ref_ is None or abs(v - self.ref_[1]) > self.rule.tolerance:
            self.ref_ = (t, v)
        frozen_s = self.rule.frozen_s
        return frozen_s is not None and t - self.ref_[0] >= frozen_s


class _Expression(Evaluator):
    def __init__(self, rule: ExpressionRule) -> None:
        self.expr = parse_expr(rule.expr)
        self.delay_ = Delay(rule.on_delay_s, rule.off_delay_s)

    def update(self, t: float, key: Key, value: float, values: Values) -> bool:
        try:
            raw = self.expr.evaluate(values)
        except MissingSignalError:
            # not every input has reported yet; the input watchdog fails closed if one
            # never does, so waiting here cannot hide a dead signal
            raw = self.delay_.shown_
        return self.delay_.filter(t, raw)

    def assume(self, active: bool) -> None:
        self.delay_.shown_ = active
        self.delay_.since_ = None


class _Twa(Evaluator):
    def __init__(self, rule: TwaRule) -> None:
        self.rule = rule
        self.segments_: deque[tuple[float, float, float]] = deque()  # (start, end, value)
        self.total_ = 0.0
        self.prev_: tuple[float, float] | None = None
        self.twa_ = 0.0

    def update(self, t: float, key: Key, value: float, values: Values) -> bool:
        v = _finite(value, key)
        window = self.rule.window_s
        if self.prev_ is not None and t > self.prev_[0]:
            start, held = self.prev_
            self.segments_.append((start, t, held))
            self.total_ += held * (t - start)
        self.prev_ = (t, v)
        cut = t - window
        while self.segments_ and self.segments_[0][1] <= cut:
            s, e, h = self.segments_.popleft()
            self.total_ -= h * (e - s)
        clipped = 0.0
        if self.segments_ and self.segments_[0][0] < cut:
            s, _, h = self.segments_[0]
            clipped = h * (cut - s)
        self.twa_ = (self.total_ - clipped) / window
        return self.twa_ > self.rule.limit


def make_evaluator(
    rule: ThresholdRule | RateRule | StaleRule | ExpressionRule | TwaRule,
) -> Evaluator:
    """The evaluator for ``rule``'s type.

    Examples:
        >>> from factoryax.safety.rules import parse_safety
        >>> rule = parse_safety({"rules": {"r": {"type": "threshold", "signal": "a.b",
        ...     "above": 10, "deadband": 2}}}).rules[0]
        >>> ev = make_evaluator(rule)
        >>> [ev.update(t, ("a", "b"), v, {}) for t, v in enumerate([9, 11, 9, 7.5])]
        [False, True, True, False]
    """
    if isinstance(rule, ThresholdRule):
        return _Threshold(rule)
    if isinstance(rule, RateRule):
        return _Rate(rule)
    if isinstance(rule, StaleRule):
        return _Frozen(rule)
    if isinstance(rule, ExpressionRule):
        return _Expression(rule)
    return _Twa(rule)
