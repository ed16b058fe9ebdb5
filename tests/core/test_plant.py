"""The plant model: the example validates, and every mistake is named with its fix."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factoryax.cli.main import example_plant_toml
from factoryax.core import PlantModel, PlantModelError, load_plant, parse_plant
from factoryax.core.plant import _parse_clock


def _example() -> dict[str, Any]:
    return tomllib.loads(example_plant_toml())


def test_example_plant_validates(plant: PlantModel) -> None:
    """The shipped example describes a 5-station line in Asia/Seoul with two shifts."""
    assert plant.site.timezone.key == "Asia/Seoul"
    assert [a.id for _, a in plant.iter_assets()] == [
        "press-01",
        "cnc-01",
        "wash-01",
        "inspect-01",
        "pack-01",
    ]
    assert plant.signal("cnc-01", "bearing_temp").unit == "°C"
    night = plant.calendar.shifts[1]
    assert night.start == dt.time(20) and night.end == dt.time(8)
    assert plant.find_signal("cnc-01", "nope") is None


def test_timezone_defaults_to_seoul() -> None:
    """A site without a time zone is in Asia/Seoul."""
    assert parse_plant({"site": {"id": "s"}}).site.timezone.key == "Asia/Seoul"


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlantModelError) as info:
        parse_plant(data)
    return info.value.problems


def test_empty_range_names_the_key_the_asset_and_the_fix() -> None:
    """min >= max is reported at its key path, with the asset id and what to do."""
    data = _example()
    data["lines"][0]["assets"][1]["signals"][3]["min"] = 500
    (problem,) = _problems(data)
    assert problem.startswith("lines[0] (line-1).assets[1] (cnc-01).signals[3] (bearing_temp)")
    assert "min=500.0 >= max=150.0" in problem
    assert "set min below max" in problem


def test_spec_limits_are_declared_and_checked(plant: PlantModel) -> None:
    """A signal may carry lsl/usl/target; an empty specification is refused."""
    bore = plant.signal("inspect-01", "bore_diameter")
    assert (bore.lsl, bore.usl, bore.target, bore.has_spec) == (41.975, 42.025, 42.0, True)
    assert not plant.signal("cnc-01", "power").has_spec
    data = _example()
    data["lines"][0]["assets"][3]["signals"][0]["lsl"] = 43.0
    (problem,) = _problems(data)
    assert "(bore_diameter)" in problem and "lsl=43.0 >= usl=42.025" in problem


def test_unknown_key_is_named() -> None:
    """A misspelt key is reported as unknown, not ignored."""
    data = _example()
    data["site"]["time_zone"] = "Asia/Seoul"
    (problem,) = _problems(data)
    assert problem.startswith("site.time_zone: unknown key")


def test_bad_time_zone() -> None:
    """An unknown IANA zone is rejected with an example of a good one."""
    (problem,) = _problems({"site": {"id": "s", "timezone": "Seoul"}})
    assert "unknown time zone 'Seoul'" in problem and "Asia/Seoul" in problem


def test_duplicate_asset_ids_across_lines() -> None:
    """Asset ids are unique across the whole site."""
    data = _example()
    data["lines"].append({"id": "line-2", "assets": [{"id": "press-01"}]})
    (problem,) = _problems(data)
    assert "asset id 'press-01' appears twice" in problem


def test_bad_shift_clock() -> None:
    """Shift times must be HH:MM."""
    data = _example()
    data["calendar"]["shifts"][0]["start"] = "8am"
    (problem,) = _problems(data)
    assert "calendar.shifts[0].start" in problem and "'8am' is not HH:MM" in problem


def test_ingest_column_must_name_a_declared_signal() -> None:
    """A column mapping to an undeclared signal is a config error, caught at load."""
    data = _example()
    data["ingest"]["columns"]["X"] = "cnc-01.nope"
    (problem,) = _problems(data)
    assert "ingest.columns['X'] = 'cnc-01.nope' names no declared signal" in problem


def test_reason_parent_must_exist() -> None:
    """A downtime reason's parent must be a declared code."""
    data = _example()
    data["downtime_reasons"][1]["parent"] = "NOPE"
    (problem,) = _problems(data)
    assert "parent 'NOPE'" in problem


def test_several_problems_are_all_listed() -> None:
    """All problems come back at once, so one edit fixes them all."""
    data = _example()
    data["site"]["timezone"] = "Mars/Base"
    data["lines"][0]["assets"][0]["ideal_cycle_time_s"] = -1
    assert len(_problems(data)) == 2


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """Broken TOML is reported with the file and the line."""
    path = tmp_path / "plant.toml"
    path.write_text('[site]\nid = "a"\nname = \n', encoding="utf-8")
    with pytest.raises(PlantModelError) as info:
        load_plant(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    """A missing plant.toml points at `factoryax init`."""
    with pytest.raises(PlantModelError, match="factoryax init"):
        load_plant(tmp_path / "plant.toml")


@given(st.integers(0, 23), st.integers(0, 59))
def test_clock_round_trip(hour: int, minute: int) -> None:
    """Every HH:MM parses to the same time of day."""
    assert _parse_clock(f"{hour:02d}:{minute:02d}") == dt.time(hour, minute)


@given(st.text(max_size=8))
def test_clock_rejects_or_parses(text: str) -> None:
    """Arbitrary text either parses to a valid time or raises ValueError."""
    try:
        value = _parse_clock(text)
    except ValueError:
        return
    assert isinstance(value, dt.time)
