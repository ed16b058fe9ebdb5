"""Shewhart control charts with limits from a baseline (NIST/SEMATECH e-Handbook §6.3).

Every chart takes the whole series and a ``baseline``: the number of leading points (or
subgroups) whose data set the centre line and limits (Phase I). The limits are then applied
to every point (Phase II), so new data is judged against a stable past, not against itself.

- I-MR (§6.3.2.2): σ̂ = MR̄ / d2(2); I limits x̄ ± 3σ̂; MR limits D3·MR̄, D4·MR̄.
- X̄-R (§6.3.2.1): X̄ limits x̿ ± A2·R̄; R limits D3·R̄, D4·R̄; σ̂ = R̄ / d2(n).
- X̄-S (§6.3.2.1): X̄ limits x̿ ± A3·s̄; S limits B3·s̄, B4·s̄; σ̂ = s̄ / c4(n).
- p (§6.3.3.2) with per-point limits p̄ ± 3√(p̄(1−p̄)/nᵢ), np, c (§6.3.3.1) c̄ ± 3√c̄, and
  u with ū ± 3√(ū/nᵢ). Lower limits below zero are set to zero.

Examples:
    >>> chart = imr_chart([49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1])
    >>> round(float(chart.primary.center[0]), 2), round(float(chart.primary.ucl[0]), 2)
    (50.81, 55.8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from factoryax.analytics.spc.rules import RuleSet, RuleSignal, nelson, western_electric
from factoryax.analytics.spc.stats import c4, control_constants, d2
from factoryax.core import ConfigError

__all__ = [
    "ChartKind",
    "ControlChart",
    "Series",
    "c_chart",
    "imr_chart",
    "np_chart",
    "p_chart",
    "u_chart",
    "xbar_r_chart",
    "xbar_s_chart",
]

FloatArray = npt.NDArray[np.float64]
ChartKind = Literal["I-MR", "Xbar-R", "Xbar-S", "p", "np", "c", "u"]


@dataclass(frozen=True, eq=False)
class Series:
    """One plotted statistic and its limits, one value per point.

    Attributes:
        name: ``I``, ``MR``, ``Xbar``, ``R``, ``S``, ``p``, ``np``, ``c`` or ``u``.
        values: the statistic per point (NaN where undefined, e.g. the first MR).
        center: centre line per point.
        ucl: upper control limit per point.
        lcl: lower control limit per point.
        sigma: standard deviation of the statistic per point (for the zone rules).
    """

    name: str
    values: FloatArray
    center: FloatArray
    ucl: FloatArray
    lcl: FloatArray
    sigma: FloatArray

    def zscores(self) -> FloatArray:
        """(value − centre) / sigma per point; NaN where sigma is zero or undefined."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (self.values - self.center) / self.sigma
        return np.where(np.isfinite(z), z, np.nan)

    def beyond_limits(self) -> list[int]:
        """Indices of points above the UCL or below the LCL."""
        outside = (self.values > self.ucl) | (self.values < self.lcl)  # NaN compares False
        return [int(i) for i in np.flatnonzero(outside)]


@dataclass(frozen=True, eq=False)
class ControlChart:
    """A control chart: the primary series (rules apply) and its dispersion companion.

    Attributes:
        kind: the chart type.
        primary: I, X̄, p, np, c or u.
        secondary: MR, R or S (None for attribute charts).
        baseline: points (subgroups) whose data set the limits.
        sigma: the process standard deviation estimate (None for attribute charts).
        subgroup_size: observations per subgroup (1 for I-MR and attribute charts).
    """

    kind: ChartKind
    primary: Series
    secondary: Series | None
    baseline: int
    sigma: float | None = None
    subgroup_size: int = 1

    def signals(self, rules: RuleSet = "nelson") -> list[RuleSignal]:
        """Rule signals on the primary series (``nelson`` 1–8 or ``western_electric`` 1–4)."""
        z = self.primary.zscores()
        beyond = self.primary.beyond_limits()
        if rules == "nelson":
            return nelson(z, self.primary.values, beyond=beyond)
        return western_electric(z, beyond=beyond)


def _baseline(n_points: int, baseline: int | None) -> int:
    if baseline is None:
        return n_points
    if not 1 <= baseline <= n_points:
        raise ConfigError(f"baseline must be 1 to {n_points} points, got {baseline!r}")
    return baseline


def _flat(value: float, n: int) -> FloatArray:
    return np.full(n, value, dtype=np.float64)


def imr_chart(values: Sequence[float] | FloatArray, baseline: int | None = None) -> ControlChart:
    """Individuals and moving-range chart (NIST §6.3.2.2).

    Raises:
        ConfigError: fewer than two values, or a baseline out of range.
    """
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        raise ConfigError(f"an I-MR chart needs at least 2 values, got {len(x)}")
    b = _baseline(len(x), baseline)
    if b < 2:
        raise ConfigError("an I-MR baseline needs at least 2 values (one moving range)")
    mr = np.concatenate([[np.nan], np.abs(np.diff(x))])
    center = float(np.mean(x[:b]))
    mr_bar = float(np.mean(mr[1:b]))
    k = control_constants(2)
    sigma = mr_bar / d2(2)
    n = len(x)
    individuals = Series(
        "I",
        x,
        _flat(center, n),
        _flat(center + 3 * sigma, n),
        _flat(center - 3 * sigma, n),
        _flat(sigma, n),
    )
    ranges = Series(
        "MR",
        mr,
        _flat(mr_bar, n),
        _flat(k.d4_factor * mr_bar, n),
        _flat(k.d3_factor * mr_bar, n),
        _flat(np.nan, n),
    )
    return ControlChart("I-MR", individuals, ranges, b, sigma, 1)


