"""Remaining useful life from degradation signals, with an uncertainty band.

Per time step of an asset's history (one row per cycle or sample): the standardised
signals' last value, short and long moving means and the least-squares slope over the last
``window`` steps, plus the age (steps so far). Gradient-boosted trees learn the RUL
(clipped at ``clip``, the piecewise-linear target of Heimes 2008 — early in life the RUL is
not observable from the signals); two quantile models give the band (default 10 %–90 %).
Trees are exported to arrays (:mod:`._trees`), so the model stores without pickle.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> lives = [int(n) for n in rng.integers(60, 90, size=8)]
    >>> hist = [{"wear": np.linspace(0, 1, n) ** 2 + 0.01 * rng.normal(size=n)} for n in lives]
    >>> rul = [np.arange(n - 1, -1, -1.0) for n in lives]
    >>> model = RulModel(clip=60.0, max_iter=30, max_leaf_nodes=8).fit(hist, rul)
    >>> est = model.predict({"wear": np.linspace(0, 0.9, 75) ** 2})
    >>> 0.0 <= est.low <= est.rul <= est.high <= 60.0 and est.rul < 30
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from factoryax.detect._trees import Forest, export_hgb
from factoryax.detect.base import Columns, as_columns
from factoryax.detect.errors import DetectConfigError, ModelFileError, NotFittedError

__all__ = ["RulEstimate", "RulModel"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RulEstimate:
    """Remaining useful life at the last row of a history, in the history's steps."""

    rul: float
    low: float
    high: float


def _window_features(Z: Floats, window: int, short: int) -> Floats:
    """Per row: value, mean over ``short``, mean and slope over ``window``, age."""
    n, d = Z.shape
    i = np.arange(n)
    j = i.astype(np.float64)[:, None]
    pad = np.zeros((1, d))
    cz = np.vstack([pad, np.cumsum(Z, axis=0)])
    cjz = np.vstack([pad, np.cumsum(j * Z, axis=0)])
    cj = np.concatenate([[0.0], np.cumsum(j[:, 0])])
    cjj = np.concatenate([[0.0], np.cumsum(j[:, 0] ** 2)])

    def mean(w: int) -> tuple[Floats, npt.NDArray[np.int64]]:
        lo = np.maximum(0, i - w + 1)
        m = (i - lo + 1).astype(np.float64)
        return (cz[i + 1] - cz[lo]) / m[:, None], lo

    mean_s, _ = mean(short)
    mean_w, lo = mean(window)
    m = (i - lo + 1).astype(np.float64)
    sz = cz[i + 1] - cz[lo]
    sjz = cjz[i + 1] - cjz[lo]
    sj = cj[i + 1] - cj[lo]
    sjj = cjj[i + 1] - cjj[lo]
    denom = sjj - sj**2 / m
    slope = np.divide(
        sjz - (sj / m)[:, None] * sz,
        denom[:, None],
        out=np.zeros_like(sz),
        where=denom[:, None] > 0,
    )
    return np.hstack([Z, mean_s, mean_w, slope, (i + 1.0)[:, None]])


