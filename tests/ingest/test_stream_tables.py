"""MQTT JSON rules for the other lake tables: states, production and events, live.

Every test runs a real Mosquitto on a free loopback port and a real lake in a temporary
workspace; messages go through the runtime's normal path (mapping, ingest validation,
lake append, acknowledgement).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from factoryax.config import Workspace
from factoryax.core import ConfigError
from factoryax.ingest.mqtt import JsonRule, MqttSource, wait_connected
from factoryax.ingest.stream import Delivery, StreamWriter
from factoryax.runtime import Runtime, parse_runtime, read_health
from tests.runtime.brokers import Mosquitto

BASE = "factoryax/changwon-1/line-1"
RULES: list[dict[str, object]] = [
    {"topic": "factoryax/+/+/{asset}/readings"},
    {"topic": "factoryax/+/+/{asset}/state", "kind": "states"},
    {"topic": "factoryax/+/+/{asset}/production", "kind": "production"},
    {"topic": "factoryax/+/+/{asset}/events", "kind": "events"},
    # a PLC that names things its own way: serial/status/at, "good"/"bad"
    {
        "topic": "plc/{asset}/part",
        "kind": "production",
        "ts": "at",
        "fields": {"part_id": "serial", "result": "status"},
        "rename": {"result": {"good": "ok", "bad": "scrap"}},
    },
]
T0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(microsecond=0)


def _iso(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat()


def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _count(ws: Workspace, table: str) -> int:
    return int(ws.lake.query(f"SELECT count(*) FROM {table}").column(0)[0].as_py())


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free loopback port."""
    with Mosquitto(tmp_path / "broker") as b:
        yield b


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-pub")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _send(port: int, messages: list[tuple[str, object]]) -> None:
    pub = _publisher(port)
    try:
        for topic, doc in messages:
            payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        pub.loop_stop()
        pub.disconnect()


def _config(port: int) -> dict[str, object]:
    return {
        "batch_ms": 50,
        "sinks": [],
        "line": {"kind": "mqtt-json", "port": port, "rules": RULES},
    }


def _runtime(ws: Workspace, port: int) -> Runtime:
    runtime = Runtime(ws, config=parse_runtime(_config(port)))
    runtime.start()
    _wait(lambda: runtime.sources[0].stats.state == "connected", "the source to connect")
    return runtime


GOOD: list[tuple[str, object]] = [
    (
        f"{BASE}/press-01/state",
        {"ts": _iso(10), "start": _iso(0), "end": _iso(10), "state": "running", "site": "x"},
    ),
    (
        f"{BASE}/press-01/state",
        {"start": _iso(10), "end": _iso(14), "state": "down", "reason_code": "BREAKDOWN"},
    ),
    (
        f"{BASE}/press-01/production",
        {
            "ts": _iso(1),
            "part_id": "P-1",
            "result": "ok",
            "product": "BRK-100",
            "lot": "L1",
            "cycle_time_s": 12.5,
        },
    ),
    (
        f"{BASE}/press-01/production",
        {"ts": _iso(2), "part_id": 17, "result": "scrap", "defect_code": "CRACK"},
    ),
    (
        "plc/cnc-01/part",
        {"at": int((T0.timestamp() + 180) * 1000), "serial": "S9", "status": "good"},
    ),
    (
        f"{BASE}/press-01/events",
        {
            "ts": _iso(3),
            "event_id": "e-1",
            "kind": "estop",
            "severity": 4,
            "message": "E-stop pressed",
            "payload": {"button": 2},
        },
    ),
]


def test_table_rules_are_checked_at_load_with_key_and_fix() -> None:
    """A rule's kind decides which keys it takes; mistakes name the key and the fix."""
    assert JsonRule(topic="a/{asset}").kind == "readings"  # existing configs unchanged
    cases: list[tuple[dict[str, object], str]] = [
        ({"kind": "parts"}, "rules.0.kind"),
        ({"kind": "states", "values": "v"}, "only apply to readings rules"),
        ({"kind": "states", "ts": "at"}, "a states rule has no `ts`"),
        ({"kind": "production", "fields": {"serial": "s"}}, "'serial' not a column of production"),
        ({"kind": "production", "fields": {"ts": "at"}}, "map the time field with `ts`"),
        ({"kind": "states", "rename": {"end": {"a": "b"}}}, "rename: 'end' not a column"),
        ({"fields": {"state": "s"}}, "a readings rule renames signals with `signals`"),
    ]
    for extra, expected in cases:
        rule: dict[str, object] = {"topic": "a/{asset}", **extra}
        with pytest.raises(ConfigError) as err:
            parse_runtime({"line": {"kind": "mqtt-json", "rules": [rule]}})
        assert expected in str(err.value), (extra, str(err.value))
        assert "sources.line.rules.0" in str(err.value)


