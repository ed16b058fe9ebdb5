"""The digital twin as a target: parameters become ``[twin]`` overrides, a run becomes KPIs.

A parameter is mapped to a knob by a dotted path:

- ``stations.<asset>.<key>`` — a station setting (``buffer``, ``tool_life_parts``,
  ``performance``, ``mttr_min``, ``changeover_min`` … see docs/twin.md);
  ``pm_interval_h`` and ``pm_min`` are the preventive-maintenance knobs;
- ``staffing.<shift>`` — technicians on a shift; ``staffing.default`` — on the others;
- ``quality.<key>``, ``lot_size``, ``default_cycle_time_s`` — other ``[twin]`` keys;
- ``assets.<asset>.ideal_cycle_time_s`` — the cycle-time setting of an asset. The
  station's ``rated_cycle_time_s`` stays at the plant's declared cycle (unless set), so
  a faster setting wears the tool faster and raises defect rates (see docs/twin.md).

Each evaluation simulates ``replications`` runs (seeds ``seed``, ``seed + 1`` …; the same
seeds for every point, i.e. common random numbers, so differences between points are not
drowned by noise) and reports the mean of each metric.

Metrics: ``good_per_h`` (ok parts leaving the last station per simulated hour),
``good_parts``, ``defect_rate`` (non-ok share of inspection results), ``scrap_parts``,
``rework_parts``,
``tool_changes``, ``wip_end`` (parts in the line at the end), ``buffer_total`` (sum of
buffer capacities in front of stations 2…n), ``breakdowns`` (failures), ``breakdown_h``
(hours down for breakdowns, waits included), ``pm_stops``, ``pm_h`` (hours of
preventive maintenance), ``tech_wait_h`` (hours stops waited for a technician),
``availability`` (mean over stations of 1 − down and setup time / time outside planned
stops), ``technicians`` (staffed technicians, time-weighted mean; 0 for unlimited) and
``profit_per_h`` from :class:`TwinEconomics`.

Examples:
    >>> import datetime as dt
    >>> from factoryax.twin import example_plant
    >>> target = TwinTarget(example_plant(), {"buf": "stations.cnc-01.buffer"},
    ...                     start=dt.datetime(2026, 11, 23, 8), horizon_h=4)
    >>> m = target.evaluate({"buf": 5})
    >>> m["good_parts"] > 0, m["buffer_total"]
    (True, 65.0)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from factoryax.core import ConfigError, PlantModel
from factoryax.optimize.base import Metrics
from factoryax.optimize.space import Point, Value
from factoryax.twin import TwinConfig, TwinResult, simulate
from factoryax.twin.calendar import build_schedule

__all__ = ["TWIN_METRICS", "TwinEconomics", "TwinTarget", "apply_overrides", "twin_metrics"]

TWIN_METRICS = (
    "good_per_h",
    "good_parts",
    "defect_rate",
    "scrap_parts",
    "rework_parts",
    "tool_changes",
    "wip_end",
    "buffer_total",
    "breakdowns",
    "breakdown_h",
    "pm_stops",
    "pm_h",
    "tech_wait_h",
    "availability",
    "technicians",
    "profit_per_h",
)
"""Every metric a twin evaluation reports."""

_TWIN_KEYS = {"lot_size", "default_cycle_time_s"}


class TwinEconomics(BaseModel):
    """Money per event, to fold throughput, capital and quality into ``profit_per_h``.

    ``profit_per_h = margin_per_part·good_per_h − buffer_slot_cost_per_h·buffer_total
    − tool_cost·tool_changes/h − scrap_cost·scrap_parts/h − rework_cost·rework_parts/h
    − pm_cost·pm_stops/h − breakdown_cost·breakdowns/h − technician_cost_per_h·technicians``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    margin_per_part: float = Field(1.0, ge=0)
    buffer_slot_cost_per_h: float = Field(0.05, ge=0)
    """Holding and floor-space cost of one buffer place per hour."""
    tool_cost: float = Field(20.0, ge=0)
    """Cost of one cutting tool (a tool change)."""
    scrap_cost: float = Field(2.0, ge=0)
    rework_cost: float = Field(0.5, ge=0)
    """Cost of re-working one part found out of tolerance (labour, re-inspection)."""
    pm_cost: float = Field(0.0, ge=0)
    """Parts and materials of one preventive-maintenance stop."""
    breakdown_cost: float = Field(0.0, ge=0)
    """Spare parts and damage of one breakdown (beyond the lost output)."""
    technician_cost_per_h: float = Field(0.0, ge=0)
    """Wage of one technician on staff per hour."""


