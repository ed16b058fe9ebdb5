"""SKAB outlier detection under the published protocol (first 400 rows of each labelled
file train, the rest test; F1/FAR/MAR pooled over all files, `core/metrics.py`).

    nice .venv/bin/python benchmarks/detect_skab.py [--root ../shared/datasets/skab]

Hyper-parameters: the `default_detector()` and `class defaults` rows use settings fixed
before looking at SKAB; the `tuned` row picks smoothing and threshold scale on the
valve1 files only (best F1 with FAR <= 13.5 %, else best F1) and its figure on
valve2 + other is held out.
The ``per-file z`` block is a score in the leaderboard's style: each file's own first 400
rows fix a standardisation; the score is the mean squared z-score of the signals after a
5-row moving mean, smoothed again over ``w`` rows; the threshold is the ``q`` quantile of
the training rows' scores times ``k``. ``(w, q, k)`` are chosen on valve1 only and the
figure on valve2 + other is held out.
The ``segment`` block is :class:`~factoryax.detect.SegmentDetector` (windowed level, rate
for slow signals, per-signal scale = largest learned deviation, persistence and hold),
fitted per file on the first 400 rows (``holdout=0``). Its grid (window x scale x hold x
min_on = 72 settings) is searched on valve1 only under two selection rules fixed before
any held-out figure was seen: best F1 with FAR <= 13.5 % (the target) and with FAR <=
6.75 % (half of it, a margin for the shift to other faults). Then a leave-one-group-out
check: the same grid and the 13.5 % rule on two of {valve1, valve2, other}, scored on the
third, pooled over the three.
The last block is a declared **deviation** from the leaderboard protocol: it also reads
``data/anomaly-free/anomaly-free.csv`` (9,405 normal rows, no labels) to learn, per
signal, how far normal operation wanders beyond a 400-row baseline (fit on 400 rows,
``learn_margins`` on the next 750, every 250 rows; the median factor per signal), and
every per-file detector uses those factors (``margin_``). Same grid shape (scale values
1, 1.5, 2, 3), same selection rules, same leave-one-group-out check. It was added after
the plain segment block's held-out figures had been seen (said so in docs/benchmarks.md).
Prints each figure beside the leaderboard's best (Conv-AE: F1 0.78, FAR 13.55 %).
"""

from __future__ import annotations

import argparse
import csv
import itertools
from pathlib import Path

import numpy as np

from factoryax.detect import DETECTORS, Detector, SegmentDetector, default_detector
from factoryax.detect.datasets import SkabFile, load_skab, skab_scores

PUBLISHED = "Conv-AE  F1 0.78  FAR 13.55 %  MAR 28.02 %"


def run(files: list[SkabFile], make: object) -> dict[str, float]:
    truth, pred = [], []
    for f in files:
        train, test = f.split()
        det: Detector = make()  # type: ignore[operator]
        det.fit(train, holdout=0.25)
        pred.append(det.normalise(det.score_many(test)) > 1.0)
        truth.append(f.anomaly[400:])
    return skab_scores(np.concatenate(truth), np.concatenate(pred))


SEGMENT_GRID = list(itertools.product([10, 20, 30], [1.5, 2.0, 3.0, 4.0], [0, 30, 60], [1, 10]))
"""(window, threshold_scale, hold, min_on) settings searched for the segment detector."""

GROUPS = ("valve1", "valve2", "other")


MARGIN_GRID = list(itertools.product([10, 20, 30], [1.0, 1.5, 2.0, 3.0], [0, 30, 60], [1, 10]))
"""The same grid for the deviation rows (scores there are already widened)."""

Margins = dict[int, np.ndarray]


def anomaly_free_margins(root: Path, windows: list[int]) -> Margins:
    """Per window: median per-signal factor of normal wander beyond a 400-row baseline,
    from the anomaly-free file (a deviation from the leaderboard protocol)."""
    path = root / "data" / "anomaly-free" / "anomaly-free.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    names = rows[0][1:]
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float64)
    cols = {n: values[:, i] for i, n in enumerate(names)}
    out: Margins = {}
    for window in windows:
        factors = []
        for start in range(0, values.shape[0] - 1150 + 1, 250):
            det = SegmentDetector(window=window)
            det.fit({k: v[start : start + 400] for k, v in cols.items()}, holdout=0.0)
            factors.append(
                det.learn_margins({k: v[start + 400 : start + 1150] for k, v in cols.items()})
            )
        out[window] = np.median(np.array(factors), axis=0)
    return out


