"""Half-Space Trees: a streaming forest (Tan, Ting and Liu, IJCAI 2011).

Each tree halves a random workspace around the standardised data, one random signal per
level, to a fixed depth; learning counts how many samples fall in each node ("mass").
A sample landing in low-mass regions is anomalous: the score is the mean over trees of
``−log2((mass + 1) · 2^depth / n)`` at the first node on the sample's path whose mass is
below ``size_limit`` (else its leaf). Fully vectorised over samples and trees; the trees
are plain integer/float arrays,
so they serialise without pickling.

Simplification against the paper: mass keeps accumulating (no alternating reference and
latest windows), so the forest is a density model of everything learned.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> det = HalfSpaceTrees(seed=1).fit({"a": rng.normal(size=3000), "b": rng.normal(size=3000)})
    >>> det.score_one({"a": 0.0, "b": 0.0}) < det.threshold_ < det.score_one({"a": 6.0, "b": -6.0})
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from factoryax.detect.base import Detector, Floats, Params
from factoryax.detect.errors import DetectConfigError

__all__ = ["HalfSpaceTrees"]

_Z_SPAN = 3.0
"""Standardised values are mapped from [-3, 3] to [0, 1] before the workspace is drawn."""


class HalfSpaceTrees(Detector):
    """Half-Space Trees on standardised samples.

    Args:
        n_trees: number of trees (> 0).
        height: depth of each tree (1–16).
        size_limit: minimum mass a node needs to be used for scoring.
        smoothing, threshold_q, threshold_scale, seed: see :class:`Detector`.
    """

    kind = "hst"

    def __init__(
        self,
        *,
        n_trees: int = 25,
        height: int = 8,
        size_limit: int = 8,
        smoothing: float = 1.0,
        threshold_q: float = 0.995,
        threshold_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            smoothing=smoothing,
            threshold_q=threshold_q,
            threshold_scale=threshold_scale,
            seed=seed,
        )
        if n_trees < 1 or not (1 <= height <= 16) or size_limit < 0:
            raise DetectConfigError(
                f"HalfSpaceTrees: need n_trees >= 1, 1 <= height <= 16, size_limit >= 0; got "
                f"n_trees={n_trees!r}, height={height!r}, size_limit={size_limit!r}"
            )
        self.n_trees = n_trees
        self.height = height
        self.size_limit = size_limit
        self._feature: npt.NDArray[np.int64] | None = None
        self._split: Floats | None = None
        self._mass: Floats | None = None

    def params(self) -> Params:
        return {
            "n_trees": self.n_trees,
            "height": self.height,
            "size_limit": self.size_limit,
            **super().params(),
        }

    def _build(self, d: int) -> None:
        rng = np.random.default_rng(self.seed)
        n_nodes = 2 ** (self.height + 1) - 1
        n_inner = 2**self.height - 1
        feature = np.zeros((self.n_trees, n_nodes), dtype=np.int64)
        split = np.zeros((self.n_trees, n_nodes))
        for t in range(self.n_trees):
            s = rng.uniform(size=d)
            r = 2.0 * np.maximum(s, 1.0 - s)
            lo, hi = s - r, s + r
            # breadth-first: node i has children 2i+1, 2i+2; each carries its own box
            boxes = [(lo.copy(), hi.copy())]
            for i in range(n_inner):
                blo, bhi = boxes[i]
                q = int(rng.integers(d))
                mid = (blo[q] + bhi[q]) / 2.0
                feature[t, i], split[t, i] = q, mid
                left_hi, right_lo = bhi.copy(), blo.copy()
                left_hi[q], right_lo[q] = mid, mid
                boxes.append((blo, left_hi))
                boxes.append((right_lo, bhi))
        self._feature, self._split = feature, split
        self._mass = np.zeros((self.n_trees, n_nodes))

    def _paths(self, Z: Floats) -> npt.NDArray[np.int64]:
        """Node index per tree, sample and depth: shape (trees, n, height + 1)."""
        assert self._feature is not None
        assert self._split is not None
        U = (Z + _Z_SPAN) / (2.0 * _Z_SPAN)
        n = U.shape[0]
        node = np.zeros((self.n_trees, n), dtype=np.int64)
        out = np.empty((self.n_trees, n, self.height + 1), dtype=np.int64)
        out[:, :, 0] = 0
        trees = np.arange(self.n_trees)[:, None]
        for level in range(self.height):
            q = self._feature[trees, node]
            go_right = U[np.arange(n)[None, :], q] >= self._split[trees, node]
            node = 2 * node + 1 + go_right
            out[:, :, level + 1] = node
        return out

    def _learn(self, M: Floats) -> None:
        if self._feature is None:
            self._build(M.shape[1])
        assert self._mass is not None
        std = self._moments.std
        active = std > 1e-12 * np.maximum(1.0, np.abs(self._moments.mean))
        std = np.where(active, std, 1.0)
        Z = np.where(active, (M - self._moments.mean) / std, 0.0)
        paths = self._paths(Z)
        for t in range(self.n_trees):
            np.add.at(self._mass[t], paths[t].ravel(), 1.0)

    def _score(self, Z: Floats) -> Floats:
        if self._mass is None:
            return np.zeros(Z.shape[0])
        paths = self._paths(Z)
        trees = np.arange(self.n_trees)[:, None, None]
        mass = self._mass[trees, paths]  # (trees, n, height + 1)
        # the paper stops at the first node whose mass is below size_limit (else the leaf)
        scarce = mass < self.size_limit
        depth = np.where(scarce.any(axis=2), np.argmax(scarce, axis=2), self.height)
        m = np.take_along_axis(mass, depth[:, :, None], axis=2)[:, :, 0]
        n = max(self._moments.n, 1.0)
        s = -np.log2((m + 1.0) * np.exp2(depth) / n)
        return np.asarray(s.mean(axis=0), dtype=np.float64)

    def _state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        assert self._feature is not None
        assert self._split is not None
        assert self._mass is not None
        return {}, {
            "feature": self._feature.astype(np.float64),
            "split": self._split,
            "mass": self._mass,
        }

    def _restore(self, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> None:
        self._feature = np.asarray(arrays["feature"]).astype(np.int64)
        self._split = np.asarray(arrays["split"], dtype=np.float64)
        self._mass = np.asarray(arrays["mass"], dtype=np.float64)
