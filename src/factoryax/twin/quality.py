"""Parts and their quality: cracks at the press, bore diameter from tool wear, residue.

The causal chain is the one a quality engineer would draw: a cutting tool wears with every
part, so the bore it cuts shrinks (a boring bar's flank wear reduces the effective radius);
the machine is set high after each tool change, the bore drifts through the tolerance band
and, late in the tool's life, below the lower spec limit (undersize: the part can be
re-bored, so it is rework). Spindle bearing wear adds chatter, widening the spread, and can
push a bore above the upper limit (oversize: material cannot be put back, so scrap).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from factoryax.core import Asset, Line
from factoryax.twin.config import QualityConfig, StationConfig

__all__ = ["Inspection", "Part", "QualityRoles", "inspect", "resolve_roles", "speed_scales"]

_DIMENSION_WORDS = ("diameter", "bore", "length", "width", "thickness", "height", "dimension")


@dataclass(slots=True)
class Part:
    """One part travelling down the line, with the hidden facts that decide its quality."""

    serial: int
    part_id: str
    product: int
    lot: str
    bore_mm: float | None = None
    tool_wear: float = 0.0
    spindle_degradation: float = 0.0
    cracked: bool = False
    crack_cause: str = ""
    residue: bool = False
    reworks: int = 0
    history: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QualityRoles:
    """Which asset of a line plays which part in the quality model (None: no such role)."""

    machining: str | None
    inspection: str | None
    crack: str | None
    residue: str | None
    measurement_signal: str | None


@dataclass(frozen=True)
class Inspection:
    """The verdict on one part at the inspection station."""

    result: str
    defect_code: str | None
    cause: str | None
    measured_mm: float | None
    origin: str | None


def resolve_roles(line: Line, config: QualityConfig) -> QualityRoles:
    """Finds each role's asset in ``line``: the configured id, else the first of its kind."""
    ids = [a.id for a in line.assets]

    def pick(configured: str | None, kind: str, fallback: str | None = None) -> str | None:
        if configured is not None:
            return configured if configured in ids else None
        found = next((a.id for a in line.assets if a.kind == kind), None)
        return found if found is not None else fallback

    inspection = pick(config.inspection_asset, "inspection", ids[-1] if ids else None)
    signal = config.measurement_signal
    if inspection is not None and signal is None:
        asset = next(a for a in line.assets if a.id == inspection)
        signal = _dimension_signal(asset)
    return QualityRoles(
        machining=pick(config.machining_asset, "cnc"),
        inspection=inspection,
        crack=pick(config.crack_asset, "press"),
        residue=pick(config.residue_asset, "washer"),
        measurement_signal=signal,
    )


def speed_scales(station: StationConfig, ideal_cycle_s: float) -> tuple[float, float]:
    """(wear, defect) multipliers of a station set to ``ideal_cycle_s``.

    Both are 1 when no ``rated_cycle_time_s`` is set or the setting equals it; a faster
    cycle gives (rated / cycle)^k for tool wear per part and (rated / cycle)^m for the
    crack and residue probabilities.

    Examples:
        >>> from factoryax.twin.config import StationConfig
        >>> speed_scales(StationConfig(rated_cycle_time_s=14.0), 7.0)
        (4.0, 2.0)
    """
    rated = station.rated_cycle_time_s
    speed = 1.0 if rated is None else rated / ideal_cycle_s
    if speed == 1.0:
        return 1.0, 1.0
    return speed**station.speed_wear_exponent, speed**station.speed_defect_exponent


def _dimension_signal(asset: Asset) -> str | None:
    return next((s.id for s in asset.signals if any(w in s.id for w in _DIMENSION_WORDS)), None)


def machine_bore(
    part: Part,
    config: QualityConfig,
    rng: np.random.Generator,
    *,
    tool_count: int,
    tool_life: int | None,
    degradation: float,
    wear_scale: float = 1.0,
) -> None:
    """Cuts the bore: nominal + offset − wear × parts on this tool + noise (chatter-widened).

    ``wear_scale`` multiplies the wear per part (a cycle faster than rated wears faster).
    """
    spread = config.process_sd_mm * (1.0 + config.chatter_gain * degradation)
    drift = config.tool_wear_mm_per_part * wear_scale * tool_count
    part.bore_mm = config.nominal_mm + config.tool_offset_mm - drift + rng.normal(0.0, spread)
    part.tool_wear = tool_count / tool_life if tool_life else 0.0
    part.spindle_degradation = degradation


def inspect(
    part: Part, config: QualityConfig, roles: QualityRoles, rng: np.random.Generator
) -> Inspection:
    """Measures and judges a part; a second failure after rework is scrap."""
    measured = None
    if part.bore_mm is not None:
        measured = part.bore_mm + rng.normal(0.0, config.gauge_sd_mm)
    upper = config.nominal_mm + config.tolerance_mm
    lower = config.nominal_mm - config.tolerance_mm
    if part.cracked:
        return Inspection("scrap", "CRACK", part.crack_cause, measured, roles.crack)
    if measured is not None and measured > upper:
        cause = "spindle_degradation" if part.spindle_degradation > 0.1 else "process_variation"
        return Inspection("scrap", "BORE_OVERSIZE", cause, measured, roles.machining)
    if measured is not None and measured < lower:
        cause = "tool_wear" if part.tool_wear > 0.5 else "process_variation"
        if part.reworks:
            return Inspection("scrap", "REWORK_FAILED", cause, measured, roles.machining)
        return Inspection("rework", "BORE_UNDERSIZE", cause, measured, roles.machining)
    if part.residue:
        if part.reworks:
            return Inspection("scrap", "REWORK_FAILED", "wash_process", measured, roles.residue)
        return Inspection("rework", "RESIDUE", "wash_process", measured, roles.residue)
    return Inspection("ok", None, None, measured, None)


def rework(part: Part, config: QualityConfig, rng: np.random.Generator) -> None:
    """Re-bores an undersize part to nominal and rewashes it; counts the rework."""
    part.reworks += 1
    if part.bore_mm is not None and part.bore_mm < config.nominal_mm - config.tolerance_mm:
        part.bore_mm = config.nominal_mm + rng.normal(0.0, config.process_sd_mm)
    part.residue = False


def expected_first_pass_yield(
    config: QualityConfig,
    tool_life: int | None,
    *,
    bore: bool,
    crack: bool,
    residue: bool,
    wear_scale: float = 1.0,
    crack_scale: float = 1.0,
    residue_scale: float = 1.0,
) -> float:
    """The first-pass yield the model implies, ignoring degradation-driven chatter.

    The bore's drift is averaged over a tool's life (each part count equally likely) and
    the normal tail areas beyond both limits are summed. The scales are the speed factors
    of a cycle faster or slower than rated (see ``StationConfig.rated_cycle_time_s``).
    """
    good = (1.0 - config.crack_prob * crack_scale if crack else 1.0) * (
        1.0 - config.residue_prob * residue_scale if residue else 1.0
    )
    if not bore:
        return good
    counts = np.arange(tool_life if tool_life else 1, dtype=np.float64)
    mean = config.tool_offset_mm - config.tool_wear_mm_per_part * wear_scale * counts
    sd = float(np.hypot(config.process_sd_mm, config.gauge_sd_mm)) or 1e-12
    inside = _normal_cdf((config.tolerance_mm - mean) / sd) - _normal_cdf(
        (-config.tolerance_mm - mean) / sd
    )
    return good * float(np.mean(inside))


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    from math import erf, sqrt

    return np.array([0.5 * (1.0 + erf(v / sqrt(2.0))) for v in z.tolist()])
