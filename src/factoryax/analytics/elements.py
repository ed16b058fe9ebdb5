"""KPI elements from the lake: seconds per loss bucket and part counts per shift instance.

DuckDB does the heavy lifting, so a year of state rows never enters Python:

1. **One pass over ``states``.** Each row is charged to a
   :class:`~factoryax.analytics.reasons.Bucket`, placed in its planned busy window by a
   hash join on the minute it starts in (see :data:`_MINUTES_SQL`), and summed per asset,
   shift instance, bucket and reason. A narrow check (:data:`_OVERLAP_SQL`) runs first;
   only when some rows of an asset overlap does this pass also flag each row against its
   neighbours (a wide sort). Rows the minute cannot place — spanning windows, starting in
   a partial minute — overlapping rows, and every ``down`` row are set aside as lists.
   A reason an operator gave later (an ``events`` row of kind ``downtime.reason`` whose
   payload names the stop's ``start`` and ``reason_code``; the dashboard writes them)
   replaces the recorded reason; the latest one given wins.
2. **The set-aside rows** (few) are clipped to the windows with a range join. Overlapping
   rows are cut into elementary segments and each segment goes to the overlapping row of
   highest :data:`~factoryax.analytics.reasons.PRIORITY` (ties: the later start), so no
   second counts twice. A *failure* is a ``down`` row that does not merely continue the
   previous ``down`` row with the same reason across time that is not planned busy time
   (a breakdown interrupted by the lunch break is one failure).
3. **One pass over ``production``.** Each part row is found its shift instance (``ASOF`` on
   the shift start, kept when before the shift end) and counted by result; parts made
   outside every shift are counted apart (``inst`` null) and reported, never dropped. A
   second, narrow pass counts the rows of parts that ever failed, which is all FPY needs
   to tell first passes from re-processing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from factoryax.analytics.calendar import ShiftInstance
from factoryax.analytics.reasons import PRIORITY, ReasonTree, classify_sql
from factoryax.core import QueryError
from factoryax.lake import Lake

__all__ = ["Elements", "empty_parts", "empty_time", "load_elements"]

_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Elements:
    """What the lake says about some assets over some shift instances.

    Attributes:
        instances: the shift instances; the ``inst`` columns index this tuple.
        time: ``asset, inst, bucket, reason_code, seconds, pieces, failures``, inside
            planned busy windows only, overlaps resolved.
        parts: ``asset, inst, pq, ok, rework, scrap, ng, flagged_rows, flagged_parts``;
            ``inst`` is null for parts made outside every shift. ``flagged_*`` count the
            rows and the parts of parts that had a result other than ``ok`` in the period.
        sql: the queries, so that every number can be traced to its source.
    """

    instances: tuple[ShiftInstance, ...]
    time: pa.Table
    parts: pa.Table
    sql: tuple[str, ...]


def load_elements(
    lake: Lake,
    instances: Sequence[ShiftInstance],
    assets: Sequence[str],
    tree: ReasonTree,
    *,
    micro_stop_s: float = 0.0,
    failure_reasons: frozenset[str] | None = None,
) -> Elements:
    """Runs the queries for ``assets`` over ``instances``.

    Args:
        lake: the lake to read ``states`` and ``production`` from.
        instances: the shift instances (sorted or not).
        assets: asset ids to include.
        tree: the plant's reason tree (decides the buckets).
        micro_stop_s: unexplained idle shorter than this is a micro-stop.
        failure_reasons: reason codes whose ``down`` rows count as failures; None counts
            every ``down`` row.

    Raises:
        QueryError: DuckDB rejected a query (the message carries its explanation).
    """
    listed = _in_list(assets)
    sql = (
        _time_sql(tree, micro_stop_s, True, listed),
        _rest_sql(failure_reasons),
        _PARTS_SQL.replace("{assets}", listed),
        _FLAGGED_SQL.replace("{assets}", listed),
    )
    if not instances or not assets:
        return Elements(tuple(instances), empty_time(), empty_parts(), sql)
    windows, shifts = _calendar_tables(instances)
    lo = min(i.start for i in instances)
    hi = max(i.end for i in instances)
    con = lake.connect()
    try:
        con.register("_win", windows)
        con.register("_inst", shifts)
        con.execute(_MINUTES_SQL, [lo])
        row = con.execute(_OVERLAP_SQL.replace("{assets}", listed), [lo, hi]).fetchone()
        if not (row and row[0]):  # no overlapping rows: skip the per-row overlap pass
            sql = (_time_sql(tree, micro_stop_s, False, listed), *sql[1:])
        main = con.execute(sql[0], [lo, hi]).to_arrow_table()
        con.register("_rows", _set_aside(main))
        rest = con.execute(sql[1]).to_arrow_table()
        parts = con.execute(sql[2], [lo, hi]).to_arrow_table()
        flagged = con.execute(sql[3], [lo, hi]).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(f"KPI query failed: {exc}") from None
    finally:
        con.close()
    fast = main.drop_columns(["rows"]).append_column(
        "failures", pa.array([0] * main.num_rows, pa.int64())
    )
    fast = fast.filter(pc.is_valid(fast.column("inst")))
    time = pa.concat_tables([fast.cast(rest.schema), rest])
    return Elements(tuple(instances), time, _with_flagged(parts, flagged), sql)


def _with_flagged(parts: pa.Table, flagged: pa.Table) -> pa.Table:
    """``parts`` with the flagged row and part counts of the same asset and shift."""
    found = {
        (a, i): (r, n)
        for a, i, r, n in zip(
            flagged.column("asset").to_pylist(),
            flagged.column("inst").to_pylist(),
            flagged.column("flagged_rows").to_pylist(),
            flagged.column("flagged_parts").to_pylist(),
            strict=True,
        )
    }
    keys = zip(parts.column("asset").to_pylist(), parts.column("inst").to_pylist(), strict=True)
    pairs = [found.get(k, (0, 0)) for k in keys]
    return parts.append_column(
        "flagged_rows", pa.array([r for r, _ in pairs], pa.int64())
    ).append_column("flagged_parts", pa.array([n for _, n in pairs], pa.int64()))


def _set_aside(main: pa.Table) -> pa.Table:
    """The rows listed by the main query, one per row, with their asset/bucket/reason."""
    out: dict[str, list[object]] = {
        k: [] for k in ("asset", "bucket", "reason_code", "start", "end", "path")
    }
    for asset, bucket, reason, rows in zip(
        main.column("asset").to_pylist(),
        main.column("bucket").to_pylist(),
        main.column("reason_code").to_pylist(),
        main.column("rows").to_pylist(),
        strict=True,
    ):
        for row in rows or ():
            out["asset"].append(asset)
            out["bucket"].append(bucket)
            out["reason_code"].append(reason)
            out["start"].append(row["start"])
            out["end"].append(row["end"])
            out["path"].append(row["path"])
    return pa.table(
        {
            "asset": pa.array(out["asset"], pa.string()),
            "bucket": pa.array(out["bucket"], pa.string()),
            "reason_code": pa.array(out["reason_code"], pa.string()),
            "start": pa.array(out["start"], _TS),
            "end": pa.array(out["end"], _TS),
            "path": pa.array(out["path"], pa.int32()),
        }
    )


def _calendar_tables(instances: Sequence[ShiftInstance]) -> tuple[pa.Table, pa.Table]:
    """The busy windows and the shift instances as Arrow tables."""
    rows = sorted(((a, b, k) for k, inst in enumerate(instances) for a, b in inst.busy))
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
    return windows, shifts.sort_by("pot_start")


_MINUTES_SQL = """
CREATE OR REPLACE TEMP TABLE _minutes AS
WITH g AS (SELECT w_start, lag(w_end) OVER (ORDER BY w_start) AS prev_end FROM _win)
SELECT inst, w_end AS edge,
       unnest(range((epoch_us(w_start) + 59999999) // 60000000,
                    epoch_us(w_end) // 60000000)) AS minute
FROM _win
UNION ALL
SELECT NULL, w_start,
       unnest(range((epoch_us(coalesce(prev_end, $1)) + 59999999) // 60000000,
                    epoch_us(w_start) // 60000000))
FROM g
"""
"""Every whole minute of the span that lies inside one busy window (``inst``; ``edge`` is
the window's end) or inside one gap between windows (``edge`` is the next window's start).
A hash join on the minute a row starts in places it without sorting; a row a minute
cannot place falls through to the range join, so the result never depends on it."""


_OVERLAP_SQL = """
SELECT count(*) FROM (
    SELECT start, lag("end") OVER (PARTITION BY asset ORDER BY start) AS previous_end
    FROM states
    WHERE asset IN {assets} AND start < $2 AND "end" > $1
) WHERE start < previous_end
"""
"""Rows starting before their predecessor ends. Any two overlapping rows imply such a pair
(the row after the earlier one starts before that one ends), so zero means no overlaps at
all and the main query can skip flagging rows one by one (a narrow sort, not a wide one)."""


def _in_list(values: Sequence[str]) -> str:
    """A SQL ``IN`` list of string literals (pushed into the Parquet scan as a filter)."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _time_sql(tree: ReasonTree, micro_stop_s: float, overlaps: bool, assets: str) -> str:
    bucket = classify_sql(tree, micro_stop_s, '(epoch_us("end") - epoch_us(start)) / 1e6')
    flag = (
        """coalesce(start < max("end") OVER (PARTITION BY asset ORDER BY start
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), FALSE)
        OR coalesce(lead(start) OVER (PARTITION BY asset ORDER BY start) < "end", FALSE)"""
        if overlaps
        else "FALSE"
    )
    return f"""
WITH given AS (
    SELECT asset::VARCHAR AS asset,
           CAST(json_extract_string(payload, '$.start') AS TIMESTAMPTZ) AS start,
           arg_max(json_extract_string(payload, '$.reason_code'), ts) AS reason_code
    FROM events
    WHERE kind = 'downtime.reason' AND asset IN {assets}
    GROUP BY ALL
),
st AS (
    SELECT x.* REPLACE (coalesce(given.reason_code, x.reason_code::VARCHAR) AS reason_code)
    FROM states x LEFT JOIN given ON given.asset = x.asset::VARCHAR AND given.start = x.start
    WHERE x.asset IN {assets} AND x.start < $2 AND x."end" > $1
),
s AS (
    SELECT asset::VARCHAR AS asset, reason_code::VARCHAR AS reason_code, start, "end",
           {bucket} AS bucket
    FROM st
),
m AS (SELECT *, {flag} AS overlapped FROM s),
c AS (
    SELECT m.*, k.inst,
        CASE WHEN overlapped THEN 2
             WHEN k.inst IS NOT NULL AND m."end" <= k.edge THEN 0
             WHEN k.minute IS NOT NULL AND k.inst IS NULL AND m."end" <= k.edge THEN -1
             ELSE 1 END AS path
    FROM m LEFT JOIN _minutes k ON epoch_us(m.start) // 60000000 = k.minute
)
SELECT asset, CASE WHEN path = 0 THEN inst END AS inst, bucket, reason_code,
       coalesce(sum(epoch_us("end") - epoch_us(start)) FILTER (WHERE path = 0), 0) / 1e6
           AS seconds,
       count(*) FILTER (WHERE path = 0) AS pieces,
       list({{'start': start, 'end': "end", 'path': path}})
           FILTER (WHERE path > 0 OR bucket = 'down') AS rows
FROM c WHERE path >= 0 OR bucket = 'down'
GROUP BY ALL
"""


def _rest_sql(failure_reasons: frozenset[str] | None) -> str:
    if failure_reasons is None:
        counted = "TRUE"
    elif failure_reasons:
        codes = ", ".join("'" + c.replace("'", "''") + "'" for c in sorted(failure_reasons))
        counted = f"reason_code IN ({codes})"
    else:
        counted = "FALSE"
    prio = " ".join(f"WHEN '{b.value}' THEN {p}" for b, p in PRIORITY.items())
    return f"""
WITH r AS (SELECT *, CASE bucket {prio} END AS prio FROM _rows),
multi AS (
    SELECT r.asset, w.inst, r.bucket, r.reason_code, r.path, r.prio, r.start,
           greatest(r.start, w.w_start) AS a, least(r."end", w.w_end) AS b
    FROM r JOIN _win w ON r.start < w.w_end AND r."end" > w.w_start
    WHERE r.path > 0
),
o AS (SELECT * FROM multi WHERE path = 2),
edges AS (
    SELECT DISTINCT asset, inst, t FROM (
        SELECT asset, inst, a AS t FROM o UNION ALL SELECT asset, inst, b FROM o)
),
segs AS (
    SELECT asset, inst, t AS sa, lead(t) OVER (PARTITION BY asset, inst ORDER BY t) AS sb
    FROM edges
),
won AS (
    SELECT g.asset, g.inst, g.sa AS a, g.sb AS b,
           arg_max({{'bucket': o.bucket, 'reason': o.reason_code}},
                   o.prio * 1e16 + epoch_us(o.start)) AS w
    FROM segs g JOIN o ON o.asset = g.asset AND o.inst = g.inst AND o.a <= g.sa AND o.b >= g.sb
    WHERE g.sb IS NOT NULL
    GROUP BY g.asset, g.inst, g.sa, g.sb
),
d AS (
    SELECT asset, reason_code, start, "end",
           lag("end") OVER (PARTITION BY asset ORDER BY start) AS prev_end,
           lag(reason_code) OVER (PARTITION BY asset ORDER BY start) AS prev_reason
    FROM r WHERE bucket = 'down' AND ({counted})
),
fail AS (
    SELECT d.asset, min(w.wid) AS wid
    FROM d JOIN _win w ON d.start < w.w_end AND d."end" > w.w_start
    WHERE NOT coalesce(d.prev_reason IS NOT DISTINCT FROM d.reason_code
                       AND d.prev_end <= d.start AND NOT EXISTS (
                           SELECT 1 FROM _win g
                           WHERE g.w_start < d.start AND g.w_end > d.prev_end), FALSE)
    GROUP BY d.asset, d.start
),
res AS (
    SELECT asset, inst, bucket, reason_code, a, b, 0 AS failure FROM multi WHERE path = 1
    UNION ALL
    SELECT asset, inst, w.bucket, w.reason, a, b, 0 FROM won
    UNION ALL
    SELECT f.asset, w.inst, 'down', NULL, NULL, NULL, 1
    FROM fail f JOIN _win w ON f.wid = w.wid
)
SELECT asset::VARCHAR AS asset, inst::BIGINT AS inst, bucket::VARCHAR AS bucket,
       reason_code::VARCHAR AS reason_code,
       coalesce(sum(epoch_us(b) - epoch_us(a)), 0) / 1e6 AS seconds,
       count(a) AS pieces,
       coalesce(sum(failure), 0)::BIGINT AS failures
FROM res GROUP BY ALL
"""


_PARTS_SQL = """
WITH p AS (
    SELECT asset::VARCHAR AS asset, ts, result::VARCHAR AS result
    FROM production
    WHERE asset IN {assets} AND ts >= $1 AND ts < $2
),
pj AS (
    SELECT p.asset, p.result, CASE WHEN p.ts < i.pot_end THEN i.inst END AS inst
    FROM p ASOF LEFT JOIN _inst i ON p.ts >= i.pot_start
)
SELECT asset, inst,
       count(*) AS pq,
       count(*) FILTER (WHERE result = 'ok') AS ok,
       count(*) FILTER (WHERE result = 'rework') AS rework,
       count(*) FILTER (WHERE result = 'scrap') AS scrap,
       count(*) FILTER (WHERE result NOT IN ('ok', 'rework', 'scrap')) AS ng
FROM pj GROUP BY ALL
"""

_FLAGGED_SQL = """
WITH bad AS (
    SELECT DISTINCT asset::VARCHAR AS asset, part_id FROM production
    WHERE asset IN {assets} AND ts >= $1 AND ts < $2 AND result <> 'ok'
),
f AS (
    SELECT p.asset::VARCHAR AS asset, p.ts, p.part_id FROM production p
    SEMI JOIN bad b ON p.asset = b.asset AND p.part_id = b.part_id
    WHERE p.ts >= $1 AND p.ts < $2
),
fj AS (
    SELECT f.asset, f.part_id, CASE WHEN f.ts < i.pot_end THEN i.inst END AS inst
    FROM f ASOF LEFT JOIN _inst i ON f.ts >= i.pot_start
)
SELECT asset, inst, count(*) AS flagged_rows, count(DISTINCT part_id) AS flagged_parts
FROM fj GROUP BY ALL
"""
"""Rows and parts, per shift, of the parts that had a result other than ``ok`` anywhere
in the period: the only parts that can have been processed more than once (for FPY)."""


def empty_time() -> pa.Table:
    """The time elements of a period with no planned shift (no rows, every column)."""
    return pa.table(
        {
            "asset": pa.array([], pa.string()),
            "inst": pa.array([], pa.int64()),
            "bucket": pa.array([], pa.string()),
            "reason_code": pa.array([], pa.string()),
            "seconds": pa.array([], pa.float64()),
            "pieces": pa.array([], pa.int64()),
            "failures": pa.array([], pa.int64()),
        }
    )


def empty_parts() -> pa.Table:
    """The part counts of a period with no planned shift (no rows, every column)."""
    cols = ("pq", "ok", "rework", "scrap", "ng", "flagged_rows", "flagged_parts")
    return pa.table(
        {
            "asset": pa.array([], pa.string()),
            "inst": pa.array([], pa.int64()),
            **{c: pa.array([], pa.int64()) for c in cols},
        }
    )
