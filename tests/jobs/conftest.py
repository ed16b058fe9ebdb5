"""One Spark session for the whole package, a simulated lake and a hand-made one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from factoryax.analytics import KpiRow
from factoryax.core import PlantModel, parse_plant
from factoryax.jobs import SparkConfig, spark_session
from factoryax.lake import Lake
from factoryax.twin import example_plant, simulate, write_to_lake

RTOL = 1e-9
"""Float tolerance between engines (relative; absolute below 1): sums in another order."""

MONDAY = dt.date(2026, 11, 16)
SEOUL = ZoneInfo("Asia/Seoul")
TS = pa.timestamp("us", tz="UTC")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A local[2] session with few shuffle partitions and a 1 GiB driver."""
    config = SparkConfig(
        master="local[2]",
        shuffle_partitions=2,
        driver_memory="1g",
    )
    session = spark_session(config)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def twin(tmp_path_factory: pytest.TempPathFactory) -> tuple[PlantModel, Path]:
    """The example line simulated Mon 2026-11-16 for three days, in a lake."""
    plant = example_plant()
    root = tmp_path_factory.mktemp("twin") / "lake"
    run = simulate(plant, start=MONDAY, horizon=dt.timedelta(days=3), seed=11, sample_s=600)
    write_to_lake(run, plant, Lake(root, timezone="Asia/Seoul"))
    return plant, root


REASONS: list[dict[str, Any]] = [
    {"code": "PLANNED", "name": "Planned stop", "category": "planned", "loss": "none"},
    {"code": "CHANGEOVER", "name": "Changeover", "category": "planned", "loss": "availability"},
    {"code": "BREAKDOWN", "name": "Breakdown", "category": "unplanned", "loss": "availability"},
    {
        "code": "TOOL",
        "name": "Tool",
        "category": "unplanned",
        "loss": "availability",
        "parent": "BREAKDOWN",
    },
    {"code": "MINOR", "name": "Minor stop", "category": "unplanned", "loss": "performance"},
    {"code": "QCHECK", "name": "Quality check", "category": "unplanned", "loss": "quality"},
]


def edge_plant() -> PlantModel:
    """Two assets, a day shift with a lunch break and a night shift over midnight that
    ends two hours before the day shift starts (parts made then are off shift)."""
    return parse_plant(
        {
            "site": {"id": "s1", "timezone": "Asia/Seoul"},
            "calendar": {
                "shifts": [
                    {
                        "name": "day",
                        "start": "08:00",
                        "end": "20:00",
                        "breaks": [{"start": "12:00", "end": "13:00"}],
                    },
                    {
                        "name": "night",
                        "start": "20:00",
                        "end": "06:00",
                        "breaks": [{"start": "00:00", "end": "01:00"}],
                    },
                ]
            },
            "downtime_reasons": REASONS,
            "lines": [
                {
                    "id": "l1",
                    "assets": [
                        {"id": "m1", "ideal_cycle_time_s": 30.0},
                        {"id": "m2", "ideal_cycle_time_s": 45.0},
                    ],
                }
            ],
        }
    )


def _local(day: dt.date, hour: float) -> dt.datetime:
    base = dt.datetime.combine(day, dt.time(), tzinfo=SEOUL)
    return (base + dt.timedelta(hours=hour)).astimezone(dt.UTC)


