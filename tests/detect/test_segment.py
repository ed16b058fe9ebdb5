"""SegmentDetector: windowed deviations, rate for slow signals, persistence and hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from factoryax.detect import DetectConfigError, NotFittedError, SegmentDetector
from factoryax.detect.datasets import load_skab, skab_scores

SKAB = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "skab"


def _noise(n: int, seed: int, flow: float = 10.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"flow": rng.normal(flow, 1.0, n), "vib": rng.normal(0.0, 1.0, n)}


def _alarms(det: SegmentDetector, X: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(det.normalise(det.score_many(X)) > 1.0)


def test_sustained_shift_alarms_and_holds_after_it_ends() -> None:
    """A 100-row shift of 3 sigma alarms within the window and stays on `hold` rows after."""
    det = SegmentDetector(window=10, hold=15, threshold_scale=2.0).fit(_noise(600, 0), holdout=0.0)
    quiet, shifted, after = _noise(200, 1), _noise(100, 2, flow=13.0), _noise(200, 3)
    a_quiet = _alarms(det, quiet)
    a_shift = _alarms(det, shifted)
    a_after = _alarms(det, after)
    assert not a_quiet.any()
    assert a_shift[10:].all()
    assert a_after[:15].all()  # the hold
    assert not a_after[40:].any()  # window + hold later, the level is back


def test_min_on_ignores_a_short_spike() -> None:
    """A 3-row spike alarms with min_on=1 but not with min_on=10 (persistence)."""
    train = _noise(600, 0)
    spike = _noise(100, 4)
    spike["flow"][50:53] = 60.0
    eager = SegmentDetector(window=1, hold=0, min_on=1).fit(train, holdout=0.0)
    patient = SegmentDetector(window=1, hold=0, min_on=10).fit(train, holdout=0.0)
    assert _alarms(eager, spike)[50:53].all()
    assert not _alarms(patient, spike).any()


def test_slow_signal_is_scored_on_its_rate() -> None:
    """A signal that drifts slowly in training (a warming body) is scored on its change,
    so the same drift continuing does not alarm; scored on its level, it would."""
    rng = np.random.default_rng(5)
    t = np.arange(900.0)
    temp = 20.0 + 0.01 * t + rng.normal(0.0, 0.05, 900)
    X = {"temp": temp, "vib": rng.normal(0.0, 1.0, 900)}
    train = {k: v[:400] for k, v in X.items()}
    later = {k: v[400:] for k, v in X.items()}
    by_rate = SegmentDetector(window=10, hold=0).fit(train, holdout=0.0)
    by_level = SegmentDetector(window=10, hold=0, drift_ratio=1.0).fit(train, holdout=0.0)
    assert not _alarms(by_rate, later).any()
    assert _alarms(by_level, later)[-100:].all()


def test_rate_still_catches_a_fast_change_of_a_slow_signal() -> None:
    """A step on a slowly drifting signal alarms: its rate jumps."""
    rng = np.random.default_rng(6)
    temp = 20.0 + 0.01 * np.arange(700.0) + rng.normal(0.0, 0.05, 700)
    temp[500:] += 3.0
    X = {"temp": temp, "vib": rng.normal(0.0, 1.0, 700)}
    det = SegmentDetector(window=10, hold=0).fit({k: v[:400] for k, v in X.items()}, holdout=0.0)
    alarms = _alarms(det, {k: v[400:] for k, v in X.items()})
    assert not alarms[:100].any() and alarms[100:115].any()


def test_streaming_in_chunks_equals_one_call() -> None:
    """Persistence and hold carry across calls: chunks of 7 rows score like one batch."""
    train = _noise(600, 0)
    probe = _noise(300, 7, flow=10.0)
    probe["flow"][100:160] += 4.0
    one = SegmentDetector(window=10, hold=20, min_on=5).fit(train)
    chunked = one.clone().fit(train)
    whole = one.score_many(probe)
    parts = [
        chunked.score_many({k: v[i : i + 7] for k, v in probe.items()}) for i in range(0, 300, 7)
    ]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12)


def test_reset_stream_returns_to_the_learned_tail() -> None:
    """After reset_stream the same rows score the same as right after fit."""
    det = SegmentDetector(window=10).fit(_noise(600, 0))
    probe = _noise(50, 8)
    first = det.score_many(probe)
    det.score_many(_noise(80, 9, flow=20.0))
    det.reset_stream()
    np.testing.assert_array_equal(det.score_many(probe), first)


def test_too_few_rows_to_score_says_how_many_are_needed() -> None:
    """Fewer than 2 x window + 1 learned rows cannot score; the error names the need."""
    det = SegmentDetector(window=20)
    det.learn_many(_noise(30, 0))
    with pytest.raises(NotFittedError, match="41"):
        det.score_one({"flow": 10.0, "vib": 0.0})


@pytest.mark.parametrize(
    ("name", "value"),
    [("window", 0), ("drift_window", 1), ("hold", -1), ("min_on", 0), ("drift_ratio", 0.0)],
)
def test_bad_parameters_are_named(name: str, value: float) -> None:
    """An out-of-range parameter raises DetectConfigError naming it."""
    with pytest.raises(DetectConfigError, match=name):
        SegmentDetector(**{name: value})  # type: ignore[arg-type]  # parametrised kwargs


@pytest.mark.skipif(not SKAB.exists(), reason="SKAB dataset not present at ../shared/datasets")
def test_skab_valve2_under_the_published_split() -> None:
    """On the SKAB valve2 files (not used to choose the defaults), per-file detectors
    fitted on each file's first 400 rows find the outlet-valve closures with few false
    alarms: pooled F1 > 0.85, FAR < 5 %."""
    files = [f for f in load_skab(SKAB) if f.name.startswith("valve2/")]
    assert len(files) == 4
    truth, pred = [], []
    for f in files:
        train, test = f.split()
        det = SegmentDetector().fit(train, holdout=0.0)
        pred.append(_alarms(det, test))
        truth.append(f.anomaly[400:])
    r = skab_scores(np.concatenate(truth), np.concatenate(pred))
    assert r["f1"] > 0.85 and r["far"] < 5.0


def test_learn_margins_widens_only_the_restless_signal() -> None:
    """Normal data where one signal wanders further than in learning widens that signal's
    scale alone; the other keeps its sensitivity; the factors survive the registry."""
    from factoryax.detect import Registry

    det = SegmentDetector(window=10, hold=0, threshold_scale=2.0)
    det.fit(_noise(600, 0), holdout=0.0)
    wander = _noise(400, 10)
    wander["vib"] = wander["vib"] * 2.5
    factors = det.learn_margins(wander)
    assert det.signals_ == ("flow", "vib")
    assert factors[0] == pytest.approx(1.0, abs=0.3) and factors[1] > 1.5
    det.reset_stream()
    assert not _alarms(det, _noise(200, 11) | {"vib": _noise(200, 12)["vib"] * 2.5}).any()
    det.reset_stream()
    assert _alarms(det, _noise(200, 13, flow=14.0))[10:].all()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(Path(tmp))
        reg.register("m", det)
        loaded = reg.load_detector("m")
    assert isinstance(loaded, SegmentDetector) and loaded.margin_ is not None
    np.testing.assert_array_equal(loaded.margin_, factors)
