"""The ports of the batch jobs: an :class:`Engine` runs SQL over the lake, a :class:`Job`
is one piece of batch work that runs on any engine.

An engine is bound to one lake root and exposes its tables (``readings``, ``states``,
``production``, ``events``, ``quarantine``) as SQL views over the *committed* files only
(see :mod:`factoryax.jobs.layout`), plus any small Arrow tables a job hands it (a shift
calendar, a list of assets). Each call to :meth:`Engine.sql` lists the files afresh, so
one call sees one consistent snapshot of the lake.

Two engines exist: :class:`~factoryax.jobs.duckdb.DuckDBEngine` (in-process, the default)
and :class:`~factoryax.jobs.spark.SparkEngine` (pyspark, local mode or any cluster by
master URL). SQL dialects differ in a handful of functions; a job writes those through
the engine's :class:`Dialect` so one query text serves both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypeVar, runtime_checkable

import pyarrow as pa

__all__ = ["DUCKDB_DIALECT", "SPARK_DIALECT", "Dialect", "Engine", "EngineName", "Job", "R"]

EngineName = Literal["duckdb", "spark"]

R = TypeVar("R", covariant=True)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Dialect:
    """The few SQL spellings that differ between engines.

    Attributes:
        name: the engine's name.
        micros_fn: function from an instant to integer microseconds since the epoch.
        from_micros_fn: function from integer microseconds to an instant.
        quote: identifier quote character.
        idiv_op: integer division operator.

    Examples:
        >>> d = Dialect("spark", "unix_micros", "timestamp_micros", "`")
        >>> d.micros("ts"), d.ident("end")
        ('unix_micros(ts)', '`end`')
        >>> d.instant(dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC))
        'timestamp_micros(1000000)'
    """

    name: EngineName
    micros_fn: str
    from_micros_fn: str
    quote: str
    idiv_op: str = "div"

    def micros(self, expr: str) -> str:
        """SQL for ``expr`` (an instant) as int64 microseconds since 1970-01-01 UTC."""
        return f"{self.micros_fn}({expr})"

    def instant(self, value: dt.datetime) -> str:
        """An exact, zone-free SQL literal for an aware instant."""
        if value.tzinfo is None:
            raise ValueError(f"instant {value!r} is naive; pass a timezone-aware datetime")
        return f"{self.from_micros_fn}({(value - _EPOCH) // dt.timedelta(microseconds=1)})"

    def idiv(self, a: str, b: str) -> str:
        """SQL for the integer quotient ``a / b`` (floor for the non-negative values used)."""
        return f"({a} {self.idiv_op} {b})"

    def ident(self, name: str) -> str:
        """A quoted identifier (``end`` is reserved in both dialects)."""
        return f"{self.quote}{name}{self.quote}"


DUCKDB_DIALECT = Dialect("duckdb", "epoch_us", "make_timestamptz", '"', "//")
SPARK_DIALECT = Dialect("spark", "unix_micros", "timestamp_micros", "`")


@runtime_checkable
class Engine(Protocol):
    """Runs SQL over the committed files of one lake (the port; adapters carry the tech)."""

    @property
    def name(self) -> EngineName:
        """``duckdb`` or ``spark``."""
        ...

    @property
    def root(self) -> Path | str:
        """The lake folder (or its URI on object storage)."""
        ...

    @property
    def dialect(self) -> Dialect:
        """How this engine spells the functions that differ."""
        ...

    def sql(self, query: str, inputs: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """Runs ``query`` with the lake tables and ``inputs`` as views; returns Arrow.

        Raises:
            QueryError: the engine rejected the query (its message is kept).
        """
        ...

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
        """Runs ``query``, then ``fn`` over its rows as Arrow batches, every ``key``'s rows
        in one partition, contiguous and sorted by ``order``; returns ``fn``'s output.

        Spark runs ``fn`` on the executors (``mapInArrow``), DuckDB in-process: one
        function, so per-row model math exists once.

        Raises:
            QueryError: the engine rejected the query or ``fn`` failed.
        """
        ...

    def close(self) -> None:
        """Releases what the engine holds (connections, a Spark session it started)."""
        ...


class Job(Protocol[R]):
    """One batch job: a frozen description of the work, runnable on any engine.

    Detector batch scoring and backtests (:class:`~factoryax.jobs.score.ScoreJob`,
    :class:`~factoryax.jobs.score.BacktestJob`) pivot readings in SQL and score them
    with ``factoryax.detect``'s own NumPy code through :meth:`Engine.map_in_arrow`.
    """

    @property
    def name(self) -> str:
        """The job's name in ``factoryax jobs list``."""
        ...

    def run(self, engine: Engine) -> R:
        """Runs the job on ``engine`` and returns its result."""
        ...
