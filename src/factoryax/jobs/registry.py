"""The jobs ``factoryax jobs`` knows, and how to open an engine by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factoryax.core import ConfigError
from factoryax.jobs.base import Engine
from factoryax.jobs.duckdb_engine import DuckDBEngine

__all__ = ["JOBS", "JobInfo", "open_engine"]


@dataclass(frozen=True)
class JobInfo:
    """One job as listed by ``factoryax jobs list``."""

    name: str
    reads: tuple[str, ...]
    summary: str


JOBS: dict[str, JobInfo] = {
    j.name: j
    for j in (
        JobInfo(
            "kpi",
            ("states", "production"),
            "ISO 22400-2 KPIs/OEE per asset, line, shift…; equals `factoryax kpi show`",
        ),
        JobInfo(
            "spc-baseline",
            ("readings",),
            "I-MR control limits of every signal over a baseline period",
        ),
        JobInfo(
            "features",
            ("readings",),
            "per-asset, per-signal window statistics (n, mean, std, min, max, rms)",
        ),
        JobInfo(
            "score",
            ("readings", "models/"),
            "anomaly scores (1.0 = threshold) and alarms of registered detectors",
        ),
        JobInfo(
            "backtest",
            ("readings", "models/", "truth/"),
            "detect's backtest figures (alarms, detection rate, lead time, false alarms)",
        ),
    )
}


def open_engine(
    name: str,
    root: Path | str,
    *,
    timezone: str = "UTC",
    master: str | None = None,
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
) -> Engine:
    """An engine by name: ``duckdb`` (default) or ``spark``.

    Raises:
        ConfigError: an unknown engine name, or Spark options given to DuckDB.

    Examples:
        >>> open_engine("duckdb", "/tmp/lake").name
        'duckdb'
    """
    if name == "duckdb":
        if master is not None:
            raise ConfigError(
                f"--master {master!r} is a Spark option; add --engine spark to use it"
            )
        return DuckDBEngine(root, timezone=timezone)
    if name == "spark":
        from factoryax.jobs.spark_engine import SparkConfig, SparkEngine

        overrides: dict[str, object] = {}
        if master is not None:
            overrides["master"] = master
        if shuffle_partitions is not None:
            overrides["shuffle_partitions"] = shuffle_partitions
        if driver_memory is not None:
            overrides["driver_memory"] = driver_memory
        return SparkEngine(root, SparkConfig.model_validate(overrides))
    raise ConfigError(f"unknown engine {name!r}; use 'duckdb' (default) or 'spark'")
