"""Detector batch scoring and backtests: equal to detect's in-process scoring, both engines."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import typer
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from factoryax.cli.jobs import app as jobs_app
from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.core import ConfigError
from factoryax.detect import (
    DetectError,
    PcaDetector,
    Registry,
    anomaly_model_name,
    backtest,
    read_wide,
)
from factoryax.detect.validate import alarm_instants
from factoryax.jobs import BacktestJob, BatchScorer, DuckDBEngine, ScoreJob, SparkEngine
from factoryax.twin import simulate, write_to_lake

from .conftest import RTOL, table_mismatches

TRAIN_END = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
START = TRAIN_END
END = dt.datetime(2026, 11, 11, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def scored_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, tuple[str, ...]]:
    """Two simulated days (60 s samples) with truth; a smoothed PCA model per asset
    trained on day one (threshold low enough that day two has alarms)."""
    root = tmp_path_factory.mktemp("score-ws")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace(root)
    run = simulate(ws.plant, start=dt.date(2026, 11, 9), days=2, seed=5, sample_s=60)
    write_to_lake(run, ws.plant, ws.lake)
    registry = Registry.for_workspace(root)
    names = []
    for _, asset in ws.plant.iter_assets():
        data = read_wide(ws.lake, asset.id, None, TRAIN_END)
        det = PcaDetector(smoothing=0.3, threshold_q=0.98).fit(data.columns)
        name = anomaly_model_name(asset.id)
        registry.register(name, det, asset=asset.id, fingerprint=data.fingerprint)
        names.append(name)
    return ws, tuple(names)


@pytest.fixture(scope="module")
def duck_scores(scored_ws: tuple[Workspace, tuple[str, ...]]) -> pa.Table:
    ws, names = scored_ws
    return ScoreJob(ws.root, names, START, END).run(DuckDBEngine(ws.root / "lake"))


def test_duckdb_scores_equal_detect_in_process(
    scored_ws: tuple[Workspace, tuple[str, ...]], duck_scores: pa.Table
) -> None:
    """Per model: the same instants as read_wide, scores and normalised scores equal to
    the detector's score_many / normalise, alarms at alarm_instants' instants."""
    ws, names = scored_ws
    registry = Registry.for_workspace(ws.root)
    total_alarms = 0
    for name in names:
        summary = registry.get(name)
        assert summary.asset is not None
        data = read_wide(ws.lake, summary.asset, START, END)
        det = registry.load_detector(name)
        want = det.score_many(data.columns)
        rows = duck_scores.filter(pc.equal(duck_scores.column("model"), name))
        ts = rows.column("ts").cast(pa.int64()).to_numpy()
        assert ts.tolist() == data.ts.tolist()
        np.testing.assert_allclose(rows.column("score").to_numpy(), want, rtol=RTOL)
        assert det.threshold_ is not None
        np.testing.assert_allclose(
            rows.column("normalised").to_numpy(), want / det.threshold_, rtol=RTOL
        )
        alarm = rows.column("alarm").to_numpy(zero_copy_only=False)
        edges = alarm_instants(registry.load_detector(name), data)
        assert ts[alarm].tolist() == edges.tolist()
        total_alarms += len(edges)
    assert total_alarms > 0  # the comparison of alarms is not vacuous


def test_spark_scores_equal_duckdb_across_batch_boundaries(
    scored_ws: tuple[Workspace, tuple[str, ...]], duck_scores: pa.Table, spark: SparkSession
) -> None:
    """mapInArrow on the executors with 97-row Arrow batches (smoothing, forward fill and
    alarm state cross hundreds of batch boundaries) gives DuckDB's rows."""
    ws, names = scored_ws
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    before = spark.conf.get(key) or "10000"
    spark.conf.set(key, "97")
    try:
        got = ScoreJob(ws.root, names, START, END).run(SparkEngine(ws.root / "lake", session=spark))
    finally:
        spark.conf.set(key, before)
    per_asset = pc.value_counts(duck_scores.column("asset")).to_pylist()
    assert min(c["counts"] for c in per_asset) > 5 * 97
    assert table_mismatches(duck_scores, got) == []


