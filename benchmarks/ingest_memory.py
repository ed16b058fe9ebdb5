"""Memory benchmark: peak RSS of `factoryax ingest` on a large CSV (target < 1 GiB for 2 GB).

Writes a CSV of about ``--gb`` gigabytes in constant memory, ingests it with the real
command under ``/usr/bin/time -v``, and prints the peak resident set size, its ratio to
the file size, and the baseline: the peak RSS of ``pyarrow.csv.read_csv`` on the same file
(what loading it whole would cost), measured in the same run.

Usage: python benchmarks/ingest_memory.py [--gb 2.0] [--dir bench-data]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).parent))
from _data import example_plant, readings_table
from factoryax.cli.main import example_plant_toml


def peak_rss_mib(cmd: list[str]) -> float:
    """Runs a command under GNU time and returns its peak RSS in MiB."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    assert match, out.stderr[-2000:]
    return int(match.group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    work: Path = args.dir / "memory"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    csv = work / "big.csv"
    plant = example_plant()
    chunk = readings_table(1_000_000, plant)
    with pa_csv.CSVWriter(str(csv), chunk.schema) as writer:
        k = 0
        while csv.stat().st_size < args.gb * 1e9:
            shifted = readings_table(1_000_000, plant, seed=k)
            signals = sum(len(a.signals) for _, a in plant.iter_assets())
            offset = k * -(-1_000_000 // signals)  # the next chunk starts after this one
            ts = shifted.column("ts").cast("int64").to_numpy() + offset * 1_000_000
            writer.write_table(
                shifted.set_column(0, "ts", pa.array(ts, pa.timestamp("us", tz="UTC")))
            )
            k += 1
    size_mib = csv.stat().st_size / 2**20
    factoryax = str(Path(sys.executable).with_name("factoryax"))
    ours = peak_rss_mib([factoryax, "ingest", str(csv), "--workspace", str(work)])
    print(
        f"CSV {size_mib:,.0f} MiB: factoryax ingest peak RSS {ours:,.0f} MiB "
        f"({ours / size_mib:.2f}x the file; target < 1024 MiB)"
    )
    if not args.skip_baseline:
        code = f"import pyarrow.csv as c; c.read_csv({str(csv)!r})"
        base = peak_rss_mib([sys.executable, "-c", code])
        print(
            f"baseline pyarrow.csv.read_csv peak RSS {base:,.0f} MiB "
            f"→ ours is {ours / base:.2f}x of it"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
