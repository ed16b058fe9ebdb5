"""Process capability Cp, Cpk, Pp, Ppk with confidence intervals (NIST/SEMATECH §6.1.6).

- Cp = (USL − LSL) / 6σ_w, Cpk = min(USL − μ, μ − LSL) / 3σ_w with the *within* sigma:
  MR̄ / d2(2) for individual values, s̄ / c4(n) for subgroups of n;
- Pp, Ppk: the same with the *overall* sample standard deviation (n − 1 divisor);
- with one spec limit only, Cp and Pp are undefined and Cpk/Ppk are the one-sided index.

Confidence intervals, as in the handbook (normal data, ν = N − 1 for N values):

- Cp and Pp: the exact chi-square interval
  ``Ĉ·√(χ²_{α/2,ν}/ν) ≤ C ≤ Ĉ·√(χ²_{1−α/2,ν}/ν)`` (quantiles from
  :func:`~factoryax.analytics.spc.stats.chi2_quantile`, exact, not Wilson–Hilferty);
- Cpk and Ppk: Bissell's (1990) normal approximation
  ``Ĉ ± z_{1−α/2}·√(1/(9N) + Ĉ²/(2(N−1)))``.

Examples:
    >>> import numpy as np
    >>> x = np.array([14.0, 18.0] * 10)         # mean 16, and s is ~2.05 (n − 1 divisor)
    >>> cap = capability(x, lsl=8, usl=20)
    >>> round(cap.pp, 3), round(cap.ppk, 3), cap.cp_ci is not None
    (0.975, 0.65, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryax.analytics.spc.stats import c4, chi2_quantile, d2, normal_quantile
from factoryax.core import ConfigError

__all__ = ["Capability", "Interval", "bissell_interval", "capability", "chi2_interval"]

METHOD = (
    "Cp/Pp: chi-square interval (ν = N - 1, exact quantiles); "
    "Cpk/Ppk: Bissell (1990) normal approximation; NIST/SEMATECH e-Handbook §6.1.6"
)


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float


@dataclass(frozen=True)
class Capability:
    """Capability of one characteristic against its spec limits.

    Index fields are None when undefined (Cp without two limits, a zero sigma);
    ``cpu``/``cpl`` (``ppu``/``ppl``) are the one-sided indices against USL and LSL.
    """

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    confidence: float
    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None
    cpu: float | None
    cpl: float | None
    ppu: float | None
    ppl: float | None
    cp_ci: Interval | None
    cpk_ci: Interval | None
    pp_ci: Interval | None
    ppk_ci: Interval | None
    method: str = METHOD


def capability(
    values: Sequence[float] | npt.NDArray[np.float64],
    *,
    lsl: float | None = None,
    usl: float | None = None,
    subgroup_size: int = 1,
    confidence: float = 0.95,
) -> Capability:
    """Cp, Cpk, Pp and Ppk of ``values`` (in time order) with confidence intervals.

    Args:
        values: the measurements, oldest first (order matters for the within sigma).
        lsl: lower spec limit, if any.
        usl: upper spec limit, if any.
        subgroup_size: 1 for individual values (within σ from moving ranges), else the
            size of consecutive subgroups (within σ = s̄ / c4; a partial last one is dropped).
        confidence: two-sided confidence level of the intervals.

    Raises:
        ConfigError: no spec limit, LSL ≥ USL, too few values, or a bad level.
    """
    if lsl is None and usl is None:
        raise ConfigError("capability needs a spec limit: pass lsl, usl or both")
    if lsl is not None and usl is not None and lsl >= usl:
        raise ConfigError(f"spec limits are reversed or empty: lsl={lsl!r} >= usl={usl!r}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence!r}")
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) < max(3, 2 * subgroup_size):
        raise ConfigError(f"capability needs at least a few values, got {len(x)}")
    mean = float(x.mean())
    overall = float(x.std(ddof=1))
    within = _within_sigma(x, subgroup_size)
    cp, cpk, cpu, cpl = _indices(mean, within, lsl, usl)
    pp, ppk, ppu, ppl = _indices(mean, overall, lsl, usl)
    n = len(x)
    return Capability(
        n=n,
        mean=mean,
        sigma_within=within,
        sigma_overall=overall,
        lsl=lsl,
        usl=usl,
        confidence=confidence,
        cp=cp,
        cpk=cpk,
        pp=pp,
        ppk=ppk,
        cpu=cpu,
        cpl=cpl,
        ppu=ppu,
        ppl=ppl,
        cp_ci=chi2_interval(cp, n, confidence),
        cpk_ci=bissell_interval(cpk, n, confidence),
        pp_ci=chi2_interval(pp, n, confidence),
        ppk_ci=bissell_interval(ppk, n, confidence),
    )


def chi2_interval(index: float | None, n: int, confidence: float = 0.95) -> Interval | None:
    """Exact chi-square interval for Cp or Pp from ``n`` values (ν = n − 1)."""
    if index is None or n < 2:
        return None
    nu = n - 1
    alpha = 1.0 - confidence
    low = index * math.sqrt(chi2_quantile(alpha / 2, nu) / nu)
    high = index * math.sqrt(chi2_quantile(1 - alpha / 2, nu) / nu)
    return Interval(low, high)


def bissell_interval(index: float | None, n: int, confidence: float = 0.95) -> Interval | None:
    """Bissell's normal-approximation interval for Cpk or Ppk from ``n`` values."""
    if index is None or n < 2:
        return None
    z = normal_quantile(1 - (1.0 - confidence) / 2)
    half = z * math.sqrt(1.0 / (9 * n) + index * index / (2 * (n - 1)))
    return Interval(index - half, index + half)


def _within_sigma(x: npt.NDArray[np.float64], size: int) -> float:
    if size <= 1:
        return float(np.mean(np.abs(np.diff(x)))) / d2(2)
    k = len(x) // size
    groups = x[: k * size].reshape(k, size)
    return float(groups.std(axis=1, ddof=1).mean()) / c4(size)


def _indices(
    mean: float, sigma: float, lsl: float | None, usl: float | None
) -> tuple[float | None, float | None, float | None, float | None]:
    """(spread index, worst one-sided index, upper one-sided, lower one-sided)."""
    if not sigma > 0:
        return None, None, None, None
    upper = (usl - mean) / (3 * sigma) if usl is not None else None
    lower = (mean - lsl) / (3 * sigma) if lsl is not None else None
    spread = (usl - lsl) / (6 * sigma) if usl is not None and lsl is not None else None
    one_sided = [v for v in (upper, lower) if v is not None]
    return spread, min(one_sided), upper, lower
