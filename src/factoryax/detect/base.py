"""The detector API every anomaly detector follows (river's verbs, numpy underneath).

A detector learns what normal looks like from samples of named signals and scores new
samples; a higher score is always more anomalous. Samples are a mapping
``{signal: value}`` (``*_one``) or a mapping ``{signal: column}`` (``*_many``, one row
per instant, in time order).

Shared behaviour, tested over every detector by ``tests/detect/test_conformance.py``:

- the signal set is fixed by the first ``learn_*`` call; later signals the detector did
  not learn are ignored, missing ones and NaNs are filled with the signal's last seen
  value (else its training mean), so they add nothing to the score;
- a signal that was constant in training is left out of the model (it has no scale);
- inputs are never mutated; randomness comes only from ``seed``;
- ``clone()`` gives an unfitted detector with the same parameters;
- ``smoothing`` (EWMA weight in (0, 1], 1 = none) filters the standardised samples in
  time before scoring (a MEWMA chart, Lowry et al. 1992), so a detector carries a small
  streaming state across ``score_*`` calls; :meth:`reset_stream` clears it;
- ``fit`` = ``learn_many`` + ``calibrate``: the alarm threshold is the ``threshold_q``
  quantile of the scores on the calibration data times ``threshold_scale``, so
  ``score / threshold_ > 1`` is an alarm (:meth:`normalise`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from factoryax.detect.errors import DetectConfigError, ModelFileError, NotFittedError

__all__ = ["Columns", "Detector", "Params", "Sample", "as_columns"]

Sample = Mapping[str, float | None]
"""One instant: signal name → value (None or NaN when missing)."""

Columns = Mapping[str, "npt.ArrayLike | Sequence[float | None]"]
"""Many instants: signal name → one value per instant (equal lengths, time order)."""

Params = dict[str, float | int | str | None]
"""Constructor parameters, JSON-serialisable."""

Floats = npt.NDArray[np.float64]


def as_columns(X: Columns) -> tuple[dict[str, Floats], int]:
    """Copies ``X`` into float64 columns of one length; returns them and the length.

    Raises:
        DetectConfigError: columns of different lengths, or a column that is not 1-D.

    Examples:
        >>> cols, n = as_columns({"a": [1, 2], "b": [0.5, None]})
        >>> n, cols["b"].tolist()
        (2, [0.5, nan])
    """
    out: dict[str, Floats] = {}
    n: int | None = None
    for name, values in X.items():
        arr = np.array(
            [np.nan if v is None else v for v in values]
            if isinstance(values, list | tuple)
            else values,
            dtype=np.float64,
        )
        if arr.ndim != 1:
            raise DetectConfigError(
                f"column {name!r} has shape {arr.shape!r}; pass one 1-D column per signal"
            )
        if n is None:
            n = arr.shape[0]
        elif arr.shape[0] != n:
            raise DetectConfigError(
                f"column {name!r} has {arr.shape[0]} values, the others {n}; "
                "pass columns of one length (one row per instant)"
            )
        out[str(name)] = arr
    return out, n or 0


@dataclass
class _Stream:
    """What scoring carries from one call to the next (time-series state)."""

    last: Floats | None = None  # last finite raw value per signal
    ewma: Floats | None = None  # last smoothed standardised sample


@dataclass
class _Moments:
    """Running count, mean and co-moment matrix (sum of products of deviations), merged
    batch by batch with the pairwise update of Chan, Golub and LeVeque (1979)."""

    n: float = 0.0
    mean: Floats = field(default_factory=lambda: np.zeros(0))
    cross: Floats = field(default_factory=lambda: np.zeros((0, 0)))

    def merge(self, M: Floats) -> None:
        nb = float(M.shape[0])
        if nb == 0:
            return
        mb = M.mean(axis=0)
        D = M - mb
        cb = D.T @ D
        if self.n == 0:
            self.n, self.mean, self.cross = nb, mb, cb
            return
        tot = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * nb / tot
        self.cross = self.cross + cb + np.outer(delta, delta) * self.n * nb / tot
        self.n = tot

    @property
    def cov(self) -> Floats:
        if self.n < 2:
            return np.zeros_like(self.cross)
        return self.cross / (self.n - 1)

    @property
    def std(self) -> Floats:
        return np.sqrt(np.maximum(np.diag(self.cov), 0.0))


class Detector(ABC):
    """Base of every anomaly detector (see the module docstring for the contract).

    Args:
        smoothing: EWMA weight of the newest sample, in (0, 1]; 1 scores each sample alone.
        threshold_q: quantile of the calibration scores that becomes the threshold.
        threshold_scale: factor on that quantile (> 0); above 1 trades misses for fewer
            false alarms.
        seed: seed of any randomness (detectors without randomness ignore it).
    """

    kind: ClassVar[str]
    """Registry name of the detector class."""

    def __init__(
        self,
        *,
        smoothing: float = 1.0,
        threshold_q: float = 0.995,
        threshold_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if not (0.0 < smoothing <= 1.0):
            raise DetectConfigError(
                f"{type(self).__name__}: `smoothing` must be in (0, 1], got {smoothing!r}; "
                "use 1 for no smoothing, ~0.05 to average over ~40 samples"
            )
        if not (0.0 < threshold_q < 1.0):
            raise DetectConfigError(
                f"{type(self).__name__}: `threshold_q` must be in (0, 1), got {threshold_q!r}"
            )
        if not (threshold_scale > 0.0 and math.isfinite(threshold_scale)):
            raise DetectConfigError(
                f"{type(self).__name__}: `threshold_scale` must be > 0, got {threshold_scale!r}"
            )
        self.smoothing = smoothing
        self.threshold_q = threshold_q
        self.threshold_scale = threshold_scale
        self.seed = seed
        self.signals_: tuple[str, ...] | None = None
        self.threshold_: float | None = None
        self._moments = _Moments()
        self._stream = _Stream()

    # ------------------------------------------------------------ parameters

    def params(self) -> Params:
        """The constructor parameters, as given."""
        return {
            "smoothing": self.smoothing,
            "threshold_q": self.threshold_q,
            "threshold_scale": self.threshold_scale,
            "seed": self.seed,
        }

    def clone(self) -> Self:
        """A new, unfitted detector with the same parameters."""
        return type(self)(**self.params())  # type: ignore[arg-type]  # params() mirrors __init__

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------ learning

    @property
    def n_learned(self) -> int:
        """Samples learned so far."""
        return int(self._moments.n)

    def learn_one(self, x: Sample) -> None:
        """Learns one sample."""
        self.learn_many({k: [v] for k, v in x.items()})

    def learn_many(self, X: Columns) -> None:
        """Learns many samples (rows in time order)."""
        cols, n = as_columns(X)
        if self.signals_ is None:
            if not cols:
                raise DetectConfigError(
                    f"{type(self).__name__}.learn_many got no signals; pass {{signal: values}}"
                )
            self.signals_ = tuple(sorted(cols))
        if n == 0:
            return
        M = self._matrix(cols, n)
        # training rows: fill gaps per column with the column's own mean, else the learned one
        ok = ~np.isnan(M)
        counts = ok.sum(axis=0)
        sums = np.where(ok, M, 0.0).sum(axis=0)
        fallback = self._moments.mean if self._moments.n else np.zeros(M.shape[1])
        col_mean = np.where(counts > 0, sums / np.maximum(counts, 1), fallback)
        M = np.where(ok, M, col_mean)
        self._moments.merge(M)
        self._learn(M)

    def _matrix(self, cols: Mapping[str, Floats], n: int) -> Floats:
        assert self.signals_ is not None
        M = np.full((n, len(self.signals_)), np.nan)
        for j, name in enumerate(self.signals_):
            col = cols.get(name)
            if col is not None:
                M[:, j] = col
        M[~np.isfinite(M)] = np.nan
        return M

    def _learn(self, M: Floats) -> None:  # noqa: B027  # optional hook
        """Detector-specific learning on gap-free raw rows (moments are already merged)."""

    # ------------------------------------------------------------ scoring

    def _check_fitted(self) -> None:
        if self.signals_ is None or self._moments.n < 2:
            raise NotFittedError(
                f"{type(self).__name__} has learned {self.n_learned} sample(s); "
                "call learn_many (or fit) with at least 2 samples before scoring"
            )

    @property
    def active_(self) -> npt.NDArray[np.bool_]:
        """Which learned signals vary (constant ones are left out of the model)."""
        self._check_fitted()
        std = self._moments.std
        return np.asarray(std > 1e-12 * np.maximum(1.0, np.abs(self._moments.mean)))

    def _standardise(self, cols: Mapping[str, Floats], n: int, stream: _Stream) -> Floats:
        """Rows → filled, standardised, smoothed matrix (constant signals are 0)."""
        M = self._matrix(cols, n)
        mean = self._moments.mean
        # forward-fill gaps with the last finite value (carried across calls), else the mean
        last = stream.last if stream.last is not None else mean.copy()
        if n:
            idx = np.where(np.isnan(M), 0, np.arange(1, n + 1)[:, None])
            idx = np.maximum.accumulate(idx, axis=0)
            padded = np.vstack([last[None, :], M])
            M = np.take_along_axis(padded, idx, axis=0)
            stream.last = M[-1].copy()
        active = self.active_
        scale = np.where(active, self._moments.std, 1.0)
        Z = np.where(active, (M - mean) / scale, 0.0)
        if self.smoothing < 1.0 and n:
            # imported here: scipy.signal takes ~0.8 s to import, which every CLI command
            # that merely imports factoryax.detect would otherwise pay
            from scipy.signal import lfilter  # type: ignore[import-untyped]  # no stubs

            a = self.smoothing
            prev = stream.ewma if stream.ewma is not None else np.zeros(Z.shape[1])
            Z, zf = lfilter([a], [1.0, a - 1.0], Z, axis=0, zi=((1.0 - a) * prev)[None, :])
            stream.ewma = zf[0] / (1.0 - a)
        return np.asarray(Z, dtype=np.float64)

    @abstractmethod
    def _score(self, Z: Floats) -> Floats:
        """Scores of standardised, smoothed rows (one column per learned signal)."""

    def _contrib(self, Z: Floats) -> Floats:
        """Non-negative per-signal parts of each row's deviation (default: z²)."""
        return Z**2

    def _one(self, x: Sample) -> dict[str, list[float | None]]:
        self._check_fitted()
        assert self.signals_ is not None
        return {s: [x.get(s)] for s in self.signals_}

    def score_one(self, x: Sample) -> float:
        """Score of one sample (advances the streaming state)."""
        return float(self.score_many(self._one(x))[0])

    def score_many(self, X: Columns) -> Floats:
        """Scores of many samples, in order (advances the streaming state)."""
        self._check_fitted()
        cols, n = as_columns(X)
        return self._score(self._standardise(cols, n, self._stream))

    def score_and_explain(self, X: Columns) -> tuple[Floats, Floats]:
        """Scores and per-signal contribution shares (rows sum to 1 over
        :attr:`signals_`; constant signals get 0), advancing the streaming state once."""
        self._check_fitted()
        assert self.signals_ is not None
        cols, n = as_columns(X)
        Z = self._standardise(cols, n, self._stream)
        scores = self._score(Z)
        parts = self._contrib(Z)
        total = parts.sum(axis=1, keepdims=True)
        shares = np.divide(parts, total, out=np.zeros_like(parts), where=total > 0)
        return scores, shares

    def contributions_one(self, x: Sample) -> dict[str, float]:
        """Which signals drove the score of one sample: signal → share (sums to 1)."""
        _, shares = self.score_and_explain(self._one(x))
        assert self.signals_ is not None
        return {s: float(v) for s, v in zip(self.signals_, shares[0], strict=True)}

    def reset_stream(self) -> None:
        """Forgets the streaming state (last values, smoothing)."""
        self._stream = _Stream()

    # ------------------------------------------------------------ thresholding

    def calibrate(self, X: Columns) -> float:
        """Sets :attr:`threshold_` from the scores of ``X`` (scored from a fresh stream)."""
        self._check_fitted()
        cols, n = as_columns(X)
        if n == 0:
            raise DetectConfigError(f"{type(self).__name__}.calibrate got no rows")
        scores = self._score(self._standardise(cols, n, _Stream()))
        q = float(np.quantile(scores, self.threshold_q))
        self.threshold_ = max(q * self.threshold_scale, 1e-12)
        return self.threshold_

    def fit(self, X: Columns, *, holdout: float = 0.25) -> Self:
        """Learns ``X`` and sets the threshold out of sample; returns self.

        The first ``1 - holdout`` of the rows are learned, the threshold is calibrated on
        the scores of the last ``holdout`` (which the model has not seen, so slow drift in
        normal operation is priced in), then those rows are learned too. ``holdout=0``
        calibrates on the training rows themselves.
        """
        if not (0.0 <= holdout < 1.0):
            raise DetectConfigError(f"fit: `holdout` must be in [0, 1), got {holdout!r}")
        cols, n = as_columns(X)
        cut = n - round(n * holdout)
        if holdout == 0.0 or cut < 2 or cut == n:
            self.learn_many(cols)
            self.calibrate(cols)
            return self
        self.learn_many({k: v[:cut] for k, v in cols.items()})
        self.calibrate({k: v[cut:] for k, v in cols.items()})
        self.learn_many({k: v[cut:] for k, v in cols.items()})
        return self

    def normalise(self, scores: Floats) -> Floats:
        """Scores divided by the threshold: above 1 is an alarm."""
        if self.threshold_ is None:
            raise NotFittedError(
                f"{type(self).__name__} has no threshold; call calibrate(X) or fit(X) first"
            )
        return scores / self.threshold_

    # ------------------------------------------------------------ state

    def to_state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        """JSON-able metadata and numpy arrays that :meth:`from_state` rebuilds from."""
        self._check_fitted()
        meta: dict[str, Any] = {
            "kind": self.kind,
            "params": self.params(),
            "signals": list(self.signals_ or ()),
            "threshold": self.threshold_,
            "n": self._moments.n,
        }
        arrays = {"mean": self._moments.mean, "cross": self._moments.cross}
        extra_meta, extra = self._state()
        meta.update(extra_meta)
        arrays.update(extra)
        return meta, arrays

    def _state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        return {}, {}

    def _restore(self, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> None:  # noqa: B027
        """Detector-specific part of :meth:`from_state`."""

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> Self:
        """Rebuilds a fitted detector (fresh streaming state) from :meth:`to_state`."""
        if meta.get("kind") != cls.kind:
            raise ModelFileError(
                f"state of kind {meta.get('kind')!r} cannot load into {cls.__name__} "
                f"(kind {cls.kind!r})"
            )
        try:
            det = cls(**meta["params"])
            det.signals_ = tuple(str(s) for s in meta["signals"])
            det.threshold_ = None if meta["threshold"] is None else float(meta["threshold"])
            det._moments = _Moments(float(meta["n"]), arrays["mean"], arrays["cross"])
            det._restore(meta, arrays)
        except (KeyError, TypeError) as exc:
            raise ModelFileError(
                f"{cls.__name__} state is missing or has a malformed field ({exc!s}); "
                "re-train the model"
            ) from None
        return det


def top_contributions(signals: Sequence[str], shares: Floats, k: int = 3) -> dict[str, float]:
    """The ``k`` largest shares of one row, largest first, rounded to 4 places.

    Examples:
        >>> top_contributions(["a", "b", "c"], np.array([0.2, 0.7, 0.1]), k=2)
        {'b': 0.7, 'a': 0.2}
    """
    order = np.argsort(-shares, kind="stable")[:k]
    return {signals[i]: round(float(shares[i]), 4) for i in order if shares[i] > 0}
