"""Signal generation, vectorised with numpy over each asset's whole sample grid.

The discrete-event run leaves, per asset, a state timeline, cycle times, tool changes and
wear episodes. Here every sample instant is mapped onto those with ``searchsorted`` and
each signal is computed as array arithmetic: there is no Python loop per sample (only
one per state interval, for the thermal lag's recurrence).

Effects, in the order they are applied:

1. state: running, setup, idle, down and planned stops set the activity level;
2. product load and the in-cycle pattern (a press stroke shows in current and pressure);
3. warm-up: a machine that starts cold runs with more vibration and current until its
   thermal state (first-order lag, ``thermal_tau_min``) catches up; temperatures follow
   the same lag from ambient (which swings over the day);
4. wear: in a failure's degradation window vibration, current and temperatures rise
   quadratically towards the breakdown; a cutting tool's wear raises spindle load;
5. shift-to-shift drift (a fresh offset per shift instance) and white noise;
6. safety excursions (over-temperature, gas) and sensor faults (stuck, spike, dropout);
7. clipping to the signal's declared range (a saturating sensor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryax.core import Asset
from factoryax.twin.calendar import Schedule
from factoryax.twin.config import TwinConfig
from factoryax.twin.incidents import Incident, SensorFault
from factoryax.twin.line import RUNNING, StationTrace
from factoryax.twin.profiles import Profile, profile_for
from factoryax.twin.windows import Timeline

__all__ = ["AssetRun", "Series", "generate"]

FloatArray = npt.NDArray[np.float64]
RngFor = Callable[[str], np.random.Generator]

# indexed by state code: RUNNING, IDLE, DOWN, SETUP, PLANNED (see line.STATES)
_ACTIVITY = np.array([1.0, 0.0, 0.0, 0.25, 0.0])
_STANDBY = np.array([1.0, 1.0, 0.5, 1.0, 0.3])
_THERMAL_TARGET = np.array([1.0, 0.55, 0.1, 0.4, 0.0])
_HEATED_TARGET = np.array([1.0, 1.0, 0.0, 1.0, 0.0])


@dataclass(frozen=True)
class AssetRun:
    """What the signal generator needs to know about one simulated asset."""

    asset: Asset
    line: str
    timeline: Timeline
    trace: StationTrace
    incidents: list[Incident]
    faults: list[SensorFault]
    measurement_signal: str | None


@dataclass(frozen=True)
class Series:
    """One signal's samples: seconds since start and values."""

    signal: str
    t: FloatArray
    value: FloatArray


class _Grid:
    """Per-instant features of one asset on one sample grid."""

    def __init__(self, run: AssetRun, schedule: Schedule, config: TwinConfig, step: float) -> None:
        tl, trace = run.timeline, run.trace
        t = np.arange(0.0, schedule.horizon_s, step)
        self.t = t
        i = tl.locate(t)
        code = tl.state[i]
        self.running = code == RUNNING
        self.activity = _ACTIVITY[code]
        self.standby = _STANDBY[code]
        op = tl.op[i] + np.where(self.running, t - tl.start[i], 0.0)
        self.degradation = _degradation(op, trace)
        tau = config.thermal_tau_min * 60.0
        self.thermal = _lag(tl, _THERMAL_TARGET, tau, t, i)
        self.heated = _lag(tl, _HEATED_TARGET, tau, t, i)
        cycles = np.array(trace.cycles, dtype=np.float64).reshape(-1, 3)
        c_start, c_end = cycles[:, 0], cycles[:, 1]
        ci = np.searchsorted(c_start, t, side="right") - 1
        safe = np.maximum(ci, 0)
        if len(cycles):
            in_cycle = (ci >= 0) & (t < c_end[safe]) & self.running
            length = np.maximum(c_end[safe] - c_start[safe], 1e-9)
            phase = np.where(in_cycle, (t - c_start[safe]) / length, 0.0)
            self.pulse = np.where(in_cycle, _stroke(phase), 0.0)
            loads = np.array([p.load for p in config.products])
            self.load = np.where(ci >= 0, loads[cycles[safe, 2].astype(np.intp)], 1.0)
        else:
            self.pulse = np.zeros_like(t)
            self.load = np.ones_like(t)
        life = config.station(run.asset.id).tool_life_parts
        if life and len(cycles):
            done = np.searchsorted(c_end, t, side="right")
            changes = np.array(trace.tool_changes, dtype=np.float64).reshape(-1, 2)
            k = np.searchsorted(changes[:, 0], t, side="right")
            base = np.where(k > 0, changes[np.maximum(k - 1, 0), 1], 0.0) if len(changes) else 0.0
            self.tool_wear = np.clip((done - base) / life, 0.0, 1.5)
        else:
            self.tool_wear = np.zeros_like(t)
        self.shift = np.clip(np.searchsorted(schedule.shift_starts, t, side="right") - 1, 0, None)
        self.n_shifts = len(schedule.shift_starts)
        local = schedule.start.astimezone(schedule.zone)
        midnight_s = local.hour * 3600 + local.minute * 60 + local.second
        hour = ((t + midnight_s) / 3600.0) % 24.0
        self.ambient_delta = config.ambient_swing_c * np.sin(2 * np.pi * (hour - 9.0) / 24.0)


