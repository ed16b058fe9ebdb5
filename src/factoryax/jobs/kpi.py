"""The KPI/OEE job: ISO 22400-2 KPIs of a period, on DuckDB or on Spark.

On DuckDB the job *is* :func:`factoryax.analytics.compute_kpis` (same SQL, same numbers).
On Spark it runs a Spark SQL translation of the element queries of
``factoryax.analytics.elements`` — seconds per asset, shift instance, loss bucket and
reason, failures, and part counts — and hands them to the same
:func:`factoryax.analytics.kpi.base_rows` / ``group_rows`` and ``KpiRow`` formulas, so the
KPI definitions exist once. The translation keeps every rule of the DuckDB version:

- a reason an operator gave later (``events`` of kind ``downtime.reason``) replaces the
  recorded one, the latest given winning, as in DuckDB;
- state rows are charged to buckets by the same ``CASE`` (:func:`classify_sql`) and clipped
  to the planned busy windows; the range join is an equi-join on UTC-day bins (each row
  and window exploded into the days it touches, the pair kept at the first shared day), so
  Spark hashes instead of looping over every row × window pair;
- rows of an asset that overlap are cut into elementary segments, each owned by the
  overlapping row of highest :data:`PRIORITY` (ties: the later start; compared exactly as
  a (priority, start) pair rather than DuckDB's ``prio * 1e16 + start`` double, which can
  only differ on starts a few microseconds apart);
- a ``down`` row is a new failure unless it continues the previous ``down`` row with the
  same reason across time that holds no busy window;
- parts go to the shift instance containing their ``ts`` (instances never overlap, so
  this equals DuckDB's ``ASOF`` join), via hour bins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from factoryax.analytics import (
    CalendarException,
    KpiConfig,
    KpiTable,
    Period,
    ShiftInstance,
    compute_kpis,
    elapsed,
)
from factoryax.analytics.elements import Elements, empty_parts, empty_time
from factoryax.analytics.kpi import GroupKey, base_rows, group_rows
from factoryax.analytics.notices import kpi_notices, running_notice
from factoryax.analytics.reasons import PRIORITY, ReasonTree, classify_sql
from factoryax.core import ConfigError, PlantModel, utc_now
from factoryax.jobs.base import Engine
from factoryax.lake import Lake

__all__ = ["KpiJob"]

_KEYS: tuple[GroupKey, ...] = ("site", "line", "asset", "day", "week", "shift", "shift_instance")
_TS = pa.timestamp("us", tz="UTC")
_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class KpiJob:
    """ISO 22400-2 KPIs of ``period`` grouped by ``by`` (see ``docs/analytics.md``).

    Args mirror :func:`factoryax.analytics.compute_kpis`.

    Examples:
        >>> import tempfile
        >>> from factoryax.twin import example_plant
        >>> from factoryax.jobs import DuckDBEngine
        >>> job = KpiJob(example_plant(), Period.parse("2026-11-23"))
        >>> table = job.run(DuckDBEngine(tempfile.mkdtemp()))
        >>> [r.key["asset"] for r in table.rows][:2], table.rows[0].availability
        (['cnc-01', 'inspect-01'], 0.0)
    """

    plant: PlantModel
    period: Period
    by: tuple[GroupKey, ...] = ("asset",)
    assets: tuple[str, ...] | None = None
    config: KpiConfig = field(default_factory=KpiConfig)
    exceptions: tuple[CalendarException, ...] = ()
    until: dt.datetime | None = None
    """Planned time after this instant is not counted (default: now), as in analytics."""

    @property
    def name(self) -> str:
        """``kpi``."""
        return "kpi"

    def run(self, engine: Engine) -> KpiTable:
        """Computes the KPIs on ``engine``.

        Raises:
            ConfigError: the plant has no shift calendar, a key or asset is unknown.
            QueryError: the engine could not run the queries.
        """
        if engine.name == "duckdb":
            lake = Lake(Path(engine.root), timezone=self.plant.site.timezone.key)
            return compute_kpis(
                lake,
                self.plant,
                self.period,
                by=self.by,
                assets=self.assets,
                config=self.config,
                exceptions=self.exceptions,
                until=self.until,
            )
        chosen, tree, failure = self._validated()
        planned = self.period.instances(
            self.plant.calendar, self.plant.site.timezone, self.exceptions
        )
        cut = self.until if self.until is not None else utc_now()
        instances = elapsed(planned, cut)
        time_sql = _time_sql(tree, self.config.micro_stop_s, failure, chosen)
        parts_sql = _parts_sql(chosen)
        if instances and chosen:
            windows, shifts = _calendar_tables(instances)
            lo = engine.dialect.instant(min(i.start for i in instances))
            hi = engine.dialect.instant(max(i.end for i in instances))
            inputs = {"_win": windows, "_inst": shifts}
            time = engine.sql(time_sql.format(lo=lo, hi=hi), inputs)
            parts = engine.sql(parts_sql.format(lo=lo, hi=hi), inputs)
        else:
            time, parts = empty_time(), empty_parts()
        elements = Elements(tuple(instances), time, parts, (time_sql, parts_sql))
        base = base_rows(elements, self.plant, chosen, failure)
        rows = group_rows(base, self.by)
        p = parts.to_pydict()
        notices = kpi_notices(
            period_label=self.period.label,
            planned=bool(planned),
            off_shift={
                a: n for a, i, n in zip(p["asset"], p["inst"], p["pq"], strict=True) if i is None
            },
            capped=sorted({", ".join(r.key.values()) for r in rows if r.performance_capped}),
            no_ideal=[a for a in chosen if self.plant.asset(a).ideal_cycle_time_s is None],
            unrecorded_s=sum(r.unrecorded_s for r in rows),
        )
        if planned and instances != planned:
            zone = self.plant.site.timezone
            notices.append(running_notice(self.period.label, cut.astimezone(zone)))
        return KpiTable(self.period, self.by, tuple(rows), tuple(notices), tuple(base), elements)

    def _validated(self) -> tuple[list[str], ReasonTree, frozenset[str] | None]:
        """The checks of ``compute_kpis``, with the same messages."""
        unknown = [k for k in self.by if k not in _KEYS]
        if unknown:
            raise ConfigError(f"unknown KPI grouping {unknown!r}; use some of {list(_KEYS)!r}")
        declared = [a.id for _, a in self.plant.iter_assets()]
        chosen = list(self.assets) if self.assets is not None else declared
        missing = [a for a in chosen if a not in declared]
        if missing:
            raise ConfigError(f"unknown asset(s) {missing!r}; the plant declares {declared!r}")
        tree = ReasonTree.from_plant(self.plant)
        failure = None
        if self.config.failure_reasons is not None:
            undeclared = [c for c in self.config.failure_reasons if c not in tree.reasons]
            if undeclared:
                raise ConfigError(
                    f"failure_reasons {undeclared!r} are not declared downtime reasons; "
                    f"declared: {sorted(tree.reasons)!r}"
                )
            failure = frozenset().union(*(tree.descendants(c) for c in self.config.failure_reasons))
        return chosen, tree, failure


def _calendar_tables(instances: Sequence[ShiftInstance]) -> tuple[pa.Table, pa.Table]:
    """Busy windows (``wid, inst, w_start, w_end``) and shifts (``inst, pot_start, pot_end``),
    numbered as ``factoryax.analytics`` numbers them (``inst`` indexes ``instances``)."""
    rows = sorted((a, b, k) for k, inst in enumerate(instances) for a, b in inst.busy)
    windows = pa.table(
        {
            "wid": pa.array(range(len(rows)), pa.int64()),
            "inst": pa.array([k for _, _, k in rows], pa.int64()),
            "w_start": pa.array([a for a, _, _ in rows], _TS),
            "w_end": pa.array([b for _, b, _ in rows], _TS),
        }
    )
    shifts = pa.table(
        {
            "inst": pa.array(range(len(instances)), pa.int64()),
            "pot_start": pa.array([i.start for i in instances], _TS),
            "pot_end": pa.array([i.end for i in instances], _TS),
        }
    )
    return windows, shifts


def _in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _bins(start: str, end: str, width: int) -> str:
    """Spark SQL: the bins of ``width`` µs that ``[start, end)`` touches (at least one)."""
    return f"sequence({start} div {width}, greatest({start} div {width}, ({end} - 1) div {width}))"


def _time_sql(
    tree: ReasonTree, micro_stop_s: float, failure: frozenset[str] | None, assets: list[str]
) -> str:
    bucket = classify_sql(tree, micro_stop_s, "(unix_micros(`end`) - unix_micros(start)) / 1e6")
    if failure is None:
        counted = "TRUE"
    elif failure:
        counted = "reason_code IN " + _in_list(sorted(failure))
    else:
        counted = "FALSE"
    prio = " ".join(f"WHEN '{b.value}' THEN {p}" for b, p in PRIORITY.items())
    listed = _in_list(assets)
    # doubled braces survive the .format(lo=…, hi=…) that fills in the period's bounds
    return f"""
