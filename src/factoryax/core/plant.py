"""The plant model: site → lines → assets → signals, shift calendar, downtime reasons.

A plant describes itself once, in ``plant.toml``; every capability reads this object
instead of guessing. Validation errors name the key path (``lines[0].assets[2].signals[1].max``),
the offending value and the fix, because the person reading them is a plant engineer
editing a text file, not a Python programmer.

Examples:
    >>> plant = PlantModel.model_validate({
    ...     "site": {"id": "demo"},
    ...     "lines": [{"id": "l1", "assets": [{"id": "press-01", "signals": [
    ...         {"id": "vibration_rms", "unit": "mm/s", "min": 0, "max": 50}]}]}],
    ... })
    >>> plant.signal("press-01", "vibration_rms").unit
    'mm/s'
    >>> str(plant.site.timezone)
    'Asia/Seoul'
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from factoryax.core.errors import PlantModelError

__all__ = [
    "Asset",
    "Break",
    "CalendarDay",
    "DowntimeReason",
    "IngestConfig",
    "Line",
    "LossKind",
    "PlantModel",
    "Shift",
    "ShiftCalendar",
    "Signal",
    "Site",
    "load_plant",
    "parse_plant",
]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
Identifier = Annotated[str, Field(pattern=_ID_PATTERN, max_length=64)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Signal(_Model):
    """One measured quantity of an asset (a sensor channel, a PLC tag)."""

    id: Identifier
    name: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    sample_s: float = Field(1.0, gt=0)
    aliases: tuple[str, ...] = ()
    """Other column names or tags that mean this signal in source files."""
    lsl: float | None = None
    """Lower specification limit of a quality characteristic (SPC, capability, certificates)."""
    usl: float | None = None
    """Upper specification limit."""
    target: float | None = None
    """Nominal value, when it is not the middle of the specification."""

    @model_validator(mode="after")
    def _range_is_ordered(self) -> Signal:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(
                f"expected range is empty: min={self.min!r} >= max={self.max!r}; "
                "set min below max (or drop one of them for an open range)"
            )
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            raise ValueError(
                f"specification is empty: lsl={self.lsl!r} >= usl={self.usl!r}; "
                "set lsl below usl (or drop one of them for a one-sided specification)"
            )
        return self

    @property
    def has_spec(self) -> bool:
        """Whether a specification limit is declared (the signal is a quality characteristic)."""
        return self.lsl is not None or self.usl is not None


class Asset(_Model):
    """A machine or station whose signals, production and states are recorded."""

    id: Identifier
    name: str = ""
    name_ko: str = ""
    kind: str = ""
    ideal_cycle_time_s: float | None = Field(None, gt=0)
    signals: tuple[Signal, ...] = ()

    @field_validator("signals")
    @classmethod
    def _unique_signals(cls, signals: tuple[Signal, ...]) -> tuple[Signal, ...]:
        _require_unique([s.id for s in signals], "signal id", "signals")
        return signals


class Line(_Model):
    """A production line: assets in flow order."""

    id: Identifier
    name: str = ""
    name_ko: str = ""
    assets: tuple[Asset, ...] = ()


class Site(_Model):
    """The plant; its time zone decides how naive times and calendars are read."""

    id: Identifier
    name: str = ""
    timezone: ZoneInfo = ZoneInfo("Asia/Seoul")

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> ZoneInfo:
        if isinstance(value, ZoneInfo):
            return value
        try:
            return ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Asia/Seoul'"
            ) from None


def _parse_clock(value: object) -> dt.time:
    if isinstance(value, dt.time):
        return value
    text = str(value)
    if not re.fullmatch(r"\d{1,2}:\d{2}", text):
        raise ValueError(f"time of day {value!r} is not HH:MM (24 h); write e.g. '06:00'")
    hour, minute = (int(p) for p in text.split(":"))
    if hour == 24 and minute == 0:
        return dt.time(0, 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"time of day {value!r} is out of range; use 00:00 to 23:59")
    return dt.time(hour, minute)


Clock = Annotated[dt.time, BeforeValidator(_parse_clock)]
"""A time of day written as 'HH:MM' in plant time."""


class Break(_Model):
    """A planned break inside a shift (not planned busy time, ISO 22400-2 §5.5)."""

    name: str = "break"
    start: Clock
    end: Clock


class Shift(_Model):
    """A shift pattern; ``end`` before ``start`` means the shift crosses midnight."""

    name: str
    start: Clock
    end: Clock
    days: tuple[Weekday, ...] = _WEEKDAYS[:5]
    breaks: tuple[Break, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> Shift:
        if self.start == self.end:
            raise ValueError(
                f"shift {self.name!r} starts and ends at {self.start:%H:%M}; "
                "a shift needs a length (use end before start for a night shift)"
            )
        return self


class CalendarDay(_Model):
    """A day that departs from the weekly pattern: an overtime Saturday, a shutdown, a
    short day. ``shifts`` names the shifts that run that day; empty means no production."""

    day: dt.date
    shifts: tuple[str, ...] = ()
    note: str = ""


class ShiftCalendar(_Model):
    """When the plant plans to produce: shifts, breaks, holidays and exception days."""

    shifts: tuple[Shift, ...] = ()
    holidays: tuple[dt.date, ...] = ()
    exceptions: tuple[CalendarDay, ...] = ()

    @field_validator("shifts")
    @classmethod
    def _unique_shift_names(cls, shifts: tuple[Shift, ...]) -> tuple[Shift, ...]:
        _require_unique([s.name for s in shifts], "shift name", "calendar.shifts")
        return shifts

    @model_validator(mode="after")
    def _exceptions_name_declared_shifts(self) -> ShiftCalendar:
        days = [e.day for e in self.exceptions]
        if len(set(days)) != len(days):
            twice = sorted({str(d) for d in days if days.count(d) > 1})
            raise ValueError(
                f"exception day(s) {twice} appear twice under calendar.exceptions; "
                "give each day once, with every shift that runs on it"
            )
        names = {s.name for s in self.shifts}
        for i, exc in enumerate(self.exceptions):
            unknown = [n for n in exc.shifts if n not in names]
            if unknown:
                raise ValueError(
                    f"calendar.exceptions.{i} ({exc.day}): unknown shift(s) {unknown!r}; "
                    f"declared shifts: {sorted(names)!r}"
                )
        return self


class LossKind(StrEnum):
    """Which OEE factor a downtime reason is charged to (ISO 22400-2 loss model)."""

    AVAILABILITY = "availability"
    PERFORMANCE = "performance"
    QUALITY = "quality"
    NONE = "none"


class DowntimeReason(_Model):
    """A reason code operators and machines give for a stop; codes form a tree."""

    code: Identifier
    name: str
    name_ko: str = ""
    category: Literal["planned", "unplanned"]
    loss: LossKind = LossKind.AVAILABILITY
    parent: str | None = None


class IngestConfig(_Model):
    """How source files map onto the plant model.

    ``columns`` maps a wide-layout column name to ``"asset.signal"``; columns named
    ``asset.signal`` or a signal's alias map without an entry.
    """

    timestamp_column: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    batch_rows: int = Field(500_000, gt=0)
    earliest: dt.date = dt.date(2000, 1, 1)
    """Readings before this date are implausible (a PLC clock reset, a 0001-01-01 filler)."""
    future_tolerance_s: float = Field(86_400.0, ge=0)
    """How far past now a reading's time may be (clock skew) before it is implausible."""


