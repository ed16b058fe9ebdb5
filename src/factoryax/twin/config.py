"""The twin's settings: the ``[twin]`` table of ``plant.toml``, validated and resolved.

Every knob has a default, so the example plant simulates with no ``[twin]`` table at all.
Station settings start from defaults for the asset's ``kind`` (a press changes over
slower than a washer) and are then overridden key by key by ``[twin.stations.<asset>]``.

Examples:
    >>> from factoryax.core import parse_plant
    >>> plant = parse_plant({"site": {"id": "s"}, "lines": [{"id": "l", "assets": [
    ...     {"id": "cnc-01", "kind": "cnc", "ideal_cycle_time_s": 14}]}],
    ...     "twin": {"stations": {"cnc-01": {"mtbf_h": 10}}}})
    >>> config = TwinConfig.from_plant(plant)
    >>> config.station("cnc-01").mtbf_h, config.station("cnc-01").tool_life_parts
    (10.0, 700)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factoryax.core import ConfigError, PlantModel

__all__ = [
    "LiveConfig",
    "ProductConfig",
    "QualityConfig",
    "ReasonCodes",
    "SafetyConfig",
    "SafetyKindConfig",
    "SensorFaultConfig",
    "SignalOverride",
    "StaffingConfig",
    "StationConfig",
    "TwinConfig",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Range = tuple[float, float]


class StationConfig(_Model):
    """How one station (asset) behaves; defaults depend on the asset's ``kind``."""

    performance: float = Field(0.95, gt=0, le=1)
    """Mean ideal / actual cycle time: 0.95 means cycles are 1/0.95 of the ideal."""
    cycle_cv: float = Field(0.05, ge=0, le=1)
    """Coefficient of variation of the cycle time (lognormal)."""
    mtbf_h: float | None = Field(60.0, gt=0)
    """Mean operating hours between breakdowns; none means the station never fails."""
    mttr_min: float = Field(30.0, gt=0)
    mttr_cv: float = Field(0.5, ge=0, le=3)
    weibull_shape: float = Field(2.0, gt=0)
    """Shape of the time-to-failure distribution (1 = random, > 1 = wear-out)."""
    degradation_h: float = Field(6.0, ge=0)
    """Operating hours before a wear failure in which vibration and temperature rise."""
    sudden_fraction: float = Field(0.1, ge=0, le=1)
    """Share of failures that come without warning (no degradation)."""
    changeover_min: float = Field(5.0, ge=0)
    minor_stop_prob: float = Field(0.002, ge=0, le=1)
    """Chance per cycle of a minor stop (jam, sensor misread), a performance loss."""
    minor_stop_s: float = Field(45.0, gt=0)
    buffer: int = Field(20, ge=1)
    """Capacity of the buffer in front of this station (ignored for the first)."""
    tool_life_parts: int | None = Field(None, gt=0)
    """Parts per cutting tool; the tool is changed (reason TOOL) when it is used up."""
    tool_change_min: float = Field(5.0, gt=0)
    pm_interval_h: float | None = Field(None, gt=0)
    """Operating hours between preventive-maintenance stops; none means no PM."""
    pm_min: float = Field(45.0, gt=0)
    """Length of one PM stop (planned stop, reason PM); it renews the wear episode."""
    rated_cycle_time_s: float | None = Field(None, gt=0)
    """Cycle time at which tool wear and defect rates hold as configured; none means
    the asset's ideal cycle time, so the cycle-time setting has no quality effect."""
    speed_wear_exponent: float = Field(2.0, ge=0)
    """k in wear per part × (rated / ideal cycle)^k (from Taylor's tool-life law)."""
    speed_defect_exponent: float = Field(1.0, ge=0)
    """m in crack / residue probability × (rated / ideal cycle)^m."""


_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "press": {"performance": 0.92, "mtbf_h": 30.0, "mttr_min": 45.0, "changeover_min": 15.0},
    "cnc": {
        "performance": 0.93,
        "mtbf_h": 40.0,
        "mttr_min": 60.0,
        "changeover_min": 10.0,
        "tool_life_parts": 700,
        "tool_change_min": 6.0,
    },
    "washer": {"performance": 0.95, "mtbf_h": 80.0, "mttr_min": 30.0, "changeover_min": 0.0},
    "inspection": {"performance": 0.97, "mtbf_h": 120.0, "mttr_min": 20.0, "changeover_min": 3.0},
    "robot": {"performance": 0.96, "mtbf_h": 100.0, "mttr_min": 20.0, "changeover_min": 5.0},
}


