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

``--score N`` also measures detector batch scoring (:class:`factoryax.jobs.ScoreJob`) over
a synthetic lake of N ``readings`` rows (5 assets × 4 correlated signals at 1 Hz, with
drift and spike faults): a smoothed PCA model per asset (registered in the registry, as
JSON + .npz) scored on DuckDB (pivot in SQL, detect's NumPy scoring in-process) and on
Spark (pivot in Spark SQL, the same scoring on the executors through ``mapInArrow``),
checked equal (scores to 1e-9, alarms exactly) and compared with detect's own
in-process path (``read_wide`` + ``score_many`` per asset). ``--sizes ''`` skips the KPI job.

The data is deleted afterwards (``--keep`` keeps it); the disk it used is printed.

Usage: nice python benchmarks/spark.py [--sizes 10000000,100000000] [--dir bench-data]
           [--master local[2]] [--repeat 1] [--ibis] [--score 10000000] [--keep]
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
from typing import Any
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


SIGNALS = ("load", "temp", "vibration", "current")


def build_readings(ws_root: Path, readings: int, seed: int = 7) -> tuple[Lake, int]:
    """Writes ``readings`` rows (5 assets × 4 signals at 1 Hz) and registers one PCA model
    per asset trained on a clean first hour; returns the lake and the instants per asset."""
    from factoryax.detect import PcaDetector, Registry, anomaly_model_name

    lake = Lake(ws_root / "lake", timezone="Asia/Seoul")
    registry = Registry.for_workspace(ws_root)
    per_asset = readings // (len(ASSETS) * len(SIGNALS))
    rng = np.random.default_rng(seed)
    t0 = int(dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC).timestamp() * 1_000_000)
    day = 86_400
    for asset in ASSETS:
        n = per_asset
        latent = rng.normal(0, 1, n)
        cols = {
            "load": latent + rng.normal(0, 0.2, n),
            "temp": 0.8 * latent + rng.normal(0, 0.2, n) + 60.0,
            "vibration": -0.5 * latent + rng.normal(0, 0.2, n) + 3.0,
            "current": rng.normal(10.0, 0.5, n),
        }
        for start in rng.integers(3600, n - 3600, max(1, n // 50_000)):  # faults
            length = int(rng.integers(60, 1800))
            cols["vibration"][start : start + length] += np.linspace(0, 3.0, length)
        spikes = rng.integers(3600, n, max(1, n // 20_000))
        cols["temp"][spikes] += 8.0
        det = PcaDetector(smoothing=0.3, threshold_q=0.999, threshold_scale=1.2)
        det.fit({k: v[:3600] for k, v in cols.items()})
        registry.register(anomaly_model_name(asset), det, asset=asset)
        for d0 in range(0, n, day):  # one append per asset and UTC day
            d1 = min(n, d0 + day)
            ts = t0 + np.arange(d0, d1, dtype=np.int64) * 1_000_000
            m = d1 - d0
            table = pa.table(
                {
                    "site": pa.array(["s1"] * (m * len(SIGNALS)), pa.string()),
                    "ts": pa.array(np.tile(ts, len(SIGNALS)), TS),
                    "line": pa.array(["line-1"] * (m * len(SIGNALS)), pa.string()),
                    "asset": pa.array([asset] * (m * len(SIGNALS)), pa.string()),
                    "signal": pa.array(np.repeat(np.array(SIGNALS), m).tolist(), pa.string()),
                    "value": pa.array(np.concatenate([cols[s][d0:d1] for s in SIGNALS])),
                    "quality": pa.array(["good"] * (m * len(SIGNALS)), pa.string()),
                }
            )
            lake.append("readings", table)
    return lake, per_asset


def score_benchmark(args: argparse.Namespace, spark: Any) -> None:
    """The scoring job on DuckDB and Spark, checked equal, beside detect's own path."""
    from factoryax.detect import Registry, anomaly_model_name, read_wide
    from factoryax.jobs import ScoreJob

    ws_root = args.dir / f"score-{args.score}"
    shutil.rmtree(ws_root, ignore_errors=True)
    t_build, (lake, per_asset) = timed(lambda: build_readings(ws_root, args.score))
    disk = du(ws_root / "lake")
    print(
        f"{args.score:,} readings ({len(ASSETS)} assets × {len(SIGNALS)} signals × "
        f"{per_asset:,} s): built in {t_build:.0f} s, {disk} on disk"
    )
    start = dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(seconds=per_asset + 1)
    names = tuple(anomaly_model_name(a) for a in ASSETS)
    job = ScoreJob(ws_root, names, start, end)
    warm = ScoreJob(ws_root, names, start, start + dt.timedelta(hours=1))
    engines = (DuckDBEngine(ws_root / "lake"), SparkEngine(ws_root / "lake", session=spark))
    for engine in engines:
        t_warm, _ = timed(lambda e=engine: warm.run(e))  # type: ignore[misc]
        print(f"  warm-up on {engine.name} (one hour): {t_warm:.1f} s")
    registry = Registry.for_workspace(ws_root)

    def in_process() -> int:
        rows = 0
        for name, asset in zip(names, ASSETS, strict=True):
            det = registry.load_detector(name)
            data = read_wide(lake, asset, start, end)
            det.normalise(det.score_many(data.columns))
            rows += len(data)
        return rows

    times: dict[str, list[float]] = {"duckdb": [], "spark": [], "detect": []}
    results = {}
    for _ in range(args.repeat):
        for engine in engines:
            took, out = timed(lambda e=engine: job.run(e))  # type: ignore[misc]
            times[engine.name].append(took)
            results[engine.name] = out
        took, n_detect = timed(in_process)
        times["detect"].append(took)
    a, b = results["duckdb"], results["spark"]
    assert a.num_rows == b.num_rows == n_detect, (a.num_rows, b.num_rows, n_detect)
    assert a.column("ts").equals(b.column("ts"))
    assert a.column("alarm").equals(b.column("alarm"))
    sa, sb = a.column("score").to_numpy(), b.column("score").to_numpy()
    worst = float(np.max(np.abs(sa - sb) / np.maximum(1.0, np.abs(sa))))
    assert worst <= 1e-9, worst
    alarms = int(pc.sum(a.column("alarm")).as_py())
    md, ms, mi = (statistics.median(times[k]) for k in ("duckdb", "spark", "detect"))
    print(f"\nScore job, median of {args.repeat}, {args.master} vs DuckDB on the same cores")
    print("     readings | instants | alarms | detect s | DuckDB s |  Spark s | Spark/DuckDB")
    print(
        f"{args.score:>13,} | {a.num_rows:>8,} | {alarms:>6,} | {mi:8.1f} | {md:8.1f} | "
        f"{ms:8.1f} | {ms / md:6.1f}x   (max score difference {worst:.1e})"
    )
    if not args.keep:
        shutil.rmtree(ws_root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000000,100000000")
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ibis", action="store_true")
    parser.add_argument("--score", type=int, default=0, help="readings for the score job")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    plant = example_plant()
    t_start, spark = timed(
        lambda: spark_session(SparkConfig(master=args.master, driver_memory="1g"))
    )
    print(f"Spark {args.master}: session start {t_start:.1f} s (once per process)")
    lines = []
    if args.score:
        score_benchmark(args, spark)
    for size in (int(s) for s in args.sizes.split(",") if s):
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
    if not lines:
        spark.stop()
        return
    print(f"\nKPI job, median of {args.repeat}, {args.master} vs DuckDB on the same cores")
    print("    part rows | a×shift | DuckDB s |  Spark s | Spark/DuckDB | disk")
    print("\n".join(lines))
    spark.stop()


if __name__ == "__main__":
    main()
