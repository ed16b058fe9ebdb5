"""Changepoint detection and its NAB score, as the SKAB changepoint leaderboard defines it.

Two parts:

- :func:`nab_score`, a pure function: true changepoint instants and detected changepoint
  instants per file → the NAB score under three application profiles (null detector 0,
  perfect detector 100), with the counts of missed changepoints and false positives;
- :class:`MeanShiftChangeDetector`, a streaming detector that emits a changepoint when the
  mean of the last ``window`` samples moves away from the mean of the ``window`` samples
  before them (both standardised by the training scale), then restarts.

The score follows SKAB's ``core/metrics.py`` (``chp_score(metric="nab")``, from the tsad
library), which is what the SKAB leaderboard reports. It keeps the weights of the NAB
application profiles (Lavin & Ahmad 2015, "Evaluating real-time anomaly detection
algorithms – the Numenta Anomaly Benchmark", §III; NAB's ``config/profiles.json``):

=================  =====  =====  =====
profile            A_TP   A_FP   A_FN
=================  =====  =====  =====
``standard``       1      -0.11  -1
``reward_low_fp``  1      -0.22  -1
``reward_low_fn``  1      -0.11  -2
=================  =====  =====  =====

and NAB's normalisation, ``100 · (S − S_null) / (S_perfect − S_null)`` with the raw
scores summed over all files first, ``S_null = A_FN · n`` and ``S_perfect = A_TP · n``
for ``n`` changepoints. It departs from the NAB paper in three ways, all SKAB's:

1. the window is ``window_s`` seconds placed to the **right** of each true changepoint
   (``anomaly_window_destination="righter"``), not 10 % of the data centred on it;
   where two windows overlap the right one starts where the left one ends
   (``intersection_mode="cut right window"``);
2. the first detection in a window scores on a tanh curve that falls from ``A_TP`` at the
   window's start to ``A_FP`` at its end (tsad's "improved" ``my_scale``, sampled at 1000
   points), not NAB's ``A_TP · (2 / (1 + e^{5y}) − 1)`` scaled sigmoid; later detections
   in the same window count for nothing;
3. every detection outside all windows costs a flat ``A_FP``, whatever its distance to
   the preceding window (NAB weights it by the sigmoid of that distance).

Check against the published table: 127 missed changepoints and 2 false positives give
−0.09 / −0.17 / −0.06, ArimaFD's row (see the tests).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryax.detect.base import Columns, as_columns
from factoryax.detect.errors import DetectConfigError, NotFittedError

__all__ = [
    "NAB_PROFILES",
    "MeanShiftChangeDetector",
    "NabProfile",
    "NabResult",
    "alarm_edges",
    "nab_score",
    "nab_windows",
]

Floats = npt.NDArray[np.float64]

_CURVE_POINTS = 1000
"""tsad samples its scoring curve at 1000 points (``detalization``); kept for parity."""


@dataclass(frozen=True)
class NabProfile:
    """Weights of one NAB application profile (true positive, false positive, miss)."""

    a_tp: float
    a_fp: float
    a_fn: float


NAB_PROFILES: Mapping[str, NabProfile] = {
    "standard": NabProfile(a_tp=1.0, a_fp=-0.11, a_fn=-1.0),
    "reward_low_fp": NabProfile(a_tp=1.0, a_fp=-0.22, a_fn=-1.0),
    "reward_low_fn": NabProfile(a_tp=1.0, a_fp=-0.11, a_fn=-2.0),
}
"""NAB's three profiles (Lavin & Ahmad 2015; SKAB's Standard, LowFP, LowFN)."""


@dataclass(frozen=True)
class NabResult:
    """NAB scores (null detector 0, perfect 100) and the counts behind them.

    Attributes:
        scores: profile name → normalised score.
        changepoints: true changepoints (scoring windows) over all files.
        missed: windows with no detection in them.
        false_positives: detections outside every window.
        delays_s: for each detected changepoint, seconds from its window's start to the
            first detection in it.
    """

    scores: dict[str, float]
    changepoints: int
    missed: int
    false_positives: int
    delays_s: tuple[float, ...]


def nab_windows(changepoints_s: npt.ArrayLike, window_s: float) -> list[tuple[float, float]]:
    """Scoring windows ``[t, t + window_s]`` right of each changepoint, overlaps cut.

    Where a window reaches into the next one, the next one starts where this one ends
    (the two share that instant), as SKAB's ``cut right window`` does.

    Examples:
        >>> nab_windows([0.0, 30.0, 200.0], 60.0)
        [(0.0, 60.0), (60.0, 90.0), (200.0, 260.0)]
    """
    if not (window_s > 0 and math.isfinite(window_s)):
        raise DetectConfigError(f"nab_windows: `window_s` must be > 0, got {window_s!r}")
    times = np.sort(np.asarray(changepoints_s, dtype=np.float64))
    windows = [[float(t), float(t) + window_s] for t in times]
    for left, right in itertools.pairwise(windows):
        if left[1] >= right[0]:
            right[0] = left[1]
    return [(lo, hi) for lo, hi in windows]


def _tp_weight(rel: float, profile: NabProfile) -> float:
    """Weight of a first detection at relative position ``rel`` in [0, 1] of its window:
    a tanh step from ``A_TP`` (at the changepoint) down to ``A_FP`` (at the window's
    end), sampled at 1000 points as tsad does."""
    i = min(int(rel * _CURVE_POINTS), _CURVE_POINTS - 1)
    x = -math.pi / 2 + math.pi * i / (_CURVE_POINTS - 1)
    half = (profile.a_tp - profile.a_fp) / 2
    return half * (1.0 - math.tanh(x) / math.tanh(math.pi / 2)) + profile.a_fp


@dataclass(frozen=True)
class _FileOutcome:
    windows: int
    first_rel: tuple[float, ...]  # relative position of the first detection per hit window
    delays_s: tuple[float, ...]
    false_positives: int


def _match(truth_s: npt.ArrayLike, detected_s: npt.ArrayLike, window_s: float) -> _FileOutcome:
    windows = nab_windows(truth_s, window_s)
    det = np.sort(np.asarray(detected_s, dtype=np.float64))
    inside = np.zeros(det.shape[0], dtype=bool)
    rel: list[float] = []
    delays: list[float] = []
    for lo, hi in windows:
        hit = (det >= lo) & (det <= hi)
        inside |= hit
        if hit.any():
            first = float(det[np.argmax(hit)])
            rel.append((first - lo) / (hi - lo) if hi > lo else 0.0)
            delays.append(first - lo)
    return _FileOutcome(len(windows), tuple(rel), tuple(delays), int((~inside).sum()))


def nab_score(
    truth_s: Sequence[npt.ArrayLike],
    detected_s: Sequence[npt.ArrayLike],
    *,
    window_s: float = 60.0,
    profiles: Mapping[str, NabProfile] = NAB_PROFILES,
) -> NabResult:
    """NAB scores of changepoint detections over several files (SKAB's definition).

    Args:
        truth_s: per file, the instants (seconds) of the true changepoints.
        detected_s: per file, the instants (seconds) of the detected changepoints.
        window_s: width of the scoring window right of each true changepoint.
        profiles: profile name → weights; NAB's three by default.

    Raises:
        DetectConfigError: the two sequences differ in length, or no file has a true
            changepoint (the score is then undefined: null and perfect coincide).

    Examples:
        >>> r = nab_score([[100.0]], [[100.0]])
        >>> r.scores["standard"], r.missed, r.false_positives
        (100.0, 0, 0)
        >>> nab_score([[100.0]], [[]]).scores["standard"]
        0.0
    """
    if len(truth_s) != len(detected_s):
        raise DetectConfigError(
            f"nab_score: {len(truth_s)} truth file(s) but {len(detected_s)} detection "
            "file(s); pass one list of instants per file to both"
        )
    outcomes = [_match(t, d, window_s) for t, d in zip(truth_s, detected_s, strict=True)]
    n = sum(o.windows for o in outcomes)
    if n == 0:
        raise DetectConfigError(
            "nab_score: no true changepoint in any file, so the score is undefined; "
            "score files that contain changepoints"
        )
    hits = sum(len(o.first_rel) for o in outcomes)
    fps = sum(o.false_positives for o in outcomes)
    scores: dict[str, float] = {}
    for name, p in profiles.items():
        raw = p.a_fp * fps + p.a_fn * (n - hits)
        raw += sum(_tp_weight(r, p) for o in outcomes for r in o.first_rel)
        null, perfect = p.a_fn * n, p.a_tp * n
        scores[name] = 100.0 * (raw - null) / (perfect - null)
    return NabResult(
        scores=scores,
        changepoints=n,
        missed=n - hits,
        false_positives=fps,
        delays_s=tuple(d for o in outcomes for d in o.delays_s),
    )


def alarm_edges(alarm: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Changepoints of an alarm series the way SKAB's notebooks derive them from an
    outlier detector: every row where the alarm switches on or off, plus the first row
    if the alarm is already on there (``abs(prediction.diff())``, first = prediction).

    Examples:
        >>> alarm_edges([1, 1, 0, 0, 1]).tolist()
        [True, False, True, False, True]
    """
    a = np.asarray(alarm).astype(bool)
    out = np.zeros(a.shape[0], dtype=bool)
    if a.shape[0]:
        out[0] = a[0]
        out[1:] = a[1:] != a[:-1]
    return out


class MeanShiftChangeDetector:
    """Streaming changepoint detector: a two-window mean-shift test that restarts.

    For each new row the detector compares the mean of the last ``window`` rows with the
    mean of the ``window`` rows before them, per signal, in units of the signal's
    training standard deviation. The statistic is the root mean square over the signals
    of ``sqrt(window / 2) · (mean_recent − mean_before)``; for independent noise at the
    training scale each term is a standard normal, so the statistic is about 1 when
    nothing changes. A changepoint is emitted at the row where the statistic first
    exceeds :attr:`threshold_`, and the detector then restarts (forgets its rows), so a
    new changepoint needs ``2 · window`` fresh rows: a level that has settled is not
    flagged again, a level that keeps moving is.

    Why this test: SKAB's changepoints are the starts and ends of level shifts and ramps
    in flow, pressure and current (valve closures, leaks, rotor imbalance). A mean-shift
    test over two short adjacent windows (a Shewhart-style two-sample statistic, as in
    the "window" methods of Truong, Oudre & Vayatis 2020, §5.2) reacts within
    ``window`` rows and, unlike an outlier score against the training mean, it also
    fires when the process *stops* changing or returns. CUSUM or Page–Hinkley would need
    a post-change mean fixed in advance; this test does not.

    Not a :class:`~factoryax.detect.base.Detector`: its output is an event per change,
    not an anomaly score per row, and its state is a window of rows, so it keeps its own
    small API (``learn_many``/``fit``, ``score_many``, ``detect_many``, ``reset_stream``).

    Args:
        window: rows in each of the two windows (>= 1).
        threshold_q: quantile (in (0, 1]) of the statistic on the calibration rows;
            1 takes its largest value.
        threshold_scale: factor on that quantile (> 0); below 1 fires more often.

    Examples:
        >>> train = {"flow": [10.0, 10.2, 9.8, 10.1, 9.9, 10.0, 10.2, 9.8, 10.1, 9.9]}
        >>> det = MeanShiftChangeDetector(window=3).fit(train)
        >>> test = [10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 20.0, 20.1, 19.9, 20.0]
        >>> det.detect_many({"flow": test}).nonzero()[0].tolist()  # the step, at row 6
        [6]
    """

    def __init__(
        self, *, window: int = 10, threshold_q: float = 1.0, threshold_scale: float = 1.0
    ) -> None:
        if not (isinstance(window, int) and window >= 1):
            raise DetectConfigError(
                f"MeanShiftChangeDetector: `window` must be an integer >= 1, got {window!r}; "
                "use about the number of rows a change takes to show"
            )
        if not (0.0 < threshold_q <= 1.0):
            raise DetectConfigError(
                f"MeanShiftChangeDetector: `threshold_q` must be in (0, 1], got {threshold_q!r}"
            )
        if not (threshold_scale > 0.0 and math.isfinite(threshold_scale)):
            raise DetectConfigError(
                f"MeanShiftChangeDetector: `threshold_scale` must be > 0, got {threshold_scale!r}"
            )
        self.window = window
        self.threshold_q = threshold_q
        self.threshold_scale = threshold_scale
        self.signals_: tuple[str, ...] | None = None
        self.threshold_: float | None = None
        self._n = 0
        self._counts = np.zeros(0)
        self._sum = np.zeros(0)
        self._sumsq = np.zeros(0)
        self._rows: list[Floats] = []  # standardised rows since the last restart
        self._last: Floats | None = None  # last finite raw value per signal

    # ------------------------------------------------------------ parameters

    def params(self) -> dict[str, float | int]:
        """The constructor parameters, as given."""
        return {
            "window": self.window,
            "threshold_q": self.threshold_q,
            "threshold_scale": self.threshold_scale,
        }

    def clone(self) -> MeanShiftChangeDetector:
        """A new, unfitted detector with the same parameters."""
        return MeanShiftChangeDetector(
            window=self.window,
            threshold_q=self.threshold_q,
            threshold_scale=self.threshold_scale,
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"MeanShiftChangeDetector({args})"

    # ------------------------------------------------------------ learning

    def _matrix(self, cols: Mapping[str, Floats], n: int) -> Floats:
        assert self.signals_ is not None
        M = np.full((n, len(self.signals_)), np.nan)
        for j, name in enumerate(self.signals_):
            col = cols.get(name)
            if col is not None:
                M[:, j] = col
        M[~np.isfinite(M)] = np.nan
        return M

    def learn_many(self, X: Columns) -> None:
        """Learns each signal's mean and scale from rows (gaps are skipped)."""
        cols, n = as_columns(X)
        if self.signals_ is None:
            if not cols:
                raise DetectConfigError(
                    "MeanShiftChangeDetector.learn_many got no signals; pass {signal: values}"
                )
            self.signals_ = tuple(sorted(cols))
            self._sum = np.zeros(len(self.signals_))
            self._sumsq = np.zeros(len(self.signals_))
            self._counts = np.zeros(len(self.signals_))
        M = self._matrix(cols, n)
        ok = ~np.isnan(M)
        self._counts = self._counts + ok.sum(axis=0)
        self._sum = self._sum + np.where(ok, M, 0.0).sum(axis=0)
        self._sumsq = self._sumsq + (np.where(ok, M, 0.0) ** 2).sum(axis=0)
        self._n += n

    def learn_one(self, x: Mapping[str, float | None]) -> None:
        """Learns one row."""
        self.learn_many({k: [v] for k, v in x.items()})

    def _moments(self) -> tuple[Floats, Floats, npt.NDArray[np.bool_]]:
        """Mean, scale and which signals vary (constant ones are left out)."""
        if self.signals_ is None or self._n < 2:
            raise NotFittedError(
                f"MeanShiftChangeDetector has learned {self._n} row(s); "
                "call learn_many (or fit) with at least 2 rows first"
            )
        c = np.maximum(self._counts, 1.0)
        mean = self._sum / c
        var = np.maximum(self._sumsq / c - mean**2, 0.0) * c / np.maximum(c - 1.0, 1.0)
        std = np.sqrt(var)
        active = (self._counts >= 2) & (std > 1e-9 * np.maximum(1.0, np.abs(mean)))
        return mean, np.where(active, std, 1.0), active

    # ------------------------------------------------------------ scoring

    def _standardise(self, X: Columns) -> Floats:
        """Rows → standardised matrix; gaps take the last seen value (else the mean)."""
        cols, n = as_columns(X)
        mean, scale, active = self._moments()
        M = self._matrix(cols, n)
        last = self._last if self._last is not None else mean.copy()
        if n:
            # forward fill: each gap takes the row index of the last finite value
            idx = np.maximum.accumulate(np.where(np.isnan(M), 0, np.arange(1, n + 1)[:, None]))
            M = np.take_along_axis(np.vstack([last[None, :], M]), idx, axis=0)
            self._last = M[-1].copy()
        return np.asarray(np.where(active, (M - mean) / scale, 0.0), dtype=np.float64)

    def _run(self, Z: Floats, rows: list[Floats], restart: float | None) -> Floats:
        """Statistic of each row, appending to ``rows``; restarts above ``restart``."""
        _, _, active = self._moments()
        k = max(int(active.sum()), 1)
        w = self.window
        out = np.zeros(Z.shape[0])
        for i, z in enumerate(Z):
            rows.append(z)
            if len(rows) > 2 * w:
                del rows[0]
            if len(rows) < 2 * w:
                continue
            B = np.asarray(rows)
            d = B[w:].mean(axis=0) - B[:w].mean(axis=0)
            out[i] = math.sqrt(float(d @ d) / k * w / 2.0)
            if restart is not None and out[i] > restart:
                rows.clear()
        return out

    def score_many(self, X: Columns) -> Floats:
        """The mean-shift statistic of each row (0 until ``2 · window`` rows since the
        start or the last changepoint); advances the stream, restarting at each
        changepoint once a threshold is set."""
        return self._run(self._standardise(X), self._rows, self.threshold_)

    def score_one(self, x: Mapping[str, float | None]) -> float:
        """The statistic of one row (advances the stream)."""
        return float(self.score_many({k: [v] for k, v in x.items()})[0])

    def reset_stream(self) -> None:
        """Forgets the streaming state (window rows, last values)."""
        self._rows = []
        self._last = None

    # ------------------------------------------------------------ thresholding

    def calibrate(self, X: Columns) -> float:
        """Sets :attr:`threshold_` from the statistic on ``X`` (a fresh stream, no
        restarts): its ``threshold_q`` quantile times ``threshold_scale``."""
        saved_last, self._last = self._last, None
        try:
            stats = self._run(self._standardise(X), [], None)
        finally:
            self._last = saved_last
        valid = stats[2 * self.window - 1 :]
        if valid.shape[0] == 0:
            raise DetectConfigError(
                f"MeanShiftChangeDetector.calibrate got {stats.shape[0]} row(s); "
                f"it needs at least 2 · window = {2 * self.window}"
            )
        q = float(np.quantile(valid, self.threshold_q))
        self.threshold_ = max(q * self.threshold_scale, 1e-12)
        return self.threshold_

    def fit(self, X: Columns) -> MeanShiftChangeDetector:
        """Learns ``X``, calibrates the threshold on the same rows, starts a fresh stream."""
        self.learn_many(X)
        self.calibrate(X)
        self.reset_stream()
        return self

    def detect_many(self, X: Columns) -> npt.NDArray[np.bool_]:
        """Whether each row is a changepoint (advances the stream)."""
        if self.threshold_ is None:
            raise NotFittedError(
                "MeanShiftChangeDetector has no threshold; call calibrate(X) or fit(X) first"
            )
        return np.asarray(self.score_many(X) > self.threshold_)

    def detect_one(self, x: Mapping[str, float | None]) -> bool:
        """Whether one row is a changepoint (advances the stream)."""
        return bool(self.detect_many({k: [v] for k, v in x.items()})[0])