class ProductConfig(_Model):
    """A product type; lots of each run in turn and force changeovers."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=64)
    load: float = Field(1.0, gt=0, le=3)
    """Relative load: scales running current, power, pressure and speed setpoints."""


class QualityConfig(_Model):
    """Tool wear → bore diameter drift → defects; other defect sources; rework.

    Assets left out are found by kind: the first ``cnc`` (machining), ``inspection``
    (else the last asset), ``press`` (cracks) and ``washer`` (residue) of each line.
    """

    machining_asset: str | None = None
    inspection_asset: str | None = None
    measurement_signal: str | None = None
    """Signal of the inspection asset that carries each part's measured bore."""
    nominal_mm: float = 42.0
    tolerance_mm: float = Field(0.025, gt=0)
    """Spec limits are nominal ± tolerance."""
    tool_offset_mm: float = 0.012
    """Bore offset from nominal right after a tool change (set high: wear shrinks it)."""
    tool_wear_mm_per_part: float = Field(5e-5, ge=0)
    process_sd_mm: float = Field(0.004, ge=0)
    gauge_sd_mm: float = Field(0.001, ge=0)
    chatter_gain: float = Field(1.5, ge=0)
    """Process spread multiplier added at full spindle degradation."""
    crack_asset: str | None = None
    crack_prob: float = Field(0.002, ge=0, le=1)
    residue_asset: str | None = None
    residue_prob: float = Field(0.004, ge=0, le=1)
    rework_min: float = Field(10.0, gt=0)


class SafetyKindConfig(_Model):
    """One kind of safety event: how often, where, how long, whether it is reported."""

    per_day: float = Field(ge=0)
    """Expected events per asset per 24 h of planned production time."""
    assets: tuple[str, ...] | None = None
    """Assets where it happens; none means assets of the usual kinds (see the docs)."""
    duration_s: Range = (60.0, 300.0)
    severity: int = Field(3, ge=1, le=4)
    emit_event: bool = True
    """Whether a device reports it as an event; otherwise only signals and truth show it."""

    @model_validator(mode="after")
    def _ordered(self) -> SafetyKindConfig:
        if not 0 < self.duration_s[0] <= self.duration_s[1]:
            raise ValueError(
                f"duration_s must be [min, max] with 0 < min <= max, got {self.duration_s!r}"
            )
        return self


class SafetyConfig(_Model):
    """Safety events: a machine stop for estop/guard/zone, a signal excursion for the rest."""

    estop: SafetyKindConfig = SafetyKindConfig(per_day=0.2, duration_s=(120, 600), severity=4)
    guard_open: SafetyKindConfig = SafetyKindConfig(per_day=1.0, duration_s=(30, 240))
    person_in_zone: SafetyKindConfig = SafetyKindConfig(per_day=2.0, duration_s=(15, 90))
    gas_high: SafetyKindConfig = SafetyKindConfig(per_day=0.3, duration_s=(120, 900), severity=4)
    over_temp: SafetyKindConfig = SafetyKindConfig(
        per_day=0.3, duration_s=(300, 1200), emit_event=False
    )


class SensorFaultConfig(_Model):
    """Sensor faults per signal per simulated day; they are in the truth, not flagged."""

    stuck_per_day: float = Field(0.03, ge=0)
    stuck_s: Range = (600.0, 3600.0)
    spike_per_day: float = Field(0.3, ge=0)
    dropout_per_day: float = Field(0.05, ge=0)
    dropout_s: Range = (60.0, 1800.0)


class SignalOverride(_Model):
    """Overrides of one signal's generated profile (``[twin.signals."asset.signal"]``)."""

    idle: float | None = None
    run: float | None = None
    noise: float | None = Field(None, ge=0)
    drift_sd: float | None = Field(None, ge=0)
    degrade_gain: float | None = Field(None, ge=0)
    """Relative rise at failure (vibration, current) or °C rise (temperatures)."""


class ReasonCodes(_Model):
    """Which downtime reason code the twin writes for each kind of stop."""

    planned: str = "PLANNED"
    changeover: str = "CHANGEOVER"
    breakdown: str = "BREAKDOWN"
    tool: str = "TOOL"
    starved: str = "STARVED"
    blocked: str = "BLOCKED"
    minor: str = "MINOR"
    estop: str = "ESTOP"
    pm: str = "PM"
    """Preventive maintenance; checked against the reason tree only when PM is used."""