def apply_overrides(plant: PlantModel, mapping: Mapping[str, str], point: Point) -> PlantModel:
    """The plant with each mapped parameter's value written to its knob.

    Raises:
        ConfigError: a path is not one of the forms above, names an unknown asset, or
            the value is out of the knob's range (the twin's own message).
    """
    twin: dict[str, Any] = _deep_copy(plant.twin)
    cycle: dict[str, float] = {}
    assets = {a.id for _, a in plant.iter_assets()}
    for name, path in mapping.items():
        if name not in point:
            raise ConfigError(f"twin target: parameter {name!r} mapped to {path!r} has no value")
        value = point[name]
        parts = path.split(".")
        if parts[0] == "assets" and len(parts) == 3 and parts[2] == "ideal_cycle_time_s":
            if parts[1] not in assets:
                raise ConfigError(
                    f"twin target: {path!r} names no asset; use one of {sorted(assets)!r}"
                )
            cycle[parts[1]] = float(value)
        elif parts[0] == "stations" and len(parts) == 3:
            if parts[1] not in assets:
                raise ConfigError(
                    f"twin target: {path!r} names no asset; use one of {sorted(assets)!r}"
                )
            twin.setdefault("stations", {}).setdefault(parts[1], {})[parts[2]] = _plain(value)
        elif parts[0] == "staffing" and len(parts) == 2:
            staffing = twin.setdefault("staffing", {})
            if parts[1] == "default":
                staffing["default"] = _plain(value)
            else:
                staffing.setdefault("technicians", {})[parts[1]] = _plain(value)
        elif parts[0] == "quality" and len(parts) == 2:
            twin.setdefault("quality", {})[parts[1]] = _plain(value)
        elif len(parts) == 1 and parts[0] in _TWIN_KEYS:
            twin[parts[0]] = _plain(value)
        else:
            raise ConfigError(
                f"twin target: cannot map {name!r} to {path!r}; use stations.<asset>.<key>, "
                "staffing.<shift>, staffing.default, quality.<key>, lot_size, "
                "default_cycle_time_s or "
                "assets.<asset>.ideal_cycle_time_s"
            )
    lines = plant.lines
    if cycle:
        for asset_id, seconds in cycle.items():
            if not seconds > 0:
                raise ConfigError(f"twin target: {asset_id}.ideal_cycle_time_s must be > 0")
            # the tool and process are rated at the declared cycle: a faster setting wears
            station = twin.setdefault("stations", {}).setdefault(asset_id, {})
            declared = plant.asset(asset_id).ideal_cycle_time_s
            if "rated_cycle_time_s" not in station and declared is not None:
                station["rated_cycle_time_s"] = float(declared)
        lines = tuple(
            line.model_copy(
                update={
                    "assets": tuple(
                        a.model_copy(update={"ideal_cycle_time_s": cycle[a.id]})
                        if a.id in cycle
                        else a
                        for a in line.assets
                    )
                }
            )
            for line in plant.lines
        )
    return plant.model_copy(update={"twin": twin, "lines": lines})


def twin_metrics(run: TwinResult, plant: PlantModel, economics: TwinEconomics) -> Metrics:
    """The KPIs of one run (see the module docstring)."""
    hours = run.horizon_s / 3600.0
    prod = run.production
    asset_col = pc.cast(prod["asset"], "string")
    result_col = pc.cast(prod["result"], "string")
    config = run.config
    lines = [ln for ln in plant.lines if config.lines is None or ln.id in config.lines]
    last = [ln.assets[-1].id for ln in lines if ln.assets]
    at_last = pc.is_in(asset_col, value_set=_strings(last))
    good = int(pc.sum(pc.and_(at_last, pc.equal(result_col, "ok"))).as_py() or 0)
    inspection = _inspection_assets(plant, lines)
    at_insp = pc.is_in(asset_col, value_set=_strings(inspection))
    inspected = int(pc.sum(at_insp).as_py() or 0)
    bad = int(pc.sum(pc.and_(at_insp, pc.not_equal(result_col, "ok"))).as_py() or 0)
    scrap = int(pc.sum(pc.equal(result_col, "scrap")).as_py() or 0)
    rework = int(pc.sum(pc.and_(at_insp, pc.equal(result_col, "rework"))).as_py() or 0)
    reasons = pc.cast(run.states["reason_code"], "string")
    tools = int(pc.sum(pc.equal(reasons, config.reasons.tool)).as_py() or 0)
    buffers = float(sum(config.station(a.id).buffer for ln in lines for a in ln.assets[1:]))
    good_per_h = good / hours
    faults = run.truth.faults
    breakdowns = int(pc.sum(pc.is_valid(faults["failure_at"])).as_py() or 0)
    states = run.states
    seconds = pc.divide(
        pc.cast(pc.subtract(states["end"], states["start"]), "int64").cast("float64"), 1e6
    )
    state_col = pc.cast(states["state"], "string")
    breakdown_h = _hours(seconds, pc.equal(reasons, config.reasons.breakdown))
    pm_h = _hours(seconds, pc.equal(reasons, config.reasons.pm))
    wait_h = float(pc.sum(run.technician_waits["wait_s"]).as_py() or 0.0) / 3600.0
    availability = _availability(run, seconds, state_col)
    staffed = _staffed(run, plant) if config.staffing.enabled else 0.0
    pm_stops = run.pm_stops.num_rows
    return {
        "good_per_h": good_per_h,
        "good_parts": float(good),
        "defect_rate": bad / inspected if inspected else 0.0,
        "scrap_parts": float(scrap),
        "rework_parts": float(rework),
        "tool_changes": float(tools),
        "wip_end": float(run.wip.num_rows),
        "buffer_total": buffers,
        "breakdowns": float(breakdowns),
        "breakdown_h": breakdown_h,
        "pm_stops": float(pm_stops),
        "pm_h": pm_h,
        "tech_wait_h": wait_h,
        "availability": availability,
        "technicians": staffed,
        "profit_per_h": economics.margin_per_part * good_per_h
        - economics.buffer_slot_cost_per_h * buffers
        - economics.tool_cost * tools / hours
        - economics.scrap_cost * scrap / hours
        - economics.rework_cost * rework / hours
        - economics.pm_cost * pm_stops / hours
        - economics.breakdown_cost * breakdowns / hours
        - economics.technician_cost_per_h * staffed,
    }