def segment_predictions(
    files: list[SkabFile],
    setting: tuple[int, float, int, int],
    margins: Margins | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled (truth, alarm) over the test parts, one detector fitted per file."""
    window, scale, hold, min_on = setting
    truth, pred = [], []
    for f in files:
        train, test = f.split()
        det = SegmentDetector(window=window, threshold_scale=scale, hold=hold, min_on=min_on)
        det.fit(train, holdout=0.0)
        if margins is not None:
            det.margin_ = margins[window]
        pred.append(det.normalise(det.score_many(test)) > 1.0)
        truth.append(f.anomaly[400:])
    return np.concatenate(truth), np.concatenate(pred)


def segment_pick(
    files: list[SkabFile], far_cap: float, margins: Margins | None = None
) -> tuple[int, float, int, int]:
    """Best F1 with FAR <= ``far_cap`` on ``files`` (else best F1) over the grid."""
    ranked = []
    for setting in SEGMENT_GRID if margins is None else MARGIN_GRID:
        r = skab_scores(*segment_predictions(files, setting, margins))
        ranked.append((r["far"] <= far_cap, r["f1"], setting))
    ranked.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return ranked[0][2]


def segment_report(files: list[SkabFile], margins: Margins | None = None) -> None:
    """Prints the segment rows: valve1-tuned (two FAR caps) and leave-one-group-out."""
    tag = "segment" if margins is None else "segment+AF"
    tune = [f for f in files if f.name.startswith("valve1/")]
    held = [f for f in files if not f.name.startswith("valve1/")]
    if margins is None:
        default = SegmentDetector()
        base = (default.window, default.threshold_scale, default.hold, default.min_on)
        print(
            f"{tag} class defaults {base}, all files : "
            f"{fmt(skab_scores(*segment_predictions(files, base)))}"
        )
    for cap in (13.5, 6.75):
        setting = segment_pick(tune, cap, margins)
        print(f"{tag} tuned on valve1, FAR cap {cap} (window, scale, hold, min_on) {setting}:")
        for label, part in (
            ("valve1 (tuning set)", tune),
            ("held out (valve2+other)", held),
            ("all files", files),
        ):
            r = skab_scores(*segment_predictions(part, setting, margins))
            print(f"          {label:24s} : {fmt(r)}")
    truths, preds = [], []
    for group in GROUPS:
        test = [f for f in files if f.name.startswith(group + "/")]
        tune_g = [f for f in files if not f.name.startswith(group + "/")]
        setting = segment_pick(tune_g, 13.5, margins)
        t, p = segment_predictions(test, setting, margins)
        truths.append(t)
        preds.append(p)
        print(f"{tag} leave-one-group-out, held out {group:6s} {setting}: {fmt(skab_scores(t, p))}")
    pooled = skab_scores(np.concatenate(truths), np.concatenate(preds))
    print(f"{tag} leave-one-group-out, pooled over all files : {fmt(pooled)}")


def _roll(x: np.ndarray, w: int) -> np.ndarray:
    """Causal moving mean over ``w`` rows (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x, axis=0)])
    i = np.arange(len(x))
    lo = np.maximum(0, i - w + 1)
    return np.asarray((c[i + 1] - c[lo]) / (i - lo + 1), dtype=np.float64)


def run_perfile(files: list[SkabFile], w: int, q: float, k: float) -> dict[str, float]:
    truth, pred = [], []
    for f in files:
        X = np.column_stack([f.columns[c] for c in sorted(f.columns)])
        X = np.column_stack([_roll(X[:, j], 5) for j in range(X.shape[1])])
        mu, sd = X[:400].mean(0), X[:400].std(0) + 1e-9
        score = _roll(np.mean(((X - mu) / sd) ** 2, axis=1), w)
        threshold = np.quantile(score[w:400], q) * k
        pred.append(score[400:] > threshold)
        truth.append(f.anomaly[400:])
    return skab_scores(np.concatenate(truth), np.concatenate(pred))


def fmt(r: dict[str, float]) -> str:
    """One row's figures beside the published best and the target (F1 >= 0.80, FAR <= 13.5)."""
    met = r["f1"] >= 0.80 and r["far"] <= 13.5
    return (
        f"F1 {r['f1']:.3f}  FAR {r['far']:5.2f} %  MAR {r['mar']:5.2f} %"
        f"  | Conv-AE 0.78 / 13.55 % / 28.02 %  | target {'met' if met else 'not met'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/datasets/skab"))
    args = ap.parse_args()
    files = load_skab(args.root)
    tune = [f for f in files if f.name.startswith("valve1/")]
    held = [f for f in files if not f.name.startswith("valve1/")]
    print(f"SKAB: {len(files)} files; tuning set valve1 ({len(tune)}), held out {len(held)}")
    print(f"published best: {PUBLISHED}")
    print(
        f"default_detector() (settings from the twin), all files : "
        f"{fmt(run(files, default_detector))}"
    )
    for kind in ("hst", "pca", "zscore"):
        cls = DETECTORS[kind]
        declared = run(files, lambda cls=cls: cls(seed=0))
        print(f"{kind:7s} class defaults, all files    : {fmt(declared)}")
        grid = list(itertools.product([1.0, 0.3, 0.1], [1.0, 1.5, 2.0, 3.0]))
        scored = []
        for sm, sc in grid:
            r = run(
                tune, lambda cls=cls, sm=sm, sc=sc: cls(smoothing=sm, threshold_scale=sc, seed=0)
            )
            scored.append(((r["far"] <= 13.5), r["f1"], sm, sc))
        _, _, sm, sc = max(scored)

        def make(cls: type[Detector] = cls, sm: float = sm, sc: float = sc) -> Detector:
            return cls(smoothing=sm, threshold_scale=sc, seed=0)

        print(f"{kind:7s} tuned on valve1 (smoothing {sm}, scale {sc}):")
        print(f"          held out (valve2+other)  : {fmt(run(held, make))}")
        print(f"          all files                : {fmt(run(files, make))}")
    per_file = itertools.product([1, 10, 30, 60], [0.99, 1.0], [1.0, 1.2, 1.5, 2.0, 3.0])
    ranked: list[tuple[bool, float, int, float, float]] = []
    for w, q, k in per_file:
        r = run_perfile(tune, w, q, k)
        ranked.append(((r["far"] <= 13.5), r["f1"], w, q, k))
    _, _, w, q, k = max(ranked)
    print(f"per-file z, tuned on valve1 (w {w}, q {q}, k {k}):")
    print(f"          held out (valve2+other)  : {fmt(run_perfile(held, w, q, k))}")
    print(f"          all files                : {fmt(run_perfile(files, w, q, k))}")
    segment_report(files)
    print("deviation from the protocol: + anomaly-free file (per-signal wander factors)")
    segment_report(files, anomaly_free_margins(args.root, [10, 20, 30]))


if __name__ == "__main__":
    main()
