"""The digital twin: a simulated production line that behaves like a real one.

A discrete-event simulation (SimPy) of the plant's line(s): stations with cycle-time
distributions and buffers, the shift calendar with breaks, changeovers between product
types, MTBF/MTTR failures preceded by wear, preventive maintenance that renews the wear,
technicians per shift that repairs and setups wait for, tool wear that drifts a measured
dimension into defects (faster with a cycle shorter than rated), rework and scrap, safety
events and sensor faults. Signals are generated
vectorised with numpy. A run yields the lake's tables (readings, production, states,
events) plus a separate ground truth (fault onsets, failures, true RUL, defect causes,
safety events) that benchmarks score detectors against and detectors never see.

Contract:

- deterministic: the same plant, config, ``start``, horizon and ``seed`` give the same
  tables, row for row; the maintenance, staffing and speed knobs are off by default and
  then change nothing;
- lake rows use the lake's input schemas; every instant is timezone-aware UTC;
- the twin's output enters the lake through the normal ingest path
  (:func:`write_to_lake`); the truth is written beside the lake, never into it.

Examples:
    >>> import datetime as dt
    >>> run = simulate(example_plant(), start=dt.date(2026, 11, 23),
    ...                horizon=dt.timedelta(hours=1), seed=7, sample_s=30)
    >>> sorted(run.lake_tables())
    ['events', 'production', 'readings', 'states']
    >>> sorted(run.truth.tables())
    ['defects', 'faults', 'rul', 'safety']
"""

from __future__ import annotations

from factoryax.twin.config import (
    LiveConfig,
    ProductConfig,
    QualityConfig,
    ReasonCodes,
    SafetyConfig,
    SafetyKindConfig,
    SensorFaultConfig,
    SignalOverride,
    StaffingConfig,
    StationConfig,
    TwinConfig,
)
from factoryax.twin.example import example_plant
from factoryax.twin.kpi import OeeFactors, expected_factors, measured_factors
from factoryax.twin.live import (
    MqttJsonPublisher,
    OpcUaTwinServer,
    Publisher,
    SparkplugEdgeNode,
    replay,
)
from factoryax.twin.result import TRUTH_SCHEMAS, Truth, TwinResult
from factoryax.twin.simulate import simulate
from factoryax.twin.store import WriteReport, write_to_lake

__all__ = [
    "TRUTH_SCHEMAS",
    "LiveConfig",
    "MqttJsonPublisher",
    "OeeFactors",
    "OpcUaTwinServer",
    "ProductConfig",
    "Publisher",
    "QualityConfig",
    "ReasonCodes",
    "SafetyConfig",
    "SafetyKindConfig",
    "SensorFaultConfig",
    "SignalOverride",
    "SparkplugEdgeNode",
    "StaffingConfig",
    "StationConfig",
    "Truth",
    "TwinConfig",
    "TwinResult",
    "WriteReport",
    "example_plant",
    "expected_factors",
    "measured_factors",
    "replay",
    "simulate",
    "write_to_lake",
]
