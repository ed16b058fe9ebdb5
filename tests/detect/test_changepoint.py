"""The NAB score (SKAB's definition) on hand-computed cases, the mean-shift changepoint
detector's behaviour, and a SKAB check when the dataset is present."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from factoryax.detect.changepoint import (
    NAB_PROFILES,
    MeanShiftChangeDetector,
    alarm_edges,
    nab_score,
    nab_windows,
)
from factoryax.detect.datasets import SKAB_TRAIN_ROWS, load_skab
from factoryax.detect.errors import DetectConfigError, NotFittedError

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets"
PROFILES = ("standard", "reward_low_fp", "reward_low_fn")


def _scores(truth: list[list[float]], detected: list[list[float]]) -> tuple[float, ...]:
    r = nab_score(truth, detected)
    return tuple(r.scores[p] for p in PROFILES)


# ---------------------------------------------------------------- NAB score


def test_profiles_carry_nab_weights() -> None:
    """The three profiles are NAB's: A_TP 1; A_FP −0.11 (−0.22 low-FP); A_FN −1 (−2 low-FN)."""
    assert NAB_PROFILES["standard"].a_fp == -0.11 and NAB_PROFILES["standard"].a_fn == -1.0
    assert NAB_PROFILES["reward_low_fp"].a_fp == -0.22
    assert NAB_PROFILES["reward_low_fn"].a_fn == -2.0
    assert all(p.a_tp == 1.0 for p in NAB_PROFILES.values())


def test_perfect_detector_scores_100_and_null_scores_0() -> None:
    """Detections at every changepoint give 100 in every profile; none give 0."""
    truth = [[100.0, 400.0], [50.0]]
    assert _scores(truth, truth) == (100.0, 100.0, 100.0)
    assert _scores(truth, [[], []]) == (0.0, 0.0, 0.0)


def test_detection_at_window_end_is_worth_a_false_positive() -> None:
    """At the window's end the curve reaches A_FP: raw −0.11 against null −1, perfect 1
    → 100·0.89/2 = 44.5; low-FP 100·0.78/2 = 39; low-FN 100·1.89/3 = 63."""
    s = _scores([[100.0]], [[160.0]])
    assert s == pytest.approx((44.5, 39.0, 63.0))


def test_one_false_positive_and_a_miss() -> None:
    """A detection before the changepoint (the window lies to its right) is a false
    positive: raw −1.11 → −5.5; low-FP −1.22 → −11; low-FN −2.11 vs −2..1 → −11/3."""
    r = nab_score([[100.0]], [[99.0]])
    assert (r.missed, r.false_positives) == (1, 1)
    assert tuple(r.scores[p] for p in PROFILES) == pytest.approx((-5.5, -11.0, -11.0 / 3))


def test_early_detection_scores_high() -> None:
    """A quarter into the 60 s window: sample 250 of 1000, x = −π/2 + 250π/999, weight
    0.555·(1 − tanh x / tanh(π/2)) − 0.11 = 0.84157 → 100·1.84157/2 = 92.08."""
    x = -math.pi / 2 + math.pi * 250 / 999
    weight = 0.555 * (1 - math.tanh(x) / math.tanh(math.pi / 2)) - 0.11
    assert weight == pytest.approx(0.84157, abs=1e-5)
    r = nab_score([[100.0]], [[115.0]])
    assert r.scores["standard"] == pytest.approx(92.08, abs=0.005)
    assert r.delays_s == (15.0,)


def test_only_the_first_detection_in_a_window_counts() -> None:
    """Later detections in the same window add nothing and are not false positives."""
    once = nab_score([[100.0]], [[110.0]])
    thrice = nab_score([[100.0]], [[110.0, 130.0, 150.0]])
    assert thrice.scores == once.scores and thrice.false_positives == 0