def _hours(seconds: Any, mask: Any) -> float:
    return float(pc.sum(pc.filter(seconds, mask)).as_py() or 0.0) / 3600.0


def _availability(run: TwinResult, seconds: Any, state_col: Any) -> float:
    """Mean over stations of 1 − (down + setup) / (time outside planned stops)."""
    values = []
    asset_col = pc.cast(run.states["asset"], "string")
    for asset in run.ideal_cycle_s:
        mine = pc.equal(asset_col, asset)
        busy = _hours(seconds, pc.and_(mine, pc.not_equal(state_col, "planned_stop")))
        lost = _hours(
            seconds, pc.and_(mine, pc.is_in(state_col, value_set=_strings(["down", "setup"])))
        )
        if busy > 0:
            values.append(1.0 - lost / busy)
    return sum(values) / len(values) if values else 0.0


def _staffed(run: TwinResult, plant: PlantModel) -> float:
    """Time-weighted mean of technicians on staff (shift by shift) over the horizon."""
    schedule = build_schedule(plant.calendar, plant.site.timezone, run.start, run.horizon_s)
    starts = schedule.shift_starts.tolist()
    ends = [*starts[1:], run.horizon_s]
    staffing = run.config.staffing
    total = sum(
        staffing.for_shift(name) * (b - a)
        for a, b, name in zip(starts, ends, schedule.shift_names, strict=True)
    )
    return float(total) / run.horizon_s


class TwinTarget:
    """Evaluates points by simulating the plant with the mapped knobs set.

    CPU-bound pure Python: a study evaluates its batches in worker processes
    (``prefers_processes``) rather than threads.

    Args:
        plant: the plant model (its ``[twin]`` table is the starting point).
        mapping: parameter name → knob path (see the module docstring).
        start: first simulated instant (a naive datetime is plant-local time).
        horizon_h: simulated hours per run.
        replications: runs per evaluation (seeds ``seed`` … ``seed + replications − 1``).
        seed: the first twin seed.
        sample_s: signal sample period; coarse by default, optimisation needs no signals.
        economics: prices for ``profit_per_h``.
    """

    def __init__(
        self,
        plant: PlantModel,
        mapping: Mapping[str, str],
        *,
        start: dt.datetime | dt.date,
        horizon_h: float = 24.0,
        replications: int = 1,
        seed: int = 1,
        sample_s: float = 3600.0,
        economics: TwinEconomics | None = None,
    ) -> None:
        if not mapping:
            raise ConfigError("twin target: `map` is empty; map each parameter to a twin knob")
        if horizon_h <= 0 or replications < 1:
            raise ConfigError(
                f"twin target: needs horizon_h > 0 and replications >= 1, got "
                f"{horizon_h!r} and {replications!r}"
            )
        self.plant = plant
        self.mapping = dict(mapping)
        self.start = start
        self.horizon_h = horizon_h
        self.replications = replications
        self.seed = seed
        self.sample_s = sample_s
        self.economics = economics or TwinEconomics()

    prefers_processes = True

    def check(self, point: Point) -> None:
        """Raises the twin's own ``ConfigError`` if ``point`` maps to invalid settings."""
        TwinConfig.from_plant(apply_overrides(self.plant, self.mapping, point))

    def evaluate(self, point: Point) -> Metrics:
        """Mean metrics over the replications."""
        plant = apply_overrides(self.plant, self.mapping, point)
        config = TwinConfig.from_plant(plant)
        total: dict[str, float] = {}
        for rep in range(self.replications):
            run = simulate(
                plant,
                start=self.start,
                horizon=dt.timedelta(hours=self.horizon_h),
                seed=self.seed + rep,
                sample_s=self.sample_s,
                config=config,
            )
            for key, value in twin_metrics(run, plant, self.economics).items():
                total[key] = total.get(key, 0.0) + value
        return {k: v / self.replications for k, v in total.items()}


def _inspection_assets(plant: PlantModel, lines: list[Any]) -> list[str]:
    q = TwinConfig.from_plant(plant).quality
    if q.inspection_asset is not None:
        return [q.inspection_asset]
    out = []
    for line in lines:
        found = [a.id for a in line.assets if a.kind == "inspection"]
        out.append(found[0] if found else line.assets[-1].id)
    return out


def _strings(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, type=pa.string())


def _plain(value: Value) -> Value:
    return value


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}