def test_scorer_state_carries_across_batches_and_refuses_disorder(
    scored_ws: tuple[Workspace, tuple[str, ...]], duck_scores: pa.Table
) -> None:
    """The same wide rows in one batch or in 13-row batches score the same; rows of an
    asset that arrive out of time order are refused, not scored wrongly."""
    ws, names = scored_ws
    job = ScoreJob(ws.root, names[:1], START, END)
    payloads = job.payloads()
    engine = DuckDBEngine(ws.root / "lake")
    wide = engine.sql(job.sql(engine, payloads)).sort_by("ts_us")
    scorer: BatchScorer = job.scorer(payloads)
    whole = pa.Table.from_batches(list(scorer(wide.to_batches())))
    pieces = pa.Table.from_batches(list(scorer(wide.to_batches(max_chunksize=13))))
    assert whole.num_rows == wide.num_rows > 13
    np.testing.assert_allclose(
        pieces.column("score").to_numpy(), whole.column("score").to_numpy(), rtol=RTOL
    )
    assert pieces.column("alarm").equals(whole.column("alarm"))

    def reversed_batches() -> Iterator[pa.RecordBatch]:
        yield from reversed(wide.to_batches(max_chunksize=50))

    with pytest.raises(DetectError, match="out of time order"):
        list(scorer(reversed_batches()))


def test_backtest_figures_equal_detect_backtest_on_both_engines(
    scored_ws: tuple[Workspace, tuple[str, ...]], spark: SparkSession
) -> None:
    """Every figure detect.backtest reports (but its row hash and time stamp) is equal,
    on DuckDB and on Spark."""
    ws, names = scored_ws
    job = BacktestJob(ws.root, ws.plant, names, START, END)
    duck = job.run(DuckDBEngine(ws.root / "lake"))
    on_spark = job.run(SparkEngine(ws.root / "lake", session=spark))
    assert on_spark == duck
    assert any(f["true_alarms"] + f["false_alarms"] > 0 for f in duck.values())
    for name in names:
        want = backtest(ws, name, None, START, END, record=False)
        want.pop("at")
        want.pop("fingerprint")
        got = duck[name]
        assert got.keys() == want.keys()
        for k, v in want.items():
            if isinstance(v, float):
                assert math.isclose(got[k], v, rel_tol=RTOL), k
            else:
                assert got[k] == v, k
        assert got["in_sample"] is False  # trained on day one, scored on day two


def test_bad_model_references_are_reported(scored_ws: tuple[Workspace, tuple[str, ...]]) -> None:
    """Two versions of one asset's model in one job, a bad version, a naive instant."""
    ws, names = scored_ws
    with pytest.raises(ConfigError, match="both score asset"):
        ScoreJob(ws.root, (names[0], f"{names[0]}@1"), START, END).payloads()
    with pytest.raises(ConfigError, match="positive integer"):
        ScoreJob(ws.root, (f"{names[0]}@latest",), START, END).payloads()
    with pytest.raises(ConfigError, match="timezone-aware"):
        ScoreJob(ws.root, names, START.replace(tzinfo=None), END)


def test_cli_score_on_spark_and_backtest_as_json(
    scored_ws: tuple[Workspace, tuple[str, ...]],
    duck_scores: pa.Table,
    spark: SparkSession,
    tmp_path: Path,
) -> None:
    """`jobs run score --engine spark --out` writes the job's rows; `jobs run backtest -o
    json` prints one object per model with detect's figures."""
    ws, names = scored_ws
    cli = typer.Typer()
    cli.add_typer(jobs_app, name="jobs")
    runner = CliRunner()
    window = ["--from", START.isoformat(), "--to", END.isoformat(), "-w", str(ws.root)]
    out = tmp_path / "scores.parquet"
    args = ["jobs", "run", "score", "--engine", "spark", "--out", str(out), *window]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert table_mismatches(duck_scores, pq.read_table(out)) == []
    result = runner.invoke(cli, ["jobs", "run", "backtest", "-m", names[0], "-o", "json", *window])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    want = backtest(ws, names[0], None, START, END, record=False)
    assert [p["model"] for p in printed] == [names[0]]
    assert printed[0]["alarms"] == want["alarms"]
    assert printed[0]["false_alarms"] == want["false_alarms"]
    assert printed[0]["faults"] == want["faults"]
    missing = runner.invoke(cli, ["jobs", "run", "score", "-w", str(ws.root)])
    assert missing.exit_code == 2 and "--from and --to" in missing.output
