"""AI4I 2020 machine-failure prediction: stratified 5-fold F1, PR-AUC and calibration.

    nice .venv/bin/python benchmarks/detect_ai4i.py [--root ../shared/datasets/ai4i2020]

Model: :class:`factoryax.detect.DefectModel` (boosted trees, isotonic calibration on
out-of-fold scores of each training fold, F1-optimal threshold chosen on those same
training-fold predictions, never on the test fold); hyper-parameters declared, not tuned.
Features: type (one-hot), air and process temperature, speed, torque, tool wear, plus
three a maintenance engineer would derive: mechanical power (torque × speed), process −
air temperature, and torque × tool wear. The five failure-mode flags leak the target and
are dropped. There is no official split or leaderboard (see SOURCE.md); the figure beside
it is a scikit-learn HistGradientBoosting classifier at 0.5 on the same folds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, f1_score
from sklearn.model_selection import StratifiedKFold

from factoryax.detect import DefectModel
from factoryax.detect.datasets import AI4I_FEATURES, load_ai4i


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/datasets/ai4i2020"))
    args = ap.parse_args()
    X, y = load_ai4i(args.root)
    power = X[:, 6] * X[:, 5] * 2 * np.pi / 60.0
    X = np.column_stack([X, power, X[:, 4] - X[:, 3], X[:, 6] * X[:, 7]])
    names = [*AI4I_FEATURES, "power_w", "temp_diff_k", "torque_x_wear"]
    ours: dict[str, list[float]] = {"f1": [], "ap": [], "brier": []}
    base: dict[str, list[float]] = {"f1": [], "ap": []}
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)
    for k, (tr, te) in enumerate(folds):
        cols = {n: X[:, i] for i, n in enumerate(names)}
        model = DefectModel().fit({n: v[tr] for n, v in cols.items()}, y[tr])
        p = model.predict_proba({n: v[te] for n, v in cols.items()})
        ours["f1"].append(f1_score(y[te], p >= (model.threshold_ or 0.5)))
        ours["ap"].append(average_precision_score(y[te], p))
        ours["brier"].append(brier_score_loss(y[te], p))
        ref = HistGradientBoostingClassifier(random_state=0).fit(X[tr], y[tr])
        q = ref.predict_proba(X[te])[:, 1]
        base["f1"].append(f1_score(y[te], q >= 0.5))
        base["ap"].append(average_precision_score(y[te], q))
        print(
            f"fold {k}: F1 {ours['f1'][-1]:.3f}  PR-AUC {ours['ap'][-1]:.3f}  "
            f"Brier {ours['brier'][-1]:.4f}  (threshold {model.threshold_:.2f})",
            flush=True,
        )

    def ms(v: list[float]) -> str:
        return f"{np.mean(v):.3f} ± {np.std(v):.3f}"

    print(
        f"AI4I stratified 5-fold  DefectModel: F1 {ms(ours['f1'])}  PR-AUC {ms(ours['ap'])}  "
        f"Brier {np.mean(ours['brier']):.4f}"
    )
    print(f"                 sklearn HGB @ 0.5: F1 {ms(base['f1'])}  PR-AUC {ms(base['ap'])}")


if __name__ == "__main__":
    main()
