"""Synthetic readings for benchmarks: the example plant's signals at 1 Hz, in range."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pyarrow as pa

from factoryax.cli.main import example_plant_toml
from factoryax.core import PlantModel, parse_plant

T = TypeVar("T")


def example_plant(batch_rows: int = 1_000_000) -> PlantModel:
    """The example plant, with a larger ingest batch for bulk loads."""
    plant = parse_plant(tomllib.loads(example_plant_toml()))
    return plant.model_copy(
        update={"ingest": plant.ingest.model_copy(update={"batch_rows": batch_rows})}
    )


def readings_table(rows: int, plant: PlantModel, seed: int = 7) -> pa.Table:
    """`rows` long-layout readings: every declared signal sampled once per second."""
    pairs = [
        (a.id, s.id, s.min or 0.0, s.max or 1.0) for _, a in plant.iter_assets() for s in a.signals
    ]
    n_sig = len(pairs)
    rng = np.random.default_rng(seed)
    i = np.arange(rows)
    which = i % n_sig
    start = np.datetime64("2025-01-06T00:00:00", "us")  # in the past: plausible to ingest
    ts = start + (i // n_sig).astype("timedelta64[s]").astype("timedelta64[us]")
    lo = np.array([p[2] for p in pairs])[which]
    hi = np.array([p[3] for p in pairs])[which]
    value = lo + (hi - lo) * rng.uniform(0.2, 0.8, rows)
    asset = pa.DictionaryArray.from_arrays(
        pa.array(which.astype(np.int32)), pa.array([p[0] for p in pairs])
    )
    signal = pa.DictionaryArray.from_arrays(
        pa.array(which.astype(np.int32)), pa.array([p[1] for p in pairs])
    )
    return pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
            "asset": asset.cast(pa.string()),
            "signal": signal.cast(pa.string()),
            "value": value,
        }
    )


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Wall seconds of one call, and its result."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out