def _stroke(phase: FloatArray) -> FloatArray:
    """A stroke-like pulse over a cycle (peak +0.82), centred so it averages about zero."""
    bump = np.exp(-(((phase - 0.35) / 0.1) ** 2))
    return np.asarray(bump - 0.1 * np.sqrt(np.pi), dtype=np.float64)


def _degradation(op: FloatArray, trace: StationTrace) -> FloatArray:
    """Quadratic wear severity from each episode's onset to its failure (0 outside)."""
    if not trace.episodes:
        return np.zeros_like(op)
    onset = np.array([e.onset_op for e in trace.episodes])
    fail = np.array([e.fail_op for e in trace.episodes])
    end = np.array([e.end_op for e in trace.episodes])  # a PM ends a life before failure
    k = np.searchsorted(end, op, side="left")
    inside = k < len(fail)
    kk = np.minimum(k, len(fail) - 1)
    span = fail[kk] - onset[kk]
    with np.errstate(invalid="ignore", divide="ignore"):
        lin = np.where(span > 0, (op - onset[kk]) / np.where(span > 0, span, 1.0), 0.0)
    return np.asarray(np.where(inside, np.clip(lin, 0.0, 1.0) ** 2, 0.0), dtype=np.float64)


def _lag(
    tl: Timeline, targets: FloatArray, tau: float, t: FloatArray, i: npt.NDArray[np.intp]
) -> FloatArray:
    """First-order lag towards a per-state target, exact within each interval."""
    target = targets[tl.state]
    decay = np.exp(-(tl.end - tl.start) / tau).tolist()
    x0 = np.empty(len(target))
    x = 0.0
    for k, (g, a) in enumerate(zip(target.tolist(), decay, strict=True)):
        x0[k] = x
        x = g + (x - g) * a
    return np.asarray(
        target[i] + (x0[i] - target[i]) * np.exp(-(t - tl.start[i]) / tau), dtype=np.float64
    )


def _values(p: Profile, g: _Grid, rng: np.random.Generator) -> FloatArray:
    if p.thermal:
        x = g.heated if p.heated else g.thermal
        value = p.idle + g.ambient_delta * (1 - x) + (p.run - p.idle) * x
        value = value + p.degrade_gain * g.degradation * x
    else:
        run = p.run * (1.0 + p.load_gain * (g.load - 1.0))
        value = p.idle * g.standby + (run - p.idle) * g.activity * (1.0 + p.pulse * g.pulse)
        value = value * (1.0 + p.warmup * (1.0 - g.thermal) * g.running)
        value = value * (1.0 + p.degrade_gain * g.degradation * g.activity)
        value = value * (1.0 + p.tool_gain * g.tool_wear * g.activity)
    drift = rng.normal(0.0, p.drift_sd, g.n_shifts)[g.shift] if p.drift_sd else 0.0
    wobble = drift + rng.normal(0.0, p.noise, len(g.t))
    if p.idle_noise != 1.0:
        wobble = wobble * (p.idle_noise + (1.0 - p.idle_noise) * g.activity)
    return np.asarray(value + wobble, dtype=np.float64)


