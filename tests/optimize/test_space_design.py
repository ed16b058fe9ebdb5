"""Search spaces and designs of experiments: mapping, balance, factorial structure."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from factoryax.core import ConfigError
from factoryax.optimize import (
    CategoricalParam,
    FloatParam,
    IntParam,
    SearchSpace,
    fractional_factorial,
    full_factorial,
    latin_hypercube,
    sobol,
)
from factoryax.optimize.design import design


def _mixed() -> SearchSpace:
    return SearchSpace(
        parameters=(
            FloatParam(name="speed", low=10.0, high=20.0, unit="m/min"),
            IntParam(name="buffer", low=1, high=4, unit="parts"),
            CategoricalParam(name="coolant", choices=("oil", "emulsion", "dry")),
        )
    )


def test_latin_hypercube_has_one_point_per_stratum_in_every_column() -> None:
    """Each float column of an n-point LHS hits each of the n equal strata exactly once."""
    space = SearchSpace(parameters=tuple(FloatParam(name=f"x{i}", low=0, high=1) for i in range(3)))
    pts = latin_hypercube(space, 20, seed=5)
    for name in space.names:
        strata = sorted(int(p[name] * 20) for p in pts)  # type: ignore[operator]
        assert strata == list(range(20))


def test_integer_and_category_levels_get_equal_shares() -> None:
    """A 12-point LHS over 4 integer levels and 3 categories gives each level 3 resp. 4 runs."""
    pts = latin_hypercube(_mixed(), 12, seed=2)
    assert Counter(p["buffer"] for p in pts) == {1: 3, 2: 3, 3: 3, 4: 3}
    assert Counter(p["coolant"] for p in pts) == {"oil": 4, "emulsion": 4, "dry": 4}
    assert all(10.0 <= p["speed"] <= 20.0 for p in pts)  # type: ignore[operator]


def test_sobol_power_of_two_is_balanced_and_seeded() -> None:
    """16 Sobol points put 8 in each half of every axis; the same seed repeats them."""
    space = SearchSpace(
        parameters=(FloatParam(name="a", low=0, high=1), FloatParam(name="b", low=0, high=1))
    )
    pts = sobol(space, 16, seed=3)
    for name in ("a", "b"):
        assert sum(p[name] < 0.5 for p in pts) == 8  # type: ignore[operator]
    assert pts == sobol(space, 16, seed=3)
    assert pts != sobol(space, 16, seed=4)


def test_full_factorial_enumerates_every_combination() -> None:
    """3 speed levels x 4 buffer values x 3 coolants = 36 distinct runs."""
    pts = full_factorial(_mixed(), levels={"speed": 3, "buffer": 10})
    assert len(pts) == 36
    assert len({tuple(p.values()) for p in pts}) == 36
    assert sorted({p["speed"] for p in pts}) == [10.0, 15.0, 20.0]  # type: ignore[type-var]
    assert sorted({p["buffer"] for p in pts}) == [1, 2, 3, 4]  # type: ignore[type-var]


def test_half_fraction_obeys_its_defining_relation() -> None:
    """2^(4-1) with D = ABC: 8 runs, balanced, orthogonal columns and I = ABCD in every run."""
    space = SearchSpace(
        parameters=tuple(FloatParam(name=n, low=-1, high=1) for n in ("A", "B", "C", "D"))
    )
    pts = fractional_factorial(space, ["a", "b", "c", "abc"])
    x = np.array([[p[n] for n in space.names] for p in pts], dtype=float)
    assert x.shape == (8, 4)
    assert np.all(x.sum(axis=0) == 0)
    for i, j in itertools.combinations(range(4), 2):
        assert x[:, i] @ x[:, j] == 0
    assert np.all(np.prod(x, axis=1) == 1)


@pytest.mark.parametrize(
    ("generators", "fix"),
    [
        (["a", "b"], "one word per parameter"),
        (["a", "c", "ac"], "in order"),
        (["a", "b", "az"], "distinct base letters"),
    ],
)
def test_bad_generators_are_explained(generators: list[str], fix: str) -> None:
    """Malformed generators name the problem and what to write instead."""
    space = SearchSpace(
        parameters=tuple(FloatParam(name=n, low=0, high=1) for n in ("A", "B", "C"))
    )
    with pytest.raises(ConfigError, match=fix):
        fractional_factorial(space, generators)


def test_space_rejects_bad_declarations_and_values() -> None:
    """Reversed bounds, duplicate names and out-of-domain values are errors that name them."""
    with pytest.raises(ValueError, match="low < high"):
        FloatParam(name="x", low=2, high=1)
    with pytest.raises(ValueError, match="distinct"):
        SearchSpace(
            parameters=(FloatParam(name="x", low=0, high=1), IntParam(name="x", low=0, high=3))
        )
    space = _mixed()
    with pytest.raises(ConfigError, match=r"'buffer': 9 is outside \[1, 4\] parts"):
        space.encode([{"speed": 12.0, "buffer": 9, "coolant": "oil"}])
    with pytest.raises(ConfigError, match="not one of its choices"):
        space.encode([{"speed": 12.0, "buffer": 2, "coolant": "water"}])


def test_encoding_scales_numbers_and_one_hot_encodes_categories() -> None:
    """Features: numbers in [0, 1], one column per category, names to match."""
    space = _mixed()
    x = space.encode([{"speed": 20.0, "buffer": 1, "coolant": "dry"}])
    assert x.tolist() == [[1.0, 0.0, 0.0, 0.0, 1.0]]
    assert space.feature_names() == [
        "speed",
        "buffer",
        "coolant=oil",
        "coolant=emulsion",
        "coolant=dry",
    ]


def test_unknown_design_kind_is_refused() -> None:
    """design() names the kinds it knows."""
    with pytest.raises(ConfigError, match="lhs, sobol, random or factorial"):
        design(_mixed(), "grid", 4)  # type: ignore[arg-type]
