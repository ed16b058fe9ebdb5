"""Query benchmark: per-asset, per-minute avg/min/max over the readings of the lake.

The same SQL runs through ``factoryax.lake`` (its views over the partitioned files) and
through raw DuckDB on the same files; prints both times and the ratio (target <= 1.2x).

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
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
