"""``simulate``: one deterministic run of the twin over a horizon.

Order of work: lay the shift calendar over the horizon; draw safety incidents (they become
stop windows); run the discrete-event line(s) in SimPy; turn each station's records into
a state timeline; generate signals vectorised per asset; assemble the lake's tables and
the ground truth. Every random draw comes from a stream named after what it decides
(``station:cnc-01``, ``signal:press-01.oil_temp`` …) derived from the one ``seed``, so a
seed gives the same run, and adding a signal does not change when machines fail.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import simpy

from factoryax.core import ConfigError, PlantModel, ensure_utc
from factoryax.twin.calendar import build_schedule
from factoryax.twin.config import TwinConfig
from factoryax.twin.incidents import STOPPING, plan_incidents, plan_sensor_faults
from factoryax.twin.line import DOWN, IDLE, PLANNED, RUNNING, LineSim, StationTrace, rng_factory
from factoryax.twin.result import PM_SCHEMA, WAIT_SCHEMA, Truth, TwinResult
from factoryax.twin.signals import AssetRun, generate
from factoryax.twin.staffing import Crew
from factoryax.twin.tables import (
    defects_table,
    events_table,
    faults_table,
    micros,
    production_table,
    readings_table,
    rul_table,
    safety_table,
    states_table,
)
from factoryax.twin.windows import build_timeline, build_windows

__all__ = ["simulate"]


def simulate(
    plant: PlantModel,
    *,
    start: dt.datetime | dt.date,
    days: float | None = None,
    horizon: dt.timedelta | None = None,
    seed: int | None = None,
    sample_s: float | None = None,
    config: TwinConfig | None = None,
) -> TwinResult:
    """Simulates the plant's line(s) from ``start`` for ``days`` (or ``horizon``).

    Args:
        plant: the plant model; its ``[twin]`` table configures the twin.
        start: the first instant; a date means local midnight, a naive datetime is read
            in the plant's time zone.
        days: simulated days (default 1 when ``horizon`` is not given).
        horizon: simulated length, instead of ``days``.
        seed: seed of every random draw (default ``[twin] seed``).
        sample_s: one sample period for all signals (default ``[twin] sample_s``, else
            each signal's declared ``sample_s``).
        config: an already resolved config (default ``TwinConfig.from_plant(plant)``).

    Returns:
        The lake tables, the ground truth and the work in progress.

    Raises:
        ConfigError: the horizon is not positive, both ``days`` and ``horizon`` are
            given, or the plant (or its ``[twin]`` table) cannot be simulated.

    Examples:
        >>> from factoryax.twin import example_plant
        >>> run = simulate(example_plant(), start=dt.date(2026, 11, 23),
        ...                horizon=dt.timedelta(hours=2), seed=1, sample_s=60)
        >>> run.states.num_rows > 0, run.readings.column_names[:3]
        (True, ['site', 'ts', 'line'])
    """
    config = config or TwinConfig.from_plant(plant)
    seed = config.seed if seed is None else seed
    horizon_s = _horizon_s(days, horizon)
    sample_s = sample_s if sample_s is not None else config.sample_s
    if sample_s is not None and sample_s <= 0:
        raise ConfigError(f"sample_s must be > 0 seconds, got {sample_s!r}")
    zone = plant.site.timezone
    if isinstance(start, dt.datetime):
        begin = ensure_utc(start, zone)
    else:
        begin = dt.datetime.combine(start, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    start_us = int(begin.timestamp()) * 1_000_000 + begin.microsecond
    lines = [ln for ln in plant.lines if config.lines is None or ln.id in config.lines]
    assets = [(ln.id, a) for ln in lines for a in ln.assets]
    if not assets:
        raise ConfigError(
            "the plant declares no assets to simulate; add [[lines.assets]] to plant.toml"
            + (f" or fix twin.lines = {list(config.lines)!r}" if config.lines else "")
        )

    schedule = build_schedule(plant.calendar, zone, begin, horizon_s)
    rng_for = rng_factory(seed)
    incidents = plan_incidents(assets, config, schedule, rng_for)
    reasons = config.reasons
    stop_state = {
        "estop": (DOWN, reasons.estop),
        "guard_open": (IDLE, reasons.minor),
        "person_in_zone": (IDLE, reasons.minor),
    }
    windows = {
        a.id: build_windows(
            schedule.stops(),
            PLANNED,
            reasons.planned,
            [
                (i.start, i.end, *stop_state[i.kind])
                for i in incidents
                if i.asset == a.id and i.kind in STOPPING
            ],
        )
        for _, a in assets
    }

    env = simpy.Environment()
    local = begin.astimezone(zone)
    crew = Crew(env, config.staffing, schedule) if config.staffing.enabled else None
    sims = [
        LineSim(env, ln, config, windows, rng_for, f"{ln.id}-{local:%y%m%dT%H%M}", crew)
        for ln in lines
    ]
    env.run(until=horizon_s)
    wip = [(pid, sim.line.id, where) for sim in sims for pid, where in sim.finish()]

    stations = [
        (st.trace, build_timeline(st.trace.iv, windows[st.trace.asset], horizon_s))
        for sim in sims
        for st in sim.stations
    ]
    running = {}
    by_asset = {tr.asset: tl for tr, tl in stations}
    for inc in incidents:
        tl = by_asset[inc.asset]
        running[inc] = bool(tl.state[tl.locate(_before(inc.start))][0] == RUNNING)

    measure = {sim.roles.inspection: sim.roles.measurement_signal for sim in sims}
    signal_list = [
        (a.id, s.id, sample_s or s.sample_s)
        for _, a in assets
        for s in a.signals
        if s.id != measure.get(a.id)
    ]
    faults = plan_sensor_faults(signal_list, config, horizon_s, rng_for)
    series, peaks = [], {}
    for (trace, tl), (line_id, asset) in zip(stations, assets, strict=True):
        run = AssetRun(
            asset,
            line_id,
            tl,
            trace,
            [i for i in incidents if i.asset == asset.id],
            [f for f in faults if f.asset == asset.id],
            measure.get(asset.id),
        )
        out, found = generate(run, schedule, config, rng_for, sample_s=sample_s)
        series.append((line_id, asset.id, out))
        peaks.update(found)

    site = plant.site.id
    traces = [tr for tr, _ in stations]
    products = [p.id for p in config.products]
    line_of = {a.id: ln for ln, a in assets}
    truth = Truth(
        faults=faults_table(start_us, stations, faults, line_of),
        rul=rul_table(start_us, stations, horizon_s, config.rul_step_s, reasons.breakdown),
        defects=defects_table(start_us, traces),
        safety=safety_table(site, start_us, incidents, running, peaks),
    )
    return TwinResult(
        site=site,
        seed=seed,
        start=begin,
        end=begin + dt.timedelta(seconds=horizon_s),
        config=config,
        readings=readings_table(site, start_us, series),
        production=production_table(site, start_us, traces, products),
        states=states_table(site, start_us, [(tr.line, tr.asset, tl) for tr, tl in stations]),
        events=events_table(site, start_us, incidents, running, peaks),
        truth=truth,
        wip=pa.table(
            {
                "part_id": [w[0] for w in wip],
                "line": [w[1] for w in wip],
                "location": [w[2] for w in wip],
            },
            schema=pa.schema(
                [("part_id", pa.string()), ("line", pa.string()), ("location", pa.string())]
            ),
        ),
        released=sum(sim.released for sim in sims),
        ideal_cycle_s={tr.asset: tr.ideal_cycle_s for tr in traces},
        technician_waits=_waits_table(start_us, traces),
        pm_stops=_pm_table(start_us, traces),
    )


def _waits_table(start_us: int, traces: list[StationTrace]) -> pa.Table:
    rows = sorted(
        ((a, b, job, tr) for tr in traces for a, b, job in tr.tech_waits),
        key=lambda r: (r[0], r[3].asset),
    )
    return pa.table(
        {
            "line": [r[3].line for r in rows],
            "asset": [r[3].asset for r in rows],
            "job": [r[2] for r in rows],
            "start": pa.array(micros(start_us, [r[0] for r in rows]), pa.int64()),
            "end": pa.array(micros(start_us, [r[1] for r in rows]), pa.int64()),
            "wait_s": pa.array([r[1] - r[0] for r in rows], pa.float64()),
        }
    ).cast(WAIT_SCHEMA)


def _pm_table(start_us: int, traces: list[StationTrace]) -> pa.Table:
    rows = sorted((a, b, tr.line, tr.asset) for tr in traces for a, b in tr.pm_stops)
    return pa.table(
        {
            "line": [r[2] for r in rows],
            "asset": [r[3] for r in rows],
            "start": pa.array(micros(start_us, [r[0] for r in rows]), pa.int64()),
            "end": pa.array(micros(start_us, [r[1] for r in rows]), pa.int64()),
        }
    ).cast(PM_SCHEMA)


def _before(t: float) -> npt.NDArray[np.float64]:
    """The instant just before ``t``, as a one-element array for ``Timeline.locate``."""
    return np.array([max(t - 1e-6, 0.0)])


def _horizon_s(days: float | None, horizon: dt.timedelta | None) -> float:
    if days is not None and horizon is not None:
        raise ConfigError(f"give either days ({days!r}) or horizon ({horizon!r}), not both")
    seconds = (
        horizon.total_seconds()
        if horizon is not None
        else (days if days is not None else 1.0) * 86400.0
    )
    if not seconds > 0:
        raise ConfigError(f"the simulated horizon must be > 0, got {seconds!r} s; pass days > 0")
    return float(seconds)
