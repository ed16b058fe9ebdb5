"""Safety incidents and sensor faults, drawn up front from the seed.

Both are independent of how the line flows, so they are planned before the discrete-event
run: safety incidents become stop windows (an e-stop, an open guard door, a person in a
robot cell stop the machine) or signal excursions (gas, over-temperature); sensor faults
are applied to the generated signals afterwards.

Which assets an incident can happen at, unless ``[twin.safety.<kind>] assets`` says so:

========================  ==========================================================
``estop``                 every asset
``guard_open``            assets of kind ``press`` or ``cnc`` (guarded machines)
``person_in_zone``        assets of kind ``robot``
``gas_high``              assets of kind ``washer`` or with a gas signal
``over_temp``             assets with a temperature signal
========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from factoryax.core import Asset
from factoryax.twin.calendar import Schedule
from factoryax.twin.config import SafetyKindConfig, TwinConfig

__all__ = ["Incident", "SensorFault", "eligible", "plan_incidents", "plan_sensor_faults"]

RngFor = Callable[[str], np.random.Generator]
_GAS_WORDS = ("gas", "voc", "fume", "co_ppm", "h2s", "nh3")
KINDS = ("estop", "guard_open", "person_in_zone", "gas_high", "over_temp")
STOPPING = ("estop", "guard_open", "person_in_zone")


@dataclass(frozen=True)
class Incident:
    """One safety event (seconds since start); ``signal`` is where it shows, if anywhere."""

    kind: str
    asset: str
    line: str
    start: float
    end: float
    severity: int
    emit_event: bool
    signal: str | None


@dataclass(frozen=True)
class SensorFault:
    """A sensor misbehaving for [start, end): ``stuck``, ``spike`` or ``dropout``."""

    kind: str
    asset: str
    signal: str
    start: float
    end: float


def is_temperature(signal_id: str) -> bool:
    """Whether a signal id names a temperature."""
    return "temp" in signal_id


def is_gas(signal_id: str) -> bool:
    """Whether a signal id names a gas or fume concentration."""
    return any(w in signal_id for w in _GAS_WORDS)


def eligible(kind: str, asset: Asset) -> bool:
    """Whether ``kind`` happens at ``asset`` by default (see the module's table)."""
    ids = [s.id for s in asset.signals]
    if kind == "estop":
        return True
    if kind == "guard_open":
        return asset.kind in ("press", "cnc")
    if kind == "person_in_zone":
        return asset.kind == "robot"
    if kind == "gas_high":
        return asset.kind == "washer" or any(is_gas(s) for s in ids)
    return any(is_temperature(s) for s in ids)


def plan_incidents(
    assets: list[tuple[str, Asset]], config: TwinConfig, schedule: Schedule, rng_for: RngFor
) -> list[Incident]:
    """Draws safety incidents as Poisson events over planned production time.

    Args:
        assets: (line id, asset) pairs being simulated.
        config: the twin config (``[twin.safety]``).
        schedule: planned production time; incidents only happen while the plant works.
        rng_for: named random streams.
    """
    planned = schedule.planned_s
    out: list[Incident] = []
    if planned <= 0:
        return out
    for kind in KINDS:
        kind_cfg: SafetyKindConfig = getattr(config.safety, kind)
        for line_id, asset in assets:
            chosen = (
                asset.id in kind_cfg.assets
                if kind_cfg.assets is not None
                else eligible(kind, asset)
            )
            if not chosen or kind_cfg.per_day <= 0:
                continue
            rng = rng_for(f"safety:{kind}:{asset.id}")
            count = int(rng.poisson(kind_cfg.per_day * planned / 86400.0))
            at = np.sort(schedule.planned_to_wall(rng.uniform(0.0, planned, count)))
            lo, hi = kind_cfg.duration_s
            lengths = rng.uniform(lo, hi, count)
            signal = _signal_for(kind, asset, rng)
            for start, length in zip(at.tolist(), lengths.tolist(), strict=True):
                end = min(start + length, schedule.horizon_s)
                out.append(
                    Incident(
                        kind,
                        asset.id,
                        line_id,
                        start,
                        end,
                        kind_cfg.severity,
                        kind_cfg.emit_event,
                        signal,
                    )
                )
    out.sort(key=lambda i: (i.start, i.asset, i.kind))
    return out


def _signal_for(kind: str, asset: Asset, rng: np.random.Generator) -> str | None:
    if kind == "over_temp":
        temps = [s.id for s in asset.signals if is_temperature(s.id)]
        return temps[int(rng.integers(len(temps)))] if temps else None
    if kind == "gas_high":
        return next((s.id for s in asset.signals if is_gas(s.id)), None)
    return None


def plan_sensor_faults(
    signals: list[tuple[str, str, float]],
    config: TwinConfig,
    horizon_s: float,
    rng_for: RngFor,
) -> list[SensorFault]:
    """Draws stuck, spike and dropout faults per signal as Poisson events over the horizon.

    Args:
        signals: (asset, signal, sample period in seconds) of every sampled signal.
        config: the twin config (``[twin.sensor_faults]``).
        horizon_s: simulated seconds.
        rng_for: named random streams.
    """
    cfg = config.sensor_faults
    days = horizon_s / 86400.0
    out: list[SensorFault] = []
    for asset, signal, sample_s in signals:
        rng = rng_for(f"sensor:{asset}.{signal}")
        plan = (
            ("stuck", cfg.stuck_per_day, cfg.stuck_s),
            ("spike", cfg.spike_per_day, (sample_s, 3 * sample_s)),
            ("dropout", cfg.dropout_per_day, cfg.dropout_s),
        )
        for kind, rate, (lo, hi) in plan:
            count = int(rng.poisson(rate * days))
            starts = rng.uniform(0.0, horizon_s, count)
            lengths = rng.uniform(lo, hi, count)
            out.extend(
                SensorFault(kind, asset, signal, float(s), float(min(s + n, horizon_s)))
                for s, n in zip(starts, lengths, strict=True)
            )
    out.sort(key=lambda f: (f.start, f.asset, f.signal))
    return out
