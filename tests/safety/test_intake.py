"""SPC events and anomaly scores as engine inputs; camera detections over real MQTT."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from factoryax.safety import Reading, SafetyEngine, parse_safety
from factoryax.safety.intake import MqttDetectionSource, Rejected, spc_readings

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
BROKER = ("127.0.0.1", 1883)


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


def test_spc_event_raises_alarm() -> None:
    """An spc.nelson_1 events row becomes spc_nelson_1 = 1.0 and a rule on it alarms."""
    row = {
        "ts": T0,
        "event_id": "spc-x",
        "kind": "spc.nelson_1",
        "line": "line-1",
        "asset": "inspect-01",
        "severity": 3,
        "message": "inspect-01.width: beyond limits",
        "payload": json.dumps({"rule": "nelson_1", "points": [41]}),
    }
    other = dict(row, kind="alarm.active")
    readings = spc_readings([row, other])
    assert readings == [Reading(T0, "inspect-01", "spc_nelson_1", 1.0)]
    cfg = parse_safety(
        {
            "input_timeout_s": 0,
            "rules": {"spc-width": {"type": "expression", "expr": "inspect-01.spc_nelson_1 > 0"}},
        }
    )
    events = SafetyEngine(cfg).process_many(readings)
    assert [(e.kind, e.rule, e.asset) for e in events] == [
        ("alarm.active", "spc-width", "inspect-01")
    ]
    pulse = spc_readings([row], hold_s=60)
    assert [r.value for r in pulse] == [1.0, 0.0]


def test_anomaly_score_is_a_threshold_rule() -> None:
    """An anomaly score is a plain signal: a threshold rule on it alarms and clears."""
    cfg = parse_safety(
        {
            "input_timeout_s": 0,
            "rules": {
                "cnc-anomaly": {
                    "type": "threshold",
                    "signal": "cnc-01.anomaly_score",
                    "above": 0.8,
                    "deadband": 0.1,
                }
            },
        }
    )
    eng = SafetyEngine(cfg)
    scores = [0.2, 0.85, 0.75, 0.6]
    readings = [
        Reading(T0 + dt.timedelta(seconds=i), "cnc-01", "anomaly_score", v)
        for i, v in enumerate(scores)
    ]
    assert [e.kind for e in eng.process_many(readings)] == ["alarm.active", "alarm.rtn"]


def test_handle_never_raises_on_garbage_or_bad_callback() -> None:
    """Undecodable bytes and a raising callback are recorded, not raised."""

    def boom(r: Reading) -> None:
        raise RuntimeError("engine down")

    src = MqttDetectionSource(boom)
    good = {
        "ts": "2026-11-23T08:00:00Z",
        "camera": "cam-1",
        "zone": "pack-01",
        "detection": "fall",
        "confidence": 0.9,
    }
    assert src.handle("t", b"\xff\xfe") == 0
    assert src.handle("t", json.dumps(good).encode()) == 0
    assert src.received_ == 2 and src.accepted_ == 0
    assert "not JSON" in src.rejected_[0].reason or "unreadable" in src.rejected_[0].reason
    assert src.rejected_[1].reason == "callback failed: RuntimeError: engine down"


@pytest.mark.skipif(not _broker_up(), reason="no MQTT broker listening on 127.0.0.1:1883")
def test_mqtt_source_against_real_broker() -> None:
    """A valid camera message reaches the engine; an invalid one is recorded with its reason."""
    topic_root = f"factoryax/vision/test-{uuid.uuid4().hex[:8]}"
    cfg = parse_safety(
        {
            "input_timeout_s": 0,
            "rules": {"pack-person": {"type": "expression", "expr": "pack-01.person_in_zone > 0"}},
        }
    )
    engine = SafetyEngine(cfg)
    got: list[Reading] = []
    alarms: list[str] = []
    reading_seen, reject_seen = threading.Event(), threading.Event()
    rejects: list[Rejected] = []

    def on_reading(r: Reading) -> None:
        got.append(r)
        alarms.extend(e.kind for e in engine.process(r))
        reading_seen.set()

    def on_reject(rej: Rejected) -> None:
        rejects.append(rej)
        reject_seen.set()

    valid = {
        "ts": "2026-11-23T08:00:00Z",
        "camera": "cam-3",
        "zone": "pack-01",
        "detection": "person_in_zone",
        "confidence": 0.93,
        "duration_s": 10,
    }
    invalid = dict(valid, detection="dancing")
    src = MqttDetectionSource(on_reading, topic=f"{topic_root}/#", on_reject=on_reject)
    src.start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2)
    pub.connect(*BROKER)
    pub.loop_start()
    try:
        pub.publish(f"{topic_root}/cam-3", json.dumps(invalid), qos=1).wait_for_publish(5)
        pub.publish(f"{topic_root}/cam-3", json.dumps(valid), qos=1).wait_for_publish(5)
        assert reject_seen.wait(10), "invalid message never reported"
        assert reading_seen.wait(10), "valid message never reached the callback"
    finally:
        pub.disconnect()
        pub.loop_stop()
        src.stop()
    assert got[0] == Reading(T0, "pack-01", "person_in_zone", 1.0)
    assert alarms[0] == "alarm.active"
    assert len(rejects) == 1 and rejects[0].topic == f"{topic_root}/cam-3"
    assert rejects[0].reason.startswith("detection: 'dancing'")
    assert src.rejected_ == rejects
