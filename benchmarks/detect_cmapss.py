"""NASA C-MAPSS RUL on the official test sets: RMSE, the PHM08 score, band coverage.

    nice .venv/bin/python benchmarks/detect_cmapss.py [--root ../shared/datasets/cmapss]
        [--models rul-gbt,rul-gbt-delta,rul-mlp,blend[,ensemble]] [--seed 0] [FD001 ...]

Models (:mod:`factoryax.detect`), all trained on the training file only:

- ``rul-gbt``: :class:`RulModel` (boosted trees on the last value, 10- and 30-step means
  and slope of each standardised sensor, plus the age; cap 125), on every sensor that
  varies in the training file.
- ``rul-gbt-delta``: :class:`RulDeltaModel` (the same plus each engine's drift from its
  own first 20 cycles and 60-step mean/slope; cap 130), on the 14 informative sensors
  (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21).
- ``rul-mlp``: :class:`RulMlpModel` (5 perceptrons on 30-cycle windows of the smoothed
  sensors, their drift and the age; each early-stopped on a fifth of the *training*
  engines; cap 130), same 14 sensors.
- ``blend``: the mean of ``rul-gbt-delta`` and ``rul-mlp`` (equal weights; ``low``/``high``
  the outer of the two bands), i.e. what :class:`RulBlendModel` (kind ``rul-blend``)
  predicts with ``seeds=1, coverage=None`` (tests/detect/test_rul_nn.py checks the
  equality); computed here from the two parts so each part's figure is printed too.
- ``ensemble``: :class:`RulBlendModel` with ``seeds=SEEDS`` (that many seeds of each part,
  averaged) and ``coverage=0.8``: its band is learnt from out-of-fold residuals of a
  5-fold split of the training engines (:class:`~factoryax.detect.rul_band.ResidualBand`).
  ``--seed`` sets the base seed of both parts (seeds ``seed .. seed + SEEDS - 1``).

The delta features, the cap and the MLP settings were chosen on a 5-fold split of the
FD001 training engines (RMSE at cut points with true RUL 7..145), never on a test set.
For FD002/FD004 each sensor is standardised per operating condition (6 conditions, found
by rounding the three settings), statistics from the training file only. One prediction
per test unit at its last cycle, against the uncapped true RUL (the standard protocol).
Published FD001 RMSE: 12.61 (DCNN), 11.43 (DAST), 10.61 (STAR); target <= 12.0.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from factoryax.detect import RulBlendModel, RulDeltaModel, RulMlpModel, RulModel
from factoryax.detect.datasets import load_cmapss

PUBLISHED = {"FD001": "DCNN 12.61, DAST 11.43, STAR 10.61 (target <= 12.0)"}
INFORMATIVE = np.array([2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21]) - 1
"""0-based sensor indices of the 14 sensors that vary with wear (Li et al. 2018)."""
SEEDS = 3
"""Seeds per part of ``ensemble``, chosen on FD001 training engines (5-fold by engine)."""


def _conditions(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.round(rows[:, 2:5], 0) @ np.array([1e6, 1e3, 1.0])
    return out


def _stats(train: np.ndarray, keep: np.ndarray) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    cond = _conditions(train)
    out = {}
    for c in np.unique(cond):
        s = train[cond == c][:, 5:][:, keep]
        out[float(c)] = (s.mean(0), s.std(0) + 1e-9)
    return out


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


def _predict(
    model: RulModel, test: list[dict[str, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    est = [model.predict(h) for h in test]
    return (
        np.array([e.rul for e in est]),
        np.array([e.low for e in est]),
        np.array([e.high for e in est]),
    )


def _report(
    name: str, kind: str, pred: tuple[np.ndarray, ...], truth: np.ndarray, t: float
) -> None:
    p, lo, hi = pred
    d = p - truth
    rmse = float(np.sqrt(np.mean(d**2)))
    inside = (truth >= lo) & (truth <= hi)
    width = float(np.mean(hi - lo))
    # the ensemble's band is calibrated on steps with true RUL <= 1.15 x cap (149.5)
    near = truth <= 1.15 * 130.0
    split = (
        f" ({inside[near].mean():.0%} of the {near.sum()} with true RUL <= 149.5)"
        if not near.all()
        else ""
    )
    ref = f"   published: {PUBLISHED[name]}" if name in PUBLISHED else ""
    print(
        f"{name} {kind:<14}: RMSE {rmse:6.2f}  PHM08 score {phm08(d):>9,.0f}  "
        f"band covers {inside.mean():.0%} of units ({len(truth)}){split}, "
        f"mean width {width:.1f}  [{t:.0f} s]{ref}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/datasets/cmapss"))
    # ``ensemble`` is not in the default: it trains 7 one-seed blends per subset (slow)
    ap.add_argument("--models", default="rul-gbt,rul-gbt-delta,rul-mlp,blend")
    ap.add_argument("--seed", type=int, default=0, help="base seed of every model")
    ap.add_argument("subsets", nargs="*", default=["FD001", "FD002", "FD003", "FD004"])
    args = ap.parse_args()
    kinds = args.models.split(",")
    for name in args.subsets:
        ds = load_cmapss(args.root, name)
        ruls = []
        for u in np.unique(ds.train[:, 0]):
            cyc = ds.train[ds.train[:, 0] == u, 1]
            ruls.append(cyc.max() - cyc)
        varying = ds.train[:, 5:].std(0) > 1e-3
        models: dict[str, tuple[RulModel, np.ndarray]] = {
            "rul-gbt": (RulModel(seed=args.seed), varying),
            "rul-gbt-delta": (RulDeltaModel(seed=args.seed), INFORMATIVE),
            "rul-mlp": (RulMlpModel(seed=args.seed), INFORMATIVE),
            "ensemble": (
                RulBlendModel(
                    delta={"seed": args.seed},
                    mlp={"seed": args.seed},
                    seeds=SEEDS,
                    coverage=0.8,
                ),
                INFORMATIVE,
            ),
        }
        preds: dict[str, tuple[np.ndarray, ...]] = {}
        parts = ("rul-gbt-delta", "rul-mlp")
        for kind in [k for k in models if k in kinds or (k in parts and "blend" in kinds)]:
            t0 = time.perf_counter()
            model, keep = models[kind]
            stats = _stats(ds.train, keep)
            model.fit(_units(ds.train, keep, stats), ruls)
            preds[kind] = _predict(model, _units(ds.test, keep, stats))
            if kind in kinds:
                _report(name, kind, preds[kind], ds.test_rul, time.perf_counter() - t0)
        if "blend" in kinds:
            a, b = preds["rul-gbt-delta"], preds["rul-mlp"]
            blend = ((a[0] + b[0]) / 2, np.minimum(a[1], b[1]), np.maximum(a[2], b[2]))
            _report(name, "blend", blend, ds.test_rul, 0.0)


if __name__ == "__main__":
    main()
