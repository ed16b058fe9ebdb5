"""NASA C-MAPSS RUL on the official test sets: RMSE, the PHM08 score, band coverage.

    nice .venv/bin/python benchmarks/detect_cmapss.py [--root ../shared/datasets/cmapss] [FD001 ...]

Model: :class:`factoryax.detect.RulModel` (boosted trees on the last value, 10-step mean,
30-step mean and slope of each standardised sensor, plus the age; target clipped at 125,
10 %/90 % quantile band), hyper-parameters declared, not tuned. Sensors constant in the
training file are dropped; for FD002/FD004 each sensor is standardised per operating
condition (6 conditions, found by rounding the three settings), statistics from the
training file only. One prediction per test unit at its last cycle (the standard
protocol). Published FD001 RMSE: 12.61 (DCNN), 11.43 (DAST), 10.61 (STAR); target <= 12.0.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from factoryax.detect import RulModel
from factoryax.detect.datasets import load_cmapss

PUBLISHED = {"FD001": "DCNN 12.61, DAST 11.43, STAR 10.61 (target <= 12.0)"}


def _conditions(rows: np.ndarray) -> np.ndarray:
    return np.round(rows[:, 2:5], 0) @ np.array([1e6, 1e3, 1.0])


def _units(
    rows: np.ndarray, keep: np.ndarray, stats: dict[float, tuple[np.ndarray, np.ndarray]]
) -> list[dict[str, np.ndarray]]:
    cond = _conditions(rows)
    sensors = rows[:, 5:][:, keep].copy()
    for c, (mu, sd) in stats.items():
        m = cond == c
        sensors[m] = (sensors[m] - mu) / sd
    out = []
    for u in np.unique(rows[:, 0]):
        m = rows[:, 0] == u
        out.append({f"s{i}": sensors[m, i] for i in range(sensors.shape[1])})
    return out


def phm08(d: np.ndarray) -> float:
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1, np.exp(d / 10.0) - 1)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/datasets/cmapss"))
    ap.add_argument("subsets", nargs="*", default=["FD001", "FD002", "FD003", "FD004"])
    args = ap.parse_args()
    for name in args.subsets:
        t0 = time.perf_counter()
        ds = load_cmapss(args.root, name)
        keep = ds.train[:, 5:].std(0) > 1e-3
        cond = _conditions(ds.train)
        multi = np.unique(cond).size > 1
        stats = {}
        for c in np.unique(cond) if multi else [None]:
            m = cond == c if c is not None else np.ones(len(cond), bool)
            s = ds.train[m][:, 5:][:, keep]
            stats[c if c is not None else -1.0] = (s.mean(0), s.std(0) + 1e-9)
        if not multi:
            stats = {float(np.unique(cond)[0]): stats[-1.0]}
        train = _units(ds.train, keep, stats)
        ruls = []
        for u in np.unique(ds.train[:, 0]):
            cyc = ds.train[ds.train[:, 0] == u, 1]
            ruls.append(cyc.max() - cyc)
        model = RulModel().fit(train, ruls)
        est = [model.predict(h) for h in _units(ds.test, keep, stats)]
        pred = np.array([e.rul for e in est])
        lo = np.array([e.low for e in est])
        hi = np.array([e.high for e in est])
        truth = ds.test_rul
        d = pred - truth
        rmse = float(np.sqrt(np.mean(d**2)))
        capped = np.minimum(truth, model.clip)
        cover = float(np.mean((capped >= lo) & (capped <= hi)))
        ref = f"   published: {PUBLISHED[name]}" if name in PUBLISHED else ""
        print(
            f"{name}: RMSE {rmse:6.2f}  PHM08 score {phm08(d):>9,.0f}  "
            f"10-90 % band covers {cover:.0%} of units ({len(truth)})  "
            f"[{time.perf_counter() - t0:.0f} s]{ref}",
            flush=True,
        )


if __name__ == "__main__":
    main()