def test_overlapping_windows_are_cut_at_the_left_windows_end() -> None:
    """A changepoint 30 s after another gets the window [60, 90]: a detection at 30 s
    belongs to the first window, and the second changepoint is missed."""
    assert nab_windows([0.0, 30.0], 60.0) == [(0.0, 60.0), (60.0, 90.0)]
    r = nab_score([[0.0, 30.0]], [[30.0]])
    assert (r.missed, r.false_positives) == (1, 0)


def test_raw_scores_are_summed_over_files_before_normalising() -> None:
    """File A perfect (1 changepoint), file B null (3): raw 1 − 3 = −2 against null −4 and
    perfect 4 → 25, not the mean of the per-file scores (50)."""
    assert nab_score([[10.0], [10.0, 200.0, 400.0]], [[10.0], []]).scores[
        "standard"
    ] == pytest.approx(25.0)


def test_reproduces_arimafd_published_row() -> None:
    """127 missed changepoints and 2 false positives give SKAB's ArimaFD row:
    −0.09 / −0.17 / −0.06."""
    truth = [[1000.0 * i for i in range(127)]]
    detected = [[-500.0, 500.0]]  # both outside every window
    r = nab_score(truth, detected)
    assert (r.missed, r.false_positives) == (127, 2)
    assert tuple(round(r.scores[p], 2) for p in PROFILES) == (-0.09, -0.17, -0.06)


def test_bad_inputs_are_refused() -> None:
    """Mismatched file counts, no changepoints, or a non-positive window raise."""
    with pytest.raises(DetectConfigError, match="one list of instants per file"):
        nab_score([[1.0]], [])
    with pytest.raises(DetectConfigError, match="no true changepoint"):
        nab_score([[]], [[5.0]])
    with pytest.raises(DetectConfigError, match="window_s"):
        nab_windows([1.0], 0.0)


def test_alarm_edges_mark_switches_on_and_off() -> None:
    """SKAB's conversion: a changepoint where the alarm switches, and at row 0 if on."""
    assert alarm_edges([0, 1, 1, 0, 0]).tolist() == [False, True, False, True, False]
    assert alarm_edges([]).tolist() == []


# ---------------------------------------------------------------- detector


def _noise(n: int, seed: int, level: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "flow": level + rng.normal(size=n),
        "pressure": rng.normal(5.0, 0.5, size=n),
        "const": np.full(n, 3.0),
    }