def test_states_production_and_events_land_in_their_tables(
    workspace: Workspace, broker: Mosquitto
) -> None:
    """Each kind of message becomes one row of its table, line filled in from the plant,
    fields and values renamed as the rule says; nothing is quarantined."""
    runtime = _runtime(workspace, broker.port)
    try:
        _send(broker.port, GOOD)
        _wait(lambda: _count(workspace, "production") >= 3, "the parts")
        _wait(lambda: _count(workspace, "events") >= 1 and _count(workspace, "states") >= 2, "all")
    finally:
        runtime.stop()
    lake = workspace.lake
    states = lake.query(
        'SELECT start, "end", line, asset, state, reason_code FROM states ORDER BY start'
    ).to_pylist()
    assert states == [
        {
            "start": T0,
            "end": T0 + dt.timedelta(minutes=10),
            "line": "line-1",
            "asset": "press-01",
            "state": "running",
            "reason_code": None,
        },
        {
            "start": T0 + dt.timedelta(minutes=10),
            "end": T0 + dt.timedelta(minutes=14),
            "line": "line-1",
            "asset": "press-01",
            "state": "down",
            "reason_code": "BREAKDOWN",
        },
    ]
    parts = lake.query(
        "SELECT ts, asset, part_id, result, product, lot, defect_code, cycle_time_s "
        "FROM production ORDER BY ts"
    ).to_pylist()
    assert [(p["asset"], p["part_id"], p["result"]) for p in parts] == [
        ("press-01", "P-1", "ok"),
        ("press-01", "17", "scrap"),
        ("cnc-01", "S9", "ok"),
    ]
    assert parts[0]["cycle_time_s"] == 12.5 and parts[0]["lot"] == "L1"
    assert parts[1]["defect_code"] == "CRACK"
    assert parts[2]["ts"] == T0 + dt.timedelta(minutes=3)
    events = lake.query("SELECT kind, asset, severity, payload FROM events").to_pylist()
    assert events == [
        {"kind": "estop", "asset": "press-01", "severity": 4, "payload": '{"button": 2}'}
    ]
    assert _count(workspace, "quarantine") == 0
    health = read_health(workspace)
    assert health is not None and health.sources[0].accepted == len(GOOD)


