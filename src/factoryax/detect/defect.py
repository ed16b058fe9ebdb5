"""Defect / failure prediction from process parameters, with calibrated probabilities.

Gradient-boosted trees on tabular features. Their raw scores are calibrated by isotonic
regression fitted on *out-of-fold* scores (stratified ``folds``-fold on the training data
only), so a predicted 0.2 means about one in five; the decision threshold is the
probability that maximises F1 on those same out-of-fold predictions. Trees and the
calibration map are arrays: the model stores without pickle.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = {"torque": rng.normal(40, 10, 800), "wear": rng.uniform(0, 250, 800)}
    >>> y = (X["torque"] * X["wear"] > 9000) & (rng.random(800) < 0.9)
    >>> model = DefectModel(max_iter=30, max_leaf_nodes=8, folds=3).fit(X, y)
    >>> p = model.predict_proba({"torque": [30.0, 60.0], "wear": [20.0, 240.0]})
    >>> bool(p[0] < 0.1 < 0.5 < p[1])
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from factoryax.detect._trees import Forest, export_hgb
from factoryax.detect.base import Columns, as_columns
from factoryax.detect.errors import DetectConfigError, ModelFileError, NotFittedError

__all__ = ["DefectModel"]

Floats = npt.NDArray[np.float64]


class DefectModel:
    """Calibrated gradient-boosted classifier (see the module docstring).

    Args:
        max_iter, learning_rate, max_leaf_nodes: of the boosted trees.
        folds: out-of-fold splits for the calibration and the threshold (>= 2).
        seed: randomness of the folds and trees.
    """

    kind = "defect-gbt"

    def __init__(
        self,
        *,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        folds: int = 5,
        seed: int | None = 0,
    ) -> None:
        if folds < 2:
            raise DetectConfigError(f"DefectModel: `folds` must be >= 2, got {folds!r}")
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.folds = folds
        self.seed = seed
        self.signals_: tuple[str, ...] | None = None
        self.threshold_: float | None = None
        self._forest: Forest | None = None
        self._cal_x: Floats | None = None
        self._cal_y: Floats | None = None

    def params(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "folds": self.folds,
            "seed": self.seed,
        }

    def clone(self) -> DefectModel:
        """An unfitted model with the same parameters."""
        return DefectModel(**self.params())

    def _matrix(self, X: Columns) -> Floats:
        assert self.signals_ is not None
        cols, n = as_columns(X)
        return np.column_stack([cols.get(s, np.full(n, np.nan)) for s in self.signals_])

    def _trees(self) -> Any:
        from sklearn.ensemble import (  # type: ignore[import-untyped]  # no stubs
            HistGradientBoostingClassifier,
        )

        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            random_state=self.seed,
        )

    def fit(self, X: Columns, y: npt.ArrayLike) -> Self:
        """Learns ``y`` (0/1 or bool per row) from the feature columns ``X`` (trees on one
        OpenMP thread, see :meth:`RulModel.fit <factoryax.detect.rul.RulModel.fit>`)."""
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs

        with threadpool_limits(limits=1, user_api="openmp"):
            return self._fit(X, y)

    def _fit(self, X: Columns, y: npt.ArrayLike) -> Self:
        from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]  # no stubs
        from sklearn.model_selection import (  # type: ignore[import-untyped]  # no stubs
            StratifiedKFold,
        )

        cols, n = as_columns(X)
        self.signals_ = tuple(sorted(cols))
        A = self._matrix(cols)
        t = np.asarray(y).astype(bool)
        if t.shape[0] != n or t.sum() < self.folds or (~t).sum() < self.folds:
            raise DetectConfigError(
                f"DefectModel.fit: need one label per row and at least {self.folds} of each "
                f"class; got {t.shape[0]} labels for {n} rows, {int(t.sum())} positive"
            )
        oof = np.empty(n)
        splits = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed).split(A, t)
        for tr, te in splits:
            oof[te] = export_hgb(self._trees().fit(A[tr], t[tr])).raw(A[te])
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, t)
        self._cal_x = np.asarray(iso.X_thresholds_, dtype=np.float64)
        self._cal_y = np.asarray(iso.y_thresholds_, dtype=np.float64)
        p = np.interp(oof, self._cal_x, self._cal_y)
        cands = np.unique(np.round(p, 9))
        f1 = [_f1(t, p >= c) for c in cands]
        # just under the step, so the tie-break in predict_proba cannot flip a row
        self.threshold_ = float(cands[int(np.argmax(f1))]) - 1e-6 if cands.size else 0.5
        self._forest = export_hgb(self._trees().fit(A, t))
        return self

    def predict_proba(self, X: Columns) -> Floats:
        """Calibrated probability of a defect/failure per row."""
        if self._forest is None or self._cal_x is None or self._cal_y is None:
            raise NotFittedError("DefectModel is not fitted; call fit(X, y) first")
        raw = self._forest.raw(self._matrix(X))
        p = np.interp(raw, self._cal_x, self._cal_y)
        # isotonic calibration is a step function: rows on one step tie. A tie-break far
        # below any calibration error keeps the trees' ranking (PR-AUC) intact.
        tie = 1e-6 * (1.0 / (1.0 + np.exp(-np.clip(raw, -50, 50))) - 0.5)
        return np.asarray(np.clip(p + tie, 0.0, 1.0), dtype=np.float64)

    def predict(self, X: Columns) -> npt.NDArray[np.bool_]:
        """Whether each row is predicted to fail (probability >= :attr:`threshold_`)."""
        return np.asarray(self.predict_proba(X) >= (self.threshold_ or 0.5))

    def to_state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        """Metadata and arrays (see :class:`~factoryax.detect.Registry`)."""
        if self._forest is None or self._cal_x is None or self._cal_y is None:
            raise NotFittedError("DefectModel is not fitted; nothing to store")
        arrays = {"cal_x": self._cal_x, "cal_y": self._cal_y, **self._forest.arrays("t_")}
        meta = {
            "kind": self.kind,
            "params": self.params(),
            "signals": list(self.signals_ or ()),
            "threshold": self.threshold_,
            "n": 0,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> DefectModel:
        """Rebuilds from :meth:`to_state`."""
        try:
            model = cls(**meta["params"])
            model.signals_ = tuple(meta["signals"])
            model.threshold_ = meta["threshold"]
            model._cal_x, model._cal_y = arrays["cal_x"], arrays["cal_y"]
            model._forest = Forest.from_arrays(dict(arrays), "t_")
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"DefectModel state is malformed ({exc!s}); re-train") from None
        return model


def _f1(t: npt.NDArray[np.bool_], p: npt.NDArray[np.bool_]) -> float:
    tp = float(np.sum(t & p))
    denom = float(np.sum(t) + np.sum(p))
    return 2 * tp / denom if denom else 0.0
