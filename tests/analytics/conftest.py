"""Shared helpers: tiny hand-made plants and lakes, and one simulated twin workspace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.core import PlantModel, parse_plant
from factoryax.lake import Lake
from factoryax.twin import simulate, write_to_lake

MONDAY = dt.date(2026, 11, 23)
"""A Monday; the example plant works 08:00–20:00 and 20:00–08:00 (Asia/Seoul)."""

REASONS: list[dict[str, Any]] = [
    {
        "code": "PLANNED",
        "name": "Planned stop",
        "name_ko": "계획 정지",
        "category": "planned",
        "loss": "none",
    },
    {
        "code": "PM",
        "name": "Preventive maintenance",
        "category": "planned",
        "loss": "none",
        "parent": "PLANNED",
    },
    {"code": "CHANGEOVER", "name": "Changeover", "category": "planned", "loss": "availability"},
    {
        "code": "BREAKDOWN",
        "name": "Breakdown",
        "name_ko": "설비 고장",
        "category": "unplanned",
        "loss": "availability",
    },
    {
        "code": "TOOL",
        "name": "Tool",
        "category": "unplanned",
        "loss": "availability",
        "parent": "BREAKDOWN",
    },
    {"code": "STARVED", "name": "Starved", "category": "unplanned", "loss": "availability"},
    {"code": "MINOR", "name": "Minor stop", "category": "unplanned", "loss": "performance"},
    {"code": "QCHECK", "name": "Quality check", "category": "unplanned", "loss": "quality"},
]


def make_plant(
    shifts: Sequence[dict[str, Any]],
    *,
    zone: str = "Asia/Seoul",
    assets: Sequence[tuple[str, float | None]] = (("m1", 60.0),),
    holidays: Sequence[str] = (),
) -> PlantModel:
    """A one-line plant with the given shifts, the reason tree above and these assets."""
    asset_rows: list[dict[str, Any]] = []
    for asset_id, ideal in assets:
        row: dict[str, Any] = {"id": asset_id}
        if ideal is not None:
            row["ideal_cycle_time_s"] = ideal
        asset_rows.append(row)
    return parse_plant(
        {
            "site": {"id": "s1", "timezone": zone},
            "calendar": {"shifts": list(shifts), "holidays": list(holidays)},
            "downtime_reasons": REASONS,
            "lines": [{"id": "l1", "assets": asset_rows}],
        }
    )


def at(text: str, zone: str = "Asia/Seoul") -> dt.datetime:
    """A local wall time ``YYYY-MM-DD HH:MM[:SS]`` as a UTC instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def fill_lake(
    root: Path,
    states: Iterable[tuple[dt.datetime, dt.datetime, str, str | None]] = (),
    production: Iterable[tuple[dt.datetime, str]] = (),
    *,
    asset: str = "m1",
) -> Lake:
    """A fresh lake holding these state rows (start, end, state, reason) and part rows
    (ts, result) for ``asset``; part ids are unique."""
    lake = Lake(root, timezone="Asia/Seoul")
    s = list(states)
    if s:
        lake.append(
            "states",
            pa.table(
                {
                    "site": ["s1"] * len(s),
                    "start": pa.array([r[0] for r in s], pa.timestamp("us", tz="UTC")),
                    "end": pa.array([r[1] for r in s], pa.timestamp("us", tz="UTC")),
                    "line": ["l1"] * len(s),
                    "asset": [asset] * len(s),
                    "state": [r[2] for r in s],
                    "reason_code": pa.array([r[3] for r in s], pa.string()),
                }
            ),
        )
    p = list(production)
    if p:
        lake.append(
            "production",
            pa.table(
                {
                    "site": ["s1"] * len(p),
                    "ts": pa.array([r[0] for r in p], pa.timestamp("us", tz="UTC")),
                    "line": ["l1"] * len(p),
                    "asset": [asset] * len(p),
                    "part_id": [f"{asset}-{i}" for i in range(len(p))],
                    "result": [r[1] for r in p],
                }
            ),
        )
    return lake


def spread(
    start: dt.datetime, end: dt.datetime, results: Sequence[str]
) -> list[tuple[dt.datetime, str]]:
    """Part rows with these results at evenly spaced instants inside [start, end)."""
    step = (end - start) / (len(results) + 1)
    return [(start + step * (i + 1), r) for i, r in enumerate(results)]


@pytest.fixture(scope="session")
def twin_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The example plant simulated for 2026-11-16 (Mon) … 2026-11-24 08:00, in a workspace.

    Nine days give the SPC baseline a prior week; coarse sampling keeps it quick (the bore
    diameter is one reading per inspected part whatever the sampling period).
    """
    root = tmp_path_factory.mktemp("twin-ws")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace(root)
    run = simulate(
        ws.plant,
        start=MONDAY - dt.timedelta(days=7),
        horizon=dt.timedelta(days=8, hours=8),
        seed=11,
        sample_s=3600,
    )
    write_to_lake(run, ws.plant, ws.lake)
    return ws
