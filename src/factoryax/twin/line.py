"""The discrete-event part of the twin: stations, buffers, failures, changeovers (SimPy).

Each station is one SimPy process: take a part from the buffer in front (idle, STARVED,
while it is empty), change over when the product differs, change a worn tool, maybe
suffer a minor stop, run the cycle, hand the part on (idle, BLOCKED, while the buffer
behind is full). Failures follow operating time, not wall time: a station accumulates
running seconds and breaks down when it reaches its drawn time to failure (Weibull with
the configured MTBF), scrapping the part in it and staying down for a lognormal repair.

Work never happens inside a stop window (a planned stop from the calendar, an e-stop, an
open guard door): :meth:`_Station._work` pauses at the window and resumes after it, so
repair and changeover times are planned-time durations, which keeps availability equal
to MTBF / (MTBF + MTTR) for a station that is never starved or blocked.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from factoryax.core import Line
from factoryax.twin import quality as q
from factoryax.twin.config import StationConfig, TwinConfig
from factoryax.twin.staffing import Crew
from factoryax.twin.windows import StopWindows

__all__ = [
    "DOWN",
    "IDLE",
    "PLANNED",
    "RUNNING",
    "SETUP",
    "STATES",
    "Episode",
    "LineSim",
    "RngFor",
    "StationTrace",
    "rng_factory",
]

RUNNING, IDLE, DOWN, SETUP, PLANNED = range(5)
STATES = ("running", "idle", "down", "setup", "planned_stop")

_Proc = Generator[Any, Any, Any]
RngFor = Callable[[str], np.random.Generator]


@dataclass
class Episode:
    """One life of a station between repairs, in cumulative operating seconds."""

    onset_op: float
    fail_op: float
    sudden: bool
    fail_at: float | None = None
    repaired_at: float | None = None
    renewed_op: float | None = None
    """Operating seconds at which preventive maintenance ended this life before failure."""

    @property
    def end_op(self) -> float:
        """Operating seconds at which this life ends: the failure, or an earlier PM."""
        return self.fail_op if self.renewed_op is None else self.renewed_op


@dataclass
class StationTrace:
    """What one station did, as recorded by the simulation (seconds since start)."""

    asset: str
    line: str
    ideal_cycle_s: float
    iv: list[tuple[float, float, int, str | None, float]] = field(default_factory=list)
    """Activity records (start, end, state, reason, operating seconds at start)."""
    cycles: list[tuple[float, float, int]] = field(default_factory=list)
    """Completed cycles (start, end, product index)."""
    tool_changes: list[tuple[float, int]] = field(default_factory=list)
    """(time, parts completed before the change)."""
    episodes: list[Episode] = field(default_factory=list)
    production: list[tuple[float, str, int, str, str, str | None, float]] = field(
        default_factory=list
    )
    """(ts, part_id, product index, lot, result, defect_code, cycle_time_s)."""
    defects: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[tuple[float, float]] = field(default_factory=list)
    pm_stops: list[tuple[float, float]] = field(default_factory=list)
    """Preventive maintenance (start, end)."""
    tech_waits: list[tuple[float, float, str]] = field(default_factory=list)
    """Waits for a technician (start, end, job: repair, pm, changeover, tool)."""


class _Station:
    def __init__(
        self,
        sim: LineSim,
        index: int,
        asset_id: str,
        cfg: StationConfig,
        ideal_s: float,
        windows: StopWindows,
    ) -> None:
        self.sim, self.env, self.cfg = sim, sim.env, cfg
        self.index = index
        self.rng = sim.rng_for(f"station:{asset_id}")
        self.trace = StationTrace(asset_id, sim.line.id, ideal_s)
        self.windows = windows
        self._wi = 0
        self.mean_cycle = ideal_s / cfg.performance
        self.wear_scale, self.defect_scale = q.speed_scales(cfg, ideal_s)
        self.last_pm_op = 0.0
        self.inbox: simpy.Store | None = None
        self.outbox: simpy.Store | None = None
        self.rework_queue: deque[q.Part] = deque()
        self.current: q.Part | None = None
        self.product: int | None = None
        self.op = 0.0
        self.tool_count = 0
        self._pending: tuple[float, int, str | None] | None = None
        self.episode = self._new_episode()

    # ------------------------------------------------------------ failure model

    def _new_episode(self) -> Episode:
        cfg = self.cfg
        if cfg.mtbf_h is None:
            return Episode(math.inf, math.inf, True)
        scale = cfg.mtbf_h * 3600.0 / math.gamma(1.0 + 1.0 / cfg.weibull_shape)
        ttf = float(scale * self.rng.weibull(cfg.weibull_shape))
        sudden = bool(self.rng.random() < cfg.sudden_fraction)
        lead = (
            0.0
            if sudden
            else min(cfg.degradation_h * 3600 * self.rng.uniform(0.75, 1.25), 0.8 * ttf)
        )
        episode = Episode(self.op + ttf - lead, self.op + ttf, sudden)
        self.trace.episodes.append(episode)
        return episode

    def degradation(self) -> float:
        """Wear severity now: 0 before onset, rising quadratically to 1 at failure."""
        ep = self.episode
        if ep.fail_op <= ep.onset_op or self.op <= ep.onset_op:
            return 0.0
        return float(min(1.0, (self.op - ep.onset_op) / (ep.fail_op - ep.onset_op)) ** 2)

    def _lognormal(self, mean: float, cv: float) -> float:
        if cv <= 0:
            return mean
        sigma2 = math.log1p(cv * cv)
        return float(self.rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2)))

    # ------------------------------------------------------------ recording

    def _seg(self, start: float, end: float, state: int, reason: str | None) -> None:
        if end > start:
            self.trace.iv.append((start, end, state, reason, self.op))
            if state == RUNNING:
                self.op += end - start

    def finish(self) -> None:
        """Closes the activity in progress at the end of the horizon."""
        if self._pending is not None:
            start, state, reason = self._pending
            self._seg(start, self.env.now, state, reason)
            self._pending = None

    def _wait(self, event: simpy.Event, reason: str, state: int = IDLE) -> _Proc:
        start = self.env.now
        self._pending = (start, state, reason)
        value = yield event
        self._pending = None
        self._seg(start, self.env.now, state, reason)
        return value

    def _staffed(self, duration: float, state: int, reason: str, job: str) -> _Proc:
        """A job that needs a technician: wait for one (in the job's state), then work."""
        crew = self.sim.crew
        if crew is None:
            yield from self._work(duration, state, reason)
            return
        req = crew.request()
        if not req.triggered:
            start = self.env.now
            yield from self._wait(req, reason, state)
            self.trace.tech_waits.append((start, self.env.now, job))
        yield from self._work(duration, state, reason)
        crew.resource.release(req)

    def _pm_due(self) -> bool:
        interval = self.cfg.pm_interval_h
        return interval is not None and self.op - self.last_pm_op >= interval * 3600.0

    def _maintain(self) -> _Proc:
        """Preventive maintenance: a planned stop that renews the wear episode.

        With limited staff PM waits for a free technician without stopping the machine:
        when nobody is free it is put off to the next cycle.
        """
        crew = self.sim.crew
        req = None
        if crew is not None:
            req = crew.request()
            if not req.triggered:
                req.cancel()
                return
        began = self.env.now
        yield from self._work(self.cfg.pm_min * 60, PLANNED, self.sim.config.reasons.pm)
        if crew is not None and req is not None:
            crew.resource.release(req)
        self.trace.pm_stops.append((began, self.env.now))
        self.last_pm_op = self.op
        self.episode.renewed_op = self.op
        self.episode.repaired_at = self.env.now
        self.episode = self._new_episode()

    def _work(self, duration: float, state: int, reason: str | None) -> _Proc:
        """Spends ``duration`` seconds of planned time in ``state``, pausing over windows."""
        remaining = duration
        starts, ends = self.windows.starts, self.windows.ends
        while remaining > 1e-9:
            now = self.env.now
            while self._wi < len(ends) and ends[self._wi] <= now:
                self._wi += 1
            if self._wi < len(starts) and starts[self._wi] <= now:
                yield self.env.timeout(ends[self._wi] - now)
                continue
            nxt = starts[self._wi] if self._wi < len(starts) else math.inf
            step = min(remaining, nxt - now)
            self._pending = (now, state, reason)
            yield self.env.timeout(step)
            self._pending = None
            self._seg(now, now + step, state, reason)
            remaining -= step

    # ------------------------------------------------------------ the process

    def run(self) -> _Proc:
        reasons = self.sim.config.reasons
        cfg = self.cfg
        while True:
            if self.rework_queue:
                part = self.rework_queue.popleft()
            elif self.inbox is None:
                part = self.sim.release()
            else:
                part = yield from self._wait(self.inbox.get(), reasons.starved)
            self.current = part
            if self._pm_due():
                yield from self._maintain()
            if self.product is not None and part.product != self.product and cfg.changeover_min:
                yield from self._staffed(
                    cfg.changeover_min * 60, SETUP, reasons.changeover, "changeover"
                )
            self.product = part.product
            if cfg.tool_life_parts and self.tool_count >= cfg.tool_life_parts:
                yield from self._staffed(cfg.tool_change_min * 60, DOWN, reasons.tool, "tool")
                self.trace.tool_changes.append((self.env.now, len(self.trace.cycles)))
                self.tool_count = 0
            if cfg.minor_stop_prob and self.rng.random() < cfg.minor_stop_prob:
                yield from self._work(self._lognormal(cfg.minor_stop_s, 0.5), IDLE, reasons.minor)
            cycle = self._lognormal(self.mean_cycle, cfg.cycle_cv)
            began = self.env.now
            to_failure = self.episode.fail_op - self.op
            if to_failure <= cycle:
                yield from self._work(to_failure, RUNNING, None)
                self._breakdown(part, to_failure)
                yield from self._staffed(
                    self._lognormal(cfg.mttr_min * 60, cfg.mttr_cv),
                    DOWN,
                    reasons.breakdown,
                    "repair",
                )
                self.trace.episodes[-1].repaired_at = self.env.now
                self.last_pm_op = self.op
                self.episode = self._new_episode()
                continue
            yield from self._work(cycle, RUNNING, None)
            self.trace.cycles.append((began, self.env.now, part.product))
            if not self._complete(part, cycle):
                self.current = None
                continue
            if self.outbox is None:
                self.sim.completed.append(part.part_id)
            else:
                yield from self._wait(self.outbox.put(part), reasons.blocked)
            self.current = None

    def _breakdown(self, part: q.Part, ran_s: float) -> None:
        now = self.env.now
        self.episode.fail_at = now
        self.trace.production.append(
            (now, part.part_id, part.product, part.lot, "scrap", "BREAKDOWN", ran_s)
        )
        self.trace.defects.append(
            self.sim.defect_row(
                now,
                self.trace.asset,
                part,
                "scrap",
                "BREAKDOWN",
                "breakdown",
                None,
                self.trace.asset,
            )
        )
        self.sim.scrapped.append(part.part_id)
        self.current = None

    def _complete(self, part: q.Part, cycle: float) -> bool:
        """Applies this station's quality role; returns whether the part moves on."""
        sim, asset, now = self.sim, self.trace.asset, self.env.now
        roles, qcfg = sim.roles, sim.config.quality
        if asset == roles.crack and self.rng.random() < qcfg.crack_prob * self.defect_scale * (
            1 + 4 * self.degradation()
        ):
            part.cracked = True
            part.crack_cause = "press_degradation" if self.degradation() > 0.1 else "material"
        if asset == roles.machining:
            q.machine_bore(
                part,
                qcfg,
                self.rng,
                tool_count=self.tool_count,
                tool_life=self.cfg.tool_life_parts,
                degradation=self.degradation(),
                wear_scale=self.wear_scale,
            )
        if asset == roles.residue and self.rng.random() < qcfg.residue_prob * self.defect_scale:
            part.residue = True
        self.tool_count += 1
        if asset != roles.inspection:
            self.trace.production.append(
                (now, part.part_id, part.product, part.lot, "ok", None, cycle)
            )
            return True
        verdict = q.inspect(part, qcfg, roles, self.rng)
        if verdict.measured_mm is not None:
            self.trace.measurements.append((now, verdict.measured_mm))
        self.trace.production.append(
            (now, part.part_id, part.product, part.lot, verdict.result, verdict.defect_code, cycle)
        )
        if verdict.result == "ok":
            return True
        self.trace.defects.append(
            sim.defect_row(
                now,
                asset,
                part,
                verdict.result,
                verdict.defect_code,
                verdict.cause,
                verdict.measured_mm,
                verdict.origin,
            )
        )
        if verdict.result == "scrap":
            sim.scrapped.append(part.part_id)
        else:
            q.rework(part, qcfg, self.rng)
            sim.in_rework[part.part_id] = part
            self.env.process(sim.rework(part, self))
        return False


class LineSim:
    """One line's stations and buffers inside a shared SimPy environment."""

    def __init__(
        self,
        env: simpy.Environment,
        line: Line,
        config: TwinConfig,
        windows: dict[str, StopWindows],
        rng_for: RngFor,
        part_prefix: str,
        crew: Crew | None = None,
    ) -> None:
        self.env, self.line, self.config, self.rng_for = env, line, config, rng_for
        self.crew = crew
        self.roles = q.resolve_roles(line, config.quality)
        self.part_prefix = part_prefix
        self.released = 0
        self.completed: list[str] = []
        self.scrapped: list[str] = []
        self.in_rework: dict[str, q.Part] = {}
        self.stations = [
            _Station(
                self,
                i,
                asset.id,
                config.station(asset.id),
                asset.ideal_cycle_time_s or config.default_cycle_time_s,
                windows[asset.id],
            )
            for i, asset in enumerate(line.assets)
        ]
        for up, down in zip(self.stations, self.stations[1:], strict=False):
            buffer = simpy.Store(env, capacity=down.cfg.buffer)
            up.outbox = down.inbox = buffer
        for station in self.stations:
            env.process(station.run())

    def release(self) -> q.Part:
        """A new part enters the line; lots of ``lot_size`` cycle through the products."""
        serial = self.released
        self.released += 1
        lot_index = serial // self.config.lot_size
        product = lot_index % len(self.config.products)
        lot = f"{self.part_prefix}-L{lot_index + 1:04d}"
        return q.Part(serial, f"{self.part_prefix}-{serial + 1:06d}", product, lot)

    def rework(self, part: q.Part, station: _Station) -> _Proc:
        """Off-line rework, then back into the inspection station's input."""
        yield self.env.timeout(self.config.quality.rework_min * 60)
        if station.inbox is None:
            station.rework_queue.append(part)
        else:
            yield station.inbox.put(part)
        del self.in_rework[part.part_id]

    def defect_row(
        self,
        ts: float,
        asset: str,
        part: q.Part,
        result: str,
        code: str | None,
        cause: str | None,
        measured: float | None,
        origin: str | None,
    ) -> dict[str, Any]:
        """One ground-truth row explaining a non-good part."""
        return {
            "ts": ts,
            "line": self.line.id,
            "asset": asset,
            "part_id": part.part_id,
            "product": self.config.products[part.product].id,
            "lot": part.lot,
            "result": result,
            "defect_code": code,
            "cause": cause,
            "origin_asset": origin,
            "measured_mm": measured,
            "true_mm": part.bore_mm,
            "tool_wear": part.tool_wear,
            "degradation": part.spindle_degradation,
        }

    def finish(self) -> list[tuple[str, str]]:
        """Closes open activities; returns the work in progress as (part_id, location)."""
        wip: list[tuple[str, str]] = []
        for station in self.stations:
            station.finish()
            if station.current is not None:
                wip.append((station.current.part_id, station.trace.asset))
            wip.extend(
                (p.part_id, f"rework-queue:{station.trace.asset}") for p in station.rework_queue
            )
            if station.inbox is not None:
                wip.extend(
                    (p.part_id, f"buffer:{station.trace.asset}") for p in station.inbox.items
                )
        wip.extend((pid, "rework") for pid in self.in_rework)
        return wip


def rng_factory(seed: int) -> RngFor:
    """Independent, named random streams derived from one seed (stable across versions).

    Each stream is seeded with ``[seed, crc32(name)]``, so what one stream decides does
    not shift when another stream draws more or fewer numbers.
    """

    def rng_for(name: str) -> np.random.Generator:
        return np.random.default_rng([seed, zlib.crc32(name.encode())])

    return rng_for
