"""The scale-out engine: Apache Spark (pyspark) over the lake's committed files.

``SparkEngine`` runs the same SQL as :class:`~factoryax.jobs.duckdb_engine.DuckDBEngine`
(Spark SQL dialect) in local mode (``local[2]``) or on any cluster by master URL
(``spark://host:7077``, ``yarn``, ``k8s://…``). The lake tables become temporary views over
an explicit list of committed files (:func:`~factoryax.jobs.layout.committed_files`), with
``basePath`` set so that ``site`` and ``date`` come from the folder names; Spark's own
directory listing is never used, so it cannot pick up a temporary file or both sides of
a half-finished compaction.

Spark must not reach beyond loopback here: the session binds the driver to 127.0.0.1,
has no UI, and downloads no packages (no ``spark.jars.packages``).
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from factoryax.core import ConfigError, QueryError
from factoryax.jobs.base import SPARK_DIALECT, Dialect, EngineName
from factoryax.jobs.duckdb_engine import lake_view_schema, referenced_tables
from factoryax.jobs.layout import committed_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkConfig", "SparkEngine", "spark_session"]

_ATTEMPTS = 3
_VANISHED = ("FileNotFoundException", "PATH_NOT_FOUND", "FILE_NOT_EXIST", "does not exist")


class SparkConfig(BaseModel):
    """How to start (or join) a Spark session; every field has a stated default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    master: str = "local[2]"
    """``local[N]`` runs in this process's JVM; a cluster URL submits to it."""
    app_name: str = "factoryax-jobs"
    driver_memory: str = Field("1g", pattern=r"^\d+[kmgt]$")
    """JVM heap of the driver (only honoured when this process starts the JVM)."""
    shuffle_partitions: int = Field(8, ge=1)
    """``spark.sql.shuffle.partitions``: small for one machine, ~2-3x cores on a cluster."""
    driver_host: str = "127.0.0.1"
    """Address executors reach the driver on; loopback for local mode."""
    python: str | None = None
    """The Python the executors run (``spark.pyspark.python``) for jobs that run Python
    there (scoring). None: this interpreter in local mode (so ``factoryax`` imports),
    the cluster's default otherwise (install ``factoryax`` on the workers)."""
    extra: tuple[tuple[str, str], ...] = ()
    """Further ``spark.*`` settings, e.g. s3a credentials providers on a cluster."""

    def settings(self) -> dict[str, str]:
        """Every setting the session is built with.

        Examples:
            >>> SparkConfig().settings()["spark.ui.enabled"]
            'false'
        """
        base = {
            "spark.driver.host": self.driver_host,
            "spark.driver.bindAddress": self.driver_host,
            "spark.driver.memory": self.driver_memory,
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            # the lake stores instants as UTC-adjusted micros: no legacy rebasing
            "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
        }
        python = self.python or (sys.executable if self.master.startswith("local") else None)
        if python:
            base["spark.pyspark.python"] = python
        for key, value in self.extra:
            if key in ("spark.jars.packages", "spark.jars.repositories"):
                raise ConfigError(
                    f"spark setting {key!r} would download packages; FactoryAX runs without "
                    "egress: put jars on the cluster's classpath instead"
                )
            base[key] = value
        return base