class PlantModel(_Model):
    """Everything FactoryAX knows about a plant's structure."""

    site: Site
    lines: tuple[Line, ...] = ()
    calendar: ShiftCalendar = ShiftCalendar()
    downtime_reasons: tuple[DowntimeReason, ...] = ()
    ingest: IngestConfig = IngestConfig()
    twin: dict[str, Any] = Field(default_factory=dict)
    """Settings of the digital twin; validated by ``factoryax.twin``."""
    safety: dict[str, Any] = Field(default_factory=dict)
    """Safety rules and alarm settings; validated by ``factoryax.safety``."""
    sources: dict[str, Any] = Field(default_factory=dict)
    """Streaming sources and runtime settings; validated by ``factoryax.runtime``."""

    @model_validator(mode="after")
    def _cross_checks(self) -> PlantModel:
        _require_unique([line.id for line in self.lines], "line id", "lines")
        _require_unique([a.id for _, a in self.iter_assets()], "asset id", "lines[*].assets")
        codes = [r.code for r in self.downtime_reasons]
        _require_unique(codes, "reason code", "downtime_reasons")
        for reason in self.downtime_reasons:
            if reason.parent is not None and reason.parent not in codes:
                raise ValueError(
                    f"downtime reason {reason.code!r} has parent {reason.parent!r}, "
                    f"which is not a declared code; declare it or remove `parent`"
                )
        for column, target in self.ingest.columns.items():
            asset, _, signal = target.partition(".")
            if self.find_signal(asset, signal) is None:
                raise ValueError(
                    f"ingest.columns[{column!r}] = {target!r} names no declared signal; "
                    "write it as 'asset.signal' with ids from [[lines.assets]]"
                )
        return self

    def iter_assets(self) -> Iterator[tuple[Line, Asset]]:
        """Yields every (line, asset) pair in declaration order."""
        for line in self.lines:
            for asset in line.assets:
                yield line, asset

    def asset(self, asset_id: str) -> Asset:
        """Returns the asset with this id; raises ``KeyError`` naming the known ids."""
        for _, asset in self.iter_assets():
            if asset.id == asset_id:
                return asset
        known = ", ".join(a.id for _, a in self.iter_assets())
        raise KeyError(f"unknown asset {asset_id!r}; known assets: {known}")

    def line_of(self, asset_id: str) -> Line:
        """Returns the line an asset belongs to."""
        for line, asset in self.iter_assets():
            if asset.id == asset_id:
                return line
        raise KeyError(f"unknown asset {asset_id!r}")

    def find_signal(self, asset_id: str, signal_id: str) -> Signal | None:
        """Returns the signal, or None when the asset or signal is not declared."""
        for _, asset in self.iter_assets():
            if asset.id == asset_id:
                return next((s for s in asset.signals if s.id == signal_id), None)
        return None

    def signal(self, asset_id: str, signal_id: str) -> Signal:
        """Returns a declared signal; raises ``KeyError`` when it is not declared."""
        found = self.find_signal(asset_id, signal_id)
        if found is None:
            raise KeyError(f"unknown signal {asset_id}.{signal_id}")
        return found


