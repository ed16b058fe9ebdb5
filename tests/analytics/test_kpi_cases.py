"""Hand-computed OEE cases: a plain shift, overlapping stops, a night shift over midnight."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from factoryax.analytics import KpiConfig, Period, compute_kpis
from factoryax.analytics.downtime import loss_items
from factoryax.analytics.reasons import Bucket
from factoryax.core import ConfigError

from .conftest import MONDAY, at, fill_lake, make_plant, spread

ONE_SHIFT = [
    {"name": "a", "start": "08:00", "end": "16:00", "breaks": [{"start": "12:00", "end": "12:30"}]}
]


def test_plain_shift_gives_the_hand_computed_oee(tmp_path: Path) -> None:
    """7.5 h busy, 30 min breakdown, 10 min minor stop, 380 parts (370 good) at 60 s ideal.

    A = 25 200 / 27 000, P = 380 × 60 / 25 200, Q = 370 / 380, and OEE = 370 × 60 / 27 000.
    """
    plant = make_plant(ONE_SHIFT)
    d = "2026-11-23 "
    states = [
        (at(d + "08:00"), at(d + "10:00"), "running", None),
        (at(d + "10:00"), at(d + "10:30"), "down", "BREAKDOWN"),
        (at(d + "10:30"), at(d + "12:00"), "running", None),
        (at(d + "12:00"), at(d + "12:30"), "planned_stop", "PLANNED"),
        (at(d + "12:30"), at(d + "15:00"), "running", None),
        (at(d + "15:00"), at(d + "15:10"), "idle", "MINOR"),
        (at(d + "15:10"), at(d + "16:00"), "running", None),
    ]
    parts = spread(at(d + "08:00"), at(d + "16:00"), ["ok"] * 370 + ["rework"] * 6 + ["scrap"] * 4)
    lake = fill_lake(tmp_path, states, parts)
    [row] = compute_kpis(lake, plant, Period.parse("2026-11-23")).rows
    assert row.pbt_s == pytest.approx(27_000) and row.apt_s == pytest.approx(25_200)
    assert row.availability == pytest.approx(25_200 / 27_000)
    assert row.effectiveness == pytest.approx(380 * 60 / 25_200)
    assert row.quality_ratio == pytest.approx(370 / 380)
    assert row.oee == pytest.approx(370 * 60 / 27_000)
    assert (row.failures, row.mttr_s, row.mttf_s, row.mtbf_s) == pytest.approx(
        (1, 1800, 25_200, 27_000)
    )
    only_tools = compute_kpis(
        lake, plant, Period.parse("2026-11-23"), config=KpiConfig(failure_reasons=("TOOL",))
    )
    assert only_tools.rows[0].failures == 0 and only_tools.rows[0].mtbf_s is None
    assert row.scrap_ratio == pytest.approx(4 / 380) and row.rework_ratio == pytest.approx(6 / 380)
    assert row.fpy == pytest.approx(370 / 380) and row.unrecorded_s == pytest.approx(0)
    assert row.throughput_per_h == pytest.approx(380 / 7.5)
    assert row.equipment_load_ratio == pytest.approx(7.5 / 8)


def test_overlapping_stops_follow_the_stated_precedence(tmp_path: Path) -> None:
    """Planned stop > breakdown > idle > running where records overlap; A stays ≤ 1.

    Running is recorded 08–12 throughout; a breakdown 09:00–09:30 overlaps PM 09:15–10:00;
    a starved idle 11:00–11:20 overlaps a breakdown 11:10–11:40. Resolved: PM 45 min out
    of PBT, down 15 + 30 min, delay 10 min, running 140 min of PBT 195 min.
    """
    plant = make_plant([{"name": "a", "start": "08:00", "end": "12:00"}])
    d = "2026-11-23 "
    states = [
        (at(d + "08:00"), at(d + "12:00"), "running", None),
        (at(d + "09:00"), at(d + "09:30"), "down", "BREAKDOWN"),
        (at(d + "09:15"), at(d + "10:00"), "planned_stop", "PM"),
        (at(d + "11:00"), at(d + "11:20"), "idle", "STARVED"),
        (at(d + "11:10"), at(d + "11:40"), "down", "BREAKDOWN"),
    ]
    lake = fill_lake(tmp_path, states, spread(at(d + "08:00"), at(d + "12:00"), ["ok"] * 100))
    table = compute_kpis(lake, plant, Period.parse("2026-11-23"))
    [row] = table.rows
    assert row.excluded_s == pytest.approx(45 * 60)
    assert row.pbt_s == pytest.approx(195 * 60)
    assert row.down_s == pytest.approx(45 * 60) and row.delay_s == pytest.approx(10 * 60)
    assert row.run_s == pytest.approx(140 * 60)
    assert row.availability == pytest.approx(140 / 195)
    assert row.failures == 2 and row.mttr_s == pytest.approx(45 * 60 / 2)
    assert table.elements is not None
    covered = sum(table.elements.time.column("seconds").to_pylist())
    assert covered == pytest.approx(4 * 3600)  # every second charged exactly once


def test_night_shift_over_midnight_counts_one_failure_across_the_meal_break(
    tmp_path: Path,
) -> None:
    """Mon 20:00 → Tue 08:00 with a 00:00 meal: a breakdown 23:30–00:00 resumed 01:00–01:20
    is one failure of 50 min; Tuesday's day-shift rows and parts stay out."""
    plant = make_plant(
        [
            {
                "name": "night",
                "start": "20:00",
                "end": "08:00",
                "breaks": [{"start": "00:00", "end": "01:00"}],
            }
        ]
    )
    mon, tue = "2026-11-23 ", "2026-11-24 "
    states = [
        (at(mon + "20:00"), at(mon + "23:30"), "running", None),
        (at(mon + "23:30"), at(tue + "00:00"), "down", "BREAKDOWN"),
        (at(tue + "00:00"), at(tue + "01:00"), "planned_stop", "PLANNED"),
        (at(tue + "01:00"), at(tue + "01:20"), "down", "BREAKDOWN"),
        (at(tue + "01:20"), at(tue + "09:00"), "running", None),
    ]
    parts = [*spread(at(mon + "20:00"), at(tue + "08:00"), ["ok"] * 500), (at(tue + "08:00"), "ok")]
    lake = fill_lake(tmp_path, states, parts)
    table = compute_kpis(lake, plant, Period.parse("2026-11-23/night"), by=("day", "shift"))
    [row] = table.rows
    assert row.key == {"day": "2026-11-23", "shift": "night"}
    assert row.pbt_s == pytest.approx(11 * 3600)
    assert row.down_s == pytest.approx(50 * 60) and row.failures == 1
    assert row.apt_s == pytest.approx(11 * 3600 - 50 * 60)
    assert row.pq == 500  # the part at Tue 08:00 is the day shift's


