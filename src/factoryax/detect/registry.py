"""The model registry: versions, stages, lineage and evidence, stored without pickle.

Layout under ``<workspace>/models/``::

    <name>/<version:04d>/model.json    metadata: kind, params, signals, threshold, stage,
                                       fingerprint, metrics, lineage, backtest, shadow
    <name>/<version:04d>/arrays.npz    the learned numpy arrays (np.savez, no objects)

Arrays are read with ``np.load(..., allow_pickle=False)`` and metadata with ``json``, so
a tampered or foreign file can fail to load but can never run code. Files are written to
a temporary name and renamed (atomic). At most one version per name is ``production``;
promoting one retires the previous.

Examples:
    >>> import tempfile, numpy as np
    >>> from factoryax.detect import PcaDetector
    >>> reg = Registry(Path(tempfile.mkdtemp()))
    >>> rng = np.random.default_rng(0)
    >>> det = PcaDetector().fit({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    >>> v = reg.register("anomaly-press-01", det, asset="press-01")
    >>> v.version, v.stage, reg.load_detector("anomaly-press-01").signals_
    (1, 'candidate', ('a', 'b'))
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from factoryax.config import Workspace
from factoryax.core import utc_now
from factoryax.detect.base import Detector
from factoryax.detect.defect import DefectModel
from factoryax.detect.errors import DetectConfigError, ModelFileError, ModelNotFoundError
from factoryax.detect.rul import RulModel

__all__ = ["MODELS_DIR", "Model", "ModelSummary", "Registry", "Stage", "list_models"]

Model = Detector | RulModel | DefectModel
"""What the registry stores."""

MODELS_DIR = "models"
"""The registry's folder inside a workspace."""

Stage = Literal["candidate", "shadow", "production", "retired"]
STAGES: tuple[Stage, ...] = ("candidate", "shadow", "production", "retired")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
FORMAT = 1