def generate(
    run: AssetRun,
    schedule: Schedule,
    config: TwinConfig,
    rng_for: RngFor,
    *,
    sample_s: float | None,
) -> tuple[list[Series], dict[Incident, float]]:
    """Generates every signal of one asset; returns the series and each excursion's peak."""
    grids: dict[float, _Grid] = {}
    out: list[Series] = []
    peaks: dict[Incident, float] = {}
    for signal in run.asset.signals:
        if signal.id == run.measurement_signal:
            m = np.array(run.trace.measurements, dtype=np.float64).reshape(-1, 2)
            gauged = m[:, 1].copy()
            if signal.min is not None or signal.max is not None:
                np.clip(gauged, signal.min, signal.max, out=gauged)
            out.append(Series(signal.id, m[:, 0].copy(), gauged))
            continue
        step = sample_s or signal.sample_s
        grid = grids.get(step)
        if grid is None:
            grid = grids[step] = _Grid(run, schedule, config, step)
        rng = rng_for(f"signal:{run.asset.id}.{signal.id}")
        value = _values(profile_for(run.asset, signal, config), grid, rng)
        mine = [i for i in run.incidents if i.signal == signal.id]
        for incident in mine:
            _excursion(value, grid.t, incident, signal.max, rng)
        clip = signal.min is not None or signal.max is not None
        if clip:
            np.clip(value, signal.min, signal.max, out=value)
        for incident in mine:  # the true peak, before any sensor fault distorts it
            part = _slice(grid.t, incident.start, incident.end)
            peaks[incident] = float(value[part].max()) if part.stop > part.start else float("nan")
        keep = _sensor_faults(
            value,
            grid.t,
            [f for f in run.faults if f.signal == signal.id],
            signal.min,
            signal.max,
            rng,
        )
        if clip:
            np.clip(value, signal.min, signal.max, out=value)
        t = grid.t
        if keep is not None:
            t, value = t[keep], value[keep]
        out.append(Series(signal.id, t, value))
    return out, peaks


def _slice(t: FloatArray, start: float, end: float) -> slice:
    a, b = np.searchsorted(t, [start, end], side="left")
    return slice(int(a), int(b))


def _excursion(
    value: FloatArray,
    t: FloatArray,
    incident: Incident,
    top: float | None,
    rng: np.random.Generator,
) -> None:
    """Raises the signal along a half-sine over the incident (over-temperature, gas)."""
    part = _slice(t, incident.start, incident.end)
    if part.stop <= part.start:
        return
    base = float(np.median(value[part]))
    if incident.kind == "over_temp":
        rise = 25.0 if top is None else min(25.0, 0.97 * top - base)
    else:
        rise = (0.6 * top - base) if top is not None else 50.0
    rise *= float(rng.uniform(0.85, 1.0))
    u = (t[part] - incident.start) / max(incident.end - incident.start, 1e-9)
    value[part] += max(rise, 0.0) * np.sin(np.pi * u)


def _sensor_faults(
    value: FloatArray,
    t: FloatArray,
    faults: list[SensorFault],
    lo: float | None,
    hi: float | None,
    rng: np.random.Generator,
) -> npt.NDArray[np.bool_] | None:
    """Applies stuck and spike faults in place; returns the mask of samples kept."""
    keep: npt.NDArray[np.bool_] | None = None
    span = (hi - lo) if hi is not None and lo is not None else max(abs(float(np.mean(value))), 1.0)
    for fault in faults:
        part = _slice(t, fault.start, fault.end)
        if part.stop <= part.start:
            continue
        if fault.kind == "stuck":
            value[part] = value[part.start]
        elif fault.kind == "spike":
            value[part] += rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.6) * span
        else:
            if keep is None:
                keep = np.ones(len(t), dtype=bool)
            keep[part] = False
    return keep