def test_parts_made_between_shifts_are_reported_not_counted(tmp_path: Path) -> None:
    """A part finished at 18:00, between Monday's and Tuesday's shifts, is named in a notice."""
    plant = make_plant(ONE_SHIFT)
    lake = fill_lake(tmp_path, production=[(at("2026-11-23 18:00"), "ok")])
    table = compute_kpis(lake, plant, Period.parse("2026-11-23..2026-11-24"))
    assert table.total().pq == 0
    assert [n.code for n in table.notices if n.code == "off_shift"] == ["off_shift"]
    assert "m1 1" in str(next(n for n in table.notices if n.code == "off_shift"))


def test_unrecorded_time_is_an_availability_loss_with_a_notice(tmp_path: Path) -> None:
    """Only 2 of 4 planned hours have records: A = 0.5 and the gap is reported."""
    plant = make_plant([{"name": "a", "start": "08:00", "end": "12:00"}])
    d = "2026-11-23 "
    lake = fill_lake(tmp_path, [(at(d + "08:00"), at(d + "10:00"), "running", None)])
    table = compute_kpis(lake, plant, Period.parse("2026-11-23"))
    [row] = table.rows
    assert row.availability == pytest.approx(0.5) and row.unrecorded_s == pytest.approx(7200)
    assert [n.code for n in table.notices] == ["unrecorded"]
    assert "2.00 h" in str(table.notices[0]) and "2.00시간" in table.notices[0].text("ko")