class ModelSummary(BaseModel):
    """One registered model version, as the dashboard and ``factoryax detect models`` show it.

    ``model_dump(mode="json")`` is plain JSON.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    kind: str
    task: str
    asset: str | None
    stage: Stage
    created_at: dt.datetime
    params: dict[str, Any]
    signals: list[str]
    threshold: float | None
    metrics: dict[str, Any]
    fingerprint: dict[str, Any]
    lineage: dict[str, Any]
    backtest: dict[str, Any] | None = None
    shadow: dict[str, Any] | None = None
    history: list[dict[str, Any]] = []


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Registry:
    """Model versions kept in ``root`` (a workspace's ``models/`` folder)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_workspace(cls, workspace_root: Path) -> Registry:
        """The registry of the workspace at ``workspace_root``."""
        return cls(Path(workspace_root) / MODELS_DIR)

    # ------------------------------------------------------------ reading

    def names(self) -> list[str]:
        """Registered model names, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def versions(self, name: str) -> list[ModelSummary]:
        """Every version of ``name``, oldest first."""
        folder = self.root / name
        if not folder.is_dir():
            return []
        out = []
        for sub in sorted(folder.iterdir()):
            if sub.is_dir() and sub.name.isdigit() and (sub / "model.json").is_file():
                out.append(self._summary(sub / "model.json"))
        return out

    def all(self) -> list[ModelSummary]:
        """Every version of every model."""
        return [v for name in self.names() for v in self.versions(name)]

    def get(self, name: str, version: int | None = None) -> ModelSummary:
        """One version (default the newest).

        Raises:
            ModelNotFoundError: no such model or version; names what there is.
        """
        versions = self.versions(name)
        if not versions:
            raise ModelNotFoundError(
                f"no model {name!r} in {str(self.root)!r}; registered: {self.names() or 'none'}"
                " (train one with `factoryax detect train`)"
            )
        if version is None:
            return versions[-1]
        for v in versions:
            if v.version == version:
                return v
        raise ModelNotFoundError(
            f"model {name!r} has no version {version!r}; versions: {[v.version for v in versions]}"
        )

    def production(self, name: str) -> ModelSummary | None:
        """The version of ``name`` in production, if any."""
        for v in self.versions(name):
            if v.stage == "production":
                return v
        return None

    def load(self, name: str, version: int | None = None) -> Model:
        """The fitted model of a version (default the newest)."""
        from factoryax.detect import MODEL_KINDS

        summary = self.get(name, version)
        folder = self._folder(name, summary.version)
        meta = self._meta(folder / "model.json")
        cls = MODEL_KINDS.get(str(meta.get("kind")))
        if cls is None:
            raise ModelFileError(
                f"{str(folder)!r}: unknown model kind {meta.get('kind')!r}; "
                f"known: {sorted(MODEL_KINDS)}"
            )
        return cls.from_state(meta["state"], self._arrays(folder / "arrays.npz"))

    def load_detector(self, name: str, version: int | None = None) -> Detector:
        """Like :meth:`load`, for an anomaly detector (raises if it is another kind)."""
        model = self.load(name, version)
        if not isinstance(model, Detector):
            raise ModelFileError(f"model {name!r} is a {model.kind!r} model, not a detector")
        return model

    # ------------------------------------------------------------ writing

    def register(
        self,
        name: str,
        detector: Model,
        *,
        asset: str | None = None,
        task: str = "anomaly",
        metrics: Mapping[str, Any] | None = None,
        fingerprint: Mapping[str, Any] | None = None,
        parent: int | None = None,
        created_by: str = "factoryax",
        now: dt.datetime | None = None,
    ) -> ModelSummary:
        """Stores a fitted model as the next version of ``name``, stage ``candidate``."""
        if not _NAME.match(name):
            raise DetectConfigError(
                f"model name {name!r} must be lower-case letters, digits, '.', '_' or '-' "
                "(at most 100), starting with a letter or digit"
            )
        meta_state, arrays = detector.to_state()
        existing = self.versions(name)
        version = existing[-1].version + 1 if existing else 1
        created = now or utc_now()
        meta = {
            "format": FORMAT,
            "name": name,
            "version": version,
            "kind": detector.kind,
            "task": task,
            "asset": asset,
            "stage": "candidate",
            "created_at": created.isoformat(),
            "params": meta_state["params"],
            "signals": meta_state["signals"],
            "threshold": meta_state["threshold"],
            "metrics": dict(metrics or {}),
            "fingerprint": dict(fingerprint or {}),
            "lineage": {
                "parent": parent
                if parent is not None
                else (existing[-1].version if existing else None),
                "created_by": created_by,
            },
            "backtest": None,
            "shadow": None,
            "history": [{"stage": "candidate", "at": created.isoformat(), "why": "registered"}],
            "state": meta_state,
        }
        folder = self._folder(name, version)
        buf = _npz_bytes(arrays)
        _write_atomic(folder / "arrays.npz", buf)
        _write_atomic(folder / "model.json", _json_bytes(meta))
        return self._summary(folder / "model.json")

    def annotate(
        self,
        name: str,
        version: int,
        *,
        backtest: Mapping[str, Any] | None = None,
        shadow: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> ModelSummary:
        """Records backtest / shadow results or metrics on a version."""
        path = self._folder(name, self.get(name, version).version) / "model.json"
        meta = self._meta(path)
        if backtest is not None:
            meta["backtest"] = dict(backtest)
        if shadow is not None:
            meta["shadow"] = dict(shadow)
        if metrics is not None:
            meta["metrics"] = {**meta.get("metrics", {}), **metrics}
        _write_atomic(path, _json_bytes(meta))
        return self._summary(path)

    def set_stage(
        self, name: str, version: int, stage: Stage, *, why: str, now: dt.datetime | None = None
    ) -> ModelSummary:
        """Moves a version to ``stage``; a new production version retires the old one."""
        if stage not in STAGES:
            raise DetectConfigError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
        at = (now or utc_now()).isoformat()
        target = self.get(name, version)
        if stage == "production":
            for v in self.versions(name):
                if v.stage == "production" and v.version != target.version:
                    self._restage(name, v.version, "retired", at, f"replaced by v{version}")
        return self._restage(name, target.version, stage, at, why)

    def _restage(self, name: str, version: int, stage: Stage, at: str, why: str) -> ModelSummary:
        path = self._folder(name, version) / "model.json"
        meta = self._meta(path)
        meta["stage"] = stage
        meta.setdefault("history", []).append({"stage": stage, "at": at, "why": why})
        _write_atomic(path, _json_bytes(meta))
        return self._summary(path)

    # ------------------------------------------------------------ files

    def _folder(self, name: str, version: int) -> Path:
        return self.root / name / f"{version:04d}"

    def _meta(self, path: Path) -> dict[str, Any]:
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{str(path)!r} is not readable JSON ({exc}); re-train") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(
                f"{str(path)!r} is not a FactoryAX model file of format {FORMAT}; re-train"
            )
        return meta

    def _summary(self, path: Path) -> ModelSummary:
        meta = self._meta(path)
        try:
            return ModelSummary.model_validate(
                {k: v for k, v in meta.items() if k in ModelSummary.model_fields}
            )
        except ValueError as exc:
            raise ModelFileError(f"{str(path)!r} has malformed metadata: {exc}") from None

    @staticmethod
    def _arrays(path: Path) -> dict[str, np.ndarray[Any, np.dtype[np.float64]]]:
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: np.asarray(data[k], dtype=np.float64) for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelFileError(
                f"{str(path)!r} is not a readable numpy archive without objects ({exc}); "
                "re-train the model"
            ) from None


def _json_bytes(meta: Mapping[str, Any]) -> bytes:
    return (json.dumps(meta, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _npz_bytes(arrays: Mapping[str, np.ndarray[Any, Any]]) -> bytes:
    import io

    buf = io.BytesIO()
    savez: Any = np.savez  # numpy's stub types **kwds as its allow_pickle flag
    savez(buf, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
    return buf.getvalue()


def list_models(workspace: Workspace | Path) -> list[ModelSummary]:
    """Every model version registered in ``workspace`` (a :class:`~factoryax.config.Workspace`
    or its root folder), ordered by name then version."""
    root = workspace.root if isinstance(workspace, Workspace) else Path(workspace)
    return Registry.for_workspace(root).all()
