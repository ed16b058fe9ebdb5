"""Shift calendars: night shifts, breaks, holidays, exceptions, DST and periods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import pytest

from factoryax.analytics import CalendarException, Period, shift_instances
from factoryax.core import ConfigError, ShiftCalendar

from .conftest import MONDAY

SEOUL = ZoneInfo("Asia/Seoul")
NIGHT = {
    "name": "night",
    "start": "20:00",
    "end": "08:00",
    "breaks": [{"start": "00:00", "end": "01:00"}],
}
DAY = {
    "name": "day",
    "start": "08:00",
    "end": "20:00",
    "breaks": [{"start": "12:00", "end": "13:00"}],
}


def _cal(*shifts: Mapping[str, object], holidays: tuple[str, ...] = ()) -> ShiftCalendar:
    return ShiftCalendar.model_validate({"shifts": list(shifts), "holidays": list(holidays)})


def test_night_shift_belongs_to_the_day_it_starts_and_its_break_is_next_morning() -> None:
    """Mon 20:00 → Tue 08:00 KST is Monday's night shift; the 00:00 meal is on Tuesday."""
    [inst] = shift_instances(_cal(NIGHT), SEOUL, MONDAY, MONDAY)
    assert inst.key == "2026-11-23/night" and inst.day == MONDAY
    assert inst.start == dt.datetime(2026, 11, 23, 11, tzinfo=dt.UTC)
    assert inst.end == dt.datetime(2026, 11, 23, 23, tzinfo=dt.UTC)
    assert inst.busy == (
        (
            dt.datetime(2026, 11, 23, 11, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 23, 15, tzinfo=dt.UTC),
        ),
        (
            dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 23, 23, tzinfo=dt.UTC),
        ),
    )
    assert (inst.pot_s, inst.busy_s) == (12 * 3600, 11 * 3600)


def test_seoul_has_no_dst_so_every_night_shift_is_twelve_hours() -> None:
    """Asia/Seoul is DST-free: the same wall-clock shift has the same length all year."""
    days = [dt.date(2026, 3, 30), dt.date(2026, 6, 29), dt.date(2026, 10, 26)]
    lengths = {shift_instances(_cal(NIGHT), SEOUL, d, d)[0].pot_s for d in days}
    assert lengths == {12 * 3600}


def test_dst_changes_make_a_night_shift_an_hour_shorter_or_longer() -> None:
    """Berlin: the 2026-03-28 night shift lasts 7 h, the 2026-10-24 one 9 h (wall 22–06)."""
    cal = _cal({"name": "n", "start": "22:00", "end": "06:00", "days": ["sat"]})
    berlin = ZoneInfo("Europe/Berlin")
    [spring] = shift_instances(cal, berlin, dt.date(2026, 3, 28), dt.date(2026, 3, 28))
    [autumn] = shift_instances(cal, berlin, dt.date(2026, 10, 24), dt.date(2026, 10, 24))
    assert (spring.pot_s, autumn.pot_s) == (7 * 3600, 9 * 3600)


def test_weekdays_holidays_and_exceptions_decide_which_shifts_run() -> None:
    """Weekends and holidays have no shifts; an exception can add or remove them."""
    cal = _cal(DAY, NIGHT, holidays=("2026-11-25",))
    week = shift_instances(cal, SEOUL, MONDAY, MONDAY + dt.timedelta(days=6))
    assert [i.key for i in week if i.shift == "day"] == [
        "2026-11-23/day",
        "2026-11-24/day",
        "2026-11-26/day",
        "2026-11-27/day",
    ]
    saturday = dt.date(2026, 11, 28)
    extra = [CalendarException(saturday, ("day",)), CalendarException(MONDAY, ())]
    changed = shift_instances(cal, SEOUL, MONDAY, saturday, extra)
    assert "2026-11-28/day" in [i.key for i in changed]
    assert not [i for i in changed if i.day == MONDAY]


def test_a_plant_without_shifts_is_told_so_not_assumed_to_run_all_day() -> None:
    """No [[calendar.shifts]] is an error that names the fix, never a silent 24/7."""
    with pytest.raises(ConfigError, match=r"no shift calendar.*calendar\.shifts"):
        shift_instances(ShiftCalendar(), SEOUL, MONDAY, MONDAY)


