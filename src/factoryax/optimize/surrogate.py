"""Surrogates fitted to simulation or experiment tables, cross-validated, with sensitivity.

Both fit and predict with BLAS/OpenMP limited to one thread: on a shared machine the
default pools (one thread per core, in every process) made a GP fit up to 10x slower.

Two models (scikit-learn), one interface ``fit(points, y)`` / ``predict(points) -> (mean,
std)``:

- :class:`GaussianProcessSurrogate` — Matérn 5/2 with one length scale per feature (ARD)
  plus a white-noise term, targets normalised; ``std`` is its predictive uncertainty.
  The right model for the few tens of runs a plant can afford.
- :class:`GradientBoostingSurrogate` — gradient-boosted trees; robust to steps and
  interactions, needs more runs; ``std`` is ``None`` (no calibrated uncertainty).

:func:`cross_validate` gives K-fold R², RMSE and, for the GP, how often the truth fell
in the 95 % interval. :func:`sensitivity` computes first-order and total Sobol indices
(Saltelli 2010 estimators, ``scipy.stats.sobol_indices``) of the surrogate's mean over
the declared space: the share of the output's variance each parameter explains alone
and with its interactions.

Examples:
    >>> from factoryax.optimize.functions import BRANIN
    >>> from factoryax.optimize.design import latin_hypercube
    >>> pts = latin_hypercube(BRANIN.space, 30, seed=0)
    >>> y = [BRANIN(p) for p in pts]
    >>> gp = GaussianProcessSurrogate(BRANIN.space, seed=0).fit(pts, y)
    >>> mean, std = gp.predict(pts[:2])
    >>> bool(abs(mean[0] - y[0]) < 1.0), std is not None
    (True, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy.stats import sobol_indices, uniform  # type: ignore[import-untyped]  # no stubs
from sklearn.ensemble import GradientBoostingRegressor  # type: ignore[import-untyped]  # no stubs
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]  # no stubs
from sklearn.gaussian_process import GaussianProcessRegressor  # type: ignore[import-untyped]  # no stubs
from sklearn.gaussian_process.kernels import (  # type: ignore[import-untyped]  # no stubs
    ConstantKernel,
    Matern,
    WhiteKernel,
)
from sklearn.model_selection import KFold  # type: ignore[import-untyped]  # no stubs
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs

from factoryax.core import ConfigError
from factoryax.optimize.space import SearchSpace, Value

__all__ = [
    "CrossValidation",
    "GaussianProcessSurrogate",
    "GradientBoostingSurrogate",
    "Sensitivity",
    "Surrogate",
    "cross_validate",
    "make_surrogate",
    "sensitivity",
]

Array = npt.NDArray[np.float64]


class Surrogate(Protocol):
    """A model of one metric over the space."""

    space: SearchSpace

    def fit(self, points: Sequence[Mapping[str, Value]], y: Sequence[float]) -> Surrogate:
        """Learns from evaluated points; returns itself."""
        ...

    def predict(self, points: Sequence[Mapping[str, Value]]) -> tuple[Array, Array | None]:
        """Mean and, where the model has one, standard deviation per point."""
        ...


class GaussianProcessSurrogate:
    """Gaussian process regression with predictive uncertainty.

    Args:
        space: the declared parameters (features are encoded by the space).
        seed: seeds the restarts of the hyperparameter fit.
        restarts: optimiser restarts of the marginal likelihood.
    """

    def __init__(self, space: SearchSpace, *, seed: int | None = 0, restarts: int = 3) -> None:
        self.space = space
        self.seed = seed
        self.restarts = restarts

    def fit(
        self, points: Sequence[Mapping[str, Value]], y: Sequence[float]
    ) -> GaussianProcessSurrogate:
        """Fits kernel hyperparameters by maximum marginal likelihood."""
        x, target = _xy(self.space, points, y)
        d = x.shape[1]
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
            length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
        ) + WhiteKernel(1e-3, (1e-8, 1e0))
        model = GaussianProcessRegressor(
            kernel=kernel,
            normalize_y=True,
            n_restarts_optimizer=self.restarts,
            random_state=self.seed,
        )
        with warnings.catch_warnings(), threadpool_limits(1):
            # A length scale at its bound means "this parameter barely matters", which is
            # an answer, not a failure; sensitivity() reports it as such.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, target)
        self.model_ = model
        return self

    def predict(self, points: Sequence[Mapping[str, Value]]) -> tuple[Array, Array | None]:
        """Posterior mean and standard deviation."""
        with threadpool_limits(1):
            mean, std = self.model_.predict(self.space.encode(points), return_std=True)
        return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)


class GradientBoostingSurrogate:
    """Gradient-boosted regression trees (no uncertainty).

    Args:
        space: the declared parameters.
        seed: seeds the subsampling.
        n_estimators: boosting rounds.
    """

    def __init__(
        self, space: SearchSpace, *, seed: int | None = 0, n_estimators: int = 200
    ) -> None:
        self.space = space
        self.seed = seed
        self.n_estimators = n_estimators

    def fit(
        self, points: Sequence[Mapping[str, Value]], y: Sequence[float]
    ) -> GradientBoostingSurrogate:
        """Fits shallow trees with shrinkage and subsampling (against overfitting)."""
        x, target = _xy(self.space, points, y)
        with threadpool_limits(1):
            self.model_ = self._fit(x, target)
        return self

    def _fit(self, x: Array, target: Array) -> GradientBoostingRegressor:
        return GradientBoostingRegressor(
            n_estimators=self.n_estimators,
            learning_rate=0.05,
            max_depth=3,
            subsample=0.8,
            min_samples_leaf=max(1, min(5, len(target) // 10)),
            random_state=self.seed,
        ).fit(x, target)

    def predict(self, points: Sequence[Mapping[str, Value]]) -> tuple[Array, Array | None]:
        """Mean prediction; no standard deviation."""
        return np.asarray(self.model_.predict(self.space.encode(points)), dtype=float), None


SurrogateKind = Literal["gp", "gbm"]


def make_surrogate(kind: SurrogateKind, space: SearchSpace, *, seed: int | None = 0) -> Surrogate:
    """``gp`` or ``gbm`` by name."""
    if kind == "gp":
        return GaussianProcessSurrogate(space, seed=seed)
    if kind == "gbm":
        return GradientBoostingSurrogate(space, seed=seed)
    raise ConfigError(f"unknown surrogate {kind!r}; use 'gp' or 'gbm'")


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold quality of a surrogate.

    Attributes:
        r2: coefficient of determination of the pooled out-of-fold predictions.
        rmse: root mean squared error, in the metric's unit.
        coverage95: share of points inside mean ± 1.96·std (GP only; ~0.95 if calibrated).
        predicted: out-of-fold mean per point (for a predicted-vs-actual plot).
        actual: the observed values.
    """

    r2: float
    rmse: float
    coverage95: float | None
    predicted: tuple[float, ...]
    actual: tuple[float, ...]