WITH given AS (
    SELECT CAST(asset AS STRING) AS asset,
           CAST(get_json_object(payload, '$.start') AS TIMESTAMP) AS start,
           max_by(get_json_object(payload, '$.reason_code'), ts) AS reason_code
    FROM events
    WHERE kind = 'downtime.reason' AND asset IN {listed}
    GROUP BY 1, 2
),
st AS (
    SELECT x.state, x.start, x.`end`, CAST(x.asset AS STRING) AS asset,
           coalesce(given.reason_code, CAST(x.reason_code AS STRING)) AS reason_code
    FROM states x LEFT JOIN given
        ON given.asset = CAST(x.asset AS STRING) AND given.start = x.start
    WHERE x.asset IN {listed} AND x.start < {{hi}} AND x.`end` > {{lo}}
),
s AS (
    SELECT asset, reason_code,
           unix_micros(start) AS s_us, unix_micros(`end`) AS e_us, {bucket} AS bucket
    FROM st
),
m AS (
    SELECT *,
        coalesce(s_us < max(e_us) OVER (PARTITION BY asset ORDER BY s_us
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), FALSE)
        OR coalesce(lead(s_us) OVER (PARTITION BY asset ORDER BY s_us) < e_us, FALSE)
            AS overlapped
    FROM s
),
w AS (SELECT wid, inst, unix_micros(w_start) AS ws, unix_micros(w_end) AS we FROM _win),
wb AS (SELECT w.*, explode({_bins("ws", "we", _DAY_US)}) AS bin FROM w),
mb AS (SELECT m.*, explode({_bins("s_us", "e_us", _DAY_US)}) AS bin FROM m),
piece AS (
    SELECT /*+ BROADCAST(wb) */ mb.asset, wb.inst, wb.wid, mb.bucket, mb.reason_code,
           mb.overlapped, mb.s_us, greatest(mb.s_us, wb.ws) AS a, least(mb.e_us, wb.we) AS b
    FROM mb JOIN wb ON mb.bin = wb.bin
    WHERE mb.s_us < wb.we AND mb.e_us > wb.ws
      AND mb.bin = greatest(mb.s_us div {_DAY_US}, wb.ws div {_DAY_US})
),
plain AS (
    SELECT asset, inst, bucket, reason_code, sum(b - a) / 1e6 AS seconds,
           count(*) AS pieces, CAST(0 AS BIGINT) AS failures
    FROM piece WHERE NOT overlapped
    GROUP BY asset, inst, bucket, reason_code
),
o AS (SELECT *, CASE bucket {prio} END AS prio FROM piece WHERE overlapped),
edges AS (
    SELECT DISTINCT asset, inst, t FROM (
        SELECT asset, inst, a AS t FROM o UNION ALL SELECT asset, inst, b AS t FROM o)
),
segs AS (
    SELECT asset, inst, t AS sa, lead(t) OVER (PARTITION BY asset, inst ORDER BY t) AS sb
    FROM edges
),
won AS (
    SELECT g.asset, g.inst, g.sa, g.sb,
           max_by(named_struct('bucket', o.bucket, 'reason', o.reason_code),
                  named_struct('p', o.prio, 's', o.s_us)) AS w
    FROM segs g JOIN o ON o.asset = g.asset AND o.inst = g.inst
    WHERE g.sb IS NOT NULL AND o.a <= g.sa AND o.b >= g.sb
    GROUP BY g.asset, g.inst, g.sa, g.sb
),
resolved AS (
    SELECT asset, inst, w.bucket AS bucket, w.reason AS reason_code,
           sum(sb - sa) / 1e6 AS seconds, count(*) AS pieces, CAST(0 AS BIGINT) AS failures
    FROM won GROUP BY asset, inst, w.bucket, w.reason
),
d AS (
    SELECT asset, reason_code, s_us,
           lag(e_us) OVER (PARTITION BY asset ORDER BY s_us) AS prev_end,
           lag(reason_code) OVER (PARTITION BY asset ORDER BY s_us) AS prev_reason
    FROM s WHERE bucket = 'down' AND ({counted})
),
cand AS (SELECT * FROM d WHERE prev_reason <=> reason_code AND prev_end <= s_us),
cont AS (
    SELECT /*+ BROADCAST(w) */ c.asset, c.s_us FROM cand c
    LEFT ANTI JOIN w ON w.ws < c.s_us AND w.we > c.prev_end
),
fresh AS (SELECT asset, s_us FROM d LEFT ANTI JOIN cont USING (asset, s_us)),
fail AS (
    SELECT p.asset, min(p.wid) AS wid
    FROM piece p JOIN fresh f ON p.asset = f.asset AND p.s_us = f.s_us
    GROUP BY p.asset, p.s_us
),
failures AS (
    SELECT f.asset, w.inst, 'down' AS bucket, CAST(NULL AS STRING) AS reason_code,
           CAST(0.0 AS DOUBLE) AS seconds, CAST(0 AS BIGINT) AS pieces,
           count(*) AS failures
    FROM fail f JOIN w ON f.wid = w.wid
    GROUP BY f.asset, w.inst
)
SELECT asset, CAST(inst AS BIGINT) AS inst, bucket, reason_code, seconds, pieces, failures
FROM plain
UNION ALL SELECT asset, inst, bucket, reason_code, seconds, pieces, failures FROM resolved
UNION ALL SELECT asset, inst, bucket, reason_code, seconds, pieces, failures FROM failures
"""


def _parts_sql(assets: list[str]) -> str:
    listed = _in_list(assets)
    return f"""
