"""The simplest multivariate baseline: the sum of squared z-scores (a diagonal T²).

Ignores correlation between signals, so it misses a broken relationship that PCA sees;
kept as the baseline every other detector must beat and as a robust fallback when there
are too few training samples for a covariance.

Examples:
    >>> det = ZScoreDetector().fit({"t": [20.0, 21.0, 19.0, 20.5, 19.5]})
    >>> det.score_one({"t": 20.0}) < det.threshold_ < det.score_one({"t": 30.0})
    True
"""

from __future__ import annotations

import numpy as np

from factoryax.detect.base import Detector, Floats

__all__ = ["ZScoreDetector"]


class ZScoreDetector(Detector):
    """Mean squared z-score over the learned signals (see :class:`Detector` for args)."""

    kind = "zscore"

    def _score(self, Z: Floats) -> Floats:
        return np.asarray((Z**2).sum(axis=1) / max(Z.shape[1], 1), dtype=np.float64)