@pytest.fixture(scope="session")
def edge(tmp_path_factory: pytest.TempPathFactory) -> tuple[PlantModel, Path]:
    """Two days of random, *overlapping* state rows and parts for two assets, plus the
    cases that need care: a breakdown interrupted by the lunch break (one failure), rows
    crossing midnight and shift ends, a zero-length row, parts between shifts, and
    reworked parts processed twice."""
    plant = edge_plant()
    root = tmp_path_factory.mktemp("edge") / "lake"
    lake = Lake(root, timezone="Asia/Seoul")
    rng = np.random.default_rng(5)
    states: dict[str, list[Any]] = {k: [] for k in ("asset", "start", "end", "state", "reason")}
    kinds = [
        ("running", None),
        ("running", None),
        ("idle", None),
        ("down", "TOOL"),
        ("down", "BREAKDOWN"),
        ("down", None),
        ("setup", "CHANGEOVER"),
        ("planned_stop", "PLANNED"),
        ("idle", "MINOR"),
        ("idle", "QCHECK"),
    ]
    t_end = _local(MONDAY + dt.timedelta(days=2), 8)
    for asset in ("m1", "m2"):
        t = _local(MONDAY, 7.5)
        while t < t_end:
            length = dt.timedelta(seconds=int(rng.integers(60, 5400)))
            state, reason = kinds[int(rng.integers(len(kinds)))]
            # one row in five starts inside the previous one: overlaps to reconcile
            back = dt.timedelta(seconds=int(rng.integers(1, 1200))) if rng.random() < 0.2 else None
            start = t - back if back is not None else t
            states["asset"].append(asset)
            states["start"].append(start)
            states["end"].append(start + length)
            states["state"].append(state)
            states["reason"].append(reason)
            t = max(t, start + length)
    fixed = [  # (start, end, state, reason) for m1 on the third day
        (_local(MONDAY + dt.timedelta(days=2), 11.5), _local(MONDAY + dt.timedelta(days=2), 12.0)),
        (_local(MONDAY + dt.timedelta(days=2), 13.0), _local(MONDAY + dt.timedelta(days=2), 13.5)),
    ]
    for a, b in fixed:  # one breakdown split by the lunch break: one failure, not two
        states["asset"].append("m1")
        states["start"].append(a)
        states["end"].append(b)
        states["state"].append("down")
        states["reason"].append("TOOL")
    zero = _local(MONDAY + dt.timedelta(days=2), 14.0)
    for col, value in zip(
        ("asset", "start", "end", "state", "reason"),
        ("m2", zero, zero, "down", "TOOL"),
        strict=True,
    ):
        states[col].append(value)
    n = len(states["asset"])
    lake.append(
        "states",
        pa.table(
            {
                "site": ["s1"] * n,
                "start": pa.array(states["start"], TS),
                "end": pa.array(states["end"], TS),
                "line": ["l1"] * n,
                "asset": states["asset"],
                "state": states["state"],
                "reason_code": pa.array(states["reason"], pa.string()),
            }
        ),
    )
    parts: dict[str, list[Any]] = {k: [] for k in ("ts", "asset", "part_id", "result")}
    results = ["ok"] * 12 + ["rework", "scrap", "ng"]
    for asset in ("m1", "m2"):
        for k in range(1500):
            ts = _local(MONDAY, 7.0) + dt.timedelta(seconds=int(rng.integers(0, 50 * 3600)))
            result = results[int(rng.integers(len(results)))]
            parts["ts"].append(ts)
            parts["asset"].append(asset)
            parts["part_id"].append(f"{asset}-{k}")
            parts["result"].append(result)
            if result == "rework":  # processed again an hour later, this time good
                parts["ts"].append(ts + dt.timedelta(hours=1))
                parts["asset"].append(asset)
                parts["part_id"].append(f"{asset}-{k}")
                parts["result"].append("ok")
    m = len(parts["ts"])
    lake.append(
        "production",
        pa.table(
            {
                "site": ["s1"] * m,
                "ts": pa.array(parts["ts"], TS),
                "line": ["l1"] * m,
                "asset": parts["asset"],
                "part_id": parts["part_id"],
                "result": parts["result"],
            }
        ),
    )
    return plant, root


def close(a: object, b: object) -> bool:
    """Equal, or floats equal to :data:`RTOL` (relative; absolute below 1)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= RTOL * max(1.0, abs(a), abs(b))
    return a == b


def kpi_mismatches(left: tuple[KpiRow, ...], right: tuple[KpiRow, ...]) -> list[str]:
    """Every field (and KPI) that differs between two row lists, described."""
    if len(left) != len(right):
        return [f"{len(left)} rows vs {len(right)} rows"]
    out = []
    for x, y in zip(left, right, strict=True):
        names = [f.name for f in dataclasses.fields(x)]
        names += ["availability", "effectiveness", "quality_ratio", "oee", "fpy", "mtbf_s"]
        for name in names:
            a, b = getattr(x, name), getattr(y, name)
            if not close(a, b):
                out.append(f"{x.key}: {name} {a!r} vs {b!r}")
    return out


def table_mismatches(left: pa.Table, right: pa.Table) -> list[str]:
    """Cells that differ between two tables of the same schema, row by row."""
    if left.schema != right.schema:
        return [f"schemas differ: {left.schema} vs {right.schema}"]
    if left.num_rows != right.num_rows:
        return [f"{left.num_rows} rows vs {right.num_rows} rows"]
    out = []
    for i, (x, y) in enumerate(zip(left.to_pylist(), right.to_pylist(), strict=True)):
        for name in x:
            if not close(x[name], y[name]):
                out.append(f"row {i} {name}: {x[name]!r} vs {y[name]!r}")
    return out
