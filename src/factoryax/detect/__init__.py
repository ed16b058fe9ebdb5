"""AI detection, demonstrated before it is deployed.

Streaming anomaly detectors (river's verbs on numpy), remaining-useful-life and defect
models, a model registry with safe serialisation, and the validation path a model walks
before it is trusted: a backtest on a historical window of the lake, shadow mode beside the
production model, and a promotion gate whose decision is recorded as an event and a ledger
record.

Contract:

- every detector scores higher = more anomalous, learns a threshold, and explains each
  score by per-signal shares (``score_and_explain``);
- anomaly scores go to the lake as ``readings`` of signal ``anomaly_score`` on the scored
  asset, normalised so that 1.0 is the alarm threshold; each alarm (a rising edge over 1)
  is an ``events`` row of kind ``detect.anomaly``;
- models live in ``<workspace>/models/`` as JSON + ``.npz`` (``allow_pickle=False``);
  nothing is ever unpickled;
- a promotion is an ``events`` row of kind ``detect.promotion`` and a ``model_promotion``
  ledger record, both carrying the evidence;
- the gate trusts only out-of-sample evidence whose figures it actually holds, and compares
  production only on the same rows (see :mod:`factoryax.detect.validate`).
"""

from __future__ import annotations

from factoryax.detect.base import Columns, Detector, Sample, as_columns
from factoryax.detect.defect import DefectModel
from factoryax.detect.defect_lake import (
    DEFECT_KIND,
    DefectSet,
    defect_event_rows,
    defect_metrics,
    defect_model_name,
    read_parts,
    score_parts,
    train_defect,
)
from factoryax.detect.demo import DemoReport, default_detector, fit_and_validate_demo
from factoryax.detect.errors import (
    DetectConfigError,
    DetectError,
    ModelFileError,
    ModelNotFoundError,
    NotFittedError,
)
from factoryax.detect.frames import ANOMALY_KIND, SCORE_SIGNAL, Wide, read_wide
from factoryax.detect.hst import HalfSpaceTrees
from factoryax.detect.live import AlarmTracker, LiveScorer, anomaly_model_name, score_and_alarm
from factoryax.detect.pca import PcaDetector
from factoryax.detect.registry import MODELS_DIR, ModelSummary, Registry, Stage, list_models
from factoryax.detect.rul import RulEstimate, RulModel
from factoryax.detect.rul_delta import RulDeltaModel
from factoryax.detect.rul_lake import predict_rul, rul_model_name, train_rul
from factoryax.detect.rul_nn import RulBlendModel, RulMlpModel
from factoryax.detect.segment import SegmentDetector
from factoryax.detect.validate import (
    AlarmScore,
    GateConfig,
    GateDecision,
    backtest,
    gate,
    gate_inputs,
    promote,
    read_truth,
    score_alarms,
    shadow,
    training_overlap,
)
from factoryax.detect.zscore import ZScoreDetector

DETECTORS: dict[str, type[Detector]] = {
    cls.kind: cls for cls in (PcaDetector, HalfSpaceTrees, ZScoreDetector, SegmentDetector)
}
"""Every anomaly detector, by registry kind."""

MODEL_KINDS: dict[str, type[Detector] | type[RulModel] | type[DefectModel]] = {
    **DETECTORS,
    RulModel.kind: RulModel,
    RulDeltaModel.kind: RulDeltaModel,
    RulMlpModel.kind: RulMlpModel,
    RulBlendModel.kind: RulBlendModel,
    DefectModel.kind: DefectModel,
}
"""Every kind the registry stores: the detectors, RUL and defect models."""

__all__ = [
    "ANOMALY_KIND",
    "DEFECT_KIND",
    "DETECTORS",
    "MODELS_DIR",
    "MODEL_KINDS",
    "SCORE_SIGNAL",
    "AlarmScore",
    "AlarmTracker",
    "Columns",
    "DefectModel",
    "DefectSet",
    "DemoReport",
    "DetectConfigError",
    "DetectError",
    "Detector",
    "GateConfig",
    "GateDecision",
    "HalfSpaceTrees",
    "LiveScorer",
    "ModelFileError",
    "ModelNotFoundError",
    "ModelSummary",
    "NotFittedError",
    "PcaDetector",
    "Registry",
    "RulBlendModel",
    "RulDeltaModel",
    "RulEstimate",
    "RulMlpModel",
    "RulModel",
    "Sample",
    "SegmentDetector",
    "Stage",
    "Wide",
    "ZScoreDetector",
    "anomaly_model_name",
    "as_columns",
    "backtest",
    "default_detector",
    "defect_event_rows",
    "defect_metrics",
    "defect_model_name",
    "fit_and_validate_demo",
    "gate",
    "gate_inputs",
    "list_models",
    "predict_rul",
    "promote",
    "read_parts",
    "read_truth",
    "read_wide",
    "rul_model_name",
    "score_alarms",
    "score_and_alarm",
    "score_parts",
    "shadow",
    "train_defect",
    "train_rul",
    "training_overlap",
]
