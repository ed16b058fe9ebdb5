"""Analytic test functions with known optima (Branin, Hartmann-6).

Standard benchmarks of global optimisation (Dixon & Szegő 1978; definitions as in
Surjanovic & Bingham's Virtual Library of Simulation Experiments). Tests and
``benchmarks/optimize.py`` use them to check that a study finds what is known to exist.

Examples:
    >>> round(branin({"x1": math.pi, "x2": 2.275}), 6)
    0.397887
    >>> round(hartmann6(dict(zip(HARTMANN6.space.names, HARTMANN6_ARGMIN))), 5)
    -3.32237
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from factoryax.optimize.space import FloatParam, SearchSpace, Value

__all__ = ["BRANIN", "HARTMANN6", "HARTMANN6_ARGMIN", "TestFunction", "branin", "hartmann6"]


@dataclass(frozen=True)
class TestFunction:
    """A function to minimise over ``space`` whose minimum ``optimum`` is known."""

    __test__ = False  # not a pytest test class

    name: str
    space: SearchSpace
    optimum: float
    fn: Callable[[Mapping[str, Value]], float]

    def __call__(self, point: Mapping[str, Value]) -> float:
        return self.fn(point)


def branin(point: Mapping[str, Value]) -> float:
    """Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887 at three points."""
    x1, x2 = float(point["x1"]), float(point["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN6_ARGMIN = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
"""Where Hartmann-6 reaches its minimum -3.32237."""


def hartmann6(point: Mapping[str, Value]) -> float:
    """Hartmann 6-D on [0, 1]^6 (parameters x1 … x6); minimum -3.32237."""
    x = np.array([float(point[f"x{i}"]) for i in range(1, 7)])
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_A * (x - _P) ** 2, axis=1))))


BRANIN = TestFunction(
    "branin",
    SearchSpace(
        parameters=(
            FloatParam(name="x1", low=-5.0, high=10.0),
            FloatParam(name="x2", low=0.0, high=15.0),
        )
    ),
    0.397887,
    branin,
)
HARTMANN6 = TestFunction(
    "hartmann6",
    SearchSpace(parameters=tuple(FloatParam(name=f"x{i}", low=0.0, high=1.0) for i in range(1, 7))),
    -3.32237,
    hartmann6,
)
