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

:class:`RulBlendModel` (kind ``rul-blend``) averages a ``rul-gbt-delta`` and a ``rul-mlp``
model; it is the best C-MAPSS figure here (``benchmarks/detect_cmapss.py``).

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
from factoryax.detect.rul_delta import _baseline, _ewma

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
    """The mean of a :class:`~factoryax.detect.RulDeltaModel` and a :class:`RulMlpModel`.

    Equal weights, fixed in advance (on C-MAPSS FD001 training engines, out of fold, the
    blend beat both parts). ``low``/``high`` are the outer of the two parts' bands.

    Args:
        delta: parameters of the tree part (``RulDeltaModel`` keywords).
        mlp: parameters of the perceptron part (``RulMlpModel`` keywords).
    """

    kind = "rul-blend"

    def __init__(
        self, *, delta: Mapping[str, Any] | None = None, mlp: Mapping[str, Any] | None = None
    ) -> None:
        from factoryax.detect.rul_delta import RulDeltaModel

        d = dict(delta or {})
        if "band" in d:
            d["band"] = tuple(d["band"])
        self.delta = RulDeltaModel(**d)
        self.mlp = RulMlpModel(**dict(mlp or {}))
        super().__init__(window=self.mlp.window, clip=max(self.delta.clip, self.mlp.clip))

    def params(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {"delta": self.delta.params(), "mlp": self.mlp.params()}

    def clone(self) -> RulBlendModel:
        """An unfitted model with the same parameters."""
        return RulBlendModel(**self.params())

    def fit(self, histories: Sequence[Columns], ruls: Sequence[npt.ArrayLike]) -> Self:
        """Fits both parts on the same histories."""
        self.delta.fit(histories, ruls)
        self.mlp.fit(histories, ruls)
        self.signals_ = self.delta.signals_
        return self

    def features(self, history: Columns) -> Floats:
        """The tree part's feature rows (the perceptrons build their own windows)."""
        return self.delta.features(history)

    def predict_rows(self, history: Columns) -> tuple[Floats, Floats, Floats]:
        """Mean of the two parts' RUL; the outer of their bands."""
        p1, lo1, hi1 = self.delta.predict_rows(history)
        p2, lo2, hi2 = self.mlp.predict_rows(history)
        return (p1 + p2) / 2.0, np.minimum(lo1, lo2), np.maximum(hi1, hi2)

    def to_state(self) -> tuple[dict[str, Any], dict[str, Floats]]:
        """Metadata and arrays (see :class:`~factoryax.detect.Registry`)."""
        _, a1 = self.delta.to_state()
        _, a2 = self.mlp.to_state()
        arrays = {
            **{f"delta_{k}": v for k, v in a1.items()},
            **{f"mlp_{k}": v for k, v in a2.items()},
        }
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
        """Rebuilds from :meth:`to_state`."""
        from factoryax.detect.rul_delta import RulDeltaModel

        try:
            p = dict(meta["params"])
            model = cls(**p)
            for tag, part_cls in (("delta", RulDeltaModel), ("mlp", RulMlpModel)):
                sub = {k[len(tag) + 1 :]: v for k, v in arrays.items() if k.startswith(f"{tag}_")}
                part = part_cls.from_state({"params": p[tag], "signals": meta["signals"]}, sub)
                setattr(model, tag, part)
            model.signals_ = tuple(meta["signals"])
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"RulBlendModel state is malformed ({exc!s}); re-train") from None
        return model