def _require_unique(values: list[str], what: str, where: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears twice under {where}; ids must be unique")
        seen.add(value)


def load_plant(path: Path) -> PlantModel:
    """Reads and validates a plant model file (TOML).

    Raises:
        PlantModelError: the file is missing, is not TOML, or does not validate; every
            problem is listed with its key path, value and fix.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlantModelError(
            path, ["file not found; run `factoryax init` to write an example"]
        ) from None
    except UnicodeDecodeError as exc:
        raise PlantModelError(path, [f"not UTF-8 text ({exc.reason}); save it as UTF-8"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlantModelError(path, [f"not valid TOML: {exc}"]) from None
    return parse_plant(data, path)


def parse_plant(data: dict[str, Any], path: Path | None = None) -> PlantModel:
    """Validates a plant model given as a dict (parsed TOML); see :func:`load_plant`."""
    try:
        return PlantModel.model_validate(data)
    except ValidationError as exc:
        raise PlantModelError(path, [_describe(err, data) for err in exc.errors()]) from None


def _describe(err: Any, data: dict[str, Any]) -> str:
    """One problem as '<key path> (<id>): <message> (got <value>)'."""
    parts: list[str] = []
    node: Any = data
    for item in err["loc"]:
        if isinstance(item, int):
            label = f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                label += f" ({node['id']})"
            parts.append(label)
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    key = "".join(parts) or "(top level)"
    message = str(err["msg"]).removeprefix("Value error, ")
    kind = err["type"]
    if kind == "extra_forbidden":
        message = "unknown key; check the spelling against the example from `factoryax init`"
    elif kind == "missing":
        message = "required key is missing"
    shown = "" if kind in ("missing", "value_error") else f" (got {err.get('input')!r})"
    return f"{key}: {message}{shown}"
