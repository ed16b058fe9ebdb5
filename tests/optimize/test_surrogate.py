"""Surrogates: cross-validated accuracy, calibrated uncertainty, sensitivity that finds the knob."""

from __future__ import annotations

import numpy as np
import pytest

from factoryax.core import ConfigError
from factoryax.optimize import (
    BRANIN,
    CategoricalParam,
    FloatParam,
    IntParam,
    Point,
    SearchSpace,
    latin_hypercube,
)
from factoryax.optimize.surrogate import (
    GaussianProcessSurrogate,
    GradientBoostingSurrogate,
    cross_validate,
    sensitivity,
)


def test_gaussian_process_predicts_branin_out_of_sample_with_calibrated_intervals() -> None:
    """40 LHS runs of Branin: GP out-of-fold R² > 0.9 and 95 % intervals cover most points."""
    pts = latin_hypercube(BRANIN.space, 40, seed=1)
    y = [BRANIN(p) for p in pts]
    cv = cross_validate(lambda: GaussianProcessSurrogate(BRANIN.space), pts, y)
    assert cv.r2 > 0.9
    assert cv.coverage95 is not None and 0.75 <= cv.coverage95 <= 1.0
    assert len(cv.predicted) == 40


def test_gradient_boosting_learns_a_step_the_gp_would_smooth() -> None:
    """A step in x plus noise: boosting fits it (R² > 0.8) and gives no std."""
    space = SearchSpace(
        parameters=(FloatParam(name="x", low=0, high=1), FloatParam(name="z", low=0, high=1))
    )
    pts = latin_hypercube(space, 80, seed=2)
    rng = np.random.default_rng(0)
    y = [10.0 * (float(p["x"]) > 0.5) + rng.normal(0, 0.3) for p in pts]
    cv = cross_validate(lambda: GradientBoostingSurrogate(space), pts, y)
    assert cv.r2 > 0.8 and cv.coverage95 is None
    _, std = GradientBoostingSurrogate(space).fit(pts, y).predict(pts[:3])
    assert std is None


def test_sensitivity_finds_the_parameter_that_matters() -> None:
    """y = 5·speed + 0.2·buffer, coolant inert: speed explains ~all variance, coolant ~none."""
    space = SearchSpace(
        parameters=(
            FloatParam(name="speed", low=0, high=1),
            IntParam(name="buffer", low=0, high=4),
            CategoricalParam(name="coolant", choices=("oil", "dry")),
        )
    )
    pts = latin_hypercube(space, 40, seed=3)

    def f(p: Point) -> float:
        return 5 * float(p["speed"]) + 0.2 * float(p["buffer"]) / 4

    model = GaussianProcessSurrogate(space).fit(pts, [f(p) for p in pts])
    sens = sensitivity(model, n=512)
    ranked = sens.ranked()
    assert ranked[0][0] == "speed" and ranked[0][2] > 0.9
    by_name = {name: total for name, _, total in ranked}
    assert by_name["coolant"] < 0.02
    assert by_name["buffer"] < 0.05


def test_cross_validation_needs_enough_points() -> None:
    """Too few runs for K folds is a clear error, not a silent NaN."""
    pts = latin_hypercube(BRANIN.space, 3, seed=0)
    with pytest.raises(ConfigError, match="at least 5 points"):
        cross_validate(lambda: GaussianProcessSurrogate(BRANIN.space), pts, [1.0, 2.0, 3.0])
