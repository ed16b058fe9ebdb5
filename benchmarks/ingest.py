"""Ingest benchmark: readings from Parquet and from CSV into the lake.

Prints rows/s and the ratio to a baseline measured in the same run on the same data:
- Parquet → lake vs a raw ``pyarrow.parquet.write_table`` of the table (target >= 0.5 of
  raw speed);
- CSV → lake vs ``pyarrow.csv.read_csv`` + raw write (target: within 2x the time).

Usage: python benchmarks/ingest.py [--rows 10000000] [--dir bench-data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _data import example_plant, readings_table, timed
from factoryax.ingest import ingest_file
from factoryax.lake import Lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work: Path = args.dir / "ingest"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    plant = example_plant()
    table = readings_table(args.rows, plant)
    src_parquet, src_csv = work / "src.parquet", work / "src.csv"
    pq.write_table(table, src_parquet)
    pa_csv.write_csv(table, src_csv)
    print(f"{args.rows:,} readings; CSV {src_csv.stat().st_size / 2**20:.0f} MiB")

    def fresh(name: str) -> Lake:
        shutil.rmtree(work / name, ignore_errors=True)
        return Lake(work / name)

    raws, lakes, bases, csvs = [], [], [], []
    for _ in range(args.repeat):  # interleaved, so both sides see the same machine load
        raws.append(timed(lambda: pq.write_table(table, work / "raw.parquet"))[0])
        lake_s, rep = timed(lambda: ingest_file(src_parquet, plant=plant, lake=fresh("lake-pq")))
        assert rep.readings_accepted == args.rows, rep
        lakes.append(lake_s)
        bases.append(
            timed(lambda: pq.write_table(pa_csv.read_csv(src_csv), work / "raw-csv.parquet"))[0]
        )
        csv_s, rep = timed(lambda: ingest_file(src_csv, plant=plant, lake=fresh("lake-csv")))
        assert rep.readings_accepted == args.rows, rep
        csvs.append(csv_s)
    raw_s, lake_s = statistics.median(raws), statistics.median(lakes)
    base_s, csv_s = statistics.median(bases), statistics.median(csvs)
    print(f"median of {args.repeat} interleaved runs")
    print(
        f"parquet→lake : {lake_s:6.2f} s  {args.rows / lake_s:12,.0f} rows/s   "
        f"raw write_table {raw_s:6.2f} s  → {raw_s / lake_s:.2f}x raw speed (target >= 0.5)"
    )
    print(
        f"csv→lake     : {csv_s:6.2f} s  {args.rows / csv_s:12,.0f} rows/s   "
        f"read_csv+write {base_s:6.2f} s  → {csv_s / base_s:.2f}x the time (target <= 2)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
