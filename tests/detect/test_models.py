"""RUL and defect models: exported trees match scikit-learn, calibration, storage,
and small slices of C-MAPSS / AI4I when the datasets are present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from factoryax.detect import DefectModel, Registry, RulModel
from factoryax.detect._trees import export_hgb
from factoryax.detect.datasets import load_ai4i, load_cmapss, load_skab, skab_scores

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def test_exported_trees_predict_like_sklearn() -> None:
    """The numpy forest reproduces scikit-learn's predictions, NaNs included."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.nan_to_num(X[:, 0]) * 3 + rng.normal(size=600)
    reg = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(export_hgb(reg).raw(X), reg.predict(X), atol=1e-9)
    clf = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y > 0)
    raw = export_hgb(clf).raw(X)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), clf.predict_proba(X)[:, 1], atol=1e-9)


def _defect_data(n: int = 1500, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    X = {"a": rng.normal(size=n), "b": rng.normal(size=n)}
    p = 1 / (1 + np.exp(-(2.5 * X["a"] + X["b"] - 3)))
    return X, rng.random(n) < p


def test_defect_probabilities_are_calibrated_and_stored(tmp_path: Path) -> None:
    """Mean predicted probability tracks the observed rate on fresh data, per bin; the
    stored model predicts the same."""
    X, y = _defect_data()
    model = DefectModel(max_iter=40, max_leaf_nodes=8, folds=3).fit(X, y)
    Xt, yt = _defect_data(seed=1)
    p = model.predict_proba(Xt)
    assert abs(p.mean() - yt.mean()) < 0.03
    hi = p > 0.5
    assert hi.sum() > 20 and abs(p[hi].mean() - yt[hi].mean()) < 0.15
    reg = Registry(tmp_path)
    reg.register("defect-line-1", model, task="defect")
    loaded = reg.load("defect-line-1")
    assert isinstance(loaded, DefectModel)
    np.testing.assert_array_equal(loaded.predict_proba(Xt), p)


def test_rul_band_contains_point_and_model_is_stored(tmp_path: Path) -> None:
    """The band brackets the estimate; the estimate falls as wear rises; storage round-trips."""
    rng = np.random.default_rng(0)
    lives = [int(n) for n in rng.integers(60, 90, size=10)]
    hist = [{"wear": np.linspace(0, 1, n) ** 2 + 0.02 * rng.normal(size=n)} for n in lives]
    ruls = [np.arange(n - 1, -1, -1.0) for n in lives]
    model = RulModel(clip=50.0, max_iter=30, max_leaf_nodes=8).fit(hist, ruls)
    p, lo, hi = model.predict_rows({"wear": np.linspace(0, 1, 80) ** 2})
    assert np.all(lo <= p) and np.all(p <= hi)
    assert p[-1] < p[40]
    reg = Registry(tmp_path)
    reg.register("rul-press-01", model, task="rul", asset="press-01")
    loaded = reg.load("rul-press-01")
    assert isinstance(loaded, RulModel)
    np.testing.assert_array_equal(loaded.predict_rows({"wear": np.linspace(0, 1, 80) ** 2})[0], p)


@pytest.mark.skipif(not (DATA / "cmapss").is_dir(), reason="../shared/datasets/cmapss absent")
def test_cmapss_fd001_slice_sanity() -> None:
    """30 FD001 training engines, scored on the first 30 test engines: a loose bound
    (the headline figure is benchmarks/detect_cmapss.py)."""
    ds = load_cmapss(DATA / "cmapss", "FD001")
    keep = np.r_[1, 2, 3, 6, 7, 10, 11, 12, 14, 16, 19, 20]  # informative sensors of FD001

    def units(rows: np.ndarray, ids: np.ndarray) -> list[dict[str, np.ndarray]]:
        return [{f"s{k}": rows[rows[:, 0] == u, 5 + k] for k in keep} for u in ids]

    ids = np.arange(1, 31)
    ruls = [(lambda c: c.max() - c)(ds.train[ds.train[:, 0] == u, 1]) for u in ids]
    model = RulModel(max_iter=60, max_leaf_nodes=15).fit(units(ds.train, ids), ruls)
    pred = np.array([model.predict(h).rul for h in units(ds.test, ids)])
    rmse = float(np.sqrt(np.mean((pred - ds.test_rul[:30]) ** 2)))
    assert rmse < 30.0


@pytest.mark.skipif(not (DATA / "ai4i2020").is_dir(), reason="../shared/datasets/ai4i2020 absent")
def test_ai4i_holdout_sanity() -> None:
    """A 70/30 split of AI4I: PR-AUC far above the 3.4 % base rate."""
    from sklearn.metrics import average_precision_score

    X, y = load_ai4i(DATA / "ai4i2020")
    cols = {f"f{i}": X[:, i] for i in range(X.shape[1])}
    idx = np.random.default_rng(0).permutation(len(y))
    tr, te = idx[:7000], idx[7000:]
    model = DefectModel(max_iter=60, folds=3).fit({k: v[tr] for k, v in cols.items()}, y[tr])
    ap = average_precision_score(y[te], model.predict_proba({k: v[te] for k, v in cols.items()}))
    assert ap > 0.5


@pytest.mark.skipif(not (DATA / "skab").is_dir(), reason="../shared/datasets/skab absent")
def test_skab_protocol_slice_beats_chance() -> None:
    """Three SKAB files under the 400-row protocol: PCA catches most anomalous rows while
    flagging under half of the normal ones (a loose bound; headline in benchmarks)."""
    from factoryax.detect import PcaDetector

    files = [
        f
        for f in load_skab(DATA / "skab")
        if f.name in ("valve1/0.csv", "valve2/0.csv", "other/9.csv")
    ]
    truth, pred = [], []
    for f in files:
        train, test = f.split()
        det = PcaDetector().fit(train)
        pred.append(det.normalise(det.score_many(test)) > 1)
        truth.append(f.anomaly[400:])
    ours = skab_scores(np.concatenate(truth), np.concatenate(pred))
    assert ours["far"] < 50.0 and ours["mar"] < 50.0
