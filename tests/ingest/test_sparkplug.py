"""Sparkplug B: codec, the host's session tracking, and the whole path over a real broker."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pyarrow.compute as pc
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from factoryax.config import Workspace
from factoryax.ingest.sparkplug import (
    SparkplugError,
    SparkplugHost,
    decode_payload,
    encode_payload,
    metric,
    metric_value,
    parse_topic,
    state_topic,
)
from factoryax.ingest.sparkplug import sparkplug_b_pb2 as pb
from factoryax.runtime import Runtime, parse_runtime
from factoryax.twin import LiveConfig, simulate
from factoryax.twin.live import SparkplugEdgeNode, replay
from tests.runtime.brokers import Mosquitto

T0 = 1_700_000_000_000


def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _birth(host: SparkplugHost, *, bd: int = 0) -> None:
    host.handle(
        "spBv1.0/g/NBIRTH/e",
        encode_payload([metric("bdSeq", bd), metric("rpm", 1.0, alias=1)], seq=0),
    )
    host.handle(
        "spBv1.0/g/DBIRTH/e/press-01",
        encode_payload([metric("oil_temp", 40.0, alias=7, ts_ms=T0)], seq=1),
    )


# ---------------------------------------------------------------------------- codec


def test_signed_integers_decode_from_twos_complement() -> None:
    """Int8/16/32 travel in the unsigned int_value, Int64 in long_value (§6.4.16)."""
    m = pb.Payload.Metric(name="x", datatype=pb.DataType.Int16, int_value=(-5) & 0xFFFFFFFF)
    assert metric_value(m) == -5.0
    m = pb.Payload.Metric(name="x", datatype=pb.DataType.Int64, long_value=(-1) & (2**64 - 1))
    assert metric_value(m) == -1.0
    m = pb.Payload.Metric(name="x", datatype=pb.DataType.UInt32, int_value=4_000_000_000)
    assert metric_value(m) == 4e9
    assert metric_value(metric("b", True)) == 1.0
    assert metric_value(metric("n", None)) is None


def test_payload_round_trip_keeps_seq_timestamp_and_aliases() -> None:
    """What we encode decodes to the same fields (the .proto follows the spec numbering)."""
    data = encode_payload([metric("t", 1.5, alias=3, ts_ms=T0)], seq=255, ts_ms=T0)
    p = decode_payload(data)
    assert (p.seq, p.timestamp, p.metrics[0].alias, p.metrics[0].timestamp) == (255, T0, 3, T0)
    # field numbers of the specification: timestamp=1, metrics=2, seq=3
    assert data[0] == (1 << 3) | 0


def test_foreign_topics_and_payloads_are_rejected_with_the_reason() -> None:
    """Not spBv1.0, a wrong type, a device missing, garbage bytes: each says what is wrong."""
    for topic in ("spAv1.0/g/NDATA/e", "spBv1.0/g/NFOO/e", "spBv1.0/g/DDATA/e"):
        with pytest.raises(SparkplugError, match="topic"):
            parse_topic(topic)
    with pytest.raises(SparkplugError, match="not a Sparkplug B"):
        SparkplugHost().handle("spBv1.0/g/NDATA/e", b"\xff\xff\xff")


# ---------------------------------------------------------------------------- host


def test_birth_defines_aliases_that_data_uses() -> None:
    """DDATA carrying only alias 7 is the metric DBIRTH named oil_temp, at its own time."""
    host = SparkplugHost()
    _birth(host)
    up = host.handle(
        "spBv1.0/g/DDATA/e/press-01",
        encode_payload([metric(None, 42.5, alias=7, ts_ms=T0 + 1000)], seq=2),
    )
    assert [(s.device, s.metric, s.value) for s in up.samples] == [("press-01", "oil_temp", 42.5)]
    assert up.samples[0].ts == dt.datetime(2023, 11, 14, 22, 13, 21, tzinfo=dt.UTC)
    assert up.rebirth == [] and up.problems == []


def test_seq_gap_requests_a_rebirth_and_keeps_the_data() -> None:
    """seq 5 after 1 means messages were lost: NCMD rebirth, the sample itself is kept."""
    host = SparkplugHost()
    _birth(host)
    up = host.handle("spBv1.0/g/NDATA/e", encode_payload([metric(None, 3.0, alias=1)], seq=5))
    assert up.rebirth == ["spBv1.0/g/NCMD/e"]
    assert [s.value for s in up.samples] == [3.0]
    assert "seq 5 where 2 was due" in up.notices[0]
    assert host.seq_gaps_ == 1


def test_seq_wraps_from_255_to_0_without_a_gap() -> None:
    """Sequence numbers run 0..255 and wrap (§7.4)."""
    host = SparkplugHost()
    _birth(host)
    for seq in [*range(2, 256), 0, 1]:
        up = host.handle("spBv1.0/g/NDATA/e", encode_payload([metric(None, 1.0, alias=1)], seq=seq))
        assert up.rebirth == [], seq


def test_data_before_birth_and_unknown_alias_ask_for_rebirth() -> None:
    """A host that joined late cannot name alias-only metrics: rebirth, and the lost value
    is reported (for quarantine), never silently dropped."""
    host = SparkplugHost()
    up = host.handle("spBv1.0/g/NDATA/e", encode_payload([metric(None, 1.0, alias=9)], seq=17))
    assert up.rebirth == ["spBv1.0/g/NCMD/e"]
    assert up.samples == [] and up.problems and "alias 9" in up.problems[0][1]
    named = host.handle("spBv1.0/g/NDATA/e", encode_payload([metric("rpm", 2.0)], seq=18))
    assert [s.metric for s in named.samples] == ["rpm"]


def test_saved_aliases_decode_redelivered_data_after_a_restart() -> None:
    """After a crash the broker redelivers alias-only DDATA whose births came before the
    crash: with the saved definitions they decode (and a rebirth is still requested)."""
    before = SparkplugHost()
    _birth(before)
    saved = json.loads(json.dumps(before.aliases()))  # as written to disk
    after = SparkplugHost()
    after.restore_aliases(saved)
    up = after.handle(
        "spBv1.0/g/DDATA/e/press-01", encode_payload([metric(None, 43.0, alias=7)], seq=9)
    )
    assert [(s.metric, s.value) for s in up.samples] == [("oil_temp", 43.0)]
    assert up.rebirth == ["spBv1.0/g/NCMD/e"] and up.problems == []


def test_ndeath_marks_node_and_devices_stale_only_for_the_live_bdseq() -> None:
    """A will from an earlier session (other bdSeq) is ignored; the matching one marks the
    node and every device stale (§7.1.2), and new data needs a new birth."""
    host = SparkplugHost()
    _birth(host, bd=3)
    old = host.handle("spBv1.0/g/NDEATH/e", encode_payload([metric("bdSeq", 2)]))
    assert old.stale == [] and "earlier session" in old.notices[0]
    assert not host.is_stale("g", "e", "press-01")
    death = host.handle("spBv1.0/g/NDEATH/e", encode_payload([metric("bdSeq", 3)]))
    assert {(s.device, s.metrics) for s in death.stale} == {
        (None, ("rpm",)),
        ("press-01", ("oil_temp",)),
    }
    assert host.is_stale("g", "e") and host.is_stale("g", "e", "press-01")
    after = host.handle("spBv1.0/g/NDATA/e", encode_payload([metric(None, 1.0, alias=1)], seq=3))
    assert after.rebirth == ["spBv1.0/g/NCMD/e"]


def test_ddeath_marks_one_device_stale() -> None:
    """DDEATH takes the next seq and marks only its device."""
    host = SparkplugHost()
    _birth(host)
    up = host.handle("spBv1.0/g/DDEATH/e/press-01", encode_payload([], seq=2))
    assert [(s.device, s.metrics) for s in up.stale] == [("press-01", ("oil_temp",))]
    assert host.is_stale("g", "e", "press-01") and not host.is_stale("g", "e")


def test_state_messages_are_parsed_and_checked() -> None:
    """STATE payloads are JSON {online, timestamp} (Sparkplug 3.0)."""
    host = SparkplugHost()
    up = host.handle(state_topic("h1"), json.dumps({"online": True, "timestamp": T0}).encode())
    assert up.state == ("h1", True)
    with pytest.raises(SparkplugError, match="online"):
        host.handle(state_topic("h1"), b'{"online": "yes"}')


# ---------------------------------------------------------------------------- over a broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free loopback port."""
    with Mosquitto(tmp_path / "broker") as b:
        yield b


