"""SPC baselines and windowed features: one query text, equal results on both engines."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from factoryax.analytics import Period, signal_chart
from factoryax.core import ConfigError, PlantModel
from factoryax.jobs import DuckDBEngine, FeatureJob, SparkEngine, SpcBaselineJob
from factoryax.lake import Lake

from .conftest import RTOL, table_mismatches

PERIOD = Period.parse("2026-11-16..2026-11-17")


def test_spc_baselines_are_the_limits_signal_chart_computes(
    twin: tuple[PlantModel, Path],
) -> None:
    """For every signal, DuckDB's baseline equals signal_chart's I-MR centre, σ̂ and limits."""
    plant, root = twin
    base = SpcBaselineJob(plant, PERIOD).run(DuckDBEngine(root))
    assert base.num_rows == sum(len(a.signals) for _, a in plant.iter_assets())
    lake = Lake(root, timezone="Asia/Seoul")
    for row in base.to_pylist():
        chart = signal_chart(lake, plant, row["asset"], row["signal"], PERIOD).chart
        assert row["n"] == len(chart.primary.values)
        assert math.isclose(row["center"], chart.primary.center[0], rel_tol=RTOL)
        assert chart.sigma is not None
        assert math.isclose(row["sigma"], chart.sigma, rel_tol=RTOL)
        assert math.isclose(row["ucl"], chart.primary.ucl[0], rel_tol=RTOL)
        assert math.isclose(row["lcl"], chart.primary.lcl[0], rel_tol=RTOL)
        assert chart.secondary is not None
        assert math.isclose(row["mr_ucl"], chart.secondary.ucl[0], rel_tol=RTOL)


def test_spc_baselines_on_spark_equal_duckdb_row_by_row(
    twin: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """Same asset/signal rows, counts exact, limits to 1e-9."""
    plant, root = twin
    job = SpcBaselineJob(plant, PERIOD)
    want = job.run(DuckDBEngine(root))
    got = job.run(SparkEngine(root, session=spark))
    assert want.num_rows > 10
    assert table_mismatches(want, got) == []


def test_features_on_spark_equal_duckdb_and_numpy(
    twin: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """Per-window n/mean/std/min/max/rms agree across engines and with NumPy on one window."""
    plant, root = twin
    job = FeatureJob(plant, PERIOD, window_s=3600, assets=("cnc-01", "press-01"))
    want = job.run(DuckDBEngine(root))
    got = job.run(SparkEngine(root, session=spark))
    assert want.num_rows > 50
    assert table_mismatches(want, got) == []
    row = want.filter(pc.greater(want.column("n"), 3)).slice(0, 1).to_pylist()[0]
    start = row["window_start"]
    raw = Lake(root).query(
        "SELECT value FROM readings WHERE asset = $1 AND signal = $2 AND ts >= $3 "
        "AND ts < $3 + INTERVAL 1 HOUR AND value IS NOT NULL",
        [row["asset"], row["signal"], start],
    )
    x = raw.column("value").to_numpy()
    assert row["n"] == len(x)
    assert math.isclose(row["mean"], float(np.mean(x)), rel_tol=RTOL)
    assert math.isclose(row["std"], float(np.std(x, ddof=1)), rel_tol=1e-7)
    assert (row["min"], row["max"]) == (float(x.min()), float(x.max()))
    assert math.isclose(row["rms"], float(np.sqrt(np.mean(x * x))), rel_tol=RTOL)


def test_readings_jobs_reject_bad_arguments(twin: tuple[PlantModel, Path]) -> None:
    """Unknown assets and a non-positive window are ConfigErrors naming the value."""
    plant, root = twin
    with pytest.raises(ConfigError, match="window_s"):
        FeatureJob(plant, PERIOD, window_s=0)
    with pytest.raises(ConfigError, match=r"unknown asset\(s\) \['nope'\]"):
        SpcBaselineJob(plant, PERIOD, assets=("nope",)).run(DuckDBEngine(root))
