"""The seed ensemble and the calibrated band of ``rul-blend``, and :class:`ResidualBand`.

Small settings so each test runs in seconds; the headline C-MAPSS figures (RMSE, band
coverage on the official test sets) are ``benchmarks/detect_cmapss.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from factoryax.detect import (
    DetectConfigError,
    NotFittedError,
    Registry,
    RulBlendModel,
    RulDeltaModel,
    RulMlpModel,
)
from factoryax.detect.datasets import load_cmapss
from factoryax.detect.rul_band import ResidualBand

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets"
DELTA = {"clip": 50.0, "max_iter": 30, "max_leaf_nodes": 8}
MLP = {"clip": 50.0, "members": 2, "max_epochs": 10, "hidden": 16}


def _fleet(n: int, seed: int) -> tuple[list[dict[str, np.ndarray]], list[np.ndarray]]:
    """Units of different lives and starting offsets, wearing quadratically, noisy enough
    that the estimate has a real error to calibrate."""
    rng = np.random.default_rng(seed)
    hist, ruls = [], []
    for life in rng.integers(50, 90, size=n):
        life = int(life)
        start = rng.normal(0.0, 0.3)
        wear = np.linspace(0, 1, life) ** 2 * rng.uniform(0.7, 1.3)
        hist.append(
            {
                "a": start + wear + 0.05 * rng.normal(size=life),
                "b": -2 * start + 0.5 * wear + 0.05 * rng.normal(size=life),
            }
        )
        ruls.append(np.arange(life - 1, -1, -1.0))
    return hist, ruls


def _probe(offset: float, steps: int = 70) -> dict[str, np.ndarray]:
    wear = np.linspace(0, 1, steps) ** 2
    return {"a": offset + wear, "b": -2 * offset + 0.5 * wear}


def test_seed_ensemble_is_the_mean_of_its_seeds_and_deterministic() -> None:
    """With ``seeds=2`` the estimate is the mean of the tree parts (seeds 0 and 1) averaged
    with the mean of the perceptron parts (seeds 0 and 1), and a second fit with the same
    settings predicts the same numbers."""
    hist, ruls = _fleet(10, 0)
    blend = RulBlendModel(delta=DELTA, mlp=MLP, seeds=2, coverage=None).fit(hist, ruls)
    trees = [RulDeltaModel(**DELTA, seed=s).fit(hist, ruls) for s in (0, 1)]  # type: ignore[arg-type]
    nets = [RulMlpModel(**MLP, seed=s).fit(hist, ruls) for s in (0, 1)]  # type: ignore[arg-type]
    probe = _probe(0.1)
    want = (
        np.mean([t.predict_rows(probe)[0] for t in trees], axis=0)
        + np.mean([m.predict_rows(probe)[0] for m in nets], axis=0)
    ) / 2
    p, lo, hi = blend.predict_rows(probe)
    np.testing.assert_allclose(p, want)
    assert np.all(lo <= p) and np.all(p <= hi)
    # the perceptron seeds differ, so the ensemble is not one seed twice (trees on fewer
    # than 10,000 rows have no early-stopping split, the only use of their seed)
    assert not np.allclose(nets[0].predict_rows(probe)[0], nets[1].predict_rows(probe)[0])
    again = RulBlendModel(delta=DELTA, mlp=MLP, seeds=2, coverage=None).fit(hist, ruls)
    np.testing.assert_array_equal(again.predict_rows(probe)[0], p)


def test_calibrated_ensemble_round_trips_through_the_registry(tmp_path: Path) -> None:
    """A two-seed blend with a calibrated band loads back (JSON + npz) and predicts the
    same estimate and band; its parameters survive too."""
    hist, ruls = _fleet(9, 1)
    model = RulBlendModel(delta=DELTA, mlp=MLP, seeds=2, calib_folds=3)
    model.fit(hist, ruls)
    assert model.band_ is not None and all(not d.quantiles for d in model.deltas_)
    reg = Registry(tmp_path)
    reg.register("rul-blend-ens", model, task="rul", asset="unit")
    loaded = reg.load("rul-blend-ens")
    assert isinstance(loaded, RulBlendModel) and loaded.params() == model.params()
    for got, want in zip(
        loaded.predict_rows(_probe(0.2)), model.predict_rows(_probe(0.2)), strict=True
    ):
        np.testing.assert_array_equal(got, want)


def test_a_blend_stored_before_seeds_existed_still_loads() -> None:
    """Metadata without the ``seeds``/``coverage`` keys (the one-seed format) loads as a
    one-seed blend with the parts' own bands and predicts what it predicted."""
    hist, ruls = _fleet(6, 2)
    model = RulBlendModel(delta=DELTA, mlp=MLP, seeds=1, coverage=None).fit(hist, ruls)
    meta, arrays = model.to_state()
    old = {k: v for k, v in meta["params"].items() if k in ("delta", "mlp")}
    old["delta"] = {k: v for k, v in old["delta"].items() if k != "quantiles"}
    loaded = RulBlendModel.from_state({**meta, "params": old}, arrays)
    assert loaded.seeds == 1 and loaded.band_ is None
    for got, want in zip(
        loaded.predict_rows(_probe(0.0)), model.predict_rows(_probe(0.0)), strict=True
    ):
        np.testing.assert_array_equal(got, want)