class StaffingConfig(_Model):
    """Technicians per shift: repairs, PM, changeovers and tool changes each need one.

    Empty (the default) means unlimited staff: nobody ever waits for a technician.
    """

    technicians: dict[str, int] = Field(default_factory=dict)
    """Shift name (``[[calendar.shifts]] name``) → technicians on that shift."""
    default: int | None = Field(None, ge=1)
    """Technicians on a shift not listed (and before the first shift of the horizon)."""

    @model_validator(mode="after")
    def _positive(self) -> StaffingConfig:
        for shift, count in self.technicians.items():
            if isinstance(count, bool) or count < 1:
                raise ValueError(
                    f"technicians.{shift} must be an integer >= 1, got {count!r}; "
                    "a shift without technicians would never repair anything"
                )
        return self

    @property
    def enabled(self) -> bool:
        """Whether staffing limits anything (some count is given)."""
        return bool(self.technicians) or self.default is not None

    def for_shift(self, name: str) -> int:
        """Technicians on shift ``name`` (``default``, else the largest listed crew)."""
        if name in self.technicians:
            return self.technicians[name]
        if self.default is not None:
            return self.default
        return max(self.technicians.values())


class LiveConfig(_Model):
    """Live mode: where and how fast the twin publishes."""

    host: str = "127.0.0.1"
    port: int = Field(1883, gt=0, lt=65536)
    qos: Literal[0, 1, 2] = 1
    topic_prefix: str = "factoryax"
    speed: float = Field(1.0, gt=0)
    """Simulated seconds per wall second (1 = real time)."""


