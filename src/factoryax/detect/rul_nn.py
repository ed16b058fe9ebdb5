"""Remaining useful life from a small neural-network ensemble, run in NumPy.

Per step of a history, the input is the last ``window`` steps (left-padded with the first
step for short histories) of three channel groups per standardised signal: an
exponentially smoothed level (weight ``alpha``), that level minus the history's own
baseline (the mean of its first ``baseline`` steps, causal), and the age in steps. A
two-hidden-layer perceptron regresses RUL clipped at ``clip``.

Training (torch, imported only inside :meth:`RulMlpModel.fit`) splits the *histories*
into ``members`` folds: each member trains on the other folds and stops early on the
held-out histories' steps (true RUL up to 1.15 x ``clip``), so model choice never sees
anyone's test data. The estimate is the members' mean; ``low``/``high`` are the
members' minimum and maximum, a spread, not a calibrated interval.

:class:`RulBlendModel` (kind ``rul-blend``) averages ``rul-gbt-delta`` and ``rul-mlp``
models, optionally over several seeds of each (``seeds``) and with a band calibrated on
out-of-fold residuals (``coverage``, :mod:`factoryax.detect.rul_band`); it is the best
C-MAPSS figure here (``benchmarks/detect_cmapss.py``).

The weights are exported as float64 arrays and inference is plain NumPy: a stored model
needs no torch and loading one never unpickles anything.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> lives = [int(n) for n in rng.integers(60, 90, size=10)]
    >>> hist = [{"wear": np.linspace(0, 1, n) ** 2 + 0.01 * rng.normal(size=n)} for n in lives]
    >>> rul = [np.arange(n - 1, -1, -1.0) for n in lives]
    >>> model = RulMlpModel(clip=60.0, members=2, max_epochs=30).fit(hist, rul)
    >>> est = model.predict({"wear": np.linspace(0, 0.9, 75) ** 2})
    >>> 0.0 <= est.low <= est.rul <= est.high <= 60.0
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from factoryax.detect.base import Columns, as_columns
from factoryax.detect.errors import DetectConfigError, ModelFileError, NotFittedError
from factoryax.detect.rul import RulModel
from factoryax.detect.rul_band import ResidualBand
from factoryax.detect.rul_delta import RulDeltaModel, _baseline, _ewma

__all__ = ["RulBlendModel", "RulMlpModel"]

Floats = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

_AGE_SCALE = 200.0
_LAYERS = ("w1", "b1", "w2", "b2", "w3", "b3")


def _windows(S: Floats, window: int) -> Floats:
    """(steps, window, channels): for each step, the window ending there, left-padded."""
    pad = np.repeat(S[:1], window - 1, axis=0)
    full = np.vstack([pad, S])
    view = np.lib.stride_tricks.sliding_window_view(full, window, axis=0)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


class RulMlpModel(RulModel):
    """An ensemble of small perceptrons on windows of drift-from-baseline signals.

    Args:
        window: steps per input window.
        clip: RUL cap of the training target.
        members: ensemble size = number of folds of the training histories (>= 2).
        hidden: width of the two hidden layers.
        alpha: weight of the exponentially smoothed level.
        baseline: steps at the start of each history that define its own baseline.
        max_epochs, patience: training length and early-stopping patience (epochs).
        seed: randomness of the folds and the weights.
    """

    kind = "rul-mlp"

    def __init__(
        self,
        *,
        window: int = 30,
        clip: float = 130.0,
        members: int = 5,
        hidden: int = 64,
        alpha: float = 0.3,
        baseline: int = 20,
        max_epochs: int = 80,
        patience: int = 15,
        seed: int | None = 0,
    ) -> None:
        if members < 2 or hidden < 1 or not (0.0 < alpha <= 1.0) or baseline < 1:
            raise DetectConfigError(
                "RulMlpModel: need members >= 2, hidden >= 1, 0 < alpha <= 1 and "
                f"baseline >= 1; got members={members!r}, hidden={hidden!r}, "
                f"alpha={alpha!r}, baseline={baseline!r}"
            )
        if max_epochs < 1 or patience < 1:
            raise DetectConfigError(
                f"RulMlpModel: need max_epochs >= 1 and patience >= 1; got "
                f"max_epochs={max_epochs!r}, patience={patience!r}"
            )
        super().__init__(window=window, clip=clip, seed=seed)
        self.members = members
        self.hidden = hidden
        self.alpha = alpha
        self.baseline = baseline
        self.max_epochs = max_epochs
        self.patience = patience
        self._weights: list[dict[str, Floats]] = []

    def params(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {
            "window": self.window,
            "clip": self.clip,
            "members": self.members,
            "hidden": self.hidden,
            "alpha": self.alpha,
            "baseline": self.baseline,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "seed": self.seed,
        }

    def clone(self) -> RulMlpModel:
        """An unfitted model with the same parameters."""
        return RulMlpModel(**self.params())

    def features(self, history: Columns) -> Floats:
        """(steps, window, channels) inputs of a history, one window per step."""
        Z = self._matrix(history)
        level = _ewma(Z, self.alpha)
        age = (np.arange(Z.shape[0], dtype=np.float64) + 1.0)[:, None] / _AGE_SCALE
        return _windows(np.hstack([level, level - _baseline(Z, self.baseline), age]), self.window)

    def fit(self, histories: Sequence[Columns], ruls: Sequence[npt.ArrayLike]) -> Self:
        """Trains ``members`` perceptrons, each early-stopped on its held-out histories.

        Torch runs on one thread (oversubscribed threads on a shared box run many times
        slower) and is restored to its previous thread count afterwards.
        """
        import torch

        if len(histories) != len(ruls) or len(histories) < self.members:
            raise DetectConfigError(
                f"RulMlpModel.fit: {len(histories)} histories and {len(ruls)} RUL arrays; "
                f"pass one RUL array per history and at least members={self.members} histories"
            )
        first, _ = as_columns(histories[0])
        self.signals_ = tuple(sorted(first))
        cols = [as_columns(h) for h in histories]
        stacked = np.vstack(
            [
                np.column_stack([c.get(s, np.full(n, np.nan)) for s in self.signals_])
                for c, n in cols
            ]
        )
        mean = np.nanmean(stacked, axis=0) if stacked.size else np.zeros(len(self.signals_))
        std = np.nan_to_num(np.nanstd(stacked, axis=0))
        self._mean = np.nan_to_num(mean)
        self._std = np.where(std > 1e-9, std, 1.0)
        X = [self.features(h) for h in histories]
        R = [np.asarray(r, dtype=np.float64) for r in ruls]
        if any(x.shape[0] != r.shape[0] for x, r in zip(X, R, strict=True)):
            raise DetectConfigError("RulMlpModel.fit: each RUL array must have one value per step")
        order = np.random.default_rng(self.seed).permutation(len(histories))
        folds = np.array_split(order, self.members)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._weights = [
                self._train_member(X, R, set(int(i) for i in fold), k)
                for k, fold in enumerate(folds)
            ]
        finally:
            torch.set_num_threads(threads)
        return self

    def _train_member(
        self, X: list[Floats], R: list[Floats], held: set[int], k: int
    ) -> dict[str, Floats]:
        import torch
        from torch import nn

        seed = (self.seed or 0) * 1000 + k
        tr = [i for i in range(len(X)) if i not in held]
        va = sorted(held)
        Xt = torch.from_numpy(np.concatenate([X[i] for i in tr]).astype(np.float32))
        yt = torch.from_numpy(
            (np.minimum(np.concatenate([R[i] for i in tr]), self.clip) / self.clip).astype(
                np.float32
            )
        )
        rv = np.concatenate([R[i] for i in va])
        keep = rv <= 1.15 * self.clip
        Xv = torch.from_numpy(np.concatenate([X[i] for i in va])[keep].astype(np.float32))
        rv = rv[keep]
        torch.manual_seed(seed)
        d_in = Xt.shape[1] * Xt.shape[2]
        net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(d_in, self.hidden),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(self.hidden, self.hidden),
            nn.ReLU(),
            nn.Linear(self.hidden, 1),
        )
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
        gen = torch.Generator().manual_seed(seed)
        best, best_state, best_epoch = np.inf, None, 0
        for epoch in range(self.max_epochs):
            net.train()
            perm = torch.randperm(Xt.shape[0], generator=gen)
            for i in range(0, Xt.shape[0], 256):
                b = perm[i : i + 256]
                opt.zero_grad()
                loss = ((net(Xt[b]).squeeze(-1) - yt[b]) ** 2).mean()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                pv = net(Xv).squeeze(-1).numpy().astype(np.float64) * self.clip
            rmse = float(np.sqrt(np.mean((np.clip(pv, 0.0, self.clip) - rv) ** 2)))
            if rmse < best:
                best, best_epoch = rmse, epoch
                best_state = {n: t.detach().clone() for n, t in net.state_dict().items()}
            if epoch - best_epoch >= self.patience:
                break
        assert best_state is not None
        linear = [best_state[f"{j}.weight"] for j in (1, 4, 6)]
        bias = [best_state[f"{j}.bias"] for j in (1, 4, 6)]
        out: dict[str, Floats] = {}
        for n, (w, b) in enumerate(zip(linear, bias, strict=True), start=1):
            out[f"w{n}"] = w.numpy().astype(np.float64)
            out[f"b{n}"] = b.numpy().astype(np.float64)
        return out

    def predict_rows(self, history: Columns) -> tuple[Floats, Floats, Floats]:
        """RUL (members' mean), low and high (members' min and max) at every step."""
        if not self._weights:
            raise NotFittedError("RulMlpModel is not fitted; call fit(histories, ruls) first")
        X = self.features(history).reshape(-1, self.window * (2 * len(self.signals_ or ()) + 1))
        preds = []
        for w in self._weights:
            h = np.maximum(X @ w["w1"].T + w["b1"], 0.0)
            h = np.maximum(h @ w["w2"].T + w["b2"], 0.0)
            preds.append((h @ w["w3"].T + w["b3"])[:, 0] * self.clip)
        P = np.clip(np.vstack(preds), 0.0, self.clip)
        return P.mean(axis=0), P.min(axis=0), P.max(axis=0)

    def to_state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        """Metadata and arrays (see :class:`~factoryax.detect.Registry`)."""
        if not self._weights or self._mean is None or self._std is None:
            raise NotFittedError("RulMlpModel is not fitted; nothing to store")
        arrays: dict[str, Floats] = {"mean": self._mean, "std": self._std}
        for k, w in enumerate(self._weights):
            arrays.update({f"m{k}_{n}": v for n, v in w.items()})
        meta = {
            "kind": self.kind,
            "params": self.params(),
            "signals": list(self.signals_ or ()),
            "threshold": None,
            "n": 0,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> RulMlpModel:
        """Rebuilds from :meth:`to_state`."""
        try:
            model = cls(**dict(meta["params"]))
            model.signals_ = tuple(meta["signals"])
            model._mean, model._std = arrays["mean"], arrays["std"]
            model._weights = [
                {n: np.asarray(arrays[f"m{k}_{n}"], dtype=np.float64) for n in _LAYERS}
                for k in range(model.members)
            ]
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"RulMlpModel state is malformed ({exc!s}); re-train") from None
        return model


class RulBlendModel(RulModel):
    """The mean of :class:`~factoryax.detect.RulDeltaModel` and :class:`RulMlpModel` parts,
    over ``seeds`` seeds of each, with an optional calibrated band.

    Equal weights, fixed in advance (on C-MAPSS FD001 training engines, out of fold, the
    blend beat both parts). Part ``k`` of each kind uses the part's seed plus ``k``;
    averaging seeds removes most of the run-to-run variance of one seed.

    With ``coverage`` set, :meth:`fit` also trains one seed of the blend ``calib_folds``
    times, each time on all histories but one fold, and learns a
    :class:`~factoryax.detect.rul_band.ResidualBand` from the residuals on the held-out
    histories (steps whose true RUL is at most ``calib_max`` x ``clip``: beyond the cap the
    RUL is not observable and such a step would only say "more than the cap"). ``low`` and
    ``high`` are then that band. Without ``coverage`` they are the outer of the parts'
    bands (too narrow to be read as an interval).

    The defaults (3 seeds, an 80 % band, 5 calibration folds of 5 bins) were chosen on
    C-MAPSS FD001 training engines, 5-fold by engine; they train 3 + 5 x 0.8 one-seed
    blends, so need at least ``calib_folds`` histories (or ``coverage=None``).

    Args:
        delta: parameters of the tree parts (``RulDeltaModel`` keywords).
        mlp: parameters of the perceptron parts (``RulMlpModel`` keywords).
        seeds: parts of each kind, seeds ``seed``, ``seed + 1``, ...
        coverage: nominal share of true RULs inside the band, or ``None``.
        calib_folds: folds of the histories for the band's out-of-fold residuals.
        calib_bins: equal-count bins of the estimate, each with its own offsets.
        calib_max: steps with true RUL above ``calib_max`` x ``clip`` are not calibrated on.
    """

    kind = "rul-blend"

    def __init__(
        self,
        *,
        delta: Mapping[str, Any] | None = None,
        mlp: Mapping[str, Any] | None = None,
        seeds: int = 3,
        coverage: float | None = 0.8,
        calib_folds: int = 5,
        calib_bins: int = 5,
        calib_max: float = 1.15,
    ) -> None:
        if seeds < 1 or calib_folds < 2 or calib_bins < 1 or calib_max <= 0:
            raise DetectConfigError(
                "RulBlendModel: need seeds >= 1, calib_folds >= 2, calib_bins >= 1 and "
                f"calib_max > 0; got seeds={seeds!r}, calib_folds={calib_folds!r}, "
                f"calib_bins={calib_bins!r}, calib_max={calib_max!r}"
            )
        if coverage is not None and not 0.0 < coverage < 1.0:
            raise DetectConfigError(
                f"RulBlendModel: `coverage` must be in (0, 1) or None, got {coverage!r}"
            )
        d = dict(delta or {})
        if "band" in d:
            d["band"] = tuple(d["band"])
        # a calibrated band replaces the trees' quantile band: skip fitting it
        d.setdefault("quantiles", coverage is None)
        self.delta = RulDeltaModel(**d)
        self.mlp = RulMlpModel(**dict(mlp or {}))
        self.seeds = seeds
        self.coverage = coverage
        self.calib_folds = calib_folds
        self.calib_bins = calib_bins
        self.calib_max = calib_max
        super().__init__(window=self.mlp.window, clip=max(self.delta.clip, self.mlp.clip))
        self.deltas_: list[RulDeltaModel] = []
        self.mlps_: list[RulMlpModel] = []
        self.band_: ResidualBand | None = None

    def params(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {
            "delta": self.delta.params(),
            "mlp": self.mlp.params(),
            "seeds": self.seeds,
            "coverage": self.coverage,
            "calib_folds": self.calib_folds,
            "calib_bins": self.calib_bins,
            "calib_max": self.calib_max,
        }

    def clone(self) -> RulBlendModel:
        """An unfitted model with the same parameters."""
        return RulBlendModel(**self.params())

    def _parts(self, k: int) -> tuple[RulDeltaModel, RulMlpModel]:
        """Unfitted parts of seed offset ``k``."""

        def shift(seed: int | None) -> int | None:
            return None if seed is None else seed + k

        d = self.delta.params()
        d["band"] = tuple(d["band"])
        d["seed"] = shift(self.delta.seed)
        return RulDeltaModel(**d), RulMlpModel(
            **{**self.mlp.params(), "seed": shift(self.mlp.seed)}
        )

    def fit(self, histories: Sequence[Columns], ruls: Sequence[npt.ArrayLike]) -> Self:
        """Fits ``seeds`` parts of each kind on all histories, then the band if asked."""
        if self.coverage is not None and len(histories) < self.calib_folds:
            raise DetectConfigError(
                f"RulBlendModel.fit: {len(histories)} histories for calib_folds="
                f"{self.calib_folds}; pass more histories, fewer folds or coverage=None"
            )
        parts = [self._parts(k) for k in range(self.seeds)]
        self.deltas_ = [d.fit(histories, ruls) for d, _ in parts]
        self.mlps_ = [m.fit(histories, ruls) for _, m in parts]
        self.signals_ = self.deltas_[0].signals_
        self.band_ = None
        if self.coverage is not None:
            pred, truth = self._out_of_fold(histories, ruls)
            keep = truth <= self.calib_max * self.clip
            self.band_ = ResidualBand.fit(
                pred[keep], truth[keep], coverage=self.coverage, bins=self.calib_bins
            )
        return self

    def _out_of_fold(
        self, histories: Sequence[Columns], ruls: Sequence[npt.ArrayLike]
    ) -> tuple[Floats, Floats]:
        """Estimates of one seed's blend at every step of histories it did not train on."""
        order = np.random.default_rng(self.delta.seed).permutation(len(histories))
        preds, truths = [], []
        for fold in np.array_split(order, self.calib_folds):
            held = set(int(i) for i in fold)
            train = [i for i in range(len(histories)) if i not in held]
            d, m = self._parts(0)
            d.fit([histories[i] for i in train], [ruls[i] for i in train])
            m.fit([histories[i] for i in train], [ruls[i] for i in train])
            for i in sorted(held):
                preds.append(
                    (d.predict_rows(histories[i])[0] + m.predict_rows(histories[i])[0]) / 2
                )
                truths.append(np.asarray(ruls[i], dtype=np.float64))
        return np.concatenate(preds), np.concatenate(truths)

    def features(self, history: Columns) -> Floats:
        """The first tree part's feature rows (the perceptrons build their own windows)."""
        if not self.deltas_:
            raise NotFittedError("RulBlendModel is not fitted; call fit(histories, ruls) first")
        return self.deltas_[0].features(history)

    def predict_rows(self, history: Columns) -> tuple[Floats, Floats, Floats]:
        """Mean of the tree parts' and the perceptron parts' means; the calibrated band,
        or else the outer of the parts' bands."""
        if not self.deltas_:
            raise NotFittedError("RulBlendModel is not fitted; call fit(histories, ruls) first")
        rows = [p.predict_rows(history) for p in (*self.deltas_, *self.mlps_)]
        n = len(self.deltas_)
        point = (
            np.mean([r[0] for r in rows[:n]], axis=0) + np.mean([r[0] for r in rows[n:]], axis=0)
        ) / 2.0
        if self.band_ is not None:
            low, high = self.band_.apply(point)
            return point, low, high
        low = np.min([r[1] for r in rows], axis=0)
        high = np.max([r[2] for r in rows], axis=0)
        return point, low, high

    def to_state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        """Metadata and arrays (see :class:`~factoryax.detect.Registry`)."""
        if not self.deltas_:
            raise NotFittedError("RulBlendModel is not fitted; nothing to store")
        arrays: dict[str, Floats] = {}
        for tag, parts in (("delta", self.deltas_), ("mlp", self.mlps_)):
            for k, part in enumerate(parts):
                _, a = part.to_state()
                arrays.update({f"{_prefix(tag, k)}{n}": v for n, v in a.items()})
        if self.band_ is not None:
            arrays.update(self.band_.arrays("band_"))
        meta = {
            "kind": self.kind,
            "params": self.params(),
            "signals": list(self.signals_ or ()),
            "threshold": None,
            "n": 0,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, Floats]) -> RulBlendModel:
        """Rebuilds from :meth:`to_state` (also a one-seed model stored before ``seeds``)."""
        try:
            p = dict(meta["params"])
            # stored before ``seeds`` existed: one seed, the parts' own bands
            p.setdefault("seeds", 1)
            p.setdefault("coverage", None)
            model = cls(**p)
            for k in range(model.seeds):
                delta, mlp = model._parts(k)
                d_meta, d_arrays = _part_state(meta, arrays, delta, _prefix("delta", k))
                m_meta, m_arrays = _part_state(meta, arrays, mlp, _prefix("mlp", k))
                model.deltas_.append(RulDeltaModel.from_state(d_meta, d_arrays))
                model.mlps_.append(RulMlpModel.from_state(m_meta, m_arrays))
            if model.coverage is not None:
                model.band_ = ResidualBand.from_arrays(arrays, "band_")
            model.signals_ = tuple(meta["signals"])
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"RulBlendModel state is malformed ({exc!s}); re-train") from None
        return model


def _prefix(tag: str, k: int) -> str:
    """Array-name prefix of part ``k`` of a kind (``delta_``, ``delta1_``, ...; the first
    part keeps the one-seed model's prefix, so older stored blends still load)."""
    return f"{tag}_" if k == 0 else f"{tag}{k}_"


def _part_state(
    meta: Mapping[str, Any], arrays: Mapping[str, Floats], part: RulModel, prefix: str
) -> tuple[dict[str, Any], dict[str, Floats]]:
    """The stored state of one part of a blend: its parameters and its own arrays."""
    sub = {n[len(prefix) :]: v for n, v in arrays.items() if n.startswith(prefix)}
    return {"params": part.params(), "signals": meta["signals"]}, sub