def _join(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_parameters_are_validated() -> None:
    """Out-of-range parameters raise naming the parameter."""
    with pytest.raises(DetectConfigError, match="window"):
        MeanShiftChangeDetector(window=0)
    with pytest.raises(DetectConfigError, match="threshold_q"):
        MeanShiftChangeDetector(threshold_q=0.0)
    with pytest.raises(DetectConfigError, match="threshold_scale"):
        MeanShiftChangeDetector(threshold_scale=-1.0)


def test_unfitted_detector_refuses_to_detect() -> None:
    """Scoring before learning, or detecting before a threshold, raises NotFittedError."""
    det = MeanShiftChangeDetector()
    with pytest.raises(NotFittedError):
        det.score_many({"flow": [1.0]})
    det.learn_many(_noise(50, 0))
    with pytest.raises(NotFittedError):
        det.detect_many({"flow": [1.0]})
    with pytest.raises(DetectConfigError, match="at least"):
        det.calibrate({"flow": [1.0, 2.0]})


def test_settled_step_is_one_changepoint() -> None:
    """A lasting step in one signal is flagged once, within a window of its start."""
    det = MeanShiftChangeDetector(window=10).fit(_noise(400, 0))
    flags = det.detect_many(_join(_noise(200, 1), _noise(300, 2, level=6.0)))
    hits = np.flatnonzero(flags)
    assert len(hits) == 1 and 200 <= hits[0] < 210


def test_step_and_return_are_two_changepoints() -> None:
    """A change and the return to normal are both flagged."""
    det = MeanShiftChangeDetector(window=10).fit(_noise(400, 0))
    flags = det.detect_many(_join(_noise(200, 1), _noise(200, 2, level=6.0), _noise(200, 3)))
    hits = np.flatnonzero(flags)
    assert len(hits) == 2 and 200 <= hits[0] < 210 and 400 <= hits[1] < 410


def test_ramp_keeps_firing_while_it_moves() -> None:
    """A level that keeps moving is flagged again after each restart."""
    det = MeanShiftChangeDetector(window=5).fit(_noise(400, 0))
    ramp = _noise(200, 4)
    ramp["flow"] = ramp["flow"] + np.linspace(0.0, 60.0, 200)
    assert det.detect_many(_join(_noise(100, 1), ramp)).sum() >= 5


def test_one_and_many_agree() -> None:
    """detect_one row by row equals detect_many over the same rows."""
    data = _join(_noise(100, 1), _noise(100, 2, level=5.0))
    many = MeanShiftChangeDetector(window=5).fit(_noise(300, 0)).detect_many(data)
    det = MeanShiftChangeDetector(window=5).fit(_noise(300, 0))
    ones = [det.detect_one({k: float(v[i]) for k, v in data.items()}) for i in range(200)]
    assert ones == many.tolist() and any(ones)


def test_clone_is_unfitted_and_input_is_not_mutated() -> None:
    """clone() copies the parameters only; fitting and scoring leave inputs alone."""
    data = _noise(300, 0)
    copy = {k: v.copy() for k, v in data.items()}
    det = MeanShiftChangeDetector(window=7, threshold_scale=1.5).fit(data)
    det.score_many(data)
    for k in data:
        np.testing.assert_array_equal(data[k], copy[k])
    twin = det.clone()
    assert twin.params() == det.params() and twin.threshold_ is None
    with pytest.raises(NotFittedError):
        twin.score_many(data)


def test_missing_new_nan_and_constant_signals() -> None:
    """Unknown signals are ignored, gaps are filled, and a signal constant in training
    cannot raise a changepoint however far it moves."""
    det = MeanShiftChangeDetector(window=5).fit(_noise(300, 0))
    s = det.score_many({"flow": [np.nan] * 30, "zzz": [1e9] * 30})
    assert np.all(np.isfinite(s))
    quiet = _noise(100, 5)
    quiet["const"] = np.full(100, 1e6)
    det.reset_stream()
    assert not det.detect_many(quiet).any()


# ---------------------------------------------------------------- SKAB


@pytest.mark.skipif(not (DATA / "skab").is_dir(), reason="../shared/datasets/skab absent")
def test_skab_windows_and_a_detector_above_null() -> None:
    """SKAB's test parts hold 127 changepoints; detections at each window's start score
    100; the mean-shift detector's class defaults on the valve1 files beat the null
    detector (a loose bound; the headline is in benchmarks/detect_skab_cp.py)."""
    files = load_skab(DATA / "skab")
    truth, starts = [], []
    for f in files:
        assert f.ts_s is not None and np.all(np.diff(f.ts_s) > 0)
        t = f.ts_s[SKAB_TRAIN_ROWS:][f.changepoint[SKAB_TRAIN_ROWS:] == 1]
        truth.append(t)
        starts.append([lo for lo, _ in nab_windows(t, 60.0)])
    assert sum(len(t) for t in truth) == 127
    assert nab_score(truth, starts).scores["standard"] == pytest.approx(100.0)

    valve1 = [f for f in files if f.name.startswith("valve1/")]
    vt, vd = [], []
    for f in valve1:
        assert f.ts_s is not None
        train, test = f.split()
        det = MeanShiftChangeDetector().fit(train)
        det.detect_many(train)
        vd.append(f.ts_s[SKAB_TRAIN_ROWS:][det.detect_many(test)])
        vt.append(f.ts_s[SKAB_TRAIN_ROWS:][f.changepoint[SKAB_TRAIN_ROWS:] == 1])
    r = nab_score(vt, vd)
    assert r.scores["standard"] > 0.0 and r.missed < r.changepoints