class TwinConfig(_Model):
    """The validated ``[twin]`` table; :meth:`from_plant` resolves it against a plant.

    Examples:
        >>> TwinConfig().lot_size, TwinConfig().safety.estop.severity
        (400, 4)
    """

    seed: int = 42
    sample_s: float | None = Field(None, gt=0)
    """One sample period for every signal; none keeps each signal's ``sample_s``."""
    lines: tuple[str, ...] | None = None
    products: tuple[ProductConfig, ...] = (
        ProductConfig(id="BRK-A", load=1.0),
        ProductConfig(id="BRK-B", load=1.12),
    )
    lot_size: int = Field(400, gt=0)
    default_cycle_time_s: float = Field(10.0, gt=0)
    """Ideal cycle time of assets that declare none."""
    thermal_tau_min: float = Field(30.0, gt=0)
    ambient_c: float = 22.0
    ambient_swing_c: float = Field(4.0, ge=0)
    rul_step_s: float = Field(60.0, gt=0)
    stations: dict[str, StationConfig] = Field(default_factory=dict)
    quality: QualityConfig = QualityConfig()
    safety: SafetyConfig = SafetyConfig()
    sensor_faults: SensorFaultConfig = SensorFaultConfig()
    signals: dict[str, SignalOverride] = Field(default_factory=dict)
    reasons: ReasonCodes = ReasonCodes()
    staffing: StaffingConfig = StaffingConfig()
    live: LiveConfig = LiveConfig()

    @classmethod
    def from_plant(cls, plant: PlantModel) -> TwinConfig:
        """Validates ``plant.twin`` and fills station settings for every asset.

        Raises:
            ConfigError: a key is unknown or out of range, or names an asset, signal,
                line or reason code the plant does not declare; the message names the
                key, the value and the fix.
        """
        raw = dict(plant.twin)
        stations_raw = raw.pop("stations", {}) or {}
        if not isinstance(stations_raw, dict):
            raise ConfigError(
                f"twin.stations must be a table of asset ids, got {stations_raw!r}; "
                "write [twin.stations.<asset-id>] sections"
            )
        assets = {a.id: a for _, a in plant.iter_assets()}
        for asset_id in stations_raw:
            if asset_id not in assets:
                raise ConfigError(
                    f"twin.stations.{asset_id}: no asset {asset_id!r} in the plant; "
                    f"use one of {sorted(assets)!r}"
                )
        stations: dict[str, Any] = {}
        for asset_id, asset in assets.items():
            user = stations_raw.get(asset_id, {})
            if not isinstance(user, dict):
                raise ConfigError(f"twin.stations.{asset_id} must be a table, got {user!r}")
            stations[asset_id] = {**_KIND_DEFAULTS.get(asset.kind, {}), **user}
        safety_raw = raw.get("safety")
        if isinstance(safety_raw, dict):
            # a kind's table overrides that kind's defaults key by key, not wholesale
            defaults = SafetyConfig()
            raw["safety"] = {
                kind: {**getattr(defaults, kind).model_dump(), **value}
                if kind in SafetyConfig.model_fields and isinstance(value, dict)
                else value
                for kind, value in safety_raw.items()
            }
        try:
            config = cls.model_validate({**raw, "stations": stations})
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None
        config._check_against(plant)
        return config

    def station(self, asset_id: str) -> StationConfig:
        """Settings of one station (kind defaults when the config was not resolved)."""
        found = self.stations.get(asset_id)
        return found if found is not None else StationConfig()

    def _check_against(self, plant: PlantModel) -> None:
        assets = {a.id: a for _, a in plant.iter_assets()}
        lines = [line.id for line in plant.lines]
        for line_id in self.lines or ():
            if line_id not in lines:
                raise ConfigError(f"twin.lines: unknown line {line_id!r}; use some of {lines!r}")
        if not self.products or len({p.id for p in self.products}) != len(self.products):
            raise ConfigError(
                f"twin.products must list at least one product with unique ids, "
                f"got {[p.id for p in self.products]!r}"
            )
        for key in self.signals:
            asset_id, _, signal_id = key.partition(".")
            if plant.find_signal(asset_id, signal_id) is None:
                raise ConfigError(
                    f"twin.signals.{key!r}: no such signal; write it as 'asset.signal' "
                    "with ids declared under [[lines.assets]]"
                )
        q = self.quality
        for name in ("machining_asset", "inspection_asset", "crack_asset", "residue_asset"):
            value = getattr(q, name)
            if value is not None and value not in assets:
                raise ConfigError(
                    f"twin.quality.{name} = {value!r} is not an asset of the plant; "
                    f"use one of {sorted(assets)!r}"
                )
        for kind in SafetyConfig.model_fields:
            for asset_id in getattr(self.safety, kind).assets or ():
                if asset_id not in assets:
                    raise ConfigError(
                        f"twin.safety.{kind}.assets: unknown asset {asset_id!r}; "
                        f"use some of {sorted(assets)!r}"
                    )
        self._check_staffing(plant)
        declared = {r.code for r in plant.downtime_reasons}
        if declared:
            uses_pm = any(st.pm_interval_h is not None for st in self.stations.values())
            for field_name, code in self.reasons.model_dump().items():
                if field_name == "pm" and not uses_pm:
                    continue
                if code not in declared:
                    raise ConfigError(
                        f"twin.reasons.{field_name} = {code!r} is not a declared downtime "
                        f"reason; declare it under [[downtime_reasons]] or map it to one of "
                        f"{sorted(declared)!r}"
                    )

    def _check_staffing(self, plant: PlantModel) -> None:
        staffing = self.staffing
        if not staffing.enabled:
            return
        shifts = [s.name for s in plant.calendar.shifts] or ["continuous"]
        for name in staffing.technicians:
            if name not in shifts:
                raise ConfigError(
                    f"twin.staffing.technicians.{name} = {staffing.technicians[name]!r}: "
                    f"no shift {name!r} in [calendar]; use one of {shifts!r}"
                )
        missing = [n for n in shifts if n not in staffing.technicians]
        if missing and staffing.default is None:
            raise ConfigError(
                f"twin.staffing.technicians = {dict(staffing.technicians)!r} leaves shift(s) "
                f"{missing!r} without a count; list them or set twin.staffing.default"
            )


def _describe(exc: ValidationError) -> str:
    """Every problem as 'twin.<key path>: <message> (got <value>)' with the fix."""
    problems = []
    for err in exc.errors():
        path = ["twin", *(str(p) for p in err["loc"])]
        section = ".".join(p for p in path[:-1] if not p.isdigit())
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against docs/twin.md"
        problems.append(
            f"{'.'.join(path)}: {message} (got {err.get('input')!r}); "
            f"fix it under [{section}] in plant.toml"
        )
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"[twin] in plant.toml: {len(problems)} problem(s)\n{lines}"