def test_bad_table_messages_go_to_quarantine_with_topic_field_and_reason(
    workspace: Workspace, broker: Mosquitto
) -> None:
    """Every way a states/production/events message can be wrong is quarantined with the
    topic, the field and a reason that says what to fix; the good row beside them lands."""
    state = f"{BASE}/press-01/state"
    part = f"{BASE}/press-01/production"
    bad: list[tuple[str, object, str, str]] = [  # topic, doc, field, part of the reason
        (state, b"[1, 2", "", "not JSON"),
        (state, {"start": _iso(0), "state": "idle"}, "end", "field 'end' is missing"),
        (state, {"start": "today", "end": _iso(1), "state": "idle"}, "start", "not an instant"),
        (
            state,
            {"start": _iso(0), "end": _iso(1), "state": "asleep"},
            "state",
            "state 'asleep' is not one of running",
        ),
        (
            state,
            {"start": _iso(5), "end": _iso(1), "state": "idle"},
            "end",
            "the interval ends before it starts",
        ),
        (
            state,
            {"start": _iso(6), "end": _iso(7), "state": "down", "reason_code": "GREMLINS"},
            "reason_code",
            "unknown reason code 'GREMLINS'; declare it in [[downtime_reasons]]",
        ),
        (
            f"{BASE}/no-such-press/state",
            {"start": _iso(0), "end": _iso(1), "state": "idle"},
            "asset",
            "unknown asset 'no-such-press'",
        ),
        (part, {"ts": _iso(1), "result": "ok"}, "part_id", "field 'part_id' is missing"),
        (
            part,
            {"ts": _iso(1), "part_id": "P", "result": "meh"},
            "result",
            "result 'meh' is not one of ok",
        ),
        (
            part,
            {"ts": _iso(1), "part_id": "P", "result": "ok", "cycle_time_s": "fast"},
            "cycle_time_s",
            "is not a finite number",
        ),
        (part, {"part_id": "P", "result": "ok"}, "ts", "set `ts` in the rule"),
        (
            f"{BASE}/press-01/events",
            {"ts": _iso(1), "event_id": "e", "kind": "x", "severity": 99999},
            "severity",
            "is not an integer",
        ),
        ("plc/cnc-01/part", {"at": 1, "serial": ["S"], "status": "good"}, "serial", "not text"),
    ]
    good = (state, {"start": _iso(20), "end": _iso(21), "state": "idle"})
    runtime = _runtime(workspace, broker.port)
    try:
        _send(broker.port, [(t, d) for t, d, _, _ in bad] + [good])
        _wait(lambda: _count(workspace, "quarantine") >= len(bad), "the quarantine")
        _wait(lambda: _count(workspace, "states") >= 1, "the good state")
    finally:
        runtime.stop()
    rows = workspace.lake.query("SELECT position, field, reason FROM quarantine").to_pylist()
    assert len(rows) == len(bad)
    for topic, _, field, reason in bad:
        hits = [r for r in rows if reason in r["reason"] and topic in r["position"]]
        assert len(hits) == 1, (reason, rows)
        assert (hits[0]["field"] or "") == field, (reason, hits[0])
    assert workspace.lake.query("SELECT state FROM states").to_pylist() == [{"state": "idle"}]
    assert _count(workspace, "production") == _count(workspace, "events") == 0
    health = read_health(workspace)
    assert health is not None and health.sources[0].quarantined == len(bad)


def test_redelivery_after_a_crash_before_the_ack_is_stored_once(
    workspace: Workspace, broker: Mosquitto
) -> None:
    """Rows made durable but never acknowledged (a crash between append and PUBACK) come
    back from the broker at the next start; the lake keeps one copy of each."""
    config = parse_runtime(_config(broker.port))
    writer = StreamWriter(workspace.plant, workspace.lake)
    landed: list[Delivery] = []

    def crash_before_ack(delivery: Delivery) -> None:
        writer.write([delivery])  # durable …
        landed.append(delivery)  # … and the ack is never called

    first = MqttSource("line", config.sources["line"], workspace.plant)  # type: ignore[arg-type]
    first.start(crash_before_ack)
    try:
        assert wait_connected(first)
        _send(broker.port, GOOD)
        _wait(lambda: len(landed) == len(GOOD), "the first, unacknowledged, landing")
    finally:
        first.stop()
        writer.close()
    before = {t: _count(workspace, t) for t in ("states", "production", "events")}
    assert before == {"states": 2, "production": 3, "events": 1}
    runtime = Runtime(workspace, config=config)
    runtime.start()
    try:
        _wait(lambda: runtime.sources[0].stats.messages >= len(GOOD), "the redelivery")
    finally:
        runtime.stop()
    assert runtime.sources[0].stats.messages == len(GOOD)
    after = {t: _count(workspace, t) for t in ("states", "production", "events")}
    assert after == before
    assert _count(workspace, "quarantine") == 0  # same values: duplicates, not conflicts


def test_the_toml_examples_in_docs_streaming_load() -> None:
    """Every `[sources]` TOML example in docs/streaming.md validates as written (a bare
    rule block is read as the rules of an MQTT JSON source)."""
    doc = Path(__file__).parents[2] / "docs" / "streaming.md"
    blocks = re.findall(r"```toml\n(.*?)```", doc.read_text("utf-8"), flags=re.S)
    table_rules = 0
    for block in blocks:
        if "[sources" not in block:
            continue
        if not re.search(r"^\[sources[.\]]", block, flags=re.M):
            block = '[sources.line-1]\nkind = "mqtt-json"\n' + block
        config = parse_runtime(tomllib.loads(block)["sources"])
        for source in config.sources.values():
            rules = getattr(source, "rules", ())
            table_rules += sum(rule.kind != "readings" for rule in rules)
    assert table_rules >= 7  # the states/production/events examples were all read