class _Watcher:
    """A plain paho subscriber that records what it sees (retained messages too)."""

    def __init__(self, port: int, topic: str) -> None:
        self.seen: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watch-{time.monotonic_ns()}"
        )
        self.client.on_message = self._on
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _on(self, c: object, u: object, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.seen.append((m.topic, bytes(m.payload), bool(m.retain)))

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _, _ in self.seen]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _runtime(ws: Workspace, port: int, **extra: object) -> Runtime:
    cfg = parse_runtime(
        {
            "batch_ms": 50,
            "sinks": [],
            "spb": {"kind": "sparkplug", "port": port, "group": "factoryax", **extra},
        }
    )
    return Runtime(ws, config=cfg)


def test_twin_edge_node_to_lake_with_births_deaths_and_state(
    workspace: Workspace, broker: Mosquitto
) -> None:
    """The twin as edge node → broker → host: every reading lands once; the host's STATE is
    retained online while it runs and offline after; NDEATH makes a stale event."""
    plant = workspace.plant
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    run = simulate(plant, start=start, horizon=dt.timedelta(minutes=3), sample_s=15, seed=3)
    runtime = _runtime(workspace, broker.port)
    runtime.start()
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the host to connect")
        edge = SparkplugEdgeNode(LiveConfig(port=broker.port), group="factoryax", edge="twin")
        replay(run, edge, speed=None)
        edge.close()
        expected = run.readings.num_rows
        lake = workspace.lake
        _wait(
            lambda: (
                lake.query("SELECT count(*) AS n FROM events WHERE kind = 'source.stale'")
                .column("n")[0]
                .as_py()
                >= 1
            ),
            "the NDEATH stale events",
        )
        _wait(
            lambda: (
                lake.query("SELECT count(*) AS n FROM readings").column("n")[0].as_py() >= expected
            ),
            "every reading",
        )
        watcher = _Watcher(broker.port, state_topic("factoryax"))
        _wait(lambda: bool(watcher.seen), "the retained STATE")
        assert json.loads(watcher.seen[0][1])["online"] is True and watcher.seen[0][2]
        watcher.close()
    finally:
        runtime.stop()
    stored = lake.query("SELECT asset, signal, ts, value FROM readings ORDER BY ALL")
    twin = run.readings.select(["asset", "signal", "ts", "value"])
    assert stored.num_rows == twin.num_rows  # every reading once, nothing more
    assert sorted(stored.column("value").to_pylist()) == pytest.approx(
        sorted(twin.column("value").to_pylist())
    )
    stale = lake.query("SELECT asset, payload FROM events WHERE kind = 'source.stale'")
    assets = set(stale.column("asset").to_pylist())
    assert assets >= set(pc.unique(run.readings.column("asset")).to_pylist())
    watcher = _Watcher(broker.port, state_topic("factoryax"))
    _wait(lambda: bool(watcher.seen), "the retained STATE after stop")
    assert json.loads(watcher.seen[-1][1])["online"] is False
    watcher.close()