def test_overlapping_shifts_and_unknown_exception_shifts_are_errors() -> None:
    """Two shifts covering the same time, or an exception naming no shift, are rejected."""
    early = {"name": "early", "start": "06:00", "end": "14:00"}
    with pytest.raises(ConfigError, match="overlap"):
        shift_instances(_cal(DAY, early), SEOUL, MONDAY, MONDAY)
    with pytest.raises(ConfigError, match="unknown shift"):
        shift_instances(_cal(DAY), SEOUL, MONDAY, MONDAY, [CalendarException(MONDAY, ("x",))])


def test_periods_parse_days_shifts_weeks_and_ranges() -> None:
    """Each period form reads back to its label; a week runs Monday to Sunday."""
    assert Period.parse("2026-11-23").days() == [MONDAY]
    week = Period.parse("2026-W48")
    assert (week.first_day, week.last_day) == (MONDAY, dt.date(2026, 11, 29))
    assert Period.parse("2026-11-26", kind="week").label == "2026-W48"
    assert Period.parse("2026-11-23/night").label == "2026-11-23/night"
    with pytest.raises(ConfigError, match="not understood"):
        Period.parse("23.11.2026")
    with pytest.raises(ConfigError, match="shift's name"):
        Period.parse("2026-11-23", kind="shift")


def test_a_shift_period_keeps_only_that_shift() -> None:
    """``2026-11-23/night`` selects Monday's night shift; an unknown name lists the shifts."""
    cal = _cal(DAY, NIGHT)
    [inst] = Period.parse("2026-11-23/night").instances(cal, SEOUL)
    assert inst.shift == "night"
    with pytest.raises(ConfigError, match="declared shifts"):
        Period.parse("2026-11-23/late").instances(cal, SEOUL)


def test_exception_days_declared_in_plant_toml_shape_the_calendar() -> None:
    """`[[calendar.exceptions]]` in plant.toml: an overtime Saturday and a shutdown
    Monday apply to KPIs and to the twin alike; an exception given for one computation
    overrides the file's; unknown shifts and repeated days are refused."""
    from pydantic import ValidationError

    from factoryax.twin.calendar import build_schedule

    saturday = dt.date(2026, 11, 28)
    cal = ShiftCalendar.model_validate(
        {
            "shifts": [DAY, NIGHT],
            "exceptions": [
                {"day": "2026-11-28", "shifts": ["day"], "note": "overtime for order 4411"},
                {"day": "2026-11-23", "shifts": [], "note": "press die change"},
            ],
        }
    )
    keys = [i.key for i in shift_instances(cal, SEOUL, MONDAY, saturday)]
    assert "2026-11-28/day" in keys and "2026-11-28/night" not in keys
    assert not [k for k in keys if k.startswith("2026-11-23")]
    override = shift_instances(cal, SEOUL, saturday, saturday, [CalendarException(saturday, ())])
    assert override == []

    # the twin runs on the same days: planned run time on the overtime Saturday
    def run_h(day: dt.date) -> float:
        at = dt.datetime(day.year, day.month, day.day, 8, tzinfo=SEOUL)
        sched = build_schedule(cal, SEOUL, at, 12 * 3600.0)  # 08:00-20:00 local
        return float((sched.run_ends - sched.run_starts).sum()) / 3600

    assert run_h(saturday) == 11.0  # the day shift, less its lunch
    assert run_h(MONDAY) == 0.0  # shut down
    assert run_h(MONDAY + dt.timedelta(days=1)) == 11.0  # an ordinary Tuesday
    with pytest.raises(ValidationError, match=r"calendar.exceptions.0 .*unknown shift"):
        ShiftCalendar.model_validate(
            {"shifts": [DAY], "exceptions": [{"day": "2026-11-28", "shifts": ["night"]}]}
        )
    with pytest.raises(ValidationError, match="appear twice"):
        ShiftCalendar.model_validate(
            {"shifts": [DAY], "exceptions": [{"day": "2026-11-28"}, {"day": "2026-11-28"}]}
        )
