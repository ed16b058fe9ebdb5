"""Scale-out benchmark: the KPI job on DuckDB and on Spark local[2], side by side.

Builds a synthetic lake for the example line (5 assets, two shifts, Mon-Fri): ``--sizes``
part records (``production`` rows: the KPI job's big input; its ``states`` rows, about one
per asset every 10 minutes, come on top and are printed) spread over as many days as keep
the cycle time near 1.6-2.5 s. Runs :class:`factoryax.jobs.KpiJob` (OEE by asset × shift
instance over the whole span) on :class:`DuckDBEngine` (= ``factoryax.analytics``) and on
:class:`SparkEngine` with ``--master`` (default ``local[2]``: the same two cores), checks
that every row agrees (counts exactly, floats to 1e-9 relative), and prints both times and
the ratio Spark/DuckDB. Spark's session start-up is timed apart (paid once per process).

The lake is left as appended (one or two files per table and UTC day).

``--ibis`` also measures the dataframe layer: one aggregation (parts per asset, UTC day and
result) written as hand SQL and as an Ibis expression, on both backends, at the first size.

The data is deleted afterwards (``--keep`` keeps it); the disk it used is printed.

Usage: nice python benchmarks/spark.py [--sizes 10000000,100000000] [--dir bench-data]
           [--master local[2]] [--repeat 1] [--ibis] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))
from _data import example_plant, timed
from factoryax.analytics import KpiRow, Period
from factoryax.jobs import DuckDBEngine, KpiJob, SparkConfig, SparkEngine, spark_session
from factoryax.lake import Lake

START = dt.date(2026, 1, 5)  # a Monday
SEOUL = ZoneInfo("Asia/Seoul")
TS = pa.timestamp("us", tz="UTC")
ASSETS = ("press-01", "cnc-01", "wash-01", "inspect-01", "pack-01")
KINDS = (  # (state, reason, share)
    ("running", None, 0.70),
    ("idle", "STARVED", 0.06),
    ("idle", None, 0.04),
    ("idle", "MINOR", 0.05),
    ("down", "TOOL", 0.05),
    ("down", None, 0.03),
    ("setup", "CHANGEOVER", 0.05),
    ("planned_stop", "PM", 0.02),
)
RESULTS = (("ok", 0.97), ("rework", 0.015), ("scrap", 0.01), ("ng", 0.005))


def build_lake(root: Path, parts: int, seed: int = 3) -> tuple[Lake, int, int]:
    """Writes ``parts`` production rows and the matching states; returns (lake, days, states)."""
    days = max(7, math.ceil(parts / (len(ASSETS) * 55_000)))
    per_day = parts // (len(ASSETS) * days)
    rng = np.random.default_rng(seed)
    lake = Lake(root, timezone="Asia/Seoul")
    day_us = 86_400_000_000
    n_states = 0
    kinds = np.array([k[2] for k in KINDS])
    results = pa.array([r for r, _ in RESULTS])
    for d in range(days):
        day = START + dt.timedelta(days=d)
        t0 = int(dt.datetime.combine(day, dt.time(), tzinfo=SEOUL).timestamp() * 1_000_000)
        count = per_day + (parts - per_day * len(ASSETS) * days if d == days - 1 else 0) // len(
            ASSETS
        )
        prod, states = [], []
        for a, asset in enumerate(ASSETS):
            ts = np.sort(rng.integers(t0, t0 + day_us, count))
            ts = np.unique(ts)  # (asset, part_id, ts) is the key; keep instants distinct
            which = rng.choice(len(RESULTS), len(ts), p=[p for _, p in RESULTS])
            ids = pc.add(pa.array(np.arange(len(ts)) + (d * len(ASSETS) + a) * 10_000_000), 0)
            prod.append(
                pa.table(
                    {
                        "site": pa.array(["changwon-1"] * 1).take(
                            pa.nulls(len(ts), pa.int32()).fill_null(0)
                        ),
                        "ts": pa.array(ts, pa.int64()).cast(TS),
                        "line": pa.array(["line-1"]).take(
                            pa.nulls(len(ts), pa.int32()).fill_null(0)
                        ),
                        "asset": pa.array([asset]).take(pa.nulls(len(ts), pa.int32()).fill_null(0)),
                        "part_id": pc.cast(ids, pa.string()),
                        "result": results.take(pa.array(which)),
                        "cycle_time_s": pa.array(np.full(len(ts), 86_400 / max(count, 1))),
                    }
                )
            )
            lengths = rng.exponential(600.0, 400).astype(np.int64) * 1_000_000 + 1_000_000
            starts = t0 + np.concatenate([[0], np.cumsum(lengths)[:-1]])
            keep = starts < t0 + day_us
            starts, ends = starts[keep], np.minimum((starts + lengths)[keep], t0 + day_us)
            pick = rng.choice(len(KINDS), len(starts), p=kinds)
            states.append(
                pa.table(
                    {
                        "site": ["changwon-1"] * len(starts),
                        "start": pa.array(starts, pa.int64()).cast(TS),
                        "end": pa.array(ends, pa.int64()).cast(TS),
                        "line": ["line-1"] * len(starts),
                        "asset": [asset] * len(starts),
                        "state": [KINDS[i][0] for i in pick],
                        "reason_code": pa.array([KINDS[i][1] for i in pick], pa.string()),
                    }
                )
            )
            n_states += len(starts)
        lake.append("production", pa.concat_tables(prod), unique_keys=True)
        lake.append("states", pa.concat_tables(states), unique_keys=True)
    return lake, days, n_states


def mismatches(left: tuple[KpiRow, ...], right: tuple[KpiRow, ...]) -> int:
    """How many KPI fields differ beyond 1e-9 (relative; absolute below 1)."""
    if len(left) != len(right):
        return abs(len(left) - len(right)) or 1
    bad = 0
    for x, y in zip(left, right, strict=True):
        for name in (*(f for f in x.__dataclass_fields__ if f != "key"), "oee"):
            a, b = getattr(x, name), getattr(y, name)
            if isinstance(a, float) and isinstance(b, float):
                bad += abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b))
            else:
                bad += a != b
    return bad


def du(path: Path) -> str:
    """Disk used under ``path`` as ``du -sh`` prints it."""
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True).stdout.split()[
        0
    ]


IBIS_SQL = """
SELECT asset, CAST(ts AS DATE) AS day, result, count(*) AS n, avg(cycle_time_s) AS c
FROM production GROUP BY asset, CAST(ts AS DATE), result
"""


def ibis_overhead(root: Path, spark_engine: SparkEngine, repeat: int) -> None:
    """Hand SQL against the same aggregation as an Ibis expression, on both backends."""
    import ibis  # type: ignore[import-untyped]  # no stubs shipped

    from factoryax.jobs import committed_files

    files = list(committed_files(root, "production"))
    dcon = ibis.duckdb.connect()
    dcon.raw_sql("SET TimeZone = 'UTC'")
    names = ", ".join(f"'{f}'" for f in files)
    dcon.raw_sql(
        f"CREATE VIEW production AS SELECT * FROM read_parquet([{names}], hive_partitioning = true)"
    )
    spark = spark_engine.session
    assert spark is not None
    spark_engine._lake_frame("production").createOrReplaceTempView("production")
    scon = ibis.pyspark.connect(spark)

    def expr(con: ibis.BaseBackend) -> ibis.Table:
        t = con.table("production")
        m = t.mutate(day=t.ts.date())
        return m.group_by(["asset", "day", "result"]).aggregate(
            n=m.count(), c=m.cycle_time_s.mean()
        )

    raw = dcon.con  # the same DuckDB connection and views Ibis uses

    for label, hand, via_ibis in (
        ("duckdb", lambda: raw.sql(IBIS_SQL).to_arrow_table(), lambda: expr(dcon).to_pyarrow()),
        ("spark", lambda: spark.sql(IBIS_SQL).toArrow(), lambda: expr(scon).to_pyarrow()),
    ):
        hand()  # warm both
        via_ibis()
        h, i = [], []
        for _ in range(repeat):
            t, a = timed(hand)
            h.append(t)
            t, b = timed(via_ibis)
            i.append(t)
        assert a.num_rows == b.num_rows, (a.num_rows, b.num_rows)
        mh, mi = statistics.median(h), statistics.median(i)
        print(f"  ibis on {label}: hand SQL {mh:.2f} s, Ibis {mi:.2f} s → {mi / mh:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000000,100000000")
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ibis", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    plant = example_plant()
    t_start, spark = timed(
        lambda: spark_session(SparkConfig(master=args.master, driver_memory="1g"))
    )
    print(f"Spark {args.master}: session start {t_start:.1f} s (once per process)")
    lines = []
    for size in (int(s) for s in args.sizes.split(",")):
        root = args.dir / f"spark-{size}" / "lake"
        shutil.rmtree(root.parent, ignore_errors=True)
        t_build, (_, days, n_states) = timed(lambda: build_lake(root, size))  # noqa: B023
        disk = du(root)
        print(
            f"{size:,} part rows + {n_states:,} state rows over {days} days: "
            f"built in {t_build:.0f} s, {disk} on disk"
        )
        period = Period("range", START, START + dt.timedelta(days=days - 1))
        job = KpiJob(plant, period, by=("asset", "shift_instance"))
        engines = (DuckDBEngine(root), SparkEngine(root, session=spark))
        first_day = KpiJob(plant, Period("day", START, START), by=("asset", "shift_instance"))
        for engine in engines:  # JIT and file-system caches: paid once, not per job
            t_warm, _ = timed(lambda e=engine, j=first_day: j.run(e))  # type: ignore[misc]
            print(f"  warm-up on {engine.name} (one day): {t_warm:.1f} s")
        times: dict[str, list[float]] = {"duckdb": [], "spark": []}
        results = {}
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            for engine in engines:
                took, out = timed(lambda e=engine, j=job: j.run(e))  # type: ignore[misc]
                times[engine.name].append(took)
                results[engine.name] = out
        bad = mismatches(results["duckdb"].base, results["spark"].base)
        assert bad == 0, f"{bad} KPI fields differ between engines"
        md, ms = statistics.median(times["duckdb"]), statistics.median(times["spark"])
        lines.append(
            f"{size:>13,} | {len(results['duckdb'].base):>6,} | {md:8.1f} | {ms:8.1f} | "
            f"{ms / md:6.1f}x | {disk}"
        )
        print(lines[-1])
        if args.ibis and size == int(args.sizes.split(",")[0]):
            ibis_overhead(root, engines[1], max(args.repeat, 3))
        if not args.keep:
            shutil.rmtree(root.parent)
    print(f"\nKPI job, median of {args.repeat}, {args.master} vs DuckDB on the same cores")
    print("    part rows | a×shift | DuckDB s |  Spark s | Spark/DuckDB | disk")
    print("\n".join(lines))
    spark.stop()


if __name__ == "__main__":
    main()
