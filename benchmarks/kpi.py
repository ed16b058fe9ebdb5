"""KPI benchmark: OEE by asset by shift over one simulated year of the example line.

``factoryax.analytics.compute_kpis`` (calendar expansion, loss classification by the
reason tree, overlap reconciliation, failure counting, FPY, every ISO 22400-2 element)
against a hand-written DuckDB query of the same OEE over the same Parquet files: busy
windows joined with ``ASOF``, states classified with a ``CASE``, parts counted per shift.
The hand-written query is the careful one (an ``ASOF`` join, and a range join only for
rows that run past their window); it assumes what the twin's data happens to satisfy
(state rows never overlap) where the library checks it, and computes only A, P, Q and
OEE. Both must give the same OEE for every asset and shift; the script prints both times
and the ratio (target <= 1.5x). ``--naive`` also times the plain range-join query.

The year is simulated once with coarse signal sampling (only ``states`` and
``production`` matter) and kept under ``--dir`` for later runs.

Usage: python benchmarks/kpi.py [--days 364] [--dir bench-data] [--repeat 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from _data import example_plant, timed
from factoryax.analytics import Period, compute_kpis
from factoryax.lake import Lake
from factoryax.twin import simulate

START = dt.date(2026, 1, 5)  # a Monday
SEOUL = ZoneInfo("Asia/Seoul")
TS = pa.timestamp("us", tz="UTC")

HAND_SQL = """
WITH j AS (
    SELECT s.asset, s.state, s.reason_code, s.start, s."end", w.shift_key, w.w_start, w.w_end
    FROM read_parquet('{states}', hive_partitioning = true) s
    ASOF LEFT JOIN win w ON s.start >= w.w_start
),
st AS (
    SELECT asset, shift_key, state, reason_code,
           epoch_us(least("end", w_end)) - epoch_us(greatest(start, w_start)) AS us
    FROM j WHERE shift_key IS NOT NULL AND start < w_end AND "end" <= w_end
    UNION ALL  -- rows running on past their window's end: a range join for these few
    SELECT x.asset, w.shift_key, x.state, x.reason_code,
           epoch_us(least(x."end", w.w_end)) - epoch_us(greatest(x.start, w.w_start))
    FROM (SELECT * FROM j WHERE shift_key IS NULL OR "end" > w_end) x
    JOIN win w ON x.start < w.w_end AND x."end" > w.w_start
),
t AS (
    SELECT asset, shift_key,
           sum(us) FILTER (WHERE state <> 'planned_stop'
                           AND coalesce(reason_code, '') NOT IN ('PLANNED', 'PM')) AS pbt_us,
           sum(us) FILTER (WHERE state = 'running' OR reason_code = 'MINOR') AS apt_us
    FROM st GROUP BY ALL
),
p AS (
    SELECT p.asset, i.shift_key, count(*) AS pq, count(*) FILTER (WHERE result = 'ok') AS gq
    FROM read_parquet('{production}', hive_partitioning = true) p
    ASOF JOIN inst i ON p.ts >= i.pot_start
    WHERE p.ts < i.pot_end
    GROUP BY ALL
)
SELECT t.asset, t.shift_key,
       t.apt_us / t.pbt_us AS a,
       least(ideal.s * p.pq * 1e6 / t.apt_us, 1.0) AS p,
       p.gq / p.pq AS q,
       (t.apt_us / t.pbt_us) * least(ideal.s * p.pq * 1e6 / t.apt_us, 1.0) * (p.gq / p.pq) AS oee