def _subgroups(data: Sequence[Sequence[float]] | FloatArray) -> FloatArray:
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ConfigError(
            "subgroup charts need a 2-D array of equal-size subgroups (at least 2 values "
            f"each), got shape {arr.shape!r}"
        )
    return arr


def xbar_r_chart(
    subgroups: Sequence[Sequence[float]] | FloatArray, baseline: int | None = None
) -> ControlChart:
    """X̄ and R chart for equal-size subgroups (NIST §6.3.2.1)."""
    arr = _subgroups(subgroups)
    m, size = arr.shape
    b = _baseline(m, baseline)
    k = control_constants(size)
    means = arr.mean(axis=1)
    ranges = arr.max(axis=1) - arr.min(axis=1)
    grand = float(means[:b].mean())
    r_bar = float(ranges[:b].mean())
    sigma = r_bar / d2(size)
    xbar = Series(
        "Xbar",
        means,
        _flat(grand, m),
        _flat(grand + k.a2 * r_bar, m),
        _flat(grand - k.a2 * r_bar, m),
        _flat(sigma / math.sqrt(size), m),
    )
    r = Series(
        "R",
        ranges,
        _flat(r_bar, m),
        _flat(k.d4_factor * r_bar, m),
        _flat(k.d3_factor * r_bar, m),
        _flat(np.nan, m),
    )
    return ControlChart("Xbar-R", xbar, r, b, sigma, size)


def xbar_s_chart(
    subgroups: Sequence[Sequence[float]] | FloatArray, baseline: int | None = None
) -> ControlChart:
    """X̄ and S chart for equal-size subgroups (NIST §6.3.2.1)."""
    arr = _subgroups(subgroups)
    m, size = arr.shape
    b = _baseline(m, baseline)
    k = control_constants(size) if size <= 50 else None
    four = c4(size)
    means = arr.mean(axis=1)
    sds = arr.std(axis=1, ddof=1)
    grand = float(means[:b].mean())
    s_bar = float(sds[:b].mean())
    spread = 3.0 * math.sqrt(1.0 - four * four) / four
    a3 = k.a3 if k else 3.0 / (four * math.sqrt(size))
    sigma = s_bar / four
    xbar = Series(
        "Xbar",
        means,
        _flat(grand, m),
        _flat(grand + a3 * s_bar, m),
        _flat(grand - a3 * s_bar, m),
        _flat(sigma / math.sqrt(size), m),
    )
    s = Series(
        "S",
        sds,
        _flat(s_bar, m),
        _flat((1.0 + spread) * s_bar, m),
        _flat(max(0.0, 1.0 - spread) * s_bar, m),
        _flat(np.nan, m),
    )
    return ControlChart("Xbar-S", xbar, s, b, sigma, size)


def _counts(
    counts: Sequence[float], sizes: Sequence[float] | None
) -> tuple[FloatArray, FloatArray]:
    c = np.asarray(counts, dtype=np.float64)
    n = np.ones_like(c) if sizes is None else np.asarray(sizes, dtype=np.float64)
    if c.shape != n.shape or len(c) == 0:
        raise ConfigError(
            f"counts and sample sizes must be non-empty and of equal length, got {c.shape} "
            f"and {n.shape}"
        )
    if np.any(n <= 0) or np.any(c < 0):
        raise ConfigError("sample sizes must be > 0 and counts >= 0")
    return c, n


def _attribute(
    kind: ChartKind,
    name: str,
    values: FloatArray,
    center: FloatArray,
    sigma: FloatArray,
    baseline: int,
    upper_bound: float | None = None,
) -> ControlChart:
    ucl = center + 3 * sigma
    if upper_bound is not None:
        ucl = np.minimum(ucl, upper_bound)
    lcl = np.maximum(center - 3 * sigma, 0.0)
    return ControlChart(kind, Series(name, values, center, ucl, lcl, sigma), None, baseline)


def p_chart(
    defectives: Sequence[float], sizes: Sequence[float], baseline: int | None = None
) -> ControlChart:
    """Fraction-defective chart with per-point limits (NIST §6.3.3.2)."""
    d, n = _counts(defectives, sizes)
    b = _baseline(len(d), baseline)
    p_bar = float(d[:b].sum() / n[:b].sum())
    sigma = np.sqrt(p_bar * (1 - p_bar) / n)
    return _attribute("p", "p", d / n, _flat(p_bar, len(d)), sigma, b, upper_bound=1.0)


def np_chart(defectives: Sequence[float], size: int, baseline: int | None = None) -> ControlChart:
    """Number-defective chart for a constant sample size."""
    d, _ = _counts(defectives, None)
    b = _baseline(len(d), baseline)
    p_bar = float(d[:b].mean() / size)
    sigma = math.sqrt(size * p_bar * (1 - p_bar))
    m = len(d)
    return _attribute(
        "np", "np", d, _flat(size * p_bar, m), _flat(sigma, m), b, upper_bound=float(size)
    )


def c_chart(defects: Sequence[float], baseline: int | None = None) -> ControlChart:
    """Defects-per-unit-count chart with equal opportunity (NIST §6.3.3.1)."""
    c, _ = _counts(defects, None)
    b = _baseline(len(c), baseline)
    c_bar = float(c[:b].mean())
    m = len(c)
    return _attribute("c", "c", c, _flat(c_bar, m), _flat(math.sqrt(c_bar), m), b)


def u_chart(
    defects: Sequence[float], units: Sequence[float], baseline: int | None = None
) -> ControlChart:
    """Defects-per-unit chart with per-point limits for varying inspection sizes."""
    c, n = _counts(defects, units)
    b = _baseline(len(c), baseline)
    u_bar = float(c[:b].sum() / n[:b].sum())
    return _attribute("u", "u", c / n, _flat(u_bar, len(c)), np.sqrt(u_bar / n), b)
