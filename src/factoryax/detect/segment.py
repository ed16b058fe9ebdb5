"""Segment detector: multi-scale drift from a learned baseline, with alarm persistence.

Built for faults that last minutes (a closed valve, a leak, a rotor imbalance) rather
than single-sample spikes. Three choices make it work on such segment-style faults (the
SKAB benchmark, ``benchmarks/detect_skab.py``):

1. **Level over a window.** Each signal is averaged over the last ``window`` rows, so a
   sustained shift of a fraction of the sample noise stands out (the noise of a mean of
   ``w`` rows shrinks by ``√w``).
2. **Rate for slow signals.** A signal whose training variance is mostly slow (the
   standard deviation of its ``drift_window``-row mean is at least ``drift_ratio`` times
   that of the raw samples, e.g. a body temperature warming up) is scored on its change
   over ``window`` rows instead of its level: its level would keep drifting away from
   any baseline and alarm long after a fault ends. For white noise the ratio is about
   ``1/√drift_window``; for a pure drift about 1.
3. **Per-signal scale = the largest deviation seen in learning.** A signal's deviation
   is ``|f - mean| / max_learned |f - mean|``; the score is the largest over the signals,
   so 1.0 is "as far as anything seen in normal operation" and a restless signal cannot
   mask a quiet one. ``threshold_`` is ``threshold_scale`` times that (or more, see
   :meth:`SegmentDetector.calibrate`).

Then the per-row score passes two causal filters, the usual way to cut false alarms on
segment labels: **persistence** (``min_on`` rows: the running minimum, so an alarm needs
``min_on`` consecutive rows over the threshold) and **hold** (``hold`` rows: the running
maximum, so an alarm, once raised, stays on ``hold`` rows after the score falls back; a
fault's return transition is still a fault). Both are exact on the normalised score:
``normalise(score) > 1`` is the filtered alarm.

Streaming: the detector keeps the last ``max(2·window, drift_window)`` learned rows; the
scoring stream starts from them (so a detector fitted on the rows just before the ones it
scores sees no seam) and carries its own rows and the last ``hold + min_on`` scores across
``score_one``/``score_many`` calls. :meth:`~SegmentDetector.reset_stream` returns to the
learned tail, and so does learning more rows. Learning row by row equals learning in
one batch.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> normal = {"flow": rng.normal(10.0, 1.0, 600), "vib": rng.normal(0.0, 1.0, 600)}
    >>> det = SegmentDetector(window=10, hold=5).fit(normal, holdout=0.0)
    >>> quiet = det.normalise(det.score_many(
    ...     {"flow": rng.normal(10.0, 1.0, 100), "vib": rng.normal(0.0, 1.0, 100)}))
    >>> shifted = det.normalise(det.score_many(
    ...     {"flow": rng.normal(6.0, 1.0, 100), "vib": rng.normal(0.0, 1.0, 100)}))
    >>> bool(quiet.max() < 1.0 < shifted[-50:].min())
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from factoryax.detect.base import Columns, Detector, Floats, Params, _Moments, _Stream, as_columns
from factoryax.detect.errors import DetectConfigError, ModelFileError, NotFittedError

__all__ = ["SegmentDetector"]


@dataclass
class _SegmentStream:
    """Scoring state carried across calls: gap filling, recent raw rows, recent scores."""

    fill: _Stream = field(default_factory=_Stream)
    rows: Floats | None = None  # last raw rows (context of the rolling windows)
    raw: Floats = field(default_factory=lambda: np.zeros(0))  # last per-row scores
    held: Floats = field(default_factory=lambda: np.zeros(0))  # last persistent scores


def _window_means(C: Floats, w: int) -> Floats:
    """Mean of the ``w`` rows ending at each row of ``C`` (NaN before row ``w - 1``)."""
    out = np.full(C.shape, np.nan)
    if C.shape[0] >= w:
        cs = np.vstack([np.zeros((1, C.shape[1])), np.cumsum(C, axis=0)])
        out[w - 1 :] = (cs[w:] - cs[:-w]) / w
    return out


def _last(x: Floats, k: int) -> Floats:
    """The last ``k`` values of ``x`` (none for ``k = 0``)."""
    return x[max(0, x.shape[0] - k) :] if k > 0 else x[:0]


def _running(x: Floats, history: Floats, n: int, largest: bool) -> Floats:
    """Running max (``largest``) or min of ``x`` over ``n`` values, ``history`` first."""
    if n <= 1:
        return x
    history = _last(history, n - 1)
    pad = np.full(n - 1 - history.shape[0], -np.inf if largest else np.inf)
    full = np.concatenate([pad, history, x])
    view = sliding_window_view(full, n)
    return np.asarray(view.max(axis=1) if largest else view.min(axis=1), dtype=np.float64)


class SegmentDetector(Detector):
    """Windowed level/rate deviation with persistence and hold (see the module docstring).

    Args:
        window: rows averaged into each signal's level (and the lag of its rate), >= 1.
        drift_ratio: a signal is "slow" (scored on its rate) when the standard deviation
            of its ``drift_window``-row mean reaches this share of its raw one, in (0, 1].
        drift_window: rows of the mean used for that test, >= 2.
        hold: rows an alarm stays on after the score falls back under the threshold, >= 0.
        min_on: consecutive rows over the threshold before an alarm, >= 1.
        threshold_q: quantile of the calibration scores that can widen the threshold.
        threshold_scale: the threshold in units of the largest learned deviation (> 0).
        seed: unused (no randomness); kept for the common constructor.

    Defaults: chosen on the SKAB ``valve1`` files only (see ``docs/benchmarks.md``).
    """

    kind = "segment"

    def __init__(
        self,
        *,
        window: int = 20,
        drift_ratio: float = 0.6,
        drift_window: int = 30,
        hold: int = 30,
        min_on: int = 1,
        threshold_q: float = 0.995,
        threshold_scale: float = 3.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(threshold_q=threshold_q, threshold_scale=threshold_scale, seed=seed)
        checks = {
            "window": (window, 1, "1 for raw samples, ~20 for 1 Hz data"),
            "drift_window": (drift_window, 2, "~30 rows"),
            "hold": (hold, 0, "0 for none"),
            "min_on": (min_on, 1, "1 for none"),
        }
        for name, (value, lowest, hint) in checks.items():
            if not (isinstance(value, int) and value >= lowest):
                raise DetectConfigError(
                    f"SegmentDetector: `{name}` must be an integer >= {lowest}, "
                    f"got {value!r}; use {hint}"
                )
        if not (0.0 < drift_ratio <= 1.0):
            raise DetectConfigError(
                f"SegmentDetector: `drift_ratio` must be in (0, 1], got {drift_ratio!r}; "
                "0.6 marks signals whose variance is mostly slow"
            )
        self.window = window
        self.drift_ratio = drift_ratio
        self.drift_window = drift_window
        self.hold = hold
        self.min_on = min_on
        self._tail: Floats | None = None  # last learned raw rows
        self._seen = 0  # rows learned
        self._feat_n = 0  # feature rows learned (level and rate both defined)
        self._feat_sum: Floats = np.zeros(0)  # [level | rate] sums
        self._feat_min: Floats = np.zeros(0)
        self._feat_max: Floats = np.zeros(0)
        self._slow = _Moments()  # moments of the drift_window-row means
        self._seg = _SegmentStream()
        self.margin_: Floats | None = None
        """Per-signal factor on the learned scale (None = 1); see :meth:`learn_margins`."""

    def params(self) -> Params:
        return {
            "window": self.window,
            "drift_ratio": self.drift_ratio,
            "drift_window": self.drift_window,
            "hold": self.hold,
            "min_on": self.min_on,
            "threshold_q": self.threshold_q,
            "threshold_scale": self.threshold_scale,
            "seed": self.seed,
        }

    # ------------------------------------------------------------ learning

    @property
    def _keep(self) -> int:
        return max(2 * self.window, self.drift_window)

    def _features(self, C: Floats) -> Floats:
        """[level | rate] of every row of ``C`` (NaN where the windows do not fit)."""
        level = _window_means(C, self.window)
        rate = np.full(C.shape, np.nan)
        rate[self.window :] = level[self.window :] - level[: -self.window]
        return np.hstack([level, rate])

    def _learn(self, M: Floats) -> None:
        prev = self._tail if self._tail is not None else np.zeros((0, M.shape[1]))
        C = np.vstack([prev, M])
        new = slice(prev.shape[0], None)
        F = self._features(C)[new]
        F = F[~np.isnan(F).any(axis=1)]
        if F.shape[0]:
            if self._feat_n == 0:
                d = F.shape[1]
                self._feat_sum = np.zeros(d)
                self._feat_min, self._feat_max = np.full(d, np.inf), np.full(d, -np.inf)
            self._feat_n += F.shape[0]
            self._feat_sum = self._feat_sum + F.sum(axis=0)
            self._feat_min = np.minimum(self._feat_min, F.min(axis=0))
            self._feat_max = np.maximum(self._feat_max, F.max(axis=0))
        slow = _window_means(C, self.drift_window)[new]
        self._slow.merge(slow[~np.isnan(slow).any(axis=1)])
        self._seen += M.shape[0]
        self._tail = C[-self._keep :].copy()
        self._seg = _SegmentStream()

    def _check_fitted(self) -> None:
        super()._check_fitted()
        if self._feat_n < 2:
            raise NotFittedError(
                f"SegmentDetector has learned {self.n_learned} row(s); it needs at least "
                f"{2 * self.window + 1} (2 x window + 1) consecutive rows before scoring"
            )

    def _scales(self) -> tuple[Floats, Floats, Floats]:
        """Per signal: feature mean, largest learned deviation (0 = left out), is-slow."""
        d = len(self.signals_ or ())
        mean = self._feat_sum / self._feat_n
        dev = np.maximum(self._feat_max - mean, mean - self._feat_min)
        raw_std = self._moments.std
        slow_std = self._slow.std if self._slow.n >= 2 else np.zeros(d)
        is_slow = slow_std >= self.drift_ratio * np.maximum(raw_std, 1e-300)
        mean_s = np.where(is_slow, mean[d:], mean[:d])
        dev_s = np.where(is_slow, dev[d:], dev[:d])
        ok = self.active_ & (dev_s > 1e-12 * np.maximum(1.0, np.abs(mean_s)))
        return mean_s, np.where(ok, dev_s, 0.0), is_slow.astype(np.float64)

    # ------------------------------------------------------------ scoring

    def _deviations(self, X: Columns, stream: _SegmentStream) -> Floats:
        """Per-row, per-signal normalised deviations (advances ``stream``'s rows)."""
        self._check_fitted()
        cols, n = as_columns(X)
        Z = self._standardise(cols, n, stream.fill)  # gap filling; smoothing is off
        M = Z * np.where(self.active_, self._moments.std, 1.0) + self._moments.mean
        assert self._tail is not None
        prev = stream.rows if stream.rows is not None else self._tail
        C = np.vstack([prev, M])
        stream.rows = C[-self._keep :].copy()
        F = self._features(C)[prev.shape[0] :]
        mean, dev, is_slow = self._scales()
        d = M.shape[1]
        chosen = np.where(is_slow > 0, F[:, d:], F[:, :d])
        if self.margin_ is not None:
            dev = dev * self.margin_
        out = np.divide(np.abs(chosen - mean), dev, out=np.zeros_like(chosen), where=dev > 0)
        return np.nan_to_num(out, nan=0.0)

    def learn_margins(self, X: Columns) -> Floats:
        """Widens each signal's scale to cover how far it wanders on ``X``; returns the
        factors (one per learned signal, >= 1).

        ``X`` is normal operation that follows the learned rows (it is scored from the
        end of the learned rows). A short baseline sees only part of a signal's normal
        wander; this prices the rest in, signal by signal, where one global threshold
        would widen the band of every signal for the most restless one. The factor of a
        signal is ``max(1, its largest normalised deviation on X)``; :attr:`margin_` can
        also be set directly from factors learned on another, longer normal run.
        """
        self.margin_ = None
        stream = _SegmentStream()
        D = self._deviations(X, stream)
        factors = np.asarray(np.maximum(1.0, D.max(axis=0, initial=0.0)), dtype=np.float64)
        self.margin_ = factors
        return factors.copy()

    def _filter(self, raw: Floats, stream: _SegmentStream) -> Floats:
        """Persistence (running min over ``min_on``) then hold (running max over
        ``hold + 1``), carrying the last scores in ``stream``."""
        held = _running(raw, stream.raw, self.min_on, largest=False)
        out = _running(held, stream.held, self.hold + 1, largest=True)
        stream.raw = _last(np.concatenate([stream.raw, raw]), self.min_on - 1)
        stream.held = _last(np.concatenate([stream.held, held]), self.hold)
        return out

    def _score(self, Z: Floats) -> Floats:  # pragma: no cover - scoring is overridden
        raise NotImplementedError("SegmentDetector scores through score_many")

    def score_many(self, X: Columns) -> Floats:
        """Filtered scores of many rows, in order (advances the streaming state)."""
        D = self._deviations(X, self._seg)
        return self._filter(D.max(axis=1, initial=0.0), self._seg)

    def score_and_explain(self, X: Columns) -> tuple[Floats, Floats]:
        """Filtered scores and each row's per-signal shares of the squared deviations."""
        D = self._deviations(X, self._seg)
        scores = self._filter(D.max(axis=1, initial=0.0), self._seg)
        parts = D**2
        total = parts.sum(axis=1, keepdims=True)
        shares = np.divide(parts, total, out=np.zeros_like(parts), where=total > 0)
        return scores, shares

    def reset_stream(self) -> None:
        """Returns the scoring stream to the end of the learned rows."""
        self._seg = _SegmentStream()

    def calibrate(self, X: Columns) -> float:
        """Sets :attr:`threshold_` = ``threshold_scale`` × max(1, the ``threshold_q``
        quantile of ``X``'s scores), scored from the end of the learned rows.

        Scores are already in units of the largest learned deviation, so calibration can
        only widen the band (data that wanders more than the learned rows), never narrow it.
        """
        _, n = as_columns(X)
        if n == 0:
            raise DetectConfigError("SegmentDetector.calibrate got no rows")
        stream = _SegmentStream()
        scores = self._filter(self._deviations(X, stream).max(axis=1, initial=0.0), stream)
        q = float(np.quantile(scores, self.threshold_q))
        self.threshold_ = self.threshold_scale * max(1.0, q)
        return self.threshold_

    def fit(self, X: Columns, *, holdout: float = 0.25) -> Self:
        """Learns ``X`` and sets the threshold; returns self.

        With ``holdout > 0`` the last ``holdout`` of the rows are scored as the
        continuation of the first ones and calibrate the threshold (see
        :meth:`calibrate`), then they are learned too. With ``holdout = 0`` the threshold
        is ``threshold_scale`` itself: every learned row scores at most 1 by construction,
        and re-scoring the learned rows would splice their end onto their start.
        """
        if not (0.0 <= holdout < 1.0):
            raise DetectConfigError(f"fit: `holdout` must be in [0, 1), got {holdout!r}")
        cols, n = as_columns(X)
        cut = n - round(n * holdout)
        if holdout == 0.0 or cut < 2 * self.window + 3 or cut == n:
            self.learn_many(cols)
            self._check_fitted()
            self.threshold_ = self.threshold_scale
            return self
        self.learn_many({k: v[:cut] for k, v in cols.items()})
        self.calibrate({k: v[cut:] for k, v in cols.items()})
        self.learn_many({k: v[cut:] for k, v in cols.items()})
        return self

    # ------------------------------------------------------------ state

    def _state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        assert self._tail is not None
        meta = {"seen": self._seen, "feat_n": self._feat_n, "slow_n": self._slow.n}
        margin = self.margin_ if self.margin_ is not None else np.ones(len(self.signals_ or ()))
        arrays = {
            "tail": self._tail,
            "feat_sum": self._feat_sum,
            "feat_min": self._feat_min,
            "feat_max": self._feat_max,
            "slow_mean": self._slow.mean,
            "slow_cross": self._slow.cross,
            "margin": margin,
        }
        return meta, arrays

    def _restore(self, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> None:
        d = len(self.signals_ or ())
        tail = np.asarray(arrays["tail"], dtype=np.float64)
        if tail.ndim != 2 or tail.shape[1] != d or arrays["feat_sum"].shape != (2 * d,):
            raise ModelFileError(
                f"SegmentDetector state has arrays of the wrong shape for {d} signal(s) "
                f"(tail {tail.shape!r}); re-train the model"
            )
        self._tail = tail
        self._seen = int(meta["seen"])
        self._feat_n = int(meta["feat_n"])
        self._feat_sum = arrays["feat_sum"]
        self._feat_min = arrays["feat_min"]
        self._feat_max = arrays["feat_max"]
        self._slow = _Moments(float(meta["slow_n"]), arrays["slow_mean"], arrays["slow_cross"])
        self.margin_ = np.asarray(arrays["margin"], dtype=np.float64)
