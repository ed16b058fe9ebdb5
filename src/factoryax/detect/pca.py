"""Multivariate statistical process control: PCA with Hotelling's T² and SPE (Q).

The default detector. Standardised samples are split into the principal subspace
(``k`` components explaining ``variance`` of the training correlation) and the residual.
T² measures how far a sample sits *inside* the normal correlation structure, SPE how far
it breaks it. The score is the combined index of Yue and Qin (2001),

    φ = T²/k + SPE/θ₁,       θ₁ = sum of the residual eigenvalues,

(each term has training mean 1), which is the quadratic form ``xᵀΦx``. Writing it as
``‖Φ^½ x‖²`` gives a per-signal decomposition that is non-negative and sums to φ (the
"complete decomposition contributions" of Alcala and Qin, 2009): that is what an operator
sees as *which signals drove the alarm*. Scoring is one small matrix product per batch.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=2000)
    >>> normal = {"a": a, "b": a + 0.1 * rng.normal(size=2000), "c": rng.normal(size=2000)}
    >>> det = PcaDetector().fit(normal)
    >>> ok = det.score_one({"a": 1.0, "b": 1.0, "c": 0.0})
    >>> broken = det.score_one({"a": 1.0, "b": -1.0, "c": 0.0})   # breaks a ≈ b
    >>> bool(broken > det.threshold_ > ok)
    True
    >>> max(det.contributions_one({"a": 1.0, "b": -1.0, "c": 0.0}).values()) > 0.4
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from factoryax.detect.base import Detector, Floats, Params
from factoryax.detect.errors import DetectConfigError

__all__ = ["PcaDetector"]


class PcaDetector(Detector):
    """PCA T² + SPE combined index (see the module docstring).

    Args:
        variance: share of the training correlation the principal subspace keeps, in (0, 1].
        smoothing, threshold_q, threshold_scale, seed: see :class:`Detector`.
    """

    kind = "pca"

    def __init__(
        self,
        *,
        variance: float = 0.9,
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
        if not (0.0 < variance <= 1.0):
            raise DetectConfigError(
                f"PcaDetector: `variance` must be in (0, 1], got {variance!r}; 0.9 is usual"
            )
        self.variance = variance
        self._root: Floats | None = None
        self.n_components_: int | None = None

    def params(self) -> Params:
        return {"variance": self.variance, **super().params()}

    def _learn(self, M: Floats) -> None:
        self._root = None  # recomputed on the next score

    def _matrix_root(self) -> Floats:
        if self._root is not None:
            return self._root
        active = self.active_
        std = self._moments.std[active]
        corr = self._moments.cov[np.ix_(active, active)] / np.outer(std, std)
        lam, vec = np.linalg.eigh(corr)
        lam, vec = lam[::-1].clip(min=0.0), vec[:, ::-1]
        d = lam.shape[0]
        total = float(lam.sum()) or 1.0
        k = int(np.searchsorted(np.cumsum(lam) / total, self.variance - 1e-12) + 1)
        k = max(1, min(k, d - 1)) if d > 1 else d
        floor = 1e-6 * total
        weights = np.empty(d)
        weights[:k] = 1.0 / (k * np.maximum(lam[:k], floor))
        theta = max(float(lam[k:].sum()), floor)
        weights[k:] = 1.0 / theta
        self._root = (vec * np.sqrt(weights)) @ vec.T
        self.n_components_ = k
        return self._root

    def _score(self, Z: Floats) -> Floats:
        Y = Z[:, self.active_] @ self._matrix_root()
        return np.asarray(np.einsum("ij,ij->i", Y, Y), dtype=np.float64)

    def _contrib(self, Z: Floats) -> Floats:
        out = np.zeros_like(Z)
        Y = Z[:, self.active_] @ self._matrix_root()
        out[:, self.active_] = Y * Y
        return out

    def _state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        return {}, {}

    def _restore(self, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> None:
        self._root = None
