"""Statistics of a measured characteristic: capability and individuals-chart checks.

Kept small and self-contained until ``factoryax.analytics`` offers SPC: Cp/Cpk follow the
NIST/SEMATECH e-Handbook §6.1.6 (capability: spec width over 6σ, distance of the mean
to the nearer limit over 3σ), the individuals chart §6.3.2 (limits mean ± 2.66·MR̄, i.e.
3σ estimated from the average moving range), with Western Electric rule 1 (a point
beyond the limits) and Nelson rule 2 (nine points in a row on one side of the centre).

Examples:
    >>> SpecLimits.parse("41.975:42.025")
    SpecLimits(lower=41.975, upper=42.025)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from factoryax.core import ConfigError

__all__ = ["Measurement", "SpecLimits", "measure", "round_to"]


@dataclass(frozen=True)
class SpecLimits:
    """Lower/upper specification limits of one characteristic (either may be open)."""

    lower: float | None = None
    upper: float | None = None

    @classmethod
    def parse(cls, text: str) -> SpecLimits:
        """Reads ``LSL:USL`` (either side may be empty).

        Raises:
            ConfigError: not two numbers around a colon, or LSL >= USL.
        """
        low, sep, high = text.partition(":")
        try:
            limits = cls(float(low) if low.strip() else None, float(high) if high.strip() else None)
        except ValueError:
            limits = None
        if not sep or limits is None or (limits.lower is None and limits.upper is None):
            raise ConfigError(f"spec limits {text!r}: write LSL:USL, e.g. 41.975:42.025")
        if limits.lower is not None and limits.upper is not None and limits.lower >= limits.upper:
            raise ConfigError(f"spec limits {text!r}: the lower limit must be below the upper")
        return limits


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Measurement(_Model):
    """Statistics of one characteristic measured at inspection."""

    signal: str
    asset: str
    unit: str
    n: int
    mean: float
    sd: float
    min: float
    max: float
    lower: float | None
    upper: float | None
    cp: float | None
    cpk: float | None
    out_of_spec: int
    out_of_spec_shipped: int
    beyond_control_limits: int
    runs_of_nine: int


def round_to(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` decimals, as a plain float (for stable JSON)."""
    return float(round(value, digits))


def _spc(values: np.ndarray) -> tuple[int, int]:
    """(points beyond the individuals-chart limits, runs of nine on one side)."""
    if len(values) < 2:
        return 0, 0
    center = float(values.mean())
    mr_bar = float(np.abs(np.diff(values)).mean())
    beyond = int(np.sum(np.abs(values - center) > 2.66 * mr_bar)) if mr_bar > 0 else 0
    side = np.sign(values - center)
    runs, length, previous = 0, 0, 0.0
    for s in side:
        length = length + 1 if s == previous and s != 0 else 1
        previous = s
        if length == 9:  # Nelson rule 2: nine points in a row on one side of the center
            runs += 1
    return beyond, runs


def measure(
    signal: str,
    asset: str,
    unit: str,
    values: np.ndarray,
    shipped_mask: np.ndarray,
    spec: SpecLimits | None,
) -> Measurement:
    """Statistics of one characteristic over a lot.

    Args:
        signal: the characteristic (signal id).
        asset: where it was measured.
        unit: its unit.
        values: one measurement per inspection, in time order (at least one).
        shipped_mask: True where the measurement is the final one of a shipped part.
        spec: its spec limits, if known.
    """
    mean, sd = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
    lower = spec.lower if spec else None
    upper = spec.upper if spec else None
    out = np.zeros(len(values), dtype=bool)
    if lower is not None:
        out |= values < lower
    if upper is not None:
        out |= values > upper
    cp = cpk = None
    if spec is not None and sd > 0:  # NIST/SEMATECH e-Handbook §6.1.6
        sides = [upper - mean] if upper is not None else []
        sides += [mean - lower] if lower is not None else []
        cpk = round_to(min(sides) / (3 * sd), 3)
        if lower is not None and upper is not None:
            cp = round_to((upper - lower) / (6 * sd), 3)
    beyond, runs = _spc(values)
    return Measurement(
        signal=signal,
        asset=asset,
        unit=unit,
        n=len(values),
        mean=round_to(mean),
        sd=round_to(sd),
        min=round_to(float(values.min())),
        max=round_to(float(values.max())),
        lower=lower,
        upper=upper,
        cp=cp,
        cpk=cpk,
        out_of_spec=int(out.sum()),
        out_of_spec_shipped=int((out & shipped_mask).sum()),
        beyond_control_limits=beyond,
        runs_of_nine=runs,
    )
