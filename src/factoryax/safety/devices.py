"""Device and camera detections as readings, and scoring the engine against a twin run.

A safety device (guard switch, light curtain, e-stop) or a camera reports an *event*; the
engine reads *signals*. :func:`event_readings` turns ``events`` rows (``safety.<kind>``,
``vision.<kind>``) into 0/1 readings named after the kind (``cnc-01.guard_open``), so one
rule can combine them with machine state::

    expr = "cnc-01.guard_open > 0 and cnc-01.spindle_speed > 100"

A row with ``duration_s`` in its payload gives 1.0 at ``ts`` and 0.0 at ``ts + duration``;
``active`` true/false gives 1.0/0.0; otherwise the detection holds for ``hold_s``.
:func:`camera_readings` does the same for one JSON message a camera box publishes
(MQTT/HTTP), after validating it (:class:`DetectionError` names the field and the fix).

:func:`score_twin` runs the engine over a twin run's readings *and* device events and
scores every injected safety event of ``result.truth.safety``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from factoryax.core import PlantModel
from factoryax.safety.alarms import AlarmEvent
from factoryax.safety.engine import Reading, SafetyEngine
from factoryax.safety.rules import SafetyConfig, parse_safety
from factoryax.safety.twincheck import Detection, readings_of

__all__ = [
    "CAMERA_DETECTIONS",
    "DEVICE_SIGNALS",
    "DetectionError",
    "TwinScore",
    "baseline_readings",
    "camera_readings",
    "event_readings",
    "score_twin",
    "summary",
    "twin_rules",
]

DEVICE_SIGNALS: dict[str, str] = {
    "safety.guard_open": "guard_open",
    "safety.person_in_zone": "person_in_zone",
    "safety.estop": "estop",
    "safety.gas_high": "gas_high",
    "safety.over_temp": "over_temp",
    "vision.person_in_zone": "person_in_zone",
    "vision.no_helmet": "no_helmet",
    "vision.no_vest": "no_vest",
    "vision.fall": "fall",
}
"""Event kind → the signal its readings carry (on the event's asset)."""

CAMERA_DETECTIONS = ("person_in_zone", "no_helmet", "no_vest", "fall")
"""What a camera message's ``detection`` may say."""

SHIFT_S = 8 * 3600.0
"""One shift, for false alarms per shift."""


class DetectionError(ValueError):
    """A camera message that cannot be read; the message names the field and the fix."""


def _aware(ts: Any, field: str) -> dt.datetime:
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is None:
            raise DetectionError(f"{field}: {ts!r} has no time zone; give a UTC instant")
        return ts.astimezone(dt.UTC)
    raise DetectionError(f"{field}: expected a datetime, got {type(ts).__name__} {ts!r}")


def _payload(raw: Any) -> Mapping[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return raw
    loaded = json.loads(raw)
    return loaded if isinstance(loaded, Mapping) else {}


def _pulse(
    ts: dt.datetime, asset: str, signal: str, payload: Mapping[str, Any], hold_s: float
) -> list[Reading]:
    active = payload.get("active")
    if isinstance(active, bool):
        return [Reading(ts, asset, signal, 1.0 if active else 0.0)]
    duration = payload.get("duration_s")
    span = float(duration) if isinstance(duration, int | float) and duration >= 0 else hold_s
    return [
        Reading(ts, asset, signal, 1.0),
        Reading(ts + dt.timedelta(seconds=span), asset, signal, 0.0),
    ]


def event_readings(rows: Any, *, hold_s: float = 5.0) -> list[Reading]:
    """Readings of device/camera event rows, in timestamp order.

    Args:
        rows: ``events`` rows (mappings with ts, kind, asset, payload) or an Arrow table.
            Kinds not in :data:`DEVICE_SIGNALS` (alarm transitions, …) are skipped.
        hold_s: how long a detection with neither ``duration_s`` nor ``active`` holds.

    Examples:
        >>> t = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        >>> rs = event_readings([{"ts": t, "kind": "safety.guard_open", "asset": "cnc-01",
        ...     "payload": '{"duration_s": 30}'}])
        >>> [(r.signal, r.value, (r.ts - t).seconds) for r in rs]
        [('guard_open', 1.0, 0), ('guard_open', 0.0, 30)]
    """
    table_rows: Iterable[Mapping[str, Any]] = (
        rows.to_pylist() if hasattr(rows, "to_pylist") else rows
    )
    out: list[Reading] = []
    for row in table_rows:
        signal = DEVICE_SIGNALS.get(str(row.get("kind")))
        if signal is None or not row.get("asset"):
            continue
        ts = _aware(row["ts"], "ts")
        out += _pulse(ts, str(row["asset"]), signal, _payload(row.get("payload")), hold_s)
    out.sort(key=lambda r: r.ts)
    return out


def _parse_ts(raw: Any) -> dt.datetime:
    if isinstance(raw, bool):
        raise DetectionError("ts: got a boolean; give ISO-8601 with offset or epoch seconds")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise DetectionError(f"ts: {raw!r} is not finite; give epoch seconds")
        return dt.datetime.fromtimestamp(float(raw), dt.UTC)
    if isinstance(raw, str):
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise DetectionError(
                f"ts: {raw!r} is not ISO-8601; write e.g. '2026-11-23T08:00:00Z'"
            ) from None
        if parsed.tzinfo is None:
            raise DetectionError(f"ts: {raw!r} has no offset; append 'Z' or '+09:00'")
        return parsed.astimezone(dt.UTC)
    if isinstance(raw, dt.datetime):
        return _aware(raw, "ts")
    raise DetectionError(
        f"ts: missing or {type(raw).__name__}; give ISO-8601 with offset or epoch seconds"
    )


def camera_readings(
    message: Mapping[str, Any] | str | bytes,
    *,
    min_confidence: float = 0.5,
    hold_s: float = 5.0,
) -> list[Reading]:
    """Readings of one camera message (a JSON object or its text), after validation.

    The message: ``ts`` (ISO-8601 with offset, or epoch seconds), ``camera`` (its id),
    ``asset`` or ``zone`` (where; the reading's asset), ``detection`` (one of
    :data:`CAMERA_DETECTIONS`), ``confidence`` (0…1); optional ``duration_s`` / ``active``.
    A detection below ``min_confidence`` gives no reading.

    Raises:
        DetectionError: naming the bad field and how to fix it.

    Examples:
        >>> rs = camera_readings({"ts": "2026-11-23T08:00:00Z", "camera": "cam-3",
        ...     "zone": "pack-01", "detection": "person_in_zone", "confidence": 0.93})
        >>> [(r.asset, r.signal, r.value) for r in rs]
        [('pack-01', 'person_in_zone', 1.0), ('pack-01', 'person_in_zone', 0.0)]
    """
    if isinstance(message, str | bytes):
        try:
            message = json.loads(message)
        except ValueError as exc:
            raise DetectionError(f"message: not JSON ({exc}); send one JSON object") from None
    if not isinstance(message, Mapping):
        raise DetectionError(f"message: expected a JSON object, got {type(message).__name__}")
    ts = _parse_ts(message.get("ts"))
    camera = message.get("camera")
    if not isinstance(camera, str) or not camera:
        raise DetectionError(f"camera: {camera!r}; give the camera's id as a non-empty string")
    where = message.get("asset", message.get("zone"))
    if not isinstance(where, str) or not where:
        raise DetectionError(
            f"asset/zone: {where!r}; give 'asset' (or 'zone') naming a plant asset id"
        )
    detection = message.get("detection")
    if detection not in CAMERA_DETECTIONS:
        raise DetectionError(f"detection: {detection!r}; use one of {list(CAMERA_DETECTIONS)}")
    conf = message.get("confidence")
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0.0 <= conf <= 1.0:
        raise DetectionError(f"confidence: {conf!r}; give a number from 0 to 1")
    if conf < min_confidence:
        return []
    return _pulse(ts, where, str(detection), message, hold_s)


def baseline_readings(signals: Iterable[tuple[str, str]], ts: dt.datetime) -> list[Reading]:
    """0.0 for every (asset, signal) at ``ts``: devices report their idle state at start.

    Without it an expression over a device signal that has never reported fails closed.
    """
    return [Reading(ts, a, s, 0.0) for a, s in sorted(set(signals))]


# -- twin scoring ----------------------------------------------------------------------

_PROTECTED = {"guard_open": ("press", "cnc"), "person_in_zone": ("robot",)}


def twin_rules(plant: PlantModel, temp_limits: Mapping[str, float] | None = None) -> dict[str, Any]:
    """A small ``[safety]`` table for a twin run: device rules and over-temperature.

    Per asset: ``<asset>-estop`` (urgent), ``<asset>-gas`` (urgent); ``<asset>-guard-open``
    on presses and CNCs and ``<asset>-person-in-zone`` on robots (high). Where the asset
    reports ``spindle_speed``, ``<asset>-guard-open-running`` (urgent) combines the guard
    with it. ``temp_limits`` (``"asset.signal"`` → °C) add threshold rules with a 40 s
    on-delay (a spike of one to three samples does not alarm). Input watchdogs are off:
    device signals report only on change.
    """
    rules: dict[str, dict[str, Any]] = {}
    for _, asset in plant.iter_assets():
        a = asset.id
        rules[f"{a}-estop"] = {"type": "expression", "expr": f"{a}.estop > 0"}
        rules[f"{a}-estop"]["priority"] = "urgent"
        rules[f"{a}-gas"] = {"type": "expression", "expr": f"{a}.gas_high > 0"}
        rules[f"{a}-gas"]["priority"] = "urgent"
        for kind, kinds in _PROTECTED.items():
            if asset.kind in kinds:
                rid = f"{a}-{kind.replace('_', '-')}"
                rules[rid] = {"type": "expression", "expr": f"{a}.{kind} > 0"}
        if asset.kind in _PROTECTED["guard_open"] and any(
            s.id == "spindle_speed" for s in asset.signals
        ):
            rules[f"{a}-guard-open-running"] = {
                "type": "expression",
                "expr": f"{a}.guard_open > 0 and {a}.spindle_speed > 100",
                "priority": "urgent",
            }
    for ref, limit in (temp_limits or {}).items():
        rid = ref.replace(".", "-") + "-hot"
        rules[rid] = {"type": "threshold", "signal": ref, "above": limit, "on_delay_s": 40}
    return {"input_timeout_s": 0, "rules": rules}


@dataclass(frozen=True)
class TwinScore:
    """Every injected safety event's outcome, the alarms raised and the false ones.

    ``outcome``: ``detected`` (a rule reading the event's device signal or its excursion
    signal annunciated between its start and ``grace_s`` after its end), ``missed``,
    ``no_rule`` (observable, but no rule reads it) or ``undetectable`` (no device event
    and no signal).
    """

    detections: list[Detection]
    alarms: list[AlarmEvent]
    false_alarms: list[AlarmEvent]
    horizon_s: float

    @property
    def shifts(self) -> float:
        """The horizon in 8-hour shifts."""
        return self.horizon_s / SHIFT_S

    @property
    def false_alarms_per_shift(self) -> float:
        """False annunciations per 8-hour shift."""
        return len(self.false_alarms) / self.shifts if self.shifts else 0.0

    def latencies_s(self) -> list[float]:
        """Detection latency of each detected event, seconds of simulated time."""
        return [d.latency_s for d in self.detections if d.latency_s is not None]


def _merge(*streams: Iterable[Reading]) -> Iterator[Reading]:
    return heapq.merge(*streams, key=lambda r: r.ts)


def score_twin(
    result: Any,
    config: SafetyConfig | Mapping[str, Any],
    plant: PlantModel | None = None,
    *,
    grace_s: float = 60.0,
) -> TwinScore:
    """Runs the engine over a twin run's readings and device events; scores the truth.

    Args:
        result: a :class:`~factoryax.twin.TwinResult`.
        config: the ``[safety]`` table (parsed or raw, e.g. :func:`twin_rules`); a raw one
            is parsed without the plant, since device signals are not declared there.
        plant: the plant model (puts ``line`` on alarm events).
        grace_s: how long after an event's end an alarm still counts as its detection.
    """
    cfg = config if isinstance(config, SafetyConfig) else parse_safety(dict(config))
    engine = SafetyEngine(cfg, plant)
    inputs: set[tuple[str, str]] = set()
    for st in engine.rules_.values():
        inputs |= st.inputs
    device = [r for r in event_readings(result.events) if (r.asset, r.signal) in inputs]
    device_keys = {k for k in inputs if k[1] in set(DEVICE_SIGNALS.values())}
    stream = _merge(
        baseline_readings(device_keys, result.start),
        device,
        readings_of(result.readings, keep=inputs - device_keys),
    )
    events = engine.process_many(stream)
    events += engine.advance(result.end)
    alarms = [e for e in events if e.kind == "alarm.active"]
    readers: dict[tuple[str, str], set[str]] = {}
    for rid, st in engine.rules_.items():
        for key in st.inputs:
            readers.setdefault(key, set()).add(rid)
    out: list[Detection] = []
    explained: set[str] = set()
    for row in result.truth.safety.to_pylist():
        keys = []
        if row["emitted"]:
            keys.append((row["asset"], row["kind"]))
        if row["signal"]:
            keys.append((row["asset"], row["signal"]))
        shown = row["signal"] or (row["kind"] if row["emitted"] else None)
        rules = set().union(*(readers.get(k, set()) for k in keys)) if keys else set()
        until = row["end_at"] + dt.timedelta(seconds=grace_s)
        near = [e for e in alarms if e.asset == row["asset"] and row["ts"] <= e.ts <= until]
        explained |= {e.event_id for e in near}
        hits = [e for e in near if e.rule in rules]
        first = min(hits, key=lambda e: e.ts) if hits else None
        if not keys:
            outcome = "undetectable"
        elif not rules:
            outcome = "no_rule"
        else:
            outcome = "detected" if first else "missed"
        out.append(
            Detection(
                row["kind"],
                row["asset"],
                shown,
                row["ts"],
                outcome,
                first.rule if first else None,
                (first.ts - row["ts"]).total_seconds() if first else None,
            )
        )
    false = [e for e in alarms if e.event_id not in explained]
    return TwinScore(out, alarms, false, (result.end - result.start).total_seconds())


def summary(score: TwinScore) -> Sequence[str]:
    """Readable lines: one per injected event, then latency and false-alarm figures."""
    lines = [
        f"{d.start:%Y-%m-%d %H:%M:%S} {d.asset:<10} {d.kind:<15} {d.outcome:<12} "
        f"{d.rule or '-':<28} {'' if d.latency_s is None else f'{d.latency_s:.1f} s'}"
        for d in score.detections
    ]
    lat = sorted(score.latencies_s())
    if lat:
        lines.append(f"latency: median {lat[len(lat) // 2]:.1f} s, max {lat[-1]:.1f} s")
    lines.append(
        f"false alarms: {len(score.false_alarms)} over {score.shifts:g} shifts "
        f"({score.false_alarms_per_shift:.2f} per shift)"
    )
    return lines
