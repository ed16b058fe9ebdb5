"""A calibrated RUL band: residual quantiles by predicted RUL, from out-of-fold predictions.

Quantile-regression bands and ensemble spreads measure how the *models* disagree, not how
far the truth falls from the estimate; on NASA C-MAPSS their nominal 80 % bands covered
only 25–66 % of test engines. :class:`ResidualBand` instead learns the band from
out-of-fold residuals (true RUL − estimate, on histories the model never saw), in the
manner of split-conformal prediction (Vovk et al. 2005; Lei et al. 2018, "Distribution-free
predictive inference for regression"). Errors grow with the RUL (early in life the RUL is
hardly observable), so the residuals are split into ``bins`` equal-count groups by the
estimate (a Mondrian split) and each bin keeps its own lower and upper quantile; between
bin medians the offsets are interpolated linearly.

Rows of one history are correlated, so the finite-sample guarantee of conformal
prediction does not strictly hold; the coverage is checked empirically instead
(``benchmarks/detect_cmapss.py``).

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pred = rng.uniform(0, 100, size=4000)
    >>> truth = pred + rng.normal(0, 1 + pred / 10)
    >>> band = ResidualBand.fit(pred, truth, coverage=0.8, bins=5)
    >>> low, high = band.apply(pred)
    >>> round(float(np.mean((truth >= low) & (truth <= high))), 2)
    0.8
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryax.detect.errors import DetectConfigError

__all__ = ["ResidualBand"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ResidualBand:
    """Offsets to add to an estimate for the band's low and high ends.

    Attributes:
        at: estimate at each bin's median (ascending).
        low: lower residual quantile per bin (usually negative).
        high: upper residual quantile per bin.
    """

    at: Floats
    low: Floats
    high: Floats

    @classmethod
    def fit(
        cls, pred: npt.ArrayLike, truth: npt.ArrayLike, *, coverage: float, bins: int
    ) -> ResidualBand:
        """Learns the offsets from out-of-fold estimates ``pred`` and the truth.

        The lower and upper quantiles are at ``(1 - coverage) / 2`` and ``(1 + coverage) /
        2``, taken outward (``lower``/``higher`` order statistics), per bin.
        """
        p = np.asarray(pred, dtype=np.float64)
        r = np.asarray(truth, dtype=np.float64) - p
        if not 0.0 < coverage < 1.0 or bins < 1:
            raise DetectConfigError(
                f"ResidualBand: need 0 < coverage < 1 and bins >= 1; got "
                f"coverage={coverage!r}, bins={bins!r}"
            )
        if p.shape != r.shape or p.size < 10 * bins:
            raise DetectConfigError(
                f"ResidualBand: {p.size} out-of-fold estimates for {bins} bins; need at "
                "least 10 per bin (more histories, or fewer bins)"
            )
        order = np.argsort(p, kind="stable")
        tail = (1.0 - coverage) / 2.0
        at, low, high = [], [], []
        for idx in np.array_split(order, bins):
            at.append(float(np.median(p[idx])))
            low.append(float(np.quantile(r[idx], tail, method="lower")))
            high.append(float(np.quantile(r[idx], 1.0 - tail, method="higher")))
        return cls(np.array(at), np.array(low), np.array(high))

    def apply(self, pred: npt.ArrayLike) -> tuple[Floats, Floats]:
        """``(low, high)`` around the estimates; ``low`` is at least 0 and at most the
        estimate, ``high`` at least the estimate."""
        p = np.asarray(pred, dtype=np.float64)
        low = p + np.interp(p, self.at, self.low)
        high = p + np.interp(p, self.at, self.high)
        return np.clip(low, 0.0, p), np.maximum(high, p)

    def arrays(self, prefix: str) -> dict[str, Floats]:
        """The offsets as named arrays, for a model's stored state."""
        return {f"{prefix}at": self.at, f"{prefix}low": self.low, f"{prefix}high": self.high}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Floats], prefix: str) -> ResidualBand:
        """Rebuilds from :meth:`arrays` (a missing key raises ``KeyError``)."""
        parts = (arrays[f"{prefix}{k}"] for k in ("at", "low", "high"))
        at, low, high = (np.asarray(a, dtype=np.float64) for a in parts)
        return cls(at, low, high)
