"""Planned production time: the plant's shift calendar laid over the simulated horizon.

The simulation clock counts seconds since ``start`` (a UTC instant). Shifts and breaks
are wall-clock times in the plant's zone, so they are placed with ``zoneinfo`` (a night
shift crossing midnight, or a DST change, lands where the plant's clocks say). Time
outside shifts, in breaks and on holidays is a planned stop (ISO 22400-2 §5.5: not
planned busy time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from factoryax.core import ShiftCalendar

__all__ = ["Schedule", "build_schedule"]

FloatArray = npt.NDArray[np.float64]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NO_CALENDAR_SHIFT_S = 8 * 3600.0


@dataclass(frozen=True)
class Schedule:
    """When the plant plans to produce, in seconds since ``start``.

    Attributes:
        start: the first simulated instant (UTC).
        horizon_s: simulated length in seconds.
        run_starts: starts of planned production intervals (sorted, disjoint).
        run_ends: their ends.
        shift_starts: start of every shift instance (drift changes per shift).
        shift_names: the shift name of each instance.
        zone: the plant's time zone (ambient temperature follows local time).
    """

    start: dt.datetime
    horizon_s: float
    run_starts: FloatArray
    run_ends: FloatArray
    shift_starts: FloatArray
    shift_names: tuple[str, ...]
    zone: ZoneInfo

    @property
    def planned_s(self) -> float:
        """Planned production seconds within the horizon."""
        return float(np.sum(self.run_ends - self.run_starts))

    def stops(self) -> tuple[FloatArray, FloatArray]:
        """The planned stops: the complement of production intervals in [0, horizon]."""
        edges_start = np.concatenate([[0.0], self.run_ends])
        edges_end = np.concatenate([self.run_starts, [self.horizon_s]])
        keep = edges_end > edges_start
        return edges_start[keep], edges_end[keep]

    def planned_to_wall(self, planned: FloatArray) -> FloatArray:
        """Maps points on the planned-time axis (seconds of production) to wall seconds.

        Examples:
            >>> runs = np.array([10.0, 50.0]), np.array([20.0, 60.0])
            >>> s = Schedule(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 100.0, *runs,
            ...              np.array([0.0]), ("a",), ZoneInfo("UTC"))
            >>> s.planned_to_wall(np.array([0.0, 5.0, 15.0])).tolist()
            [10.0, 15.0, 55.0]
        """
        lengths = self.run_ends - self.run_starts
        cum = np.concatenate([[0.0], np.cumsum(lengths)])
        idx = np.clip(np.searchsorted(cum, planned, side="right") - 1, 0, len(lengths) - 1)
        return np.asarray(self.run_starts[idx] + (planned - cum[idx]), dtype=np.float64)


def build_schedule(
    calendar: ShiftCalendar, zone: ZoneInfo, start: dt.datetime, horizon_s: float
) -> Schedule:
    """Lays the calendar over ``[start, start + horizon_s)``.

    A plant without shifts is simulated as producing around the clock, with a new
    "shift" every 8 hours for drift purposes.

    Examples:
        >>> from factoryax.core import Shift
        >>> cal = ShiftCalendar(shifts=(Shift(name="day", start="08:00", end="17:00",
        ...     breaks=({"start": "12:00", "end": "13:00"},)),))
        >>> monday = dt.datetime(2026, 1, 5, tzinfo=ZoneInfo("Asia/Seoul"))
        >>> s = build_schedule(cal, ZoneInfo("Asia/Seoul"), monday.astimezone(dt.UTC), 86400)
        >>> (s.run_starts / 3600).tolist(), (s.run_ends / 3600).tolist()
        ([8.0, 13.0], [12.0, 17.0])
    """
    if start.tzinfo is None:
        raise ValueError(f"start must be timezone-aware, got {start!r}")
    if not calendar.shifts:
        shift_starts = np.arange(0.0, horizon_s, _NO_CALENDAR_SHIFT_S)
        return Schedule(
            start,
            horizon_s,
            np.array([0.0]),
            np.array([float(horizon_s)]),
            shift_starts,
            tuple("continuous" for _ in shift_starts),
            zone,
        )
    end = start + dt.timedelta(seconds=horizon_s)
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    holidays = set(calendar.holidays)
    special = {e.day: set(e.shifts) for e in calendar.exceptions}  # they override the rest
    runs: list[tuple[float, float]] = []
    shifts: list[tuple[float, str]] = []

    def sec(at: dt.datetime) -> float:
        return (at - start).total_seconds()

    day = first
    while day <= last:
        if day in special or day not in holidays:
            for shift in calendar.shifts:
                runs_today = (
                    shift.name in special[day]
                    if day in special
                    else _WEEKDAYS[day.weekday()] in shift.days
                )
                if not runs_today:
                    continue
                s_at, e_at = _span(day, shift.start, shift.end, zone)
                breaks = []
                for brk in shift.breaks:
                    b_day = day if brk.start >= shift.start else day + dt.timedelta(days=1)
                    b_start, b_end = _span(b_day, brk.start, brk.end, zone)
                    breaks.append((max(sec(b_start), sec(s_at)), min(sec(b_end), sec(e_at))))
                shifts.append((sec(s_at), shift.name))
                runs.extend(_subtract((sec(s_at), sec(e_at)), sorted(breaks)))
        day += dt.timedelta(days=1)
    runs = _merge([(max(a, 0.0), min(b, horizon_s)) for a, b in runs if b > 0 and a < horizon_s])
    shifts.sort()
    inside = [(t, n) for t, n in shifts if t < horizon_s]
    before = [(t, n) for t, n in shifts if t <= 0]
    if before:
        inside = [(0.0, before[-1][1]), *[(t, n) for t, n in inside if t > 0]]
    elif not inside or inside[0][0] > 0:
        inside = [(0.0, "off"), *inside]
    return Schedule(
        start,
        horizon_s,
        np.array([a for a, _ in runs], dtype=np.float64),
        np.array([b for _, b in runs], dtype=np.float64),
        np.array([t for t, _ in inside], dtype=np.float64),
        tuple(n for _, n in inside),
        zone,
    )


def _span(
    day: dt.date, start: dt.time, end: dt.time, zone: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """Local [start, end) on ``day``; an end at or before the start is on the next day."""
    s_at = dt.datetime.combine(day, start, tzinfo=zone)
    end_day = day if end > start else day + dt.timedelta(days=1)
    return s_at, dt.datetime.combine(end_day, end, tzinfo=zone)


def _subtract(
    span: tuple[float, float], cuts: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    cursor, stop = span
    for a, b in cuts:
        if b <= cursor or a >= stop:
            continue
        if a > cursor:
            out.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < stop:
        out.append((cursor, stop))
    return out


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