def spark_session(config: SparkConfig | None = None) -> SparkSession:
    """Starts (or joins the running) Spark session with ``config``'s settings.

    Raises:
        ConfigError: pyspark is not installed (``pip install 'factoryax[spark]'``).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - the [spark] extra is installed in CI
        raise ConfigError(
            "the spark engine needs pyspark: pip install 'factoryax[spark]' (and Java 17)"
        ) from None
    config = config or SparkConfig()
    if config.driver_host in ("127.0.0.1", "localhost") and config.master.startswith("local"):
        # without it Spark resolves the host name and may advertise a non-loopback
        # address for its block manager; the JVM inherits it when it starts here
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if config.python:
        os.environ["PYSPARK_PYTHON"] = config.python
    elif config.master.startswith("local"):
        # pyspark launches Python workers with $PYSPARK_PYTHON (default `python3`), which
        # may not be this interpreter and so may not import factoryax
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder: Any = SparkSession.builder.master(config.master).appName(config.app_name)
    for key, value in config.settings().items():
        builder = builder.config(key, value)
    session: SparkSession = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def _quiet_sockets() -> Iterator[None]:
    """pyspark reads results over a local socket that it leaves for the garbage
    collector to close (``pyspark.util._load_from_socket``: "closed when garbage
    collected"), which raises ``ResourceWarning``; collect it here, silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            yield
        finally:
            gc.collect()


@dataclass
class SparkEngine:
    """Spark SQL over the committed files of the lake at ``root``.

    Args:
        root: the lake folder, or its URI on object storage (``s3a://bucket/lake``; the
            cluster needs the hadoop-aws jar, see ``docs/scale-out.md``).
        config: session settings; ignored when ``session`` is given.
        session: an existing session to use (not stopped by :meth:`close`).
    """

    root: Path | str
    config: SparkConfig = field(default_factory=SparkConfig)
    session: SparkSession | None = None
    _owned: bool = field(default=False, init=False, repr=False)
    _name: EngineName = field(default="spark", init=False, repr=False)

    def __post_init__(self) -> None:
        if self.session is None:
            from pyspark.sql import SparkSession

            # joining a session someone else started (a notebook, a test): not ours to stop
            self._owned = SparkSession.getActiveSession() is None
            self.session = spark_session(self.config)

    @property
    def name(self) -> EngineName:
        """``spark``."""
        return self._name

    @property
    def dialect(self) -> Dialect:
        """Spark SQL's spellings."""
        return SPARK_DIALECT

    def sql(self, query: str, inputs: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """Runs ``query`` over the lake's committed files and ``inputs``; returns Arrow.

        Raises:
            QueryError: Spark rejected the query or could not read the files.
        """
        return self._run(query, inputs, lambda df: df)

    def map_in_arrow(
        self,
        query: str,
        fn: Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]],
        schema: pa.Schema,
        *,
        key: str,
        order: str,
        inputs: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        """Runs ``query``, then ``fn`` over each partition's Arrow batches on the executors.

        Rows are hash-partitioned by ``key`` (all rows of one key land in one partition)
        and sorted by ``key, order`` within each partition, so ``fn`` sees every key's
        rows contiguous and in ``order``: what a stateful (streaming) function needs.
        ``fn`` runs in Spark's Python workers through ``mapInArrow`` (Arrow record
        batches, no pandas) and must return batches of ``schema``.

        Raises:
            QueryError: Spark rejected the query, or ``fn`` failed on an executor.
        """
        target = _spark_schema(schema)

        def each_partition(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            # Accepts any iterable and yields: fits mapInArrow's declared type in every
            # pyspark 4.x (4.0 declares Iterable, later releases Iterator).
            yield from fn(batches)

        def build(df: DataFrame) -> DataFrame:
            parts = df.repartition(key).sortWithinPartitions(key, order)
            return parts.mapInArrow(each_partition, target)

        return self._run(query, inputs, build)

    def _run(
        self,
        query: str,
        inputs: Mapping[str, pa.Table] | None,
        build: Callable[[DataFrame], DataFrame],
    ) -> pa.Table:
        spark = self._spark()
        for attempt in range(_ATTEMPTS):
            try:
                with _quiet_sockets():
                    for name, table in (inputs or {}).items():
                        self.frame(table).createOrReplaceTempView(name)
                    for table in referenced_tables(query):
                        self._lake_frame(table).createOrReplaceTempView(table)
                    return _utc(build(spark.sql(query)).toArrow())
            except Exception as exc:  # pyspark raises many unrelated classes
                text = str(exc)
                vanished = any(v in text for v in _VANISHED)
                if not vanished or attempt == _ATTEMPTS - 1:
                    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
                    raise QueryError(
                        f"spark job query failed: {first}\n  SQL: {query.strip()[:500]}"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def frame(self, table: pa.Table) -> DataFrame:
        """A Spark DataFrame of a small Arrow table (calendars, asset lists)."""
        spark = self._spark()
        plain = pa.table(
            {n: _undictionary(c) for n, c in zip(table.column_names, table.columns, strict=True)}
        )
        if plain.num_rows == 0:
            return spark.createDataFrame([], schema=_spark_schema(plain.schema))
        return spark.createDataFrame(plain)

    def close(self) -> None:
        """Stops the session if this engine started it."""
        if self._owned and self.session is not None:
            with _quiet_sockets():
                self.session.stop()
        self.session = None

    def _spark(self) -> SparkSession:
        if self.session is None:
            raise ConfigError("this SparkEngine is closed; make a new one")
        return self.session

    def _lake_frame(self, table: str) -> DataFrame:
        spark = self._spark()
        files = committed_files(self.root, table)
        if not files:
            return spark.createDataFrame([], schema=_spark_schema(lake_view_schema(table)))
        base = files[0][: files[0].rindex(f"/{table}/site=") + len(table) + 1]
        if "://" in str(self.root):
            scheme = str(self.root).split("://", 1)[0]
            files = tuple(f"{scheme}://{f}" for f in files)  # type: ignore[assignment]  # same paths, with scheme
            base = f"{scheme}://{base}"
        from pyspark.sql import functions as F

        df = spark.read.option("basePath", base).parquet(*files)
        return df.withColumn("date", F.col("date").cast("date"))


def _undictionary(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col


def _utc(table: pa.Table) -> pa.Table:
    """Spark hands instants back in the session zone (UTC here): make that explicit."""
    cols = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("us", tz="UTC"))
        cols.append(col)
    return pa.table(dict(zip(table.column_names, cols, strict=True)))


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql import types as T

    def convert(t: pa.DataType) -> Any:
        if pa.types.is_dictionary(t):
            return convert(t.value_type)
        if pa.types.is_timestamp(t):
            return T.TimestampType()
        if pa.types.is_date(t):
            return T.DateType()
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return T.StringType()
        if pa.types.is_floating(t):
            return T.DoubleType()
        if pa.types.is_int16(t):
            return T.ShortType()
        if pa.types.is_int32(t):
            return T.IntegerType()
        if pa.types.is_integer(t):
            return T.LongType()
        if pa.types.is_boolean(t):
            return T.BooleanType()
        raise TypeError(f"no Spark type for Arrow type {t}")

    return T.StructType([T.StructField(f.name, convert(f.type), True) for f in schema])
