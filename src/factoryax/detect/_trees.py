"""Gradient-boosted trees as plain arrays: export a fitted scikit-learn
HistGradientBoosting model and predict with numpy, so a registered model is JSON + ``.npz``
and loading one never unpickles anything.

Only numeric features are supported (no categorical splits). A numeric split sends
``x <= threshold`` left and NaN to the side learned in training, as scikit-learn does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from factoryax.detect.errors import DetectConfigError

__all__ = ["Forest", "export_hgb"]

Floats = npt.NDArray[np.float64]


class Forest:
    """Many regression trees in flat arrays; prediction = baseline + sum of leaf values."""

    def __init__(self, arrays: dict[str, Floats]) -> None:
        self.value = np.asarray(arrays["value"], dtype=np.float64)
        self.feature = np.asarray(arrays["feature"]).astype(np.int64)
        self.threshold = np.asarray(arrays["threshold"], dtype=np.float64)
        self.nan_left = np.asarray(arrays["nan_left"]).astype(bool)
        self.left = np.asarray(arrays["left"]).astype(np.int64)
        self.right = np.asarray(arrays["right"]).astype(np.int64)
        self.leaf = np.asarray(arrays["leaf"]).astype(bool)
        self.roots = np.asarray(arrays["roots"]).astype(np.int64)
        self.baseline = float(np.asarray(arrays["baseline"]).ravel()[0])
        self.max_depth = int(np.asarray(arrays["max_depth"]).ravel()[0])

    def arrays(self, prefix: str = "") -> dict[str, Floats]:
        """The arrays to store (all float64, so ``allow_pickle=False`` reads them)."""
        out = {
            "value": self.value,
            "feature": self.feature,
            "threshold": self.threshold,
            "nan_left": self.nan_left,
            "left": self.left,
            "right": self.right,
            "leaf": self.leaf,
            "roots": self.roots,
            "baseline": np.array([self.baseline]),
            "max_depth": np.array([self.max_depth]),
        }
        return {prefix + k: np.asarray(v, dtype=np.float64) for k, v in out.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Floats], prefix: str = "") -> Forest:
        """Rebuilds from :meth:`arrays`."""
        return cls({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})

    def raw(self, X: Floats) -> Floats:
        """Raw prediction (before any link function) for each row of ``X``."""
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        node = np.broadcast_to(self.roots[:, None], (self.roots.shape[0], n)).copy()
        rows = np.arange(n)[None, :]
        for _ in range(self.max_depth + 1):
            inner = ~self.leaf[node]
            if not inner.any():
                break
            x = X[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.nan_left[node], x <= self.threshold[node])
            nxt = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, nxt, node)
        return np.asarray(self.baseline + self.value[node].sum(axis=0), dtype=np.float64)


def export_hgb(model: Any) -> Forest:
    """A fitted ``HistGradientBoostingRegressor`` or binary ``…Classifier`` as a :class:`Forest`.

    Raises:
        DetectConfigError: a multi-class model or one with categorical splits.
    """
    predictors = model._predictors  # sklearn keeps its trees here
    if any(len(per_iter) != 1 for per_iter in predictors):
        raise DetectConfigError("only regression or binary classification models can be exported")
    parts = []
    offset = 0
    roots = []
    depth = 0
    for (tree,) in predictors:
        nodes = tree.nodes
        if np.any(nodes["is_categorical"]):
            raise DetectConfigError("models with categorical splits cannot be exported")
        roots.append(offset)
        parts.append(
            (
                nodes["value"].astype(np.float64),
                nodes["feature_idx"].astype(np.int64),
                nodes["num_threshold"].astype(np.float64),
                nodes["missing_go_to_left"].astype(bool),
                nodes["left"].astype(np.int64) + offset,
                nodes["right"].astype(np.int64) + offset,
                nodes["is_leaf"].astype(bool),
            )
        )
        depth = max(depth, int(nodes["depth"].max()))
        offset += nodes.shape[0]
    cols = list(zip(*parts, strict=True))
    return Forest(
        {
            "value": np.concatenate(cols[0]),
            "feature": np.concatenate(cols[1]),
            "threshold": np.concatenate(cols[2]),
            "nan_left": np.concatenate(cols[3]),
            "left": np.concatenate(cols[4]),
            "right": np.concatenate(cols[5]),
            "leaf": np.concatenate(cols[6]),
            "roots": np.asarray(roots),
            "baseline": np.asarray(model._baseline_prediction).ravel(),
            "max_depth": np.array([depth]),
        }
    )