def test_groups_sum_time_elements_rather_than_averaging_ratios(tmp_path: Path) -> None:
    """A day's availability is total APT over total PBT of its shifts, not their mean."""
    plant = make_plant(
        [
            {"name": "a", "start": "08:00", "end": "10:00"},
            {"name": "b", "start": "10:00", "end": "16:00"},
        ]
    )
    d = "2026-11-23 "
    states = [
        (at(d + "08:00"), at(d + "09:00"), "running", None),
        (at(d + "09:00"), at(d + "10:00"), "down", "BREAKDOWN"),
        (at(d + "10:00"), at(d + "16:00"), "running", None),
    ]
    lake = fill_lake(tmp_path, states)
    table = compute_kpis(lake, plant, Period.parse("2026-11-23"), by=("shift",))
    assert [r.availability for r in table.rows] == pytest.approx([0.5, 1.0])
    assert table.total().availability == pytest.approx(7 / 8)
    assert table.regroup(("day",))[0].availability == pytest.approx(7 / 8)


def test_micro_stops_and_quality_stops_are_not_availability_losses(tmp_path: Path) -> None:
    """Unexplained idle under ``micro_stop_s`` and quality-charged stops count as operating."""
    plant = make_plant([{"name": "a", "start": "08:00", "end": "09:00"}])
    d = "2026-11-23 "
    states = [
        (at(d + "08:00"), at(d + "08:30"), "running", None),
        (at(d + "08:30"), at(d + "08:30:40"), "idle", None),
        (at(d + "08:30:40"), at(d + "08:40"), "idle", "QCHECK"),
        (at(d + "08:40"), at(d + "08:50"), "idle", None),
        (at(d + "08:50"), at(d + "09:00"), "running", None),
    ]
    lake = fill_lake(tmp_path, states)
    [row] = compute_kpis(
        lake, plant, Period.parse("2026-11-23"), config=KpiConfig(micro_stop_s=60)
    ).rows
    assert row.micro_s == pytest.approx(40) and row.quality_s == pytest.approx(560)
    assert row.delay_s == pytest.approx(600)
    assert row.availability == pytest.approx(3000 / 3600)


def test_missing_ideal_cycle_time_makes_effectiveness_unavailable(tmp_path: Path) -> None:
    """Without ``ideal_cycle_time_s`` P and OEE are None, and a notice says how to fix it."""
    plant = make_plant([{"name": "a", "start": "08:00", "end": "09:00"}], assets=[("m1", None)])
    d = "2026-11-23 "
    lake = fill_lake(
        tmp_path,
        [(at(d + "08:00"), at(d + "09:00"), "running", None)],
        spread(at(d + "08:00"), at(d + "09:00"), ["ok"] * 10),
    )
    table = compute_kpis(lake, plant, Period.parse("2026-11-23"))
    assert table.rows[0].effectiveness is None and table.rows[0].oee is None
    assert any("ideal_cycle_time_s" in str(n) for n in table.notices)


