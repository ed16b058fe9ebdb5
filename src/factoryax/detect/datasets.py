"""Readers for the public benchmark datasets (SKAB, NASA C-MAPSS, AI4I 2020).

Nothing is downloaded: each reader takes the folder a person put the files in (see each
dataset's ``SOURCE.md``) and raises :class:`DetectError` naming the missing file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from factoryax.detect.errors import DetectError

__all__ = [
    "CmapssSubset",
    "SkabFile",
    "load_ai4i",
    "load_cmapss",
    "load_skab",
    "skab_scores",
]

Floats = npt.NDArray[np.float64]

SKAB_TRAIN_ROWS = 400
"""SKAB protocol: the first 400 rows of each labelled file train, the rest test."""


def _need(path: Path) -> Path:
    if not path.exists():
        raise DetectError(
            f"dataset file {str(path)!r} not found; put the dataset there "
            "(see its SOURCE.md) or pass the right folder"
        )
    return path


@dataclass(frozen=True)
class SkabFile:
    """One labelled SKAB experiment: signal columns, the anomaly and changepoint labels."""

    name: str
    columns: dict[str, Floats]
    anomaly: npt.NDArray[np.int8]
    changepoint: npt.NDArray[np.int8]
    ts_s: Floats | None = None
    """Seconds since 1970 (from ``datetime``) of each row: rows are not evenly spaced
    (2-33 s gaps), and the NAB windows are measured in seconds."""

    def split(
        self, train_rows: int = SKAB_TRAIN_ROWS
    ) -> tuple[dict[str, Floats], dict[str, Floats]]:
        """(train, test) columns under the published protocol."""
        return (
            {k: v[:train_rows] for k, v in self.columns.items()},
            {k: v[train_rows:] for k, v in self.columns.items()},
        )


def load_skab(root: Path) -> list[SkabFile]:
    """The 34 labelled SKAB files under ``root`` (the folder holding ``data/``), sorted."""
    data = _need(Path(root) / "data")
    files = sorted(p for p in data.glob("*/*.csv") if p.parent.name != "anomaly-free")
    out = []
    for path in files:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter=";"))
        header, body = rows[0], rows[1:]
        values = np.array([[float(v) for v in r[1:]] for r in body], dtype=np.float64)
        names = header[1:]
        cols = {n: values[:, i] for i, n in enumerate(names) if n not in ("anomaly", "changepoint")}
        out.append(
            SkabFile(
                name=f"{path.parent.name}/{path.name}",
                columns=cols,
                anomaly=values[:, names.index("anomaly")].astype(np.int8),
                changepoint=values[:, names.index("changepoint")].astype(np.int8),
                ts_s=np.array([r[0] for r in body], dtype="datetime64[s]")
                .astype(np.int64)
                .astype(np.float64),
            )
        )
    return out


def skab_scores(truth: npt.ArrayLike, predicted: npt.ArrayLike) -> dict[str, float]:
    """SKAB's pooled binary metrics (``core/metrics.py``): F1 = TP/(TP+(FP+FN)/2),
    FAR and MAR in per cent.

    Examples:
        >>> skab_scores([0, 0, 1, 1], [0, 1, 1, 0])
        {'f1': 0.5, 'far': 50.0, 'mar': 50.0}
    """
    t = np.asarray(truth).astype(bool)
    p = np.asarray(predicted).astype(bool)
    tp = float(np.sum(t & p))
    fp = float(np.sum(~t & p))
    fn = float(np.sum(t & ~p))
    tn = float(np.sum(~t & ~p))
    return {
        "f1": tp / (tp + (fp + fn) / 2) if tp + fp + fn else 1.0,
        "far": 100.0 * fp / (fp + tn) if fp + tn else 0.0,
        "mar": 100.0 * fn / (fn + tp) if fn + tp else 0.0,
    }


@dataclass(frozen=True)
class CmapssSubset:
    """One C-MAPSS subset: rows of (unit, cycle, 3 settings, 21 sensors) and test truth."""

    name: str
    train: Floats
    test: Floats
    test_rul: Floats


def load_cmapss(root: Path, subset: str = "FD001") -> CmapssSubset:
    """Reads ``train_<subset>.txt``, ``test_<subset>.txt`` and ``RUL_<subset>.txt``."""
    root = Path(root)
    return CmapssSubset(
        name=subset,
        train=np.loadtxt(_need(root / f"train_{subset}.txt")),
        test=np.loadtxt(_need(root / f"test_{subset}.txt")),
        test_rul=np.loadtxt(_need(root / f"RUL_{subset}.txt")),
    )


AI4I_FEATURES = (
    "type_l",
    "type_m",
    "type_h",
    "air_temp_k",
    "process_temp_k",
    "speed_rpm",
    "torque_nm",
    "tool_wear_min",
)


def load_ai4i(root: Path) -> tuple[Floats, npt.NDArray[np.int8]]:
    """AI4I 2020 features (:data:`AI4I_FEATURES`, type one-hot) and ``Machine failure``.

    The five failure-mode flags leak the target and are not returned.
    """
    path = _need(Path(root) / "ai4i2020.csv")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    X = np.array(
        [
            [
                r["Type"] == "L",
                r["Type"] == "M",
                r["Type"] == "H",
                float(r["Air temperature [K]"]),
                float(r["Process temperature [K]"]),
                float(r["Rotational speed [rpm]"]),
                float(r["Torque [Nm]"]),
                float(r["Tool wear [min]"]),
            ]
            for r in rows
        ],
        dtype=np.float64,
    )
    y = np.array([int(r["Machine failure"]) for r in rows], dtype=np.int8)
    return X, y