def test_residual_band_covers_nominal_share_per_region() -> None:
    """Residuals whose spread grows with the estimate: a band learnt on one sample covers
    about 80 % of a fresh sample, both where the estimate is small and where it is large
    (one band for all would be too wide at one end and too narrow at the other)."""
    rng = np.random.default_rng(3)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        pred = rng.uniform(0.0, 120.0, size=n)
        return pred, pred + rng.normal(0.0, 2.0 + pred / 6.0, size=n)

    band = ResidualBand.fit(*sample(6000), coverage=0.8, bins=6)
    pred, truth = sample(6000)
    low, high = band.apply(pred)
    inside = (truth >= low) & (truth <= high)
    assert np.all(low <= pred) and np.all(pred <= high) and np.all(low >= 0.0)
    assert 0.77 <= inside.mean() <= 0.83
    for region in (pred < 40.0, pred > 80.0):
        assert 0.74 <= inside[region].mean() <= 0.86
    assert np.median((high - low)[pred > 80.0]) > 2 * np.median((high - low)[pred < 40.0])


def test_blend_band_covers_about_nominal_on_fresh_units() -> None:
    """A blend calibrated at 80 % on one fleet covers roughly 80 % of the steps (true RUL
    up to ``calib_max`` x ``clip``) of a fresh fleet from the same process."""
    hist, ruls = _fleet(30, 4)
    model = RulBlendModel(delta=DELTA, mlp=MLP, seeds=1).fit(hist, ruls)
    fresh, truth = _fleet(40, 104)
    inside = []
    for h, r in zip(fresh, truth, strict=True):
        _, lo, hi = model.predict_rows(h)
        keep = r <= 1.15 * 50.0
        inside.append(((r >= lo) & (r <= hi))[keep])
    share = float(np.concatenate(inside).mean())
    # wide bounds: units differ in wear rate, so steps of one unit err together and the
    # effective sample is the 40 units, not their ~2,500 steps
    assert 0.7 <= share <= 0.97, share


def test_bad_ensemble_and_band_settings_are_refused() -> None:
    """Out-of-range settings and too few histories name the parameter to fix."""
    with pytest.raises(DetectConfigError, match="seeds"):
        RulBlendModel(seeds=0)
    with pytest.raises(DetectConfigError, match="coverage"):
        RulBlendModel(coverage=1.0)
    with pytest.raises(DetectConfigError, match="calib_folds"):
        RulBlendModel(calib_folds=1)
    with pytest.raises(NotFittedError):
        RulBlendModel().predict(_probe(0.0))
    hist, ruls = _fleet(3, 6)
    with pytest.raises(DetectConfigError, match="calib_folds=5"):
        RulBlendModel(delta=DELTA, mlp=MLP).fit(hist, ruls)
    with pytest.raises(DetectConfigError, match="per bin"):
        ResidualBand.fit(np.zeros(20), np.zeros(20), coverage=0.8, bins=5)


@pytest.mark.skipif(not (DATA / "cmapss").is_dir(), reason="../shared/datasets/cmapss absent")
def test_cmapss_fd001_calibrated_band_slice() -> None:
    """30 FD001 training engines, small settings: the calibrated 80 % band covers a
    plausible share of the 100 test engines' true RUL at their last cycle (the headline
    coverage figures are benchmarks/detect_cmapss.py)."""
    ds = load_cmapss(DATA / "cmapss", "FD001")
    sensors = np.array([2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21]) + 4

    def units(rows: np.ndarray, ids: np.ndarray) -> list[dict[str, np.ndarray]]:
        return [{f"s{k}": rows[rows[:, 0] == u, k] for k in sensors} for u in ids]

    ids = np.arange(1, 31)
    ruls = [(lambda c: c.max() - c)(ds.train[ds.train[:, 0] == u, 1]) for u in ids]
    model = RulBlendModel(
        delta={"max_iter": 60, "max_leaf_nodes": 15},
        mlp={"members": 2, "max_epochs": 10, "patience": 5},
        seeds=1,
        calib_folds=3,
    ).fit(units(ds.train, ids), ruls)
    est = [model.predict(h) for h in units(ds.test, np.unique(ds.test[:, 0]))]
    low = np.array([e.low for e in est])
    high = np.array([e.high for e in est])
    inside = float(np.mean((ds.test_rul >= low) & (ds.test_rul <= high)))
    assert 0.6 <= inside <= 0.97, inside
