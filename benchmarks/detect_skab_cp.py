"""SKAB changepoint detection, NAB score, under the published protocol.

    nice .venv/bin/python benchmarks/detect_skab_cp.py [--root ../shared/datasets/skab]

Protocol (SKAB leaderboard, upstream README at b2c0d46): for each of the 34 labelled
files the first 400 rows train and the rest test; the 127 changepoints in the test parts
are scored with `factoryax.detect.changepoint.nab_score` (SKAB's `chp_score(metric="nab")`:
60 s window right of each changepoint, profiles Standard / LowFP / LowFN, null 0,
perfect 100, raw scores summed over the files before normalising).

Rows:

- null and perfect detectors: checks of the scale (0 and 100); "at the true
  changepoints" scores below 100 because SKAB cuts overlapping windows: a changepoint
  less than 60 s after the previous one gets a window that starts where the previous
  one ends, so a detection at the changepoint itself falls in the previous window;
- a data-blind detector that emits a changepoint every 60 s of each test part (period =
  the window width, fixed a priori): how much of the scale needs no data at all;
- the outlier detectors `zscore`, `pca`, `hst` (class defaults, fit on each file's training rows)
  with SKAB's conversion of alarms to changepoints (every switch on or off);
- `MeanShiftChangeDetector` with its class defaults (window 10, threshold = the largest
  statistic on the file's training rows), and tuned on the valve1 files only (grid of
  window x threshold scale, best Standard score on valve1): its figure on valve2 + other
  is held out; its figure on all 34 includes the tuning files.

Each detector is fit on a file's own first 400 rows (as the leaderboard's methods are),
runs over those rows (as it would online), then over the test rows.
Prints each figure beside the published table.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from factoryax.detect import DETECTORS
from factoryax.detect.changepoint import (
    MeanShiftChangeDetector,
    NabResult,
    alarm_edges,
    nab_score,
    nab_windows,
)
from factoryax.detect.datasets import SKAB_TRAIN_ROWS, SkabFile, load_skab

PUBLISHED = [  # upstream README, "Proposed Leaderboard", changepoint table
    ("MSCRED", 32.42, 16.53, 40.28, 55, 342),
    ("Isolation forest", 26.16, 19.5, 30.82, 76, 135),
    ("T-squared+Q (PCA)", 25.35, 14.51, 31.33, 72, 232),
    ("Conv-AE", 23.61, 21.54, 27.55, 82, 23),
    ("LSTM-AE", 23.51, 20.11, 25.91, 88, 69),
    ("T-squared", 19.54, 10.2, 24.31, 70, 106),
    ("MSET", 13.84, 10.22, 17.37, 96, 66),
    ("Vanilla AE", 11.41, 6.53, 13.91, 103, 106),
    ("Vanilla LSTM", 11.31, -3.8, 17.25, 90, 342),
    ("ArimaFD", -0.09, -0.17, -0.06, 127, 2),
]
OUTLIER_KINDS = ("zscore", "pca", "hst")
WINDOWS = (2, 3, 5, 7, 10, 20, 30)
SCALES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.5, 2.0, 3.0)

Detect = Callable[[SkabFile], npt.NDArray[np.bool_]]
"""A file → changepoint flag per test row."""


def _ts(f: SkabFile) -> npt.NDArray[np.float64]:
    if f.ts_s is None:
        raise SystemExit(f"{f.name}: the loader gave no timestamps (ts_s)")
    return f.ts_s


def truth(f: SkabFile) -> npt.NDArray[np.float64]:
    """Instants of the true changepoints in the file's test part."""
    test = _ts(f)[SKAB_TRAIN_ROWS:]
    return np.asarray(test[f.changepoint[SKAB_TRAIN_ROWS:] == 1], dtype=np.float64)


def score(files: list[SkabFile], detect: Detect) -> NabResult:
    return nab_score(
        [truth(f) for f in files], [_ts(f)[SKAB_TRAIN_ROWS:][detect(f)] for f in files]
    )


def no_changepoints(f: SkabFile) -> npt.NDArray[np.bool_]:
    return np.zeros(len(_ts(f)) - SKAB_TRAIN_ROWS, dtype=bool)