WITH i AS (SELECT inst, unix_micros(pot_start) AS ps, unix_micros(pot_end) AS pe FROM _inst),
ib AS (SELECT i.*, explode({_bins("ps", "pe", _HOUR_US)}) AS bin FROM i),
p AS (
    SELECT CAST(asset AS STRING) AS asset, part_id, CAST(result AS STRING) AS result,
           unix_micros(ts) AS t
    FROM production
    WHERE asset IN {listed} AND ts >= {{lo}} AND ts < {{hi}}
),
pj AS (
    SELECT /*+ BROADCAST(ib) */ p.*, ib.inst
    FROM p LEFT JOIN ib ON ib.bin = p.t div {_HOUR_US} AND p.t >= ib.ps AND p.t < ib.pe
),
counts AS (
    SELECT asset, inst, count(*) AS pq,
           count_if(result = 'ok') AS ok,
           count_if(result = 'rework') AS rework,
           count_if(result = 'scrap') AS scrap,
           count_if(result NOT IN ('ok', 'rework', 'scrap')) AS ng
    FROM pj GROUP BY asset, inst
),
bad AS (SELECT DISTINCT asset, part_id FROM p WHERE result <> 'ok'),
fl AS (
    SELECT asset, inst, count(*) AS flagged_rows, count(DISTINCT part_id) AS flagged_parts
    FROM pj LEFT SEMI JOIN bad USING (asset, part_id)
    GROUP BY asset, inst
)
SELECT c.asset, CAST(c.inst AS BIGINT) AS inst, c.pq, c.ok, c.rework, c.scrap, c.ng,
       coalesce(fl.flagged_rows, 0) AS flagged_rows,
       coalesce(fl.flagged_parts, 0) AS flagged_parts
FROM counts c LEFT JOIN fl ON c.asset = fl.asset AND c.inst <=> fl.inst
"""