class RulModel:
    """Gradient-boosted RUL regression with a quantile band.

    Args:
        window: steps of the long mean and the slope.
        clip: RUL cap of the training target (piecewise-linear degradation).
        band: lower and upper quantile of the uncertainty band.
        max_iter, learning_rate, max_leaf_nodes: of the boosted trees.
        seed: randomness of the trees.
        quantiles: fit the two quantile models of the band. ``False`` skips them (two of
            the three tree fits) and ``low``/``high`` equal the estimate: for a caller
            that calibrates its own band, such as :class:`~factoryax.detect.RulBlendModel`.
    """

    kind = "rul-gbt"

    def __init__(
        self,
        *,
        window: int = 30,
        clip: float = 125.0,
        band: tuple[float, float] = (0.1, 0.9),
        max_iter: int = 400,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        seed: int | None = 0,
        quantiles: bool = True,
    ) -> None:
        if window < 2 or clip <= 0 or not (0.0 < band[0] < band[1] < 1.0):
            raise DetectConfigError(
                f"RulModel: need window >= 2, clip > 0 and 0 < band[0] < band[1] < 1; got "
                f"window={window!r}, clip={clip!r}, band={band!r}"
            )
        self.window = window
        self.clip = clip
        self.band = (float(band[0]), float(band[1]))
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.seed = seed
        self.quantiles = quantiles
        self.signals_: tuple[str, ...] | None = None
        self._mean: Floats | None = None
        self._std: Floats | None = None
        self._forests: dict[str, Forest] = {}

    def params(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {
            "window": self.window,
            "clip": self.clip,
            "band": list(self.band),
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "seed": self.seed,
            "quantiles": self.quantiles,
        }

    def clone(self) -> RulModel:
        """An unfitted model with the same parameters."""
        p = self.params()
        p["band"] = tuple(p["band"])
        return RulModel(**p)

    def _matrix(self, history: Columns) -> Floats:
        assert self.signals_ is not None
        assert self._mean is not None
        assert self._std is not None
        cols, n = as_columns(history)
        M = np.full((n, len(self.signals_)), np.nan)
        for k, s in enumerate(self.signals_):
            if s in cols:
                M[:, k] = cols[s]
        Z = (M - self._mean) / self._std
        return np.where(np.isfinite(Z), Z, 0.0)

    def features(self, history: Columns) -> Floats:
        """The feature rows of a history (one per step)."""
        return _window_features(self._matrix(history), self.window, max(2, self.window // 3))

    def fit(self, histories: Sequence[Columns], ruls: Sequence[npt.ArrayLike]) -> Self:
        """Learns from run-to-failure (or right-censored) histories and their true RUL.

        Trees train on one OpenMP thread: on a shared box, oversubscribed OpenMP threads
        spin and run many times slower than one.
        """
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs

        with threadpool_limits(limits=1, user_api="openmp"):
            return self._fit(histories, ruls)

    def _fit(self, histories: Sequence[Columns], ruls: Sequence[npt.ArrayLike]) -> Self:
        from sklearn.ensemble import (  # type: ignore[import-untyped]  # no stubs
            HistGradientBoostingRegressor,
        )

        if len(histories) != len(ruls) or not histories:
            raise DetectConfigError(
                f"RulModel.fit: {len(histories)} histories and {len(ruls)} RUL arrays; "
                "pass one RUL array per history"
            )
        first, _ = as_columns(histories[0])
        self.signals_ = tuple(sorted(first))
        stacked = np.vstack(
            [
                np.column_stack(
                    [
                        as_columns(h)[0].get(s, np.full(as_columns(h)[1], np.nan))
                        for s in self.signals_
                    ]
                )
                for h in histories
            ]
        )
        mean = np.nanmean(stacked, axis=0) if stacked.size else np.zeros(len(self.signals_))
        std = np.nanstd(stacked, axis=0)
        self._mean = np.nan_to_num(mean)
        self._std = np.where(np.nan_to_num(std) > 1e-9, np.nan_to_num(std), 1.0)
        X = np.vstack([self.features(h) for h in histories])
        y = np.minimum(np.concatenate([np.asarray(r, dtype=np.float64) for r in ruls]), self.clip)
        if X.shape[0] != y.shape[0]:
            raise DetectConfigError("RulModel.fit: each RUL array must have one value per step")
        kw: dict[str, Any] = {
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "random_state": self.seed,
        }
        self._forests = {"point": export_hgb(HistGradientBoostingRegressor(**kw).fit(X, y))}
        if not self.quantiles:
            return self
        for tag, q in zip(("low", "high"), self.band, strict=True):
            model = HistGradientBoostingRegressor(loss="quantile", quantile=q, **kw).fit(X, y)
            self._forests[tag] = export_hgb(model)
        return self

    def predict_rows(self, history: Columns) -> tuple[Floats, Floats, Floats]:
        """RUL, low and high at every step of a history."""
        if not self._forests:
            raise NotFittedError("RulModel is not fitted; call fit(histories, ruls) first")
        X = self.features(history)
        point = np.clip(self._forests["point"].raw(X), 0.0, self.clip)
        if "low" not in self._forests:
            return point, point.copy(), point.copy()
        low = np.clip(self._forests["low"].raw(X), 0.0, self.clip)
        high = np.clip(self._forests["high"].raw(X), 0.0, self.clip)
        return point, np.minimum(low, point), np.maximum(high, point)

    def predict(self, history: Columns) -> RulEstimate:
        """The estimate at the last step of ``history``."""
        p, lo, hi = self.predict_rows(history)
        return RulEstimate(float(p[-1]), float(lo[-1]), float(hi[-1]))

    def to_state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        """Metadata and arrays (see :class:`~factoryax.detect.Registry`)."""
        if not self._forests or self._mean is None or self._std is None:
            raise NotFittedError("RulModel is not fitted; nothing to store")
        arrays: dict[str, Floats] = {"mean": self._mean, "std": self._std}
        for tag, f in self._forests.items():
            arrays.update(f.arrays(f"{tag}_"))
        meta = {
            "kind": self.kind,
            "params": self.params(),
            "signals": list(self.signals_ or ()),
            "threshold": None,
            "n": 0,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> Self:
        """Rebuilds from :meth:`to_state`."""
        try:
            p = dict(meta["params"])
            p["band"] = tuple(p["band"])
            model = cls(**p)
            model.signals_ = tuple(meta["signals"])
            model._mean, model._std = arrays["mean"], arrays["std"]
            tags = ("point", "low", "high") if model.quantiles else ("point",)
            model._forests = {t: Forest.from_arrays(dict(arrays), f"{t}_") for t in tags}
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"RulModel state is malformed ({exc!s}); re-train") from None
        return model