def periodic(period_s: float) -> Detect:
    def detect(f: SkabFile) -> npt.NDArray[np.bool_]:
        ts = _ts(f)[SKAB_TRAIN_ROWS:]
        slot = np.floor((ts - ts[0]) / period_s)
        return np.concatenate([[True], slot[1:] != slot[:-1]])

    return detect


def outlier_edges(kind: str) -> Detect:
    def detect(f: SkabFile) -> npt.NDArray[np.bool_]:
        train, test = f.split()
        det = DETECTORS[kind](seed=0)
        det.fit(train, holdout=0.25)
        return alarm_edges(det.normalise(det.score_many(test)) > 1.0)

    return detect


def mean_shift(window: int, scale: float) -> Detect:
    def detect(f: SkabFile) -> npt.NDArray[np.bool_]:
        train, test = f.split()
        det = MeanShiftChangeDetector(window=window, threshold_scale=scale).fit(train)
        det.detect_many(train)  # run over the training rows first, as online
        return det.detect_many(test)

    return detect


def row(label: str, r: NabResult) -> str:
    s = r.scores
    return (
        f"{label:52s} {s['standard']:7.2f} {s['reward_low_fp']:7.2f} {s['reward_low_fn']:7.2f}"
        f" {r.missed:6d} {r.false_positives:6d}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/datasets/skab"))
    args = ap.parse_args()
    files = load_skab(args.root)
    tune = [f for f in files if f.name.startswith("valve1/")]
    held = [f for f in files if not f.name.startswith("valve1/")]
    n_cp = sum(len(truth(f)) for f in files)
    print(f"SKAB: {len(files)} files, {n_cp} changepoints in the test parts (published: 127)")
    print(f"tuning set valve1 ({len(tune)} files), held out valve2 + other ({len(held)} files)")
    head = f"{'':52s} {'NAB std':>7s} {'LowFP':>7s} {'LowFN':>7s} {'missed':>6s} {'FPs':>6s}"
    print("\npublished (all 34 files)\n" + head)
    for name, *fig in PUBLISHED:
        print(f"{name:52s} {fig[0]:7.2f} {fig[1]:7.2f} {fig[2]:7.2f} {fig[3]:6d} {fig[4]:6d}")

    print("\nours, all 34 files (same file set as the table)\n" + head)
    print(row("null detector (no changepoints)", score(files, no_changepoints)))
    print(
        row(
            "at the true changepoints",
            score(files, lambda f: f.changepoint[SKAB_TRAIN_ROWS:] == 1),
        )
    )
    starts = [[lo for lo, _ in nab_windows(truth(f), 60.0)] for f in files]
    print(row("perfect: at each window's start", nab_score([truth(f) for f in files], starts)))
    print(row("blind: a changepoint every 60 s, no data", score(files, periodic(60.0))))
    for kind in [k for k in OUTLIER_KINDS if k in DETECTORS]:
        print(
            row(
                f"{kind} alarms, switches on/off (class defaults)",
                score(files, outlier_edges(kind)),
            )
        )
    default = MeanShiftChangeDetector()
    print(
        row(
            f"mean-shift class defaults (window {default.window}, scale 1.0)",
            score(files, mean_shift(default.window, default.threshold_scale)),
        )
    )

    grid = list(itertools.product(WINDOWS, SCALES))
    ranked = [(score(tune, mean_shift(w, k)).scores["standard"], w, k) for w, k in grid]
    best, w, k = max(ranked)
    print(
        row(f"mean-shift tuned on valve1 (window {w}, scale {k})", score(files, mean_shift(w, k)))
    )
    print(f"  (grid of {len(grid)} settings on valve1; best valve1 NAB standard {best:.2f})")

    print("\nheld out: valve2 + other (18 files; the table has no figure on this subset)\n" + head)
    print(row("blind: a changepoint every 60 s, no data", score(held, periodic(60.0))))
    print(
        row(
            f"mean-shift class defaults (window {default.window}, scale 1.0)",
            score(held, mean_shift(default.window, default.threshold_scale)),
        )
    )
    print(row(f"mean-shift tuned on valve1 (window {w}, scale {k})", score(held, mean_shift(w, k))))


if __name__ == "__main__":
    main()
