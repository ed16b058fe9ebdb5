"""Shop-floor safety: a rules engine and the ISA-18.2 alarm lifecycle.

Contract:

- rules come from the plant model's ``[safety]`` table (:func:`parse_safety`), errors name
  the key path, the value and the fix;
- readings drive evaluation in timestamp order; their timestamps are the clock;
- fail closed: a rule that raises, a non-finite value or a silent input raises its alarm;
- every alarm transition is an :class:`AlarmEvent` with who and why, a row for ``events``.
"""

from __future__ import annotations

from factoryax.safety.alarms import Alarm, AlarmEvent, AlarmState
from factoryax.safety.devices import (
    DetectionError,
    TwinScore,
    camera_readings,
    event_readings,
    score_twin,
    twin_rules,
)
from factoryax.safety.engine import Reading, SafetyEngine
from factoryax.safety.expr import Expr, ExpressionError, parse_expr
from factoryax.safety.flood import (
    FloodGate,
    FloodSummary,
    StaleAlarm,
    alarms_per_operator_hour,
    stale_alarms,
)
from factoryax.safety.health import Flood, alarms_per_hour, bad_actors, chattering, floods
from factoryax.safety.intake import MqttDetectionSource, Rejected, spc_readings
from factoryax.safety.notify import (
    Delivery,
    Dispatcher,
    Notifier,
    NotifyConfig,
    SmtpNotifier,
    WebhookNotifier,
)
from factoryax.safety.records import record_incident, record_incidents
from factoryax.safety.rules import SafetyConfig, parse_safety
from factoryax.safety.twincheck import Detection, readings_of, score_incidents

__all__ = [
    "Alarm",
    "AlarmEvent",
    "AlarmState",
    "Delivery",
    "Detection",
    "DetectionError",
    "Dispatcher",
    "Expr",
    "ExpressionError",
    "Flood",
    "FloodGate",
    "FloodSummary",
    "MqttDetectionSource",
    "Notifier",
    "NotifyConfig",
    "Reading",
    "Rejected",
    "SafetyConfig",
    "SafetyEngine",
    "SmtpNotifier",
    "StaleAlarm",
    "TwinScore",
    "WebhookNotifier",
    "alarms_per_hour",
    "alarms_per_operator_hour",
    "bad_actors",
    "camera_readings",
    "chattering",
    "event_readings",
    "floods",
    "parse_expr",
    "parse_safety",
    "readings_of",
    "record_incident",
    "record_incidents",
    "score_incidents",
    "score_twin",
    "spc_readings",
    "stale_alarms",
    "twin_rules",
]
