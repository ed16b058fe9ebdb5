"""Designs of experiments: Latin hypercube, Sobol, full and two-level fractional factorial.

Space-filling designs (Latin hypercube, scrambled Sobol; ``scipy.stats.qmc``) are drawn
in the unit cube and mapped onto the space, so integers and categories get equal shares
of the runs. Factorial designs enumerate levels: ``levels`` evenly spaced values for
numbers, every choice for a category. A two-level fractional factorial 2^(k-p) takes
generators in the usual letter notation (NIST/SEMATECH e-Handbook §5.3.3.4): the base
factors are ``a``, ``b``, ``c`` …; ``"ab"`` sets a further factor to the product of the
columns ``a`` and ``b``.

Examples:
    >>> from factoryax.optimize.space import FloatParam, SearchSpace
    >>> space = SearchSpace(parameters=tuple(
    ...     FloatParam(name=n, low=0, high=1) for n in ("x", "y", "z")))
    >>> len(latin_hypercube(space, 10, seed=1)), len(full_factorial(space, levels=3))
    (10, 27)
    >>> [tuple(p.values()) for p in fractional_factorial(space, ["a", "b", "ab"])]
    [(0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 1.0, 1.0)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from scipy.stats import qmc  # type: ignore[import-untyped]  # no stubs

from factoryax.core import ConfigError
from factoryax.optimize.space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    Point,
    SearchSpace,
    Value,
)

__all__ = [
    "DesignKind",
    "design",
    "fractional_factorial",
    "full_factorial",
    "latin_hypercube",
    "random_design",
    "sobol",
]

DesignKind = Literal["lhs", "sobol", "random", "factorial"]


def latin_hypercube(space: SearchSpace, n: int, *, seed: int | None = None) -> list[Point]:
    """``n`` points, one per row and column stratum (optimised against centred discrepancy)."""
    _check_n(n)
    sampler = qmc.LatinHypercube(d=len(space), optimization="random-cd", rng=_rng(seed))
    return space.from_unit(sampler.random(n))


def sobol(space: SearchSpace, n: int, *, seed: int | None = None) -> list[Point]:
    """The first ``n`` points of a scrambled Sobol sequence.

    The balance properties hold exactly when ``n`` is a power of two; other ``n`` take
    the leading points of the next power of two (still low-discrepancy, not balanced).
    """
    _check_n(n)
    m = max(0, math.ceil(math.log2(n)))
    unit = qmc.Sobol(d=len(space), scramble=True, rng=_rng(seed)).random_base2(m)
    return space.from_unit(unit[:n])


def random_design(space: SearchSpace, n: int, *, seed: int | None = None) -> list[Point]:
    """``n`` independent uniform points (the baseline every design is compared with)."""
    _check_n(n)
    return space.from_unit(_rng(seed).random((n, len(space))))


def full_factorial(space: SearchSpace, *, levels: int | Mapping[str, int] = 2) -> list[Point]:
    """Every combination of levels: ``levels`` evenly spaced values per number parameter.

    ``levels`` may be a mapping by parameter name (others default to 2); categories
    always use all their choices; integers use at most their own number of values.
    """
    per: list[list[Value]] = []
    for p in space.parameters:
        k = levels.get(p.name, 2) if isinstance(levels, Mapping) else levels
        if k < 2:
            raise ConfigError(f"full factorial: parameter {p.name!r} needs >= 2 levels, got {k!r}")
        per.append(_levels(p, k))
    return [dict(zip(space.names, combo, strict=True)) for combo in itertools.product(*per)]


def fractional_factorial(space: SearchSpace, generators: Sequence[str]) -> list[Point]:
    """A two-level 2^(k-p) design, one generator word per parameter in order.

    Single letters are base factors (a full 2^n factorial in standard order, first
    factor changing fastest); a longer word is the product of those columns, e.g.
    ``["a", "b", "c", "abc"]`` is the resolution IV half fraction of four factors.
    Levels are the bounds (for categories: the first and the last choice).
    """
    if len(generators) != len(space):
        raise ConfigError(
            f"fractional factorial: {len(generators)} generator(s) {list(generators)!r} for "
            f"{len(space)} parameters {space.names!r}; give one word per parameter"
        )
    words = [g.strip().lower() for g in generators]
    base = [w for w in words if len(w) == 1]
    letters = "abcdefghijklmnopqrstuvwxyz"[: len(base)]
    if base != list(letters):
        raise ConfigError(
            f"fractional factorial: base factors must be single letters a, b, c … in order, "
            f"got {base!r} in {words!r}"
        )
    for w in words:
        if not w or any(ch not in letters for ch in w) or len(set(w)) != len(w):
            raise ConfigError(
                f"fractional factorial: generator {w!r} must combine distinct base letters "
                f"from {letters!r}"
            )
    runs = 2 ** len(base)
    signs = np.array(
        [[1 if (i >> j) & 1 else -1 for j in range(len(base))] for i in range(runs)], dtype=int
    )
    cols = [np.prod(signs[:, [letters.index(ch) for ch in w]], axis=1) for w in words]
    lows_highs = [_levels(p, 2, two_level=True) for p in space.parameters]
    return [
        {p.name: lows_highs[j][0 if cols[j][i] < 0 else 1] for j, p in enumerate(space.parameters)}
        for i in range(runs)
    ]


def design(
    space: SearchSpace,
    kind: DesignKind,
    n: int,
    *,
    seed: int | None = None,
    levels: int = 2,
) -> list[Point]:
    """Dispatch by name: ``lhs``, ``sobol``, ``random`` (``n`` points) or ``factorial``."""
    if kind == "lhs":
        return latin_hypercube(space, n, seed=seed)
    if kind == "sobol":
        return sobol(space, n, seed=seed)
    if kind == "random":
        return random_design(space, n, seed=seed)
    if kind == "factorial":
        return full_factorial(space, levels=levels)
    raise ConfigError(f"unknown design {kind!r}; use lhs, sobol, random or factorial")


def _levels(
    p: FloatParam | IntParam | CategoricalParam, k: int, *, two_level: bool = False
) -> list[Value]:
    if isinstance(p, CategoricalParam):
        return [p.choices[0], p.choices[-1]] if two_level else list(p.choices)
    if isinstance(p, FloatParam):
        if p.log:
            return [float(v) for v in np.geomspace(p.low, p.high, k)]
        return [float(v) for v in np.linspace(p.low, p.high, k)]
    grid = np.arange(p.low, p.high + 1, p.step)
    idx = sorted({round(i) for i in np.linspace(0, len(grid) - 1, min(k, len(grid)))})
    return [int(grid[i]) for i in idx]


def _check_n(n: int) -> None:
    if n < 1:
        raise ConfigError(f"a design needs n >= 1 points, got {n!r}")


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)
