"""How each signal behaves, guessed from its id, the asset's kind and the declared range.

The plant model declares signals by id, unit and plausible range, not by physics, so the
twin recognises the usual suspects by name (``vibration``, ``*_temp``, ``*current``,
``power``, ``pressure``, ``flow``, ``speed``, gas concentrations) and scales them to the
declared ``max``; anything else gets a generic load-following profile. Every number can
be overridden per signal under ``[twin.signals."asset.signal"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from factoryax.core import Asset, Signal
from factoryax.twin.config import TwinConfig
from factoryax.twin.incidents import is_gas, is_temperature

__all__ = ["Profile", "profile_for"]


@dataclass(frozen=True)
class Profile:
    """Generation parameters of one signal.

    Load-following signals are ``idle + (run·load − idle)·activity`` (times cycle pulses,
    warm-up, wear and tool-wear factors); temperatures are ``ambient + rise·thermal``
    where the thermal state follows the machine's state with a first-order lag.
    """

    idle: float
    run: float
    noise: float
    drift_sd: float
    thermal: bool = False
    heated: bool = False
    """A heated tank: warm whenever the shift runs, cold only in planned stops."""
    pulse: float = 0.0
    """Amplitude of the in-cycle pattern, as a fraction of (run − idle)."""
    warmup: float = 0.0
    """Extra relative level while running cold (thick oil, cold bearings)."""
    degrade_gain: float = 0.0
    """Relative rise at failure (load-following) or °C rise (temperatures)."""
    tool_gain: float = 0.0
    load_gain: float = 0.0
    """How strongly the product's load moves the running level (0: not at all)."""
    idle_noise: float = 1.0
    """Noise when the machine is not running, relative to ``noise`` (a stopped spindle
    reads a steady zero, a thermocouple keeps its noise)."""


def _span(signal: Signal, default: float = 100.0) -> tuple[float, float]:
    lo = signal.min if signal.min is not None else 0.0
    hi = signal.max if signal.max is not None else lo + default
    return lo, hi


def profile_for(asset: Asset, signal: Signal, config: TwinConfig) -> Profile:
    """The profile of ``asset.signal``, with ``[twin.signals]`` overrides applied."""
    profile = _guess(asset, signal, config)
    override = config.signals.get(f"{asset.id}.{signal.id}")
    if override is None:
        return profile
    changes = {k: v for k, v in override.model_dump().items() if v is not None}
    return replace(profile, **changes)


def _guess(asset: Asset, signal: Signal, config: TwinConfig) -> Profile:
    sid, kind = signal.id.lower(), asset.kind
    lo, hi = _span(signal)
    top = hi - lo
    press, cnc = kind == "press", kind == "cnc"
    if "vib" in sid:
        run = 4.0 if press else 2.2 if cnc else 1.6
        return Profile(
            idle=0.3 * run / 2.2,
            run=run,
            noise=0.06 * run,
            drift_sd=0.03 * run,
            pulse=0.6 if press else 0.1,
            warmup=0.3,
            degrade_gain=2.0,
            tool_gain=0.15 if cnc else 0.0,
            load_gain=0.3,
        )
    if is_temperature(sid):
        ambient = config.ambient_c
        if "water" in sid or "tank" in sid:
            return Profile(
                idle=ambient,
                run=60.0,
                noise=0.2,
                drift_sd=0.4,
                thermal=True,
                heated=True,
                degrade_gain=2.0,
            )
        rise, wear = 20.0, 5.0
        for word, r, w in (
            ("bearing", 33.0, 12.0),
            ("oil", 30.0, 8.0),
            ("motor", 35.0, 8.0),
            ("coolant", 7.0, 3.0),
            ("spindle", 30.0, 10.0),
        ):
            if word in sid:
                rise, wear = r, w
                break
        return Profile(
            idle=ambient,
            run=ambient + rise,
            noise=0.15,
            drift_sd=0.5,
            thermal=True,
            degrade_gain=wear,
        )
    if "current" in sid or sid.endswith("_a"):
        return Profile(
            idle=lo + 0.06 * top,
            run=lo + 0.45 * top,
            noise=0.01 * top,
            drift_sd=0.005 * top,
            pulse=0.8 if press else 0.15,
            warmup=0.08,
            degrade_gain=0.12,
            tool_gain=0.15 if cnc else 0.0,
            load_gain=1.0,
        )
    if "power" in sid or sid.endswith("_kw"):
        return Profile(
            idle=lo + 0.08 * top,
            run=lo + 0.40 * top,
            noise=0.008 * top,
            drift_sd=0.004 * top,
            pulse=0.6 if press else 0.15,
            warmup=0.06,
            degrade_gain=0.08,
            tool_gain=0.08 if cnc else 0.0,
            load_gain=1.0,
        )
    if "pressure" in sid:
        if press or "hydraulic" in sid:
            return Profile(
                idle=lo + 0.12 * top,
                run=lo + 0.45 * top,
                noise=0.01 * top,
                drift_sd=0.005 * top,
                pulse=1.0,
                load_gain=0.5,
                degrade_gain=0.05,
            )
        return Profile(
            idle=lo + 0.05 * top,
            run=lo + 0.5 * top,
            noise=0.01 * top,
            drift_sd=0.005 * top,
            pulse=0.05,
            degrade_gain=-0.1,
        )
    if "flow" in sid:
        return Profile(
            idle=lo + 0.05 * top,
            run=lo + 0.4 * top,
            noise=0.01 * top,
            drift_sd=0.005 * top,
            pulse=0.05,
            degrade_gain=-0.1,
        )
    if "speed" in sid or "rpm" in sid:
        return Profile(
            idle=lo,
            run=lo + 0.55 * top,
            noise=0.002 * top,
            drift_sd=0.001 * top,
            load_gain=-0.5,
            idle_noise=0.0,
        )
    if is_gas(sid):
        return Profile(
            idle=lo + 0.03 * top, run=lo + 0.04 * top, noise=0.005 * top, drift_sd=0.002 * top
        )
    return Profile(
        idle=lo + 0.2 * top,
        run=lo + 0.5 * top,
        noise=0.01 * top,
        drift_sd=0.005 * top,
        load_gain=0.5,
        degrade_gain=0.05,
    )
