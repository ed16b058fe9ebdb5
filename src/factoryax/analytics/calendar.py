"""Planned time from the shift calendar: periods, shift instances and planned busy windows.

ISO 22400-2 builds every time-based KPI on the *planned busy time* (PBT): the planned
operation time (POT, the shifts) less planned downtime (breaks here; planned stops recorded
in the ``states`` table are removed later, in :mod:`factoryax.analytics.kpi`). This module
lays ``plant.toml``'s ``[calendar]`` over real dates in the plant's time zone:

- a shift whose ``end`` is not after its ``start`` crosses midnight and belongs to the
  **production day** on which it starts (the Monday night shift runs Mon 20:00 → Tue 08:00);
- breaks are placed inside their shift instance (a break before the shift's start time is on
  the next calendar day, as in a night shift's 00:00 meal break);
- holidays and :class:`CalendarException` days drop or replace the weekly pattern;
- wall-clock times go through ``zoneinfo``, so a shift over a DST change is an hour shorter
  or longer, and zones without DST (Asia/Seoul) map one to one.

A plant without shifts has no planned busy time: asking for one raises
:class:`~factoryax.core.ConfigError` naming the fix, never a silent 24/7 assumption.

Examples:
    >>> from zoneinfo import ZoneInfo
    >>> from factoryax.core import ShiftCalendar
    >>> cal = ShiftCalendar.model_validate({"shifts": [{"name": "night", "start": "22:00",
    ...     "end": "06:00", "breaks": [{"start": "02:00", "end": "02:30"}]}]})
    >>> [inst] = shift_instances(cal, ZoneInfo("Asia/Seoul"), dt.date(2026, 11, 23),
    ...                          dt.date(2026, 11, 23))
    >>> inst.key, inst.start.isoformat(), inst.busy_s / 3600
    ('2026-11-23/night', '2026-11-23T13:00:00+00:00', 7.5)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from factoryax.core import ConfigError, Shift, ShiftCalendar

__all__ = [
    "CalendarException",
    "Period",
    "PeriodKind",
    "ShiftInstance",
    "elapsed",
    "shift_instances",
]

PeriodKind = Literal["shift", "day", "week", "range"]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UTC = dt.UTC


@dataclass(frozen=True)
class CalendarException:
    """A day that departs from the weekly pattern (overtime Saturday, shutdown, short day).

    Attributes:
        day: the production day (plant-local date).
        shifts: names of the calendar's shifts that run that day; empty means no production.
    """

    day: dt.date
    shifts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShiftInstance:
    """One shift on one production day, in UTC instants.

    Attributes:
        key: ``"<production day>/<shift name>"``, e.g. ``"2026-11-23/night"``.
        shift: the shift's name from the calendar.
        day: the production day (local date the shift starts).
        start: first instant of the shift (planned operation time starts).
        end: end of the shift.
        busy: the planned busy windows, ``[start, end)`` less breaks, sorted and disjoint.
    """

    key: str
    shift: str
    day: dt.date
    start: dt.datetime
    end: dt.datetime
    busy: tuple[tuple[dt.datetime, dt.datetime], ...]

    @property
    def pot_s(self) -> float:
        """Planned operation time in seconds (the whole shift, breaks included)."""
        return (self.end - self.start).total_seconds()

    @property
    def busy_s(self) -> float:
        """Planned busy time before recorded planned stops (the shift less its breaks)."""
        return sum((b - a).total_seconds() for a, b in self.busy)


@dataclass(frozen=True)
class Period:
    """The production days (and optionally one shift) a KPI or report covers.

    Examples:
        >>> Period.parse("2026-11-23").label
        '2026-11-23'
        >>> Period.parse("2026-11-25", kind="week").label
        '2026-W48'
        >>> Period.parse("2026-11-23/night").shift
        'night'
        >>> p = Period.parse("2026-11-01..2026-11-30"); (p.kind, len(p.days()))
        ('range', 30)
    """

    kind: PeriodKind
    first_day: dt.date
    last_day: dt.date
    shift: str | None = None

    @classmethod
    def parse(cls, text: str, kind: PeriodKind | None = None) -> Period:
        """Reads ``YYYY-MM-DD``, ``YYYY-MM-DD/<shift>``, ``YYYY-Www`` or ``A..B``.

        Args:
            text: the period as typed after ``--period``.
            kind: ``"week"`` turns a date into its ISO week (Monday to Sunday); ``"shift"``
                requires a shift name; ``"day"`` (default for a date) is one production day.

        Raises:
            ConfigError: the text is none of the forms above, or does not fit ``kind``.
        """
        if kind is not None and kind not in get_args(PeriodKind):
            raise ConfigError(f"period kind {kind!r} is unknown; use shift, day, week or range")
        text = text.strip()
        try:
            if m := re.fullmatch(r"(\d{4})-W(\d{1,2})", text):
                monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
                return cls("week", monday, monday + dt.timedelta(days=6))
            if ".." in text:
                a, b = (dt.date.fromisoformat(p.strip()) for p in text.split("..", 1))
                if b < a:
                    raise ConfigError(f"period {text!r} ends before it starts")
                return cls("range", a, b)
            day_text, _, shift = text.partition("/")
            day = dt.date.fromisoformat(day_text)
        except ValueError:
            raise ConfigError(
                f"period {text!r} is not understood; write 2026-11-23 (a day), "
                "2026-11-23/night (a shift), 2026-W48 (a week) or 2026-11-01..2026-11-30"
            ) from None
        if shift or kind == "shift":
            if not shift:
                raise ConfigError(
                    f"a shift report needs the shift's name: write {day}/<shift>, e.g. {day}/day"
                )
            return cls("shift", day, day, shift)
        if kind == "week":
            monday = day - dt.timedelta(days=day.weekday())
            return cls("week", monday, monday + dt.timedelta(days=6))
        return cls("day", day, day)

    @property
    def label(self) -> str:
        """How the period is written in reports and file names."""
        if self.kind == "shift":
            return f"{self.first_day}/{self.shift}"
        if self.kind == "week":
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "range":
            return f"{self.first_day}..{self.last_day}"
        return self.first_day.isoformat()

    def days(self) -> list[dt.date]:
        """Every production day of the period, in order."""
        n = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=i) for i in range(n)]

    def span(
        self,
        calendar: ShiftCalendar,
        zone: ZoneInfo,
        exceptions: Sequence[CalendarException] = (),
    ) -> tuple[dt.datetime, dt.datetime]:
        """The instants the period covers: its shifts when planned, else local midnights.

        Examples:
            >>> a, b = Period.parse("2026-11-23").span(ShiftCalendar(), ZoneInfo("Asia/Seoul"))
            >>> a.isoformat(), (b - a).days
            ('2026-11-22T15:00:00+00:00', 1)
        """
        if calendar.shifts:
            found = self.instances(calendar, zone, exceptions)
            if found:
                return found[0].start, max(i.end for i in found)
        start = dt.datetime.combine(self.first_day, dt.time(), tzinfo=zone)
        end = dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return start.astimezone(_UTC), end.astimezone(_UTC)

    def instances(
        self,
        calendar: ShiftCalendar,
        zone: ZoneInfo,
        exceptions: Sequence[CalendarException] = (),
    ) -> list[ShiftInstance]:
        """The shift instances of the period (only the named shift for a shift period).

        Raises:
            ConfigError: the calendar has no shifts, or the named shift is not declared.
        """
        found = shift_instances(calendar, zone, self.first_day, self.last_day, exceptions)
        if self.shift is None:
            return found
        names = [s.name for s in calendar.shifts]
        if self.shift not in names:
            raise ConfigError(
                f"shift {self.shift!r} is not in the calendar; declared shifts: {names!r}"
            )
        return [inst for inst in found if inst.shift == self.shift]


def elapsed(instances: Sequence[ShiftInstance], until: dt.datetime) -> list[ShiftInstance]:
    """The part of each instance before ``until``: a running shift ends at ``until`` (its
    busy windows cut there), shifts that have not started are left out. KPIs of a period
    that is still running (today, this week) count only planned time that has passed.

    Examples:
        >>> utc = dt.timezone.utc
        >>> t = lambda h: dt.datetime(2026, 11, 23, h, tzinfo=utc)
        >>> a = ShiftInstance("2026-11-23/a", "a", dt.date(2026, 11, 23), t(0), t(8),
        ...                   ((t(0), t(4)), (t(5), t(8))))
        >>> [(i.end.hour, i.busy_s / 3600) for i in elapsed([a], t(6))]
        [(6, 5.0)]
        >>> elapsed([a], t(0))
        []
    """
    out = []
    for inst in instances:
        if inst.start >= until:
            continue
        if inst.end > until:
            busy = tuple((a, min(b, until)) for a, b in inst.busy if a < until)
            inst = dataclasses.replace(inst, end=until, busy=busy)
        out.append(inst)
    return out


def shift_instances(
    calendar: ShiftCalendar,
    zone: ZoneInfo,
    first_day: dt.date,
    last_day: dt.date,
    exceptions: Sequence[CalendarException] = (),
) -> list[ShiftInstance]:
    """Every shift instance whose production day lies in ``[first_day, last_day]``.

    Raises:
        ConfigError: the calendar declares no shifts (planned busy time is unknown), an
            exception names an undeclared shift, or two instances overlap in time.
    """
    if not calendar.shifts:
        raise ConfigError(
            "the plant has no shift calendar, so planned busy time is unknown and KPIs "
            "cannot be computed; add [[calendar.shifts]] to plant.toml (name, start, end, "
            "days, breaks) — for a plant that really runs around the clock, declare e.g. "
            'three 8-hour shifts with days = ["mon", …, "sun"]'
        )
    by_day = _exceptions_by_day(calendar, exceptions)
    holidays = set(calendar.holidays)
    out: list[ShiftInstance] = []
    day = first_day
    while day <= last_day:
        if day in by_day:
            todays: Iterable[Shift] = [s for s in calendar.shifts if s.name in by_day[day]]
        elif day in holidays:
            todays = ()
        else:
            todays = [s for s in calendar.shifts if _WEEKDAYS[day.weekday()] in s.days]
        out.extend(_instance(shift, day, zone) for shift in todays)
        day += dt.timedelta(days=1)
    out.sort(key=lambda inst: inst.start)
    for a, b in itertools.pairwise(out):
        if b.start < a.end:
            raise ConfigError(
                f"shifts {a.key!r} and {b.key!r} overlap ({a.end:%Y-%m-%d %H:%M} UTC > "
                f"{b.start:%Y-%m-%d %H:%M} UTC); fix start/end under [[calendar.shifts]]"
            )
    return out


def _exceptions_by_day(
    calendar: ShiftCalendar, exceptions: Sequence[CalendarException]
) -> dict[dt.date, tuple[str, ...]]:
    names = {s.name for s in calendar.shifts}
    out: dict[dt.date, tuple[str, ...]] = {e.day: e.shifts for e in calendar.exceptions}
    for exc in exceptions:  # given for this computation: they override plant.toml
        unknown = [n for n in exc.shifts if n not in names]
        if unknown:
            raise ConfigError(
                f"calendar exception on {exc.day}: unknown shift(s) {unknown!r}; "
                f"declared shifts: {sorted(names)!r}"
            )
        out[exc.day] = exc.shifts
    return out


def _instance(shift: Shift, day: dt.date, zone: ZoneInfo) -> ShiftInstance:
    start, end = _span(day, shift.start, shift.end, zone)
    cuts: list[tuple[dt.datetime, dt.datetime]] = []
    for brk in shift.breaks:
        b_day = day if brk.start >= shift.start else day + dt.timedelta(days=1)
        b_start, b_end = _span(b_day, brk.start, brk.end, zone)
        if b_end > start and b_start < end:
            cuts.append((max(b_start, start), min(b_end, end)))
    busy: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = start
    for a, b in sorted(cuts):
        if a > cursor:
            busy.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        busy.append((cursor, end))
    return ShiftInstance(f"{day}/{shift.name}", shift.name, day, start, end, tuple(busy))


def _span(
    day: dt.date, start: dt.time, end: dt.time, zone: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """Local ``[start, end)`` from ``day``; an end not after the start is on the next day."""
    s_at = dt.datetime.combine(day, start, tzinfo=zone)
    end_day = day if end > start else day + dt.timedelta(days=1)
    e_at = dt.datetime.combine(end_day, end, tzinfo=zone)
    return s_at.astimezone(_UTC), e_at.astimezone(_UTC)
