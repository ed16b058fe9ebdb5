"""Digital twin throughput: simulated seconds per wall second, written to the lake.

Target (issue 3): one simulated day of the example line (5 stations, ~10 signals each at
1 Hz) simulated *and* written to the lake through the ingest path in under 8.6 s wall,
i.e. at least 10,000x real time.

Two lines are measured: the example plant as shipped (20 signals), and the same line
with every station padded to 10 signals (50 signals, the issue's sizing). The baselines
measured in the same run are real time (the speed-up factor) and a per-sample Python loop
generating one signal (state lookup, thermal lag, warm-up, noise), next to the same model
vectorised as the twin does it: that ratio shows what vectorising buys.

Usage::

    .venv/bin/python benchmarks/twin.py [--days 1] [--seed 42]
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import math
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from factoryax.core import PlantModel, Signal
from factoryax.lake import Lake
from factoryax.twin import example_plant, simulate, write_to_lake

TARGET_S_PER_DAY = 8.6
_PADDING = ("aux_temp", "aux_current", "aux_power", "aux_pressure", "aux_flow", "aux_vibration")


def padded(plant: PlantModel, per_station: int) -> PlantModel:
    """The plant with extra declared signals so that every station has ``per_station``."""
    lines = []
    for line in plant.lines:
        assets = []
        for asset in line.assets:
            extra = [
                Signal(id=f"{_PADDING[k % len(_PADDING)]}_{k}", min=0, max=100)
                for k in range(max(0, per_station - len(asset.signals)))
            ]
            assets.append(asset.model_copy(update={"signals": (*asset.signals, *extra)}))
        lines.append(line.model_copy(update={"assets": tuple(assets)}))
    return plant.model_copy(update={"lines": tuple(lines)})


def measure(plant: PlantModel, days: float, seed: int) -> dict[str, float]:
    """Simulates and writes ``days`` to a fresh lake; returns timings and row counts."""
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(Path(tmp) / "lake", timezone=str(plant.site.timezone))
        began = time.perf_counter()
        run = simulate(plant, start=dt.date(2026, 11, 23), days=days, seed=seed)
        simulated = time.perf_counter()
        report = write_to_lake(run, plant, lake)
        done = time.perf_counter()
    return {
        "signals": sum(len(a.signals) for _, a in plant.iter_assets()),
        "readings": run.readings.num_rows,
        "rows": sum(report.rows_written.values()),
        "quarantined": sum(report.quarantined.values()),
        "simulate_s": simulated - began,
        "write_s": done - simulated,
        "total_s": done - began,
        "horizon_s": run.horizon_s,
    }


def _toy_timeline(samples: int) -> tuple[list[float], list[int]]:
    """State intervals of one minute cycling running → idle → down over ``samples`` s."""
    starts = [float(k * 60) for k in range(samples // 60 + 2)]
    return starts, [k % 3 for k in range(len(starts))]


_LEVELS = (1.0, 0.3, 0.1)
_TAU_S = 1800.0


def loop_samples_per_s(samples: int = 200_000) -> float:
    """Baseline: one signal sample by sample in Python (state lookup, lag, warm-up, noise)."""
    rng = random.Random(0)
    starts, states = _toy_timeline(samples)
    out = [0.0] * samples
    x = 0.0
    decay = math.exp(-1.0 / _TAU_S)
    began = time.perf_counter()
    for n in range(samples):
        i = bisect.bisect_right(starts, float(n)) - 1
        target = _LEVELS[states[i]]
        x = target + (x - target) * decay
        out[n] = 2.5 * x * (1.0 + 0.3 * (1.0 - x)) + rng.gauss(0.0, 0.1)
    return samples / (time.perf_counter() - began)


def vector_samples_per_s(samples: int = 2_000_000) -> float:
    """The same model the way the twin computes it: numpy per sample, a loop per interval."""
    rng = np.random.default_rng(0)
    starts_l, states_l = _toy_timeline(samples)
    began = time.perf_counter()
    starts, states = np.array(starts_l), np.array(states_l)
    target = np.array(_LEVELS)[states]
    decay = np.exp(-np.diff(np.append(starts, starts[-1] + 60.0)) / _TAU_S).tolist()
    x0 = np.empty(len(starts))
    x = 0.0
    for k, (g, a) in enumerate(zip(target.tolist(), decay, strict=True)):
        x0[k] = x
        x = g + (x - g) * a
    t = np.arange(samples, dtype=np.float64)
    i = np.searchsorted(starts, t, side="right") - 1
    lag = target[i] + (x0[i] - target[i]) * np.exp(-(t - starts[i]) / _TAU_S)
    out = 2.5 * lag * (1.0 + 0.3 * (1.0 - lag)) + rng.normal(0.0, 0.1, samples)
    elapsed = time.perf_counter() - began
    return len(out) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    base = example_plant()
    naive, vector = loop_samples_per_s(), vector_samples_per_s()
    print(
        f"baseline: one signal sample by sample in Python: {naive:,.0f} samples/s; "
        f"vectorised as in the twin: {vector:,.0f} samples/s ({vector / naive:,.0f}x)"
    )
    print(
        f"target: {args.days:g} day(s) in < {TARGET_S_PER_DAY * args.days:.1f} s wall "
        f"(>= {86400 / TARGET_S_PER_DAY:,.0f}x real time)\n"
    )
    for name, plant in (
        ("example line (as shipped)", base),
        ("example line, 10 signals/station", padded(base, 10)),
    ):
        m = measure(plant, args.days, args.seed)
        speedup = m["horizon_s"] / m["total_s"]
        print(f"{name}: 5 stations, {m['signals']:.0f} signals at 1 Hz")
        print(
            f"  simulate {m['simulate_s']:.2f} s + write to lake (ingest) {m['write_s']:.2f} s "
            f"= {m['total_s']:.2f} s wall for {m['horizon_s']:,.0f} simulated s"
        )
        print(
            f"  rows written {m['rows']:,.0f} (readings {m['readings']:,.0f}), "
            f"quarantined {m['quarantined']:,.0f}"
        )
        print(
            f"  simulated seconds per wall second: {speedup:,.0f}  "
            f"(speed-up vs real time {speedup:,.0f}x; vs target "
            f"{speedup / (86400 / TARGET_S_PER_DAY):.1f}x)"
        )
        print(
            f"  (a per-sample loop would spend {m['readings'] / naive:,.1f} s on these "
            "readings' arithmetic alone)\n"
        )


if __name__ == "__main__":
    main()