def cross_validate(
    factory: Callable[[], Surrogate],
    points: Sequence[Mapping[str, Value]],
    y: Sequence[float],
    *,
    folds: int = 5,
    seed: int | None = 0,
) -> CrossValidation:
    """K-fold cross-validation of a fresh surrogate per fold."""
    target = np.asarray(y, dtype=float)
    if len(target) < max(folds, 4):
        raise ConfigError(
            f"cross-validation needs at least {max(folds, 4)} points, got {len(target)}; "
            "run more trials or lower `folds`"
        )
    pred = np.empty_like(target)
    inside: list[bool] = []
    has_std = True
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(target):
        model = factory().fit([points[i] for i in train], target[train])
        mean, std = model.predict([points[i] for i in test])
        pred[test] = mean
        if std is None:
            has_std = False
        else:
            inside.extend(np.abs(mean - target[test]) <= 1.96 * np.maximum(std, 1e-12))
    resid = target - pred
    ss_tot = float(np.sum((target - target.mean()) ** 2))
    return CrossValidation(
        r2=1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan"),
        rmse=float(np.sqrt(np.mean(resid**2))),
        coverage95=float(np.mean(inside)) if has_std and inside else None,
        predicted=tuple(float(v) for v in pred),
        actual=tuple(float(v) for v in target),
    )


@dataclass(frozen=True)
class Sensitivity:
    """Sobol indices per parameter (``first``: alone; ``total``: with interactions)."""

    names: tuple[str, ...]
    first: tuple[float, ...]
    total: tuple[float, ...]

    def ranked(self) -> list[tuple[str, float, float]]:
        """(name, first, total), most influential (by total index) first."""
        rows = zip(self.names, self.first, self.total, strict=True)
        return sorted(rows, key=lambda r: -r[2])


def sensitivity(surrogate: Surrogate, *, n: int = 1024, seed: int | None = 0) -> Sensitivity:
    """Variance-based sensitivity of the surrogate's mean over the whole space.

    Each parameter is drawn uniformly over its domain (integers and categories: equal
    shares per level, as in :meth:`SearchSpace.from_unit`); ``n`` should be a power of 2.
    """
    space = surrogate.space

    def func(u: Array) -> Array:
        mean, _ = surrogate.predict(space.from_unit(u.T))
        return mean

    result = sobol_indices(
        func=func,
        n=n,
        dists=[uniform(0.0, 1.0) for _ in space.parameters],
        rng=np.random.default_rng(seed),
    )
    first = np.clip(np.asarray(result.first_order, dtype=float), 0.0, 1.0)
    total = np.clip(np.asarray(result.total_order, dtype=float), 0.0, 1.0)
    return Sensitivity(
        names=tuple(space.names),
        first=tuple(float(v) for v in first),
        total=tuple(float(v) for v in total),
    )


def _xy(
    space: SearchSpace, points: Sequence[Mapping[str, Value]], y: Sequence[float]
) -> tuple[Array, Array]:
    target = np.asarray(y, dtype=float)
    if len(points) != len(target) or len(target) < 2:
        raise ConfigError(
            f"a surrogate needs >= 2 points with one value each, got {len(points)} points "
            f"and {len(target)} values"
        )
    if not np.all(np.isfinite(target)):
        raise ConfigError("a surrogate's training values must be finite; drop failed runs first")
    return space.encode(points), target
