"""The twin's own OEE cross-check: what its knobs imply versus what its tables show.

This is not the analytics package's OEE (that one reads the lake and the plant's reason
tree); it is how the twin proves that it produces what it was configured to produce.
Losses follow ISO 22400-2: planned stops are outside planned busy time; minor stops
(reason ``MINOR``) are a performance loss, so they count as operating time; every other
stop is an availability loss. ``line_losses=False`` also leaves starved and blocked time
out, which isolates the station's own behaviour from the line's balance.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from factoryax.core import PlantModel
from factoryax.twin.config import TwinConfig
from factoryax.twin.incidents import eligible
from factoryax.twin.quality import expected_first_pass_yield, resolve_roles, speed_scales
from factoryax.twin.result import TwinResult

__all__ = ["OeeFactors", "expected_factors", "measured_factors"]


@dataclass(frozen=True)
class OeeFactors:
    """Availability, performance and quality (each 0–1) and their product.

    Examples:
        >>> round(OeeFactors(0.9, 0.95, 0.99).oee, 4)
        0.8464
    """

    availability: float
    performance: float
    quality: float

    @property
    def oee(self) -> float:
        """Overall equipment effectiveness: A × P × Q."""
        return self.availability * self.performance * self.quality


def measured_factors(result: TwinResult, asset: str, *, line_losses: bool = False) -> OeeFactors:
    """A, P and Q of one asset from the run's own ``states`` and ``production`` rows.

    Quality is first-pass: a part's first row at the asset counts, so a reworked part
    inspected again does not count twice.

    Examples:
        >>> import datetime as dt
        >>> from factoryax.twin import example_plant, simulate
        >>> run = simulate(example_plant(), start=dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC),
        ...                horizon=dt.timedelta(hours=2), sample_s=600)
        >>> 0.8 < measured_factors(run, "inspect-01").performance <= 1.0
        True

    Raises:
        KeyError: the asset was not simulated.
    """
    if asset not in result.ideal_cycle_s:
        raise KeyError(
            f"asset {asset!r} was not simulated; simulated: {sorted(result.ideal_cycle_s)}"
        )
    reasons = result.config.reasons
    states = result.states.filter(pc.equal(result.states.column("asset"), asset))
    seconds = pc.divide(
        pc.cast(pc.subtract(states.column("end"), states.column("start")), pa.int64()), 1e6
    ).to_pylist()
    operating = busy = 0.0
    for state, reason, s in zip(
        states.column("state").to_pylist(),
        states.column("reason_code").to_pylist(),
        seconds,
        strict=True,
    ):
        if state == "planned_stop":
            continue
        if not line_losses and reason in (reasons.starved, reasons.blocked):
            continue
        busy += s
        if state == "running" or reason == reasons.minor:
            operating += s
    rows = result.production.filter(pc.equal(result.production.column("asset"), asset))
    count = rows.num_rows
    first: dict[str, str] = {}
    for part, verdict in zip(
        rows.column("part_id").to_pylist(), rows.column("result").to_pylist(), strict=True
    ):
        first.setdefault(part, verdict)
    good = sum(1 for v in first.values() if v == "ok")
    ideal = result.ideal_cycle_s[asset]
    return OeeFactors(
        availability=operating / busy if busy else 0.0,
        performance=ideal * count / operating if operating else 0.0,
        quality=good / len(first) if first else 0.0,
    )


def expected_factors(plant: PlantModel, asset: str, config: TwinConfig | None = None) -> OeeFactors:
    """A, P and Q that a station's settings imply when it is never starved or blocked.

    Per part: run ``c = ideal / performance``; minor stops ``p_minor · minor_stop_s``;
    down ``c · MTTR / MTBF`` plus a tool change every ``tool_life_parts``; a changeover
    every lot when there is more than one product. Safety stops take their expected share
    of planned time (e-stops as availability, guard and zone stops as minor stops). Quality
    is the expected first-pass yield (tool-wear drift averaged over a tool's life, crack and
    residue rates; see :func:`~factoryax.twin.quality.expected_first_pass_yield`) times
    the chance a breakdown scraps the part in the station. It assumes no preventive
    maintenance and unlimited technicians (``pm_interval_h`` and ``[twin.staffing]``
    change the failure process and add waits that this closed form does not model).

    Examples:
        >>> from factoryax.twin import example_plant
        >>> f = expected_factors(example_plant(), "cnc-01")
        >>> round(f.performance, 2), f.availability < 1.0
        (0.92, True)
    """
    config = config or TwinConfig.from_plant(plant)
    line = plant.line_of(asset)
    spec = plant.asset(asset)
    st = config.station(asset)
    ideal = spec.ideal_cycle_time_s or config.default_cycle_time_s
    cycle = ideal / st.performance
    minor = st.minor_stop_prob * st.minor_stop_s
    mtbf_s = st.mtbf_h * 3600.0 if st.mtbf_h else None
    down = cycle * st.mttr_min * 60.0 / mtbf_s if mtbf_s else 0.0
    if st.tool_life_parts:
        down += st.tool_change_min * 60.0 / st.tool_life_parts
    setup = st.changeover_min * 60.0 / config.lot_size if len(config.products) > 1 else 0.0
    base = cycle + minor + down + setup
    f_down = _safety_share(config, plant, asset, ("estop",))
    f_minor = _safety_share(config, plant, asset, ("guard_open", "person_in_zone"))
    free = 1.0 - f_down - f_minor
    operating = free * (cycle + minor) / base + f_minor
    roles = resolve_roles(line, config.quality)
    quality = 1.0 - (cycle / mtbf_s if mtbf_s else 0.0)
    if asset == roles.inspection:
        machining = config.station(roles.machining) if roles.machining else None

        def scales(role: str | None) -> tuple[float, float]:
            if role is None:
                return 1.0, 1.0
            seconds = plant.asset(role).ideal_cycle_time_s or config.default_cycle_time_s
            return speed_scales(config.station(role), seconds)

        quality *= expected_first_pass_yield(
            config.quality,
            machining.tool_life_parts if machining else None,
            bore=roles.machining is not None,
            crack=roles.crack is not None,
            residue=roles.residue is not None,
            wear_scale=scales(roles.machining)[0],
            crack_scale=scales(roles.crack)[1],
            residue_scale=scales(roles.residue)[1],
        )
    return OeeFactors(
        availability=operating,
        performance=ideal * free / base / operating if operating else 0.0,
        quality=quality,
    )


def _safety_share(
    config: TwinConfig, plant: PlantModel, asset: str, kinds: tuple[str, ...]
) -> float:
    spec = plant.asset(asset)
    share = 0.0
    for kind in kinds:
        k = getattr(config.safety, kind)
        chosen = asset in k.assets if k.assets is not None else eligible(kind, spec)
        if chosen:
            share += k.per_day / 86400.0 * (k.duration_s[0] + k.duration_s[1]) / 2
    return share
