"""Memory benchmark: peak RSS of `factoryax demo` against what its data weighs in Arrow.

Runs the real command (``demo --no-serve``, 1 Hz, the README's main job) under
``/usr/bin/time -v`` and prints its peak resident set size next to two baselines measured
in the same run: the peak RSS of only importing the CLI (the fixed cost of the
libraries), and the in-memory Arrow size of the readings the demo simulates (the same
horizon: the days before today, today and the live hours). Holding the week once costs
about imports + readings; the ratio says how far above that the demo peaks.

Usage: python benchmarks/demo_memory.py [--days 7] [--seed 42] [--dir bench-data]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

from factoryax.core import utc_now
from factoryax.twin import example_plant, simulate

LIVE_HOURS = 12.0
"""The demo's default ``--live-hours``: the twin runs on this long after today."""


def peak_rss_mib(cmd: list[str]) -> float:
    """Runs a command under GNU time and returns its peak RSS in MiB."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    if match is None:
        raise RuntimeError(f"no peak RSS in /usr/bin/time's output:\n{out.stderr[-2000:]}")
    return int(match.group(1)) / 1024


def readings_mib(days: float, seed: int) -> tuple[int, float]:
    """Rows and Arrow size (MiB) of the readings the demo simulates for ``days``."""
    plant = example_plant()
    zone = plant.site.timezone
    today = dt.datetime.combine(utc_now().astimezone(zone).date(), dt.time(), zone)
    horizon = dt.timedelta(days=days + 1, hours=LIVE_HOURS)
    run = simulate(plant, start=today - dt.timedelta(days=days), horizon=horizon, seed=seed)
    return run.readings.num_rows, run.readings.nbytes / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    args = parser.parse_args()
    work: Path = args.dir / "demo-memory"
    shutil.rmtree(work, ignore_errors=True)
    cli = [sys.executable, "-c", "from factoryax.cli import main; main()"]
    demo = [*cli, "demo", "-w", str(work), "--days", f"{args.days:g}", "--seed", str(args.seed)]
    peak = peak_rss_mib([*demo, "--no-serve"])
    imports = peak_rss_mib([sys.executable, "-c", "import factoryax.cli"])
    rows, arrow = readings_mib(args.days, args.seed)
    print(f"factoryax demo --days {args.days:g} --no-serve (1 Hz, seed {args.seed})")
    print(f"  peak RSS                         {peak:8.0f} MiB")
    print(f"  baseline: importing the CLI      {imports:8.0f} MiB")
    print(f"  baseline: readings as Arrow      {arrow:8.0f} MiB ({rows:,} rows)")
    print(f"  peak / (imports + readings)      {peak / (imports + arrow):8.2f}x")


if __name__ == "__main__":
    main()
