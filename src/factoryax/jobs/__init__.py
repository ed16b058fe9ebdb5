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
- Detector batch scoring and backtests (``factoryax.detect``) are not here yet; they slot
  in as jobs that read :class:`FeatureJob` output through an engine.
"""

from __future__ import annotations

from factoryax.jobs.base import Dialect, Engine, EngineName, Job
from factoryax.jobs.duckdb_engine import DuckDBEngine
from factoryax.jobs.features import FeatureJob
from factoryax.jobs.kpi import KpiJob
from factoryax.jobs.layout import committed_files
from factoryax.jobs.registry import JOBS, JobInfo, open_engine
from factoryax.jobs.spark_engine import SparkConfig, SparkEngine, spark_session
from factoryax.jobs.spc import SpcBaselineJob

__all__ = [
    "JOBS",
    "Dialect",
    "DuckDBEngine",
    "Engine",
    "EngineName",
    "FeatureJob",
    "Job",
    "JobInfo",
    "KpiJob",
    "SparkConfig",
    "SparkEngine",
    "SpcBaselineJob",
    "committed_files",
    "open_engine",
    "spark_session",
]
