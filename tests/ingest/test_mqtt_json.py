"""MQTT with plain JSON: mapping rules, quarantine of what does not map, broker restarts."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from factoryax.config import Workspace
from factoryax.core import ConfigError
from factoryax.ingest.mqtt import JsonRule
from factoryax.runtime import Runtime, parse_runtime, read_health
from tests.runtime.brokers import Mosquitto

TOPIC = "factoryax/changwon-1/line-1/{asset}/readings"


def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _count(ws: Workspace, sql: str) -> int:
    return int(ws.lake.query(sql).column(0)[0].as_py())


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free loopback port."""
    with Mosquitto(tmp_path / "broker") as b:
        yield b


def _publisher(port: int, client_id: str = "test-pub") -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.reconnect_delay_set(min_delay=1, max_delay=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _runtime(ws: Workspace, port: int, rules: list[dict[str, object]] | None = None) -> Runtime:
    raw = {
        "batch_ms": 50,
        "sinks": [],
        "line": {"kind": "mqtt-json", "port": port, "rules": rules or [{"topic": TOPIC}]},
    }
    return Runtime(ws, config=parse_runtime(raw))


def test_rule_patterns_capture_topic_levels() -> None:
    """{name} captures one level, + and # match as in MQTT; the subscription uses +."""
    rule = JsonRule(topic="plant/+/{asset}/{signal}/#", signal="{signal}")
    assert rule.subscription == "plant/+/+/+/#"
    assert rule.match("plant/l1/press-01/oil_temp/raw/x") == {
        "asset": "press-01",
        "signal": "oil_temp",
    }
    assert rule.match("plant/l1/press-01") is None


def test_rule_errors_name_the_key_and_the_fix() -> None:
    """A template naming a level the topic does not capture is refused at load time."""
    with pytest.raises(ConfigError) as err:
        parse_runtime(
            {"line": {"kind": "mqtt-json", "rules": [{"topic": "a/+", "asset": "{asset}"}]}}
        )
    assert "sources.line.rules.0" in str(err.value) and "add it to the topic pattern" in str(
        err.value
    )
    with pytest.raises(ConfigError, match=r"sources.line.port: .*\(got 70000\)"):
        parse_runtime({"line": {"kind": "mqtt-json", "port": 70000, "rules": [{"topic": "a"}]}})


def test_mapping_errors_go_to_quarantine_and_good_readings_land(
    workspace: Workspace, broker: Mosquitto
) -> None:
    """Bad JSON, no timestamp, a non-object, text values, an unknown signal and a value out
    of range are quarantined with their reason; the good readings of the same messages land;
    every message is acknowledged (a restart gets nothing redelivered)."""
    runtime = _runtime(workspace, broker.port)
    runtime.start()
    pub = _publisher(broker.port)
    ts = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).replace(microsecond=0).isoformat()
    topic = TOPIC.format(asset="press-01")
    bad = [
        b"{not json",
        json.dumps({"values": {"oil_temp": 40.0}}).encode(),
        json.dumps({"ts": "yesterday", "values": {"oil_temp": 40.0}}).encode(),
        json.dumps({"ts": ts, "values": [1, 2]}).encode(),
        json.dumps({"ts": ts, "values": {"oil_temp": "hot", "hydraulic_pressure": 150.0}}).encode(),
        json.dumps({"ts": ts, "values": {"no_such_signal": 1.0}}).encode(),
        json.dumps({"ts": ts, "values": {"oil_temp": 1e9}}).encode(),
    ]
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the source to connect")
        for payload in bad:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        _wait(lambda: _count(workspace, "SELECT count(*) FROM quarantine") >= 7, "quarantine")
        _wait(lambda: _count(workspace, "SELECT count(*) FROM readings") >= 1, "the good reading")
    finally:
        pub.loop_stop()
        pub.disconnect()
        runtime.stop()
    reasons = workspace.lake.query("SELECT reason FROM quarantine ORDER BY position").column(0)
    text = "\n".join(reasons.to_pylist())
    for expected in (
        "not JSON",
        "field 'ts' = None is not an instant",
        "field 'ts' = 'yesterday' is not an instant",
        "is not an object",
        "press-01.oil_temp = 'hot' is not a number",
        "no_such_signal",
        "outside",
    ):
        assert expected in text, expected
    good = workspace.lake.query("SELECT signal, value FROM readings").to_pylist()
    assert good == [{"signal": "hydraulic_pressure", "value": 150.0}]
    health = read_health(workspace)
    assert health is not None and health.sources[0].quarantined == 7
    # everything was acknowledged: the next session gets only what is new (the broker
    # would send unacknowledged messages first, before the marker)
    again = _runtime(workspace, broker.port)
    again.start()
    pub = _publisher(broker.port)
    try:
        _wait(lambda: again.sources[0].stats.state == "connected", "the second connect")
        marker = {"ts": ts, "values": {"power": 12.5}}
        pub.publish(topic, json.dumps(marker), qos=1).wait_for_publish(5)
        _wait(lambda: again.sources[0].stats.messages >= 1, "the marker")
        again.stop()
        assert again.sources[0].stats.messages == 1
    finally:
        pub.loop_stop()
        pub.disconnect()
        again.stop()


def test_broker_restart_mid_stream_leaves_no_gap(workspace: Workspace, broker: Mosquitto) -> None:
    """The broker stops (SIGTERM, sessions saved) and comes back mid-stream: the source
    reconnects on its own, the publisher resends, and every reading is stored once."""
    runtime = _runtime(workspace, broker.port)
    runtime.start()
    pub = _publisher(broker.port)
    n = 600
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    sent = threading.Event()

    def publish_all() -> None:
        for i in range(n):
            doc = {
                "ts": (t0 + dt.timedelta(seconds=i)).isoformat(),
                "values": {"oil_temp": 40 + i % 7},
            }
            pub.publish(TOPIC.format(asset="press-01"), json.dumps(doc), qos=1)
            time.sleep(0.004)
        sent.set()

    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the source to connect")
        thread = threading.Thread(target=publish_all)
        thread.start()
        _wait(lambda: _count(workspace, "SELECT count(*) FROM readings") >= 50, "the first batches")
        broker.stop()
        at_stop = _count(workspace, "SELECT count(*) FROM readings")
        time.sleep(0.5)
        broker.start()
        thread.join()
        assert at_stop < n  # the broker really went away mid-stream
        _wait(lambda: _count(workspace, "SELECT count(*) FROM readings") >= n, "all readings", 60)
        _wait(lambda: runtime.sources[0].stats.reconnects >= 1, "the reconnect count")
    finally:
        pub.loop_stop()
        pub.disconnect()
        runtime.stop()
    stats = workspace.lake.query(
        "SELECT count(*) AS n, count(DISTINCT ts) AS d, min(ts) AS lo, max(ts) AS hi FROM readings"
    ).to_pylist()[0]
    assert stats["n"] == stats["d"] == n  # once each
    assert (stats["hi"] - stats["lo"]).total_seconds() == n - 1  # contiguous: no gap
    health = read_health(workspace)
    assert health is not None and health.sources[0].reconnects >= 1