FROM t JOIN p USING (asset, shift_key) JOIN ideal USING (asset)
"""

NAIVE_SQL = HAND_SQL[HAND_SQL.index("t AS (\n    SELECT asset, shift_key,\n") :].replace(
    "FROM st GROUP BY ALL",
    """FROM (
        SELECT s.asset, w.shift_key, s.state, s.reason_code,
               epoch_us(least(s."end", w.w_end)) - epoch_us(greatest(s.start, w.w_start)) AS us
        FROM read_parquet('{states}', hive_partitioning = true) s
        JOIN win w ON s.start < w.w_end AND s."end" > w.w_start
    ) GROUP BY ALL""",
)
NAIVE_SQL = "WITH " + NAIVE_SQL
"""The obvious hand-written version: a plain range join of states with windows."""


def hand_calendar(first: dt.date, days: int) -> tuple[pa.Table, pa.Table]:
    """The example plant's busy windows and shifts, written out by hand for the baseline:
    day 08–20 with breaks 12–13 and 15:30–15:45, night 20–08 with a meal 00–01, Mon–Fri,
    holidays 2026-12-25 and 2027-01-01."""
    holidays = {dt.date(2026, 12, 25), dt.date(2027, 1, 1)}
    windows: list[tuple[str, dt.datetime, dt.datetime]] = []
    shifts: list[tuple[str, dt.datetime, dt.datetime]] = []

    def local(day: dt.date, hour: float) -> dt.datetime:
        base = dt.datetime.combine(day, dt.time(), tzinfo=SEOUL)
        return (base + dt.timedelta(hours=hour)).astimezone(dt.UTC)

    for k in range(days):
        day = first + dt.timedelta(days=k)
        if day.weekday() >= 5 or day in holidays:
            continue
        for name, start, end, busy in (
            ("day", 8, 20, [(8, 12), (13, 15.5), (15.75, 20)]),
            ("night", 20, 32, [(20, 24), (25, 32)]),
        ):
            key = f"{day}/{name}"
            shifts.append((key, local(day, start), local(day, end)))
            windows.extend((key, local(day, a), local(day, b)) for a, b in busy)
    win = pa.table(
        {
            "shift_key": [w[0] for w in windows],
            "w_start": pa.array([w[1] for w in windows], TS),
            "w_end": pa.array([w[2] for w in windows], TS),
        }
    )
    inst = pa.table(
        {
            "shift_key": [s[0] for s in shifts],
            "pot_start": pa.array([s[1] for s in shifts], TS),
            "pot_end": pa.array([s[2] for s in shifts], TS),
        }
    )
    return win, inst


def ensure_year(root: Path, days: int, seed: int) -> Lake:
    """Simulates ``days`` of the example line into ``root`` unless it is already there."""
    marker = root / "params.json"
    params = {"start": str(START), "days": days, "seed": seed}
    lake_dir = root / "lake"
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return Lake(lake_dir, timezone="Asia/Seoul")
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    run = simulate(example_plant(), start=START, days=days, seed=seed, sample_s=86_400)
    lake = Lake(lake_dir, timezone="Asia/Seoul")
    lake.append("states", run.states, unique_keys=True)
    lake.append("production", run.production, unique_keys=True)
    print(
        f"simulated {days} days in {time.perf_counter() - t0:.0f} s: "
        f"{run.states.num_rows:,} state rows, {run.production.num_rows:,} part rows"
    )
    marker.write_text(json.dumps(params))
    return lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--naive", action="store_true", help="Also time the plain range-join version once."
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    plant = example_plant()
    lake = ensure_year(args.dir / "kpi", args.days, args.seed)
    period = Period("range", START, START + dt.timedelta(days=args.days - 1))

    raw = duckdb.connect()
    raw.execute("SET TimeZone = 'Asia/Seoul'")
    win, inst = hand_calendar(START, args.days)
    raw.register("win", win)
    raw.register("inst", inst)
    ideal = {a.id: a.ideal_cycle_time_s for _, a in plant.iter_assets()}
    raw.register("ideal", pa.table({"asset": list(ideal), "s": list(ideal.values())}))
    files = {
        t: str(lake.root / t / "site=*" / "date=*" / "*.parquet") for t in ("states", "production")
    }
    hand_sql = HAND_SQL.format(**files)

    ours, theirs = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        t_ours, table = timed(
            lambda: compute_kpis(lake, plant, period, by=("asset", "shift_instance"))
        )
        t_raw, hand = timed(lambda: raw.execute(hand_sql).to_arrow_table())
        ours.append(t_ours)
        theirs.append(t_raw)
    got = {(r.key["asset"], r.key["shift_instance"]): r.oee for r in table.rows if r.pq}
    want = dict(
        zip(
            zip(
                hand.column("asset").to_pylist(), hand.column("shift_key").to_pylist(), strict=True
            ),
            hand.column("oee").to_pylist(),
            strict=True,
        )
    )
    assert set(got) == set(want), (len(got), len(want))
    worst = max(abs((got[k] or 0.0) - want[k]) for k in want)
    assert worst < 1e-9, sorted((abs((got[k] or 0.0) - want[k]), k) for k in want)[-3:]
    m_ours, m_raw = statistics.median(ours), statistics.median(theirs)
    print(
        f"{args.days} days, {len(want):,} asset-shifts, OEE equal to {worst:.1e}; median of "
        f"{args.repeat}: factoryax.analytics {m_ours:.2f} s, hand-written DuckDB {m_raw:.2f} s "
        f"→ {m_ours / m_raw:.2f}x (target <= 1.5)"
    )
    if args.naive:
        t_naive, _ = timed(lambda: raw.execute(NAIVE_SQL.format(**files)).fetchall())
        print(f"plain range-join SQL: {t_naive:.2f} s → ours is {m_ours / t_naive:.2f}x of it")


if __name__ == "__main__":
    main()
