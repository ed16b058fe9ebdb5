"""Device/camera detections as readings, and alarm transitions as ledger records."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryax.ledger import Ledger
from factoryax.safety import Reading, SafetyEngine, parse_safety
from factoryax.safety.devices import (
    DetectionError,
    baseline_readings,
    camera_readings,
    event_readings,
)
from factoryax.safety.records import record_incident, record_incidents

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
ORIGIN = "example.com/factoryax-test"


def _at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger in a temporary folder, with one signing key."""
    led = Ledger.open(tmp_path / "ledger", origin=ORIGIN)
    led.keys.generate(ORIGIN)
    yield led
    led.close()


def test_event_with_duration_is_a_pulse() -> None:
    """A device event with duration_s is 1.0 at ts and 0.0 once the duration has passed."""
    rows = [
        {
            "ts": T0,
            "kind": "safety.guard_open",
            "asset": "cnc-01",
            "payload": json.dumps({"duration_s": 45.5}),
        },
    ]
    assert event_readings(rows) == [
        Reading(T0, "cnc-01", "guard_open", 1.0),
        Reading(_at(45.5), "cnc-01", "guard_open", 0.0),
    ]


def test_active_flag_and_hold_and_skipped_kinds() -> None:
    """`active` sets the level, no duration holds for hold_s, other kinds are skipped."""
    rows = [
        {"ts": _at(10), "kind": "safety.estop", "asset": "press-01", "payload": {"active": False}},
        {"ts": T0, "kind": "safety.estop", "asset": "press-01", "payload": '{"active": true}'},
        {"ts": T0, "kind": "vision.fall", "asset": "pack-01", "payload": None},
        {"ts": T0, "kind": "alarm.active", "asset": "press-01", "payload": "{}"},
    ]
    got = event_readings(rows, hold_s=3.0)
    assert [(r.ts, r.asset, r.signal, r.value) for r in got] == [
        (T0, "press-01", "estop", 1.0),
        (T0, "pack-01", "fall", 1.0),
        (_at(3), "pack-01", "fall", 0.0),
        (_at(10), "press-01", "estop", 0.0),
    ]


def test_naive_event_ts_is_refused() -> None:
    """An event row without a time zone is an error, never read as local time."""
    with pytest.raises(DetectionError, match="time zone"):
        event_readings([{"ts": T0.replace(tzinfo=None), "kind": "safety.estop", "asset": "a"}])


def test_guard_open_combines_with_machine_state() -> None:
    """One expression rule alarms on a guard event only while the spindle turns."""
    cfg = parse_safety(
        {
            "input_timeout_s": 0,
            "rules": {
                "guard-running": {
                    "type": "expression",
                    "expr": "cnc-01.guard_open > 0 and cnc-01.spindle_speed > 100",
                }
            },
        }
    )
    eng = SafetyEngine(cfg)
    events = eng.process_many(baseline_readings([("cnc-01", "guard_open")], T0))
    events += eng.process(Reading(_at(1), "cnc-01", "spindle_speed", 0.0))
    guard = [
        {
            "ts": _at(5),
            "kind": "safety.guard_open",
            "asset": "cnc-01",
            "payload": '{"duration_s": 10}',
        }
    ]
    events += eng.process_many(event_readings(guard))
    assert events == []
    events += eng.process(Reading(_at(20), "cnc-01", "spindle_speed", 8000.0))
    guard[0]["ts"] = _at(30)
    events += eng.process_many(event_readings(guard))
    assert [(e.kind, e.ts) for e in events] == [("alarm.active", _at(30)), ("alarm.rtn", _at(40))]


def test_camera_message_as_json_text() -> None:
    """A camera box's JSON text becomes a held detection on its zone."""
    msg = json.dumps(
        {
            "ts": "2026-11-23T17:00:00+09:00",
            "camera": "cam-3",
            "zone": "pack-01",
            "detection": "no_helmet",
            "confidence": 0.93,
        }
    )
    assert camera_readings(msg, hold_s=2.0) == [
        Reading(T0, "pack-01", "no_helmet", 1.0),
        Reading(_at(2), "pack-01", "no_helmet", 0.0),
    ]


def test_camera_low_confidence_and_epoch_ts() -> None:
    """Epoch seconds are accepted; a detection under min_confidence gives nothing."""
    msg = {
        "ts": T0.timestamp(),
        "camera": "c",
        "asset": "a",
        "detection": "fall",
        "confidence": 0.4,
        "active": True,
    }
    assert camera_readings(msg) == []
    assert camera_readings(msg, min_confidence=0.3) == [Reading(T0, "a", "fall", 1.0)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ts": "2026-11-23T08:00:00"}, "ts: .*offset"),
        ({"ts": "yesterday"}, "ts: .*ISO-8601"),
        ({"ts": None}, "ts: missing"),
        ({"camera": ""}, "camera:"),
        ({"zone": None}, "asset/zone:"),
        ({"detection": "smoke"}, "detection: 'smoke'; use one of"),
        ({"confidence": 1.5}, "confidence: 1.5; give a number from 0 to 1"),
        ({"confidence": "high"}, "confidence:"),
    ],
)
def test_camera_validation_names_field(change: dict[str, object], field: str) -> None:
    """Each bad field is named in the error with how to fix it."""
    msg: dict[str, object] = {
        "ts": "2026-11-23T08:00:00Z",
        "camera": "cam-3",
        "zone": "pack-01",
        "detection": "fall",
        "confidence": 0.9,
    }
    msg.update(change)
    with pytest.raises(DetectionError, match=field):
        camera_readings(msg)


def test_camera_not_json() -> None:
    """Text that is not a JSON object is refused with the fix."""
    with pytest.raises(DetectionError, match="message: not JSON"):
        camera_readings("{oops")
    with pytest.raises(DetectionError, match="JSON object"):
        camera_readings("[1, 2]")


def test_record_incident_and_ack(ledger: Ledger) -> None:
    """Activation commits safety_incident, ack commits operator_approval; rtn commits nothing."""
    cfg = parse_safety(
        {
            "rules": {
                "estop": {"type": "expression", "expr": "press-01.estop > 0", "priority": "urgent"}
            }
        }
    )
    eng = SafetyEngine(cfg)
    active = eng.process(Reading(T0, "press-01", "estop", 1.0))
    ack = eng.acknowledge("estop", _at(30), who="kim", why="reset after check")
    rtn = eng.process(Reading(_at(60), "press-01", "estop", 0.0))
    receipts = record_incidents(ledger, active + ack + rtn)
    assert [r.record_type for r in receipts] == ["safety_incident", "operator_approval"]
    incident = ledger.fields(receipts[0].index)
    assert {k: incident[k] for k in ("rule", "asset", "priority", "severity", "kind")} == {
        "rule": "estop",
        "asset": "press-01",
        "priority": "urgent",
        "severity": 4,
        "kind": "estop",
    }
    assert incident["ts"] == T0.isoformat()
    approval = ledger.fields(receipts[1].index)
    assert (approval["who"], approval["operator"], approval["why"], approval["decision"]) == (
        "kim",
        "kim",
        "reset after check",
        "acknowledged",
    )
    assert receipts[1].commitment.to_json()  # committed, durable
    assert record_incident(ledger, rtn[0]) is None
