"""``factoryax jobs list`` and ``factoryax jobs run`` on both engines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import typer
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from factoryax.analytics import Period
from factoryax.cli.jobs import app as jobs_app
from factoryax.cli.main import example_plant_toml
from factoryax.core import PlantModel
from factoryax.jobs import DuckDBEngine, FeatureJob, KpiJob

from .conftest import close, table_mismatches

cli = typer.Typer()
cli.add_typer(jobs_app, name="jobs")
runner = CliRunner()


def _workspace(tmp_path: Path, lake: Path) -> Path:
    (tmp_path / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    shutil.copytree(lake, tmp_path / "lake")
    return tmp_path


def test_list_names_every_job() -> None:
    """The list shows the three jobs and the tables they read."""
    result = runner.invoke(cli, ["jobs", "list"])
    assert result.exit_code == 0, result.output
    for name in ("kpi", "spc-baseline", "features", "production"):
        assert name in result.output


def test_run_kpi_as_json_gives_the_job_s_numbers(
    tmp_path: Path, twin: tuple[PlantModel, Path]
) -> None:
    """`jobs run kpi -o json` prints one object per asset with the job's OEE."""
    plant, lake = twin
    ws = _workspace(tmp_path, lake)
    result = runner.invoke(
        cli, ["jobs", "run", "kpi", "--period", "2026-11-17", "-o", "json", "-w", str(ws)]
    )
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    want = KpiJob(plant, Period.parse("2026-11-17")).run(DuckDBEngine(lake))
    assert [p["asset"] for p in printed] == [r.key["asset"] for r in want.rows]
    assert all(close(p["oee"], r.oee) for p, r in zip(printed, want.rows, strict=True))


def test_run_features_on_spark_writes_what_duckdb_computes(
    tmp_path: Path, twin: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """`--engine spark --master local[2] --out f.parquet` writes DuckDB's features."""
    plant, lake = twin
    ws = _workspace(tmp_path, lake)
    out = tmp_path / "features.parquet"
    args = ["jobs", "run", "features", "--period", "2026-11-17", "--window-s", "3600"]
    args += ["--engine", "spark", "--master", "local[2]", "--out", str(out), "-w", str(ws)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    want = FeatureJob(plant, Period.parse("2026-11-17"), window_s=3600).run(DuckDBEngine(lake))
    assert want.num_rows > 0
    assert table_mismatches(want, pq.read_table(out)) == []
    assert spark.sql("SELECT 1 AS one").count() == 1  # the shared session is still alive


def test_unknown_job_and_engine_are_reported(tmp_path: Path, twin: tuple[PlantModel, Path]) -> None:
    """Exit code 2 with a message naming the value and the choices."""
    ws = _workspace(tmp_path, twin[1])
    bad_job = runner.invoke(cli, ["jobs", "run", "oee2", "-p", "2026-11-17", "-w", str(ws)])
    assert bad_job.exit_code == 2 and "unknown job 'oee2'" in bad_job.output
    bad_engine = runner.invoke(
        cli, ["jobs", "run", "kpi", "-p", "2026-11-17", "--engine", "flink", "-w", str(ws)]
    )
    assert bad_engine.exit_code == 2 and "unknown engine 'flink'" in bad_engine.output
