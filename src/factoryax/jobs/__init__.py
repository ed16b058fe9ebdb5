"""Batch jobs over the lake, on DuckDB (default) or Apache Spark (scale-out).

Contract:

- **One job, two engines.** A job (:class:`KpiJob`, :class:`SpcBaselineJob`,
  :class:`FeatureJob`) is a frozen description of the work; ``job.run(engine)`` runs it on
  a :class:`DuckDBEngine` (in-process) or a :class:`SparkEngine` (pyspark: ``local[N]`` or
  any cluster by master URL) and returns the same result type. On the same lake the two
  engines agree row by row: counts exactly, floats to a relative tolerance of 1e-9
  (sums are taken in a different order).
- **Same definitions as analytics.** On DuckDB the KPI job is
  :func:`factoryax.analytics.compute_kpis`; on Spark it computes the same time elements
  and part counts in Spark SQL and feeds them to the same KPI formulas. The SPC baseline
  job gives the I-MR limits of :func:`factoryax.analytics.signal_chart`.
- **Committed files only.** Engines read the lake through
  :func:`~factoryax.jobs.layout.committed_files`: never a temporary file, never both sides
  of a half-finished compaction; a file that vanishes mid-query makes the engine list
  again and retry.
- **Detector scoring with detect's own math.** :class:`ScoreJob` pivots readings to the
  model's wide rows in SQL and applies the registered detector through
  :meth:`Engine.map_in_arrow` (Spark: ``mapInArrow`` on the executors, partitioned by
  asset and sorted by time so streaming state is exact; DuckDB: the same function
  in-process); :class:`BacktestJob` turns its alarms into ``factoryax.detect.backtest``'s
  figures. Scores equal detect's in-process scores to a relative 1e-9.
"""

from __future__ import annotations

from factoryax.jobs.base import Dialect, Engine, EngineName, Job
from factoryax.jobs.duckdb_engine import DuckDBEngine
from factoryax.jobs.features import FeatureJob
from factoryax.jobs.kpi import KpiJob
from factoryax.jobs.layout import committed_files
from factoryax.jobs.registry import JOBS, JobInfo, open_engine
from factoryax.jobs.score import BacktestJob, BatchScorer, ModelPayload, ScoreJob
from factoryax.jobs.spark_engine import SparkConfig, SparkEngine, spark_session
from factoryax.jobs.spc import SpcBaselineJob

__all__ = [
    "JOBS",
    "BacktestJob",
    "BatchScorer",
    "Dialect",
    "DuckDBEngine",
    "Engine",
    "EngineName",
    "FeatureJob",
    "Job",
    "JobInfo",
    "KpiJob",
    "ModelPayload",
    "ScoreJob",
    "SparkConfig",
    "SparkEngine",
    "SpcBaselineJob",
    "committed_files",
    "open_engine",
    "spark_session",
]
