"""Query benchmark: per-asset, per-minute avg/min/max over the readings of the lake.

The same SQL runs through ``factoryax.lake`` (its views over the partitioned files) and
through raw DuckDB on the same files; prints both times and the ratio (target <= 1.2x).
Then the dashboard's kind of query (one asset's last hour, many times): ``Lake.query``
against a raw DuckDB connection kept open, and against a new connection per call (what
``Lake.query`` did before it kept its connection).

Usage: python benchmarks/query.py [--rows 10000000] [--dir bench-data] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from _data import example_plant, readings_table, timed
from factoryax.ingest import ingest_rows
from factoryax.lake import Lake

SQL = """
SELECT asset, signal, date_trunc('minute', ts) AS minute,
       avg(value) AS avg, min(value) AS min, max(value) AS max
FROM {table}
GROUP BY ALL
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work: Path = args.dir / "query"
    shutil.rmtree(work, ignore_errors=True)
    plant = example_plant()
    lake = Lake(work / "lake", timezone="UTC")
    table = readings_table(args.rows, plant)
    report = ingest_rows("readings", table, plant=plant, lake=lake, source="bench")
    assert report.readings_accepted == args.rows, report
    lake.compact("readings")
    files = str(work / "lake" / "readings" / "site=*" / "date=*" / "*.parquet")

    raw = duckdb.connect()
    raw.execute("SET TimeZone = 'UTC'")
    raw_sql = SQL.format(table=f"read_parquet('{files}', hive_partitioning = true)")
    ours, theirs = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        t_ours, out_ours = timed(lambda: lake.query(SQL.format(table="readings")))
        t_raw, out_raw = timed(lambda: raw.execute(raw_sql).to_arrow_table())
        assert out_ours.num_rows == out_raw.num_rows
        ours.append(t_ours)
        theirs.append(t_raw)
    m_ours, m_raw = statistics.median(ours), statistics.median(theirs)
    print(
        f"{args.rows:,} readings → {out_ours.num_rows:,} groups; median of {args.repeat}: "
        f"factoryax.lake {m_ours:.3f} s, raw DuckDB {m_raw:.3f} s → {m_ours / m_raw:.2f}x "
        "(target <= 1.2)"
    )
    small(lake, raw, files, args.repeat * 10)
    shutil.rmtree(work, ignore_errors=True)


SMALL = """
SELECT signal, max(ts) AS last, avg(value) AS avg FROM {table}
WHERE asset = 'press-01' AND ts >= TIMESTAMPTZ '2025-01-06 01:00:00+00'
  AND ts < TIMESTAMPTZ '2025-01-06 02:00:00+00'
GROUP BY ALL
"""


def small(lake: Lake, raw: duckdb.DuckDBPyConnection, files: str, n: int) -> None:
    """Many small queries: the per-call overhead, not the scan, dominates."""
    raw_sql = SMALL.format(table=f"read_parquet('{files}', hive_partitioning = true)")

    def per_call() -> object:
        con = duckdb.connect()
        try:
            return con.execute(raw_sql).to_arrow_table()
        finally:
            con.close()

    ours, kept, fresh = [], [], []
    for _ in range(n):
        ours.append(timed(lambda: lake.query(SMALL.format(table="readings")))[0])
        kept.append(timed(lambda: raw.execute(raw_sql).to_arrow_table())[0])
        fresh.append(timed(per_call)[0])
    m = [statistics.median(x) * 1e3 for x in (ours, kept, fresh)]
    print(
        f"small query × {n} (median): factoryax.lake {m[0]:.1f} ms, raw DuckDB kept open "
        f"{m[1]:.1f} ms → {m[0] / m[1]:.2f}x; raw DuckDB new connection per call "
        f"{m[2]:.1f} ms"
    )


if __name__ == "__main__":
    main()
