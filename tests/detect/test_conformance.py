"""The detector contract, run over every detector in DETECTORS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from factoryax.detect import DETECTORS, Detector, NotFittedError, Registry


def _normal(n: int = 600, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return {
        "a": a,
        "b": 2.0 * a + 0.3 * rng.normal(size=n),
        "c": rng.normal(10.0, 2.0, size=n),
        "const": np.full(n, 5.0),
    }


@pytest.fixture(params=sorted(DETECTORS))
def detector(request: pytest.FixtureRequest) -> Detector:
    """One fresh detector of each kind, seeded."""
    return DETECTORS[request.param](seed=3)


def test_clone_is_unfitted_with_same_params(detector: Detector) -> None:
    """clone() copies the parameters, not the learned state."""
    detector.fit(_normal())
    twin = detector.clone()
    assert twin.params() == detector.params()
    assert twin.signals_ is None and twin.threshold_ is None
    with pytest.raises(NotFittedError):
        twin.score_one({"a": 0.0})


def test_deterministic_given_seed(detector: Detector) -> None:
    """Two clones fed the same data give identical scores."""
    x = _normal(seed=1)
    s1 = detector.clone().fit(_normal()).score_many(x)
    s2 = detector.clone().fit(_normal()).score_many(x)
    np.testing.assert_array_equal(s1, s2)


def test_input_not_mutated(detector: Detector) -> None:
    """Neither learning nor scoring changes the caller's arrays or dicts."""
    data = _normal()
    copy = {k: v.copy() for k, v in data.items()}
    detector.fit(data)
    detector.score_many(data)
    one = {"a": 1.0, "b": None, "c": float("nan")}
    detector.score_one(one)
    assert one == {"a": 1.0, "b": None, "c": one["c"]} and math.isnan(one["c"])  # type: ignore[arg-type]
    for k in data:
        np.testing.assert_array_equal(data[k], copy[k])


def test_missing_new_and_nan_signals_give_finite_scores(detector: Detector) -> None:
    """Unknown signals are ignored; missing ones and NaNs are filled; scores stay finite."""
    detector.fit(_normal())
    assert math.isfinite(detector.score_one({"a": 0.1, "zzz_new": 1e9}))
    assert math.isfinite(detector.score_one({}))
    s = detector.score_many({"a": [np.nan, 0.0], "b": [np.inf, np.nan]})
    assert np.all(np.isfinite(s))


def test_constant_signal_does_not_break_scores(detector: Detector) -> None:
    """A signal constant in training neither divides by zero nor drives the score."""
    detector.fit(_normal())
    s = detector.score_one({"a": 0.0, "b": 0.0, "c": 10.0, "const": 500.0})
    assert math.isfinite(s)
    shares = detector.contributions_one({"a": 0.0, "b": 0.0, "c": 10.0, "const": 500.0})
    assert shares["const"] == 0.0


def test_outlier_scores_above_threshold(detector: Detector) -> None:
    """A gross outlier scores above the learned threshold; a typical sample below it."""
    detector.fit(_normal())
    normal = _normal(n=200, seed=9)
    typical = float(np.median(detector.score_many(normal)))
    detector.reset_stream()
    far = detector.score_many({"a": [8.0] * 20, "b": [-16.0] * 20, "c": [30.0] * 20})[-1]
    assert detector.threshold_ is not None
    assert typical < detector.threshold_ < far


def test_contributions_are_shares_that_point_at_the_cause(detector: Detector) -> None:
    """Shares are non-negative, sum to 1, and name the deviating signal first."""
    detector.fit(_normal())
    detector.reset_stream()
    _, shares = detector.score_and_explain({"a": [0.0] * 30, "b": [0.0] * 30, "c": [40.0] * 30})
    assert np.all(shares >= 0)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert detector.signals_ is not None
    assert detector.signals_[int(np.argmax(shares[-1]))] == "c"


def test_one_and_many_agree(detector: Detector) -> None:
    """score_one over rows equals score_many over the same rows (same streaming state)."""
    detector.fit(_normal())
    rows = _normal(n=20, seed=4)
    many = detector.clone().fit(_normal()).score_many(rows)
    ones = [detector.score_one({k: float(v[i]) for k, v in rows.items()}) for i in range(20)]
    np.testing.assert_allclose(ones, many, rtol=1e-9, atol=1e-12)


def test_learn_one_matches_learn_many(detector: Detector) -> None:
    """Learning row by row reaches the same moments (and scores) as one batch."""
    data = _normal(n=50)
    a = detector.clone()
    for i in range(50):
        a.learn_one({k: float(v[i]) for k, v in data.items()})
    b = detector.clone()
    b.learn_many(data)
    if detector.kind == "hst":  # trees are built from the first batch's scale
        return
    probe = _normal(n=5, seed=2)
    np.testing.assert_allclose(a.score_many(probe), b.score_many(probe), rtol=1e-8)


def test_registry_round_trip_without_pickle(detector: Detector, tmp_path: object) -> None:
    """A registered detector loads back (allow_pickle=False) and scores identically."""
    from pathlib import Path

    detector.fit(_normal())
    reg = Registry(Path(str(tmp_path)))
    reg.register("m", detector)
    loaded = reg.load_detector("m")
    probe = _normal(n=30, seed=5)
    detector.reset_stream()
    np.testing.assert_allclose(loaded.score_many(probe), detector.score_many(probe), rtol=1e-12)
    assert loaded.threshold_ == detector.threshold_