def test_bad_groupings_assets_and_calendars_are_errors(tmp_path: Path) -> None:
    """Unknown keys or assets, and a plant without shifts, raise ConfigError."""
    lake = fill_lake(tmp_path)
    plant = make_plant(ONE_SHIFT)
    period = Period.parse(MONDAY.isoformat())
    with pytest.raises(ConfigError, match="grouping"):
        compute_kpis(lake, plant, period, by=("machine",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown asset"):
        compute_kpis(lake, plant, period, assets=["nope"])
    with pytest.raises(ConfigError, match="no shift calendar"):
        compute_kpis(lake, make_plant([]), period)
    with pytest.raises(ConfigError, match="failure_reasons"):
        compute_kpis(lake, plant, period, config=KpiConfig(failure_reasons=("NOPE",)))


def test_a_period_without_planned_shifts_says_so(tmp_path: Path) -> None:
    """A Sunday has no shifts: no rows with time, and a notice rather than an error."""
    table = compute_kpis(fill_lake(tmp_path), make_plant(ONE_SHIFT), Period.parse("2026-11-29"))
    assert table.rows == () and [n.code for n in table.notices] == ["no_shift"]
    assert table.total().availability is None
    assert MONDAY + dt.timedelta(days=6) == dt.date(2026, 11, 29)


def test_a_reason_an_operator_gives_later_replaces_the_recorded_one(tmp_path: Path) -> None:
    """A ``downtime.reason`` event keyed to a stop's start re-files its time under that
    reason (the latest given wins); a reason keyed to no stop changes nothing."""
    plant = make_plant([{"name": "a", "start": "08:00", "end": "09:00"}])
    d = "2026-11-23 "
    states = [
        (at(d + "08:00"), at(d + "08:30"), "running", None),
        (at(d + "08:30"), at(d + "08:50"), "down", None),
        (at(d + "08:50"), at(d + "09:00"), "running", None),
    ]
    lake = fill_lake(tmp_path, states)
    day = Period.parse("2026-11-23")
    before = loss_items(compute_kpis(lake, plant, day))
    assert [(i.code, i.bucket, i.seconds) for i in before] == [(None, Bucket.DOWN, 1200.0)]

    def given(minute: int, start: str, code: str) -> dict[str, object]:
        payload = {"start": at(d + start).isoformat(), "reason_code": code, "who": "kim"}
        return {
            "site": "s1",
            "ts": at(d + f"10:{minute:02d}"),
            "event_id": f"r{minute}",
            "kind": "downtime.reason",
            "asset": "m1",
            "payload": json.dumps(payload),
        }

    rows = [given(1, "08:30", "TOOL"), given(2, "08:30", "BREAKDOWN"), given(3, "08:31", "PM")]
    lake.append("events", pa.Table.from_pylist(rows))
    table = compute_kpis(lake, plant, day)
    after = loss_items(table)
    assert [(i.code, i.bucket, i.seconds) for i in after] == [("BREAKDOWN", Bucket.DOWN, 1200.0)]
    assert table.rows[0].failures == 1
    assert table.rows[0].availability == pytest.approx(2400 / 3600)


def test_a_running_period_counts_only_planned_time_that_has_passed(tmp_path: Path) -> None:
    """Asked at 12:00 about a 08:00–16:00 shift, KPIs cover 08:00–12:00 and say so; a
    shift that has not started adds nothing (no 'no shift planned' notice either)."""
    plant = make_plant([{"name": "a", "start": "08:00", "end": "16:00"}])
    d = "2026-11-23 "
    states = [
        (at(d + "08:00"), at(d + "11:00"), "running", None),
        (at(d + "11:00"), at(d + "12:00"), "down", "BREAKDOWN"),
    ]
    lake = fill_lake(tmp_path, states)
    table = compute_kpis(lake, plant, Period.parse("2026-11-23"), until=at(d + "12:00"))
    [row] = table.rows
    assert row.pbt_s == pytest.approx(4 * 3600) and row.availability == pytest.approx(0.75)
    assert [n.code for n in table.notices] == ["running"]
    assert "12:00" in str(table.notices[0])
    before = compute_kpis(lake, plant, Period.parse("2026-11-23"), until=at(d + "07:00"))
    assert before.rows == () or before.rows[0].pbt_s == 0
    assert "no_shift" not in {n.code for n in before.notices}
    whole = compute_kpis(lake, plant, Period.parse("2026-11-23"), until=at(d + "20:00"))
    assert whole.rows[0].pbt_s == pytest.approx(8 * 3600)
    assert [n.code for n in whole.notices] == ["unrecorded"]  # 12–16 has no record
