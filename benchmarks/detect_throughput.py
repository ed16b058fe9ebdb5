"""Default detector throughput (8 signals) against sklearn IsolationForest, same run.

    nice .venv/bin/python benchmarks/detect_throughput.py

Prints batched samples/s and single-sample latency (median of repeats) for both, and
the ratios. Targets (issue 5): >= 100,000 samples/s batched, <= 1 ms single sample.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from sklearn.ensemble import IsolationForest

from factoryax.detect import default_detector


def _median_s(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    n_train, n_score, d = 20_000, 200_000, 8
    names = [f"s{i}" for i in range(d)]
    train = rng.normal(size=(n_train, d))
    test = rng.normal(size=(n_score, d))
    cols_train = {n: train[:, i] for i, n in enumerate(names)}
    cols_test = {n: test[:, i] for i, n in enumerate(names)}
    det = default_detector().fit(cols_train)
    forest = IsolationForest(random_state=0).fit(train)

    ours_batch = _median_s(lambda: det.score_many(cols_test), 5)
    theirs_batch = _median_s(lambda: forest.score_samples(test), 3)
    one = {n: 0.1 for n in names}
    ours_one = _median_s(lambda: [det.score_one(one) for _ in range(1000)], 5) / 1000
    row = test[:1]
    theirs_one = _median_s(lambda: [forest.score_samples(row) for _ in range(50)], 3) / 50

    print(f"batched, {d} signals, {n_score:,} samples:")
    print(f"  default (pca)      {n_score / ours_batch:>14,.0f} samples/s   target >= 100,000")
    print(f"  IsolationForest    {n_score / theirs_batch:>14,.0f} samples/s")
    print(f"  ratio              {theirs_batch / ours_batch:>14.1f}x")
    print("single sample:")
    print(f"  default (pca)      {ours_one * 1e3:>14.3f} ms   target <= 1 ms")
    print(f"  IsolationForest    {theirs_one * 1e3:>14.3f} ms")
    print(f"  ratio              {theirs_one / ours_one:>14.1f}x")


if __name__ == "__main__":
    main()