def test_seq_gap_over_the_broker_makes_the_edge_node_rebirth(
    workspace: Workspace, broker: Mosquitto
) -> None:
    """A message lost between edge and host (seq jumps) → host publishes NCMD rebirth →
    the twin's edge node answers with NBIRTH and DBIRTHs; the gap is recorded as an event."""
    runtime = _runtime(workspace, broker.port, rebirth_min_interval_s=0)
    runtime.start()
    watcher = _Watcher(broker.port, "spBv1.0/factoryax/NCMD/twin")
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the host to connect")
        edge = SparkplugEdgeNode(LiveConfig(port=broker.port), group="factoryax", edge="twin")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
        doc = {"ts": now.isoformat(), "asset": "press-01", "values": {"oil_temp": 41.0}}
        edge.publish("x/press-01/readings", json.dumps(doc).encode())
        edge.seq_ = (edge.seq_ + 3) % 256  # three messages "lost" on the way
        doc = {"ts": (now + dt.timedelta(seconds=1)).isoformat(), "asset": "press-01",
               "values": {"oil_temp": 42.0}}  # fmt: skip
        edge.publish("x/press-01/readings", json.dumps(doc).encode())
        _wait(lambda: edge.births_ >= 2, "the rebirth")
        assert "spBv1.0/factoryax/NCMD/twin" in watcher.topics()
        edge.close()
        _wait(
            lambda: (
                workspace.lake.query(
                    "SELECT count(*) AS n FROM events WHERE kind = 'sparkplug.notice'"
                )
                .column("n")[0]
                .as_py()
                >= 1
            ),
            "the gap notice",
        )
    finally:
        watcher.close()
        runtime.stop()
    values = workspace.lake.query(
        "SELECT value FROM readings WHERE signal = 'oil_temp' ORDER BY ts"
    ).column("value")
    assert values.to_pylist() == [41.0, 42.0]  # the data around the gap is kept
