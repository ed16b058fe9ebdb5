"""The SPC baseline job: I-MR control limits of every signal over a baseline period.

For each asset and signal, over the readings of ``period`` (its shifts' span, as
:func:`factoryax.analytics.signal_chart` reads it: value present, quality not ``bad``), in
time order: the centre line x̄, the mean moving range MR̄ of consecutive values, σ̂ =
MR̄ / d2(2) and the limits x̄ ± 3σ̂ (NIST/SEMATECH e-Handbook §6.3.2.2); MR chart UCL =
D4·MR̄. These are exactly the limits ``signal_chart(..., kind="I-MR")`` computes for one
signal, here for all signals in one pass, one query text for both engines.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from factoryax.analytics import CalendarException, Period, control_constants
from factoryax.analytics.spc import d2
from factoryax.core import ConfigError, PlantModel
from factoryax.jobs.base import Engine

__all__ = ["SpcBaselineJob"]


@dataclass(frozen=True)
class SpcBaselineJob:
    """I-MR baselines of ``assets`` (default: all) over ``period``.

    Examples:
        >>> import tempfile
        >>> from factoryax.twin import example_plant
        >>> from factoryax.jobs import DuckDBEngine
        >>> job = SpcBaselineJob(example_plant(), Period.parse("2026-11-23"))
        >>> job.run(DuckDBEngine(tempfile.mkdtemp())).num_rows
        0
    """

    plant: PlantModel
    period: Period
    assets: tuple[str, ...] | None = None
    exceptions: tuple[CalendarException, ...] = ()

    @property
    def name(self) -> str:
        """``spc-baseline``."""
        return "spc-baseline"

    def sql(self, engine: Engine) -> str:
        """The query this job runs on ``engine`` (for tracing a limit to its source)."""
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
        return f"""
WITH r AS (
    SELECT CAST(asset AS STRING) AS asset, CAST(signal AS STRING) AS signal, ts, value
    FROM readings
    WHERE ts >= {d.instant(start)} AND ts < {d.instant(end)} AND value IS NOT NULL
      AND coalesce(CAST(quality AS STRING), 'good') <> 'bad' AND asset IN ({listed})
),
m AS (
    SELECT asset, signal, value,
           abs(value - lag(value) OVER (PARTITION BY asset, signal ORDER BY ts)) AS mr
    FROM r
)
SELECT asset, signal, count(*) AS n, avg(value) AS center, avg(mr) AS mr_bar
FROM m GROUP BY asset, signal
"""

    def run(self, engine: Engine) -> pa.Table:
        """Computes the baselines on ``engine``.

        Returns columns ``asset, signal, n, center, mr_bar, sigma, ucl, lcl, mr_ucl``,
        sorted by asset and signal; limits are null where fewer than two values were found.

        Raises:
            ConfigError: an asset is not declared.
            QueryError: the engine could not run the query.
        """
        raw = engine.sql(self.sql(engine))
        raw = raw.sort_by([("asset", "ascending"), ("signal", "ascending")])
        n = raw.column("n").cast(pa.int64())
        center = raw.column("center").cast(pa.float64())
        mr_bar = pc.if_else(pc.greater_equal(n, 2), raw.column("mr_bar"), None).cast(pa.float64())
        sigma = pc.divide(mr_bar, d2(2))
        spread = pc.multiply(sigma, 3.0)
        return pa.table(
            {
                "asset": raw.column("asset").cast(pa.string()),
                "signal": raw.column("signal").cast(pa.string()),
                "n": n,
                "center": center,
                "mr_bar": mr_bar,
                "sigma": sigma,
                "ucl": pc.add(center, spread),
                "lcl": pc.subtract(center, spread),
                "mr_ucl": pc.multiply(mr_bar, control_constants(2).d4_factor),
            }
        )
