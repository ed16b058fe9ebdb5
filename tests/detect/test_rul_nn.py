"""The drift-feature RUL models: ``rul-gbt-delta`` (trees) and ``rul-mlp`` (perceptron
ensemble trained in torch, run in NumPy). Small and fast; the headline C-MAPSS figures are
``benchmarks/detect_cmapss.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from factoryax.detect import (
    MODEL_KINDS,
    DetectConfigError,
    NotFittedError,
    Registry,
    RulBlendModel,
    RulDeltaModel,
    RulMlpModel,
)
from factoryax.detect.datasets import load_cmapss

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def _fleet(
    n: int, seed: int
) -> tuple[list[dict[str, np.ndarray]], list[np.ndarray], np.random.Generator]:
    """Units of different lives, each starting from its own offset, wearing quadratically."""
    rng = np.random.default_rng(seed)
    hist, ruls = [], []
    for life in rng.integers(60, 90, size=n):
        life = int(life)
        start = rng.normal(0.0, 0.3)
        wear = np.linspace(0, 1, life) ** 2
        hist.append(
            {
                "a": start + wear + 0.02 * rng.normal(size=life),
                "b": -2 * start + 0.5 * wear + 0.02 * rng.normal(size=life),
            }
        )
        ruls.append(np.arange(life - 1, -1, -1.0))
    return hist, ruls, rng


def _probe(offset: float, steps: int = 80) -> dict[str, np.ndarray]:
    wear = np.linspace(0, 1, steps) ** 2
    return {"a": offset + wear, "b": -2 * offset + 0.5 * wear}


def test_mlp_learns_wear_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    """The estimate falls as wear rises, the band brackets it, one seed gives one model,
    and the registry returns a model that predicts the same numbers."""
    hist, ruls, _ = _fleet(12, 0)
    model = RulMlpModel(clip=50.0, members=2, max_epochs=40, patience=10).fit(hist, ruls)
    p, lo, hi = model.predict_rows(_probe(0.1))
    assert np.all(lo <= p) and np.all(p <= hi)
    assert p[-1] < p[30] - 10.0
    assert abs(p[-1] - 0.0) < 15.0

    again = RulMlpModel(clip=50.0, members=2, max_epochs=40, patience=10).fit(hist, ruls)
    np.testing.assert_allclose(again.predict_rows(_probe(0.1))[0], p)

    reg = Registry(tmp_path)
    reg.register("rul-mlp-unit", model, task="rul", asset="unit")
    loaded = reg.load("rul-mlp-unit")
    assert isinstance(loaded, RulMlpModel)
    np.testing.assert_array_equal(loaded.predict_rows(_probe(0.1))[0], p)
    assert MODEL_KINDS["rul-mlp"] is RulMlpModel


def test_mlp_numpy_inference_matches_torch() -> None:
    """The exported weights, run in NumPy, give what the torch network gives."""
    import torch
    from torch import nn

    hist, ruls, _ = _fleet(6, 1)
    model = RulMlpModel(clip=50.0, members=2, max_epochs=3, hidden=8).fit(hist, ruls)
    meta, arrays = model.to_state()
    # both members = member 0, so the ensemble mean is member 0's output
    arrays = {**arrays, **{k.replace("m0_", "m1_"): v for k, v in arrays.items() if "m0_" in k}}
    one = RulMlpModel.from_state(meta, arrays)
    probe = _probe(0.0)
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(arrays["m0_w1"].shape[1], 8),
        nn.ReLU(),
        nn.Linear(8, 8),
        nn.ReLU(),
        nn.Linear(8, 1),
    ).double()
    with torch.no_grad():
        for layer, n in zip((1, 3, 5), (1, 2, 3), strict=True):
            lin = net[layer]
            assert isinstance(lin, nn.Linear)
            lin.weight.copy_(torch.from_numpy(arrays[f"m0_w{n}"]))
            lin.bias.copy_(torch.from_numpy(arrays[f"m0_b{n}"]))
        want = net(torch.from_numpy(one.features(probe))).squeeze(-1).numpy() * 50.0
    np.testing.assert_allclose(one.predict_rows(probe)[0], np.clip(want, 0.0, 50.0), atol=1e-9)


def test_delta_model_uses_each_units_own_baseline(tmp_path: Path) -> None:
    """Units start at different levels; the drift features make the estimate depend on
    wear, not on the starting offset. Storage round-trips."""
    hist, ruls, _ = _fleet(16, 2)
    model = RulDeltaModel(clip=50.0, max_iter=60, max_leaf_nodes=8).fit(hist, ruls)
    high = model.predict(_probe(0.4)).rul
    low = model.predict(_probe(-0.4)).rul
    assert high < 15.0 and low < 15.0
    assert model.predict_rows(_probe(0.0))[0][20] > 30.0
    reg = Registry(tmp_path)
    reg.register("rul-delta-unit", model, task="rul", asset="unit")
    loaded = reg.load("rul-delta-unit")
    assert isinstance(loaded, RulDeltaModel) and loaded.params() == model.params()
    np.testing.assert_array_equal(
        loaded.predict_rows(_probe(0.2))[0], model.predict_rows(_probe(0.2))[0]
    )


def test_blend_is_the_mean_of_its_parts_and_round_trips(tmp_path: Path) -> None:
    """A one-seed, uncalibrated ``rul-blend`` predicts the mean of a separately trained
    delta and mlp model with the same settings, its band is the outer of theirs, and it
    survives the registry."""
    hist, ruls, _ = _fleet(10, 4)
    d = {"clip": 50.0, "max_iter": 30, "max_leaf_nodes": 8}
    m = {"clip": 50.0, "members": 2, "max_epochs": 10}
    blend = RulBlendModel(delta=d, mlp=m, seeds=1, coverage=None).fit(hist, ruls)
    p1, lo1, hi1 = RulDeltaModel(**d).fit(hist, ruls).predict_rows(_probe(0.1))  # type: ignore[arg-type]
    p2, lo2, hi2 = RulMlpModel(**m).fit(hist, ruls).predict_rows(_probe(0.1))  # type: ignore[arg-type]
    p, lo, hi = blend.predict_rows(_probe(0.1))
    np.testing.assert_allclose(p, (p1 + p2) / 2)
    np.testing.assert_allclose(lo, np.minimum(lo1, lo2))
    np.testing.assert_allclose(hi, np.maximum(hi1, hi2))
    reg = Registry(tmp_path)
    reg.register("rul-blend-unit", blend, task="rul", asset="unit")
    loaded = reg.load("rul-blend-unit")
    assert isinstance(loaded, RulBlendModel) and MODEL_KINDS["rul-blend"] is RulBlendModel
    np.testing.assert_array_equal(loaded.predict_rows(_probe(0.1))[0], p)


def test_bad_settings_and_unfitted_use_are_refused() -> None:
    with pytest.raises(DetectConfigError, match="members"):
        RulMlpModel(members=1)
    with pytest.raises(DetectConfigError, match="alpha"):
        RulDeltaModel(alpha=0.0)
    with pytest.raises(NotFittedError):
        RulMlpModel().predict(_probe(0.0))
    hist, ruls, _ = _fleet(3, 3)
    with pytest.raises(DetectConfigError, match="at least members=5"):
        RulMlpModel().fit(hist, ruls)
    with pytest.raises(DetectConfigError, match="one value per step"):
        RulMlpModel(members=2, max_epochs=1).fit(hist, [r[:-1] for r in ruls])


@pytest.mark.skipif(not (DATA / "cmapss").is_dir(), reason="../shared/datasets/cmapss absent")
def test_cmapss_fd001_slice_sanity() -> None:
    """30 FD001 training engines, scored on the first 30 test engines: a loose bound
    (the headline figures are benchmarks/detect_cmapss.py)."""
    ds = load_cmapss(DATA / "cmapss", "FD001")
    sensors = np.array([2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21]) + 4

    def units(rows: np.ndarray, ids: np.ndarray) -> list[dict[str, np.ndarray]]:
        return [{f"s{k}": rows[rows[:, 0] == u, k] for k in sensors} for u in ids]

    ids = np.arange(1, 31)
    ruls = [(lambda c: c.max() - c)(ds.train[ds.train[:, 0] == u, 1]) for u in ids]
    for model in (
        RulMlpModel(members=2, max_epochs=15, patience=5),
        RulDeltaModel(max_iter=60, max_leaf_nodes=15),
    ):
        model.fit(units(ds.train, ids), ruls)
        pred = np.array([model.predict(h).rul for h in units(ds.test, ids)])
        rmse = float(np.sqrt(np.mean((pred - ds.test_rul[:30]) ** 2)))
        assert rmse < 30.0, (model.kind, rmse)
