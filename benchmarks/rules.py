"""Rules-engine throughput: 500 threshold/expression rules over 10,000 readings/s.

Feeds N seconds of simulated time (1,000 signals at 10 Hz) through
:class:`factoryax.safety.SafetyEngine` and, in the same run, through a plain-Python loop
that checks the same thresholds; prints readings/s and p50/p99 per-reading latency.

Usage: python benchmarks/rules.py [--seconds N] [--seed S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections.abc import Callable

from factoryax.safety import Reading, SafetyEngine, parse_safety

N_SIGNALS = 1000
RATE_HZ = 10
N_THRESHOLD = 400
N_EXPRESSION = 100
T0 = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def _name(i: int) -> tuple[str, str]:
    return f"m{i // 10:03d}", f"s{i % 10}"


def build_rules() -> dict[str, dict[str, object]]:
    """400 threshold rules (one signal each) and 100 two-signal expression rules."""
    rules: dict[str, dict[str, object]] = {}
    for i in range(N_THRESHOLD):
        a, s = _name(i)
        rules[f"th-{i}"] = {"type": "threshold", "signal": f"{a}.{s}", "above": 95.0}
    for j in range(N_EXPRESSION):
        (a1, s1), (a2, s2) = _name(N_THRESHOLD + 2 * j), _name(N_THRESHOLD + 2 * j + 1)
        rules[f"ex-{j}"] = {"type": "expression", "expr": f"{a1}.{s1} > 95 and {a2}.{s2} > 90"}
    return rules


def readings(seconds: int, seed: int) -> list[Reading]:
    """``seconds`` of 1,000 signals at 10 Hz, values uniform in [0, 100)."""
    rng = random.Random(seed)
    out = []
    for tick in range(seconds * RATE_HZ):
        ts = T0 + dt.timedelta(seconds=tick / RATE_HZ)
        for i in range(N_SIGNALS):
            a, s = _name(i)
            out.append(Reading(ts, a, s, rng.random() * 100.0))
    return out


def baseline(rules: dict[str, dict[str, object]]) -> Callable[[Reading], int]:
    """A plain loop: per reading, compare against the thresholds on that signal."""
    limits: dict[tuple[str, str], list[float]] = {}
    for r in rules.values():
        if r["type"] == "threshold":
            a, s = str(r["signal"]).split(".")
            limits.setdefault((a, s), []).append(float(r["above"]))  # type: ignore[arg-type]
    pairs: dict[tuple[str, str], tuple[tuple[str, str], tuple[str, str]]] = {}
    for j in range(N_EXPRESSION):
        k1, k2 = _name(N_THRESHOLD + 2 * j), _name(N_THRESHOLD + 2 * j + 1)
        pairs[k1] = pairs[k2] = (k1, k2)
    values: dict[tuple[str, str], float] = {}

    def step(r: Reading) -> int:
        key = (r.asset, r.signal)
        values[key] = r.value
        hits = 0
        for limit in limits.get(key, ()):
            if r.value > limit:
                hits += 1
        pair = pairs.get(key)
        if pair is not None and values.get(pair[0], 0.0) > 95 and values.get(pair[1], 0.0) > 90:
            hits += 1
        return hits

    return step


def measure(step: Callable[[Reading], object], data: list[Reading]) -> tuple[float, float, float]:
    """(readings/s, p50 µs, p99 µs) of ``step`` over ``data``."""
    lat = []
    clock = time.perf_counter_ns
    t_start = clock()
    for r in data:
        t = clock()
        step(r)
        lat.append(clock() - t)
    total = (clock() - t_start) / 1e9
    lat.sort()
    return len(data) / total, lat[len(lat) // 2] / 1e3, lat[int(len(lat) * 0.99)] / 1e3


def main() -> None:
    """Runs both and prints a comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5, help="simulated seconds (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rules = build_rules()
    config = parse_safety({"input_timeout_s": 0, "rules": rules})
    data = readings(args.seconds, args.seed)
    engine = SafetyEngine(config)
    eng = measure(engine.process, data)
    base = measure(baseline(rules), data)
    print(
        f"{len(config.rules)} rules, {len(data):,} readings "
        f"({args.seconds} s at {N_SIGNALS * RATE_HZ:,} readings/s)"
    )
    print(f"{'':10} {'readings/s':>12} {'p50 µs':>8} {'p99 µs':>8} {'× real time':>12}")
    for name, (rate, p50, p99) in (("engine", eng), ("plain loop", base)):
        real = rate / (N_SIGNALS * RATE_HZ)
        print(f"{name:10} {rate:12,.0f} {p50:8.1f} {p99:8.1f} {real:12.1f}")


if __name__ == "__main__":
    main()
