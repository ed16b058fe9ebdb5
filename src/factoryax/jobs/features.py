"""The feature job: per-asset, per-signal statistics over tumbling time windows.

What detectors learn from in batch: for each asset, signal and window of ``window_s``
seconds (aligned to the epoch, so windows are the same whatever the period), the count,
mean, sample standard deviation, minimum, maximum and root mean square of the readings
(value present, quality not ``bad``). One query text runs on both engines; the result is
long (one row per asset × signal × window) and a detector pivots it to wide in memory.
Detector batch scoring and backtests (``factoryax.detect``) are to read this output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from factoryax.analytics import CalendarException, Period
from factoryax.core import ConfigError, PlantModel
from factoryax.jobs.base import Engine

__all__ = ["FeatureJob"]


@dataclass(frozen=True)
class FeatureJob:
    """Windowed features of ``assets`` (default: all) over ``period``.

    Examples:
        >>> import tempfile
        >>> from factoryax.twin import example_plant
        >>> from factoryax.jobs import DuckDBEngine
        >>> job = FeatureJob(example_plant(), Period.parse("2026-11-23"), window_s=60)
        >>> job.run(DuckDBEngine(tempfile.mkdtemp())).column_names[:4]
        ['asset', 'signal', 'window_start', 'n']
    """

    plant: PlantModel
    period: Period
    window_s: int = 60
    assets: tuple[str, ...] | None = None
    exceptions: tuple[CalendarException, ...] = ()

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ConfigError(
                f"feature job: `window_s` must be > 0 seconds, got {self.window_s!r}; "
                "pass e.g. --window-s 60"
            )

    @property
    def name(self) -> str:
        """``features``."""
        return "features"

    def sql(self, engine: Engine) -> str:
        """The query this job runs on ``engine``."""
        d = engine.dialect
        start, end = self.period.span(
            self.plant.calendar, self.plant.site.timezone, self.exceptions
        )
        declared = [a.id for _, a in self.plant.iter_assets()]
        chosen = list(self.assets) if self.assets is not None else declared
        missing = [a for a in chosen if a not in declared]
        if missing:
            raise ConfigError(f"unknown asset(s) {missing!r}; the plant declares {declared!r}")
        listed = ", ".join("'" + a.replace("'", "''") + "'" for a in chosen) or "NULL"
        width = int(self.window_s) * 1_000_000
        window = d.idiv(d.micros("ts"), str(width))
        return f"""
SELECT CAST(asset AS STRING) AS asset, CAST(signal AS STRING) AS signal,
       {d.from_micros_fn}({window} * {width}) AS window_start,
       count(*) AS n, avg(value) AS mean, stddev_samp(value) AS std,
       min(value) AS min, max(value) AS max, sqrt(avg(value * value)) AS rms
FROM readings
WHERE ts >= {d.instant(start)} AND ts < {d.instant(end)} AND value IS NOT NULL
  AND coalesce(CAST(quality AS STRING), 'good') <> 'bad' AND asset IN ({listed})
GROUP BY CAST(asset AS STRING), CAST(signal AS STRING), {window}
"""

    def run(self, engine: Engine) -> pa.Table:
        """Computes the features on ``engine``, sorted by asset, signal and window.

        Raises:
            ConfigError: an asset is not declared.
            QueryError: the engine could not run the query.
        """
        out = engine.sql(self.sql(engine))
        out = out.sort_by(
            [("asset", "ascending"), ("signal", "ascending"), ("window_start", "ascending")]
        )
        schema = pa.schema(
            [
                ("asset", pa.string()),
                ("signal", pa.string()),
                ("window_start", pa.timestamp("us", tz="UTC")),
                ("n", pa.int64()),
                ("mean", pa.float64()),
                ("std", pa.float64()),
                ("min", pa.float64()),
                ("max", pa.float64()),
                ("rms", pa.float64()),
            ]
        )
        return out.select(schema.names).cast(schema)
