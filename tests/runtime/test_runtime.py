"""The runtime: crash safety (kill -9), sinks, back-pressure, health, ledger, config."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pyarrow as pa
import pytest
import typer
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from factoryax.cli.main import example_plant_toml
from factoryax.cli.run import app as run_app
from factoryax.config import Workspace
from factoryax.core import ConfigError
from factoryax.ingest.stream import Deliver, Delivery, SourceStats
from factoryax.ledger import Ledger
from factoryax.runtime import Runtime, Sink, parse_runtime, read_health
from tests.runtime.brokers import Mosquitto

TOPIC = "factoryax/changwon-1/line-1/press-01/readings"


def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _count(ws: Workspace, sql: str = "SELECT count(*) FROM readings") -> int:
    return int(ws.lake.query(sql).column(0)[0].as_py())


def _workspace(root: Path, port: int, extra: str = "") -> Workspace:
    toml = (
        example_plant_toml()
        + (
            "\n[sources]\nbatch_ms = 50\n\n"
            "[sources.line-1]\n"
            'kind = "mqtt-json"\n'
            f"port = {port}\n"
            "[[sources.line-1.rules]]\n"
            'topic = "factoryax/+/+/{asset}/readings"\n'
        )
        + extra
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "plant.toml").write_text(toml, encoding="utf-8")
    return Workspace(root)


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rt-pub", clean_session=False)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _doc(t0: dt.datetime, i: int, value: float | None = None) -> str:
    v = 40.0 + i % 11 if value is None else value
    return json.dumps({"ts": (t0 + dt.timedelta(seconds=i)).isoformat(), "values": {"oil_temp": v}})


def _start_cli(ws: Workspace) -> subprocess.Popen[bytes]:
    code = "from factoryax.cli.run import app; app()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--workspace", str(ws.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_9_mid_stream_then_restart_stores_every_message_exactly_once(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """`factoryax run` is killed with SIGKILL while messages stream in; messages it had
    received but not acknowledged are redelivered by the broker to the restarted process
    (persistent session), the ones sent meanwhile are queued; the lake holds each once."""
    ws = _workspace(tmp_path / "ws", broker.port)
    n = 1500
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(microsecond=0)
    proc = _start_cli(ws)
    pub = _publisher(broker.port)
    try:
        _wait(lambda: (h := read_health(ws)) is not None and h.sources[0].state == "connected",
              "the runtime to connect")  # fmt: skip
        done = threading.Event()

        def publish() -> None:
            for i in range(n):
                pub.publish(TOPIC, _doc(t0, i), qos=1)
                time.sleep(0.002)
            done.set()

        thread = threading.Thread(target=publish)
        thread.start()
        _wait(lambda: _count(ws) >= 200, "the first batches")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        at_kill = _count(ws)
        thread.join()
        assert at_kill < n  # it really died mid-stream
        proc = _start_cli(ws)
        _wait(lambda: _count(ws) >= n, "every message after the restart", 60)
    finally:
        pub.loop_stop()
        pub.disconnect()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    stats = ws.lake.query(
        "SELECT count(*) AS n, count(DISTINCT ts) AS d, min(ts) AS lo, max(ts) AS hi FROM readings"
    ).to_pylist()[0]
    assert stats["n"] == stats["d"] == n
    assert (stats["hi"] - stats["lo"]).total_seconds() == n - 1
    assert _count(ws, "SELECT count(*) FROM quarantine") == 0  # no conflicts, nothing rejected


def test_safety_sink_raises_alarms_records_incidents_and_checkpoints(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """A live threshold breach becomes an alarm event in the lake and a safety_incident in
    the ledger, and the runtime publishes a signed checkpoint that covers it."""
    rules = (
        "\n[safety.rules.press-oil-hot]\n"
        'type = "threshold"\nsignal = "press-01.oil_temp"\nabove = 90\npriority = "high"\n'
    )
    ws = _workspace(tmp_path / "ws", broker.port, rules)
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        ledger.keys.generate(ledger.origin)
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    runtime = Runtime(ws)
    runtime.start()
    pub = _publisher(broker.port)
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the source")
        for i, v in enumerate([60.0, 70.0, 95.0, 96.0, 80.0]):
            pub.publish(TOPIC, _doc(t0, i, v), qos=1).wait_for_publish(5)
        _wait(
            lambda: _count(ws, "SELECT count(*) FROM events WHERE kind = 'alarm.active'") >= 1,
            "the alarm event",
        )
        _wait(lambda: (ws.root / "ledger" / "checkpoint").is_file(), "a checkpoint", 30)
    finally:
        pub.loop_stop()
        pub.disconnect()
        runtime.stop()
    event = ws.lake.query("SELECT ts, asset FROM events WHERE kind = 'alarm.active'").to_pylist()
    assert event == [{"ts": event[0]["ts"], "asset": "press-01"}]
    assert event[0]["ts"].astimezone(dt.UTC) == t0 + dt.timedelta(seconds=2)
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        assert ledger.find("safety_incident", rule="press-oil-hot")
        checkpoint = ledger.latest_checkpoint()
        assert checkpoint is not None and checkpoint.size == ledger.size
    health = read_health(ws)
    assert health is not None and health.sinks[0].name == "safety" and health.sinks[0].batches >= 1


class _FloodSource:
    """An in-process source that pushes deliveries as fast as it can (back-pressure test)."""

    kind = "mqtt-json"

    def __init__(self, n: int, t0: dt.datetime) -> None:
        self.name = "flood"
        self.stats = SourceStats()
        self.n, self.t0 = n, t0
        self.acked = 0
        self._thread: threading.Thread | None = None

    def start(self, deliver: Deliver) -> None:
        def run() -> None:
            self.stats.state = "connected"
            for i in range(self.n):
                d = Delivery(source=self.name, received_at=time.time())
                for k in range(10):
                    d.add(
                        self.t0 + dt.timedelta(seconds=i, milliseconds=k * 10),
                        "press-01",
                        "power",
                        1.0,
                        i,
                    )
                d.ack = self._ack
                deliver(d)
                self.stats.messages += 1

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def _ack(self) -> None:
        self.acked += 1

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join()
        self.stats.state = "stopped"


class _Recorder:
    """A sink that records batches and returns one event per batch; can be told to fail."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.rows = 0
        self.fail = fail

    def process(self, readings: pa.Table) -> dict[str, pa.Table]:
        if self.fail:
            raise RuntimeError("detector exploded")
        self.rows += readings.num_rows
        ts = readings.column("ts")[0].as_py()
        row = {
            "ts": ts,
            "event_id": f"rec-{ts.timestamp()}",
            "kind": "test.batch",
            "asset": "press-01",
        }
        return {"events": pa.Table.from_pylist([row])}


def test_back_pressure_bounds_the_queue_and_sinks_see_every_durable_row(
    workspace: Workspace,
) -> None:
    """A source faster than the lake waits instead of growing memory; every delivery is
    acknowledged after landing; sinks get every row, a failing sink is counted, not fatal."""
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)).replace(microsecond=0)
    source = _FloodSource(1000, t0)
    recorder, broken = _Recorder("recorder"), _Recorder("broken", fail=True)
    config = parse_runtime({"batch_rows": 2000, "batch_ms": 20, "max_pending_rows": 500})
    runtime = Runtime(workspace, config=config, sources=[source], sinks=[recorder, broken])
    assert isinstance(recorder, Sink)
    runtime.start()
    try:
        _wait(lambda: source.acked == 1000, "every delivery acknowledged", 60)
    finally:
        runtime.stop()
    assert runtime.peak_pending_rows_ <= 500 + 10
    assert _count(workspace) == 10_000 and recorder.rows == 10_000
    assert _count(workspace, "SELECT count(*) FROM events WHERE kind = 'test.batch'") >= 1
    health = runtime.health()
    sinks = {s.name: s for s in health.sinks}
    assert sinks["recorder"].errors == 0 and sinks["recorder"].batches >= 1
    assert sinks["broken"].batches == 0 and sinks["broken"].errors >= 1
    assert "detector exploded" in (sinks["broken"].last_error or "")
    assert health.sources[0].accepted == 10_000 and health.sources[0].buffered == 0


def test_status_shows_the_health_file(workspace: Workspace) -> None:
    """`factoryax run --status` reads runtime/health.json; --json prints it as stored."""
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)).replace(microsecond=0)
    source = _FloodSource(5, t0)
    runtime = Runtime(workspace, config=parse_runtime({"sinks": []}), sources=[source])
    runtime.start()
    _wait(lambda: source.acked == 5, "the deliveries")
    runtime.stop()
    cli = typer.Typer()
    cli.add_typer(run_app, name="run")
    result = CliRunner().invoke(
        cli, ["run", "--workspace", str(workspace.root), "--status", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["pid"] == os.getpid() and doc["lake"]["rows"] == 50
    source = doc["sources"][0]
    assert source | {"last_message_at": None, "rate_per_s": None} == {
        "name": "flood", "kind": "mqtt-json", "state": "stopped", "rate_per_s": None,
        "lag_s": 0.0, "last_message_at": None, "reconnects": 0, "accepted": 50,
        "quarantined": 0, "buffered": 0,
    }  # fmt: skip
    table = CliRunner().invoke(cli, ["run", "--workspace", str(workspace.root), "--status"])
    assert table.exit_code == 0 and "flood" in table.output and "stopped" in table.output


def test_one_runtime_per_workspace(workspace: Workspace) -> None:
    """A second runtime on the same workspace is refused, naming the lock file."""
    first = Runtime(workspace, config=parse_runtime({"sinks": []}), sources=[])
    first.start()
    try:
        with pytest.raises(ConfigError, match=r"run\.lock"):
            Runtime(workspace, config=parse_runtime({"sinks": []}), sources=[]).start()
    finally:
        first.stop()


def test_sources_config_errors_name_key_value_and_fix(workspace: Workspace) -> None:
    """Problems of [sources] are listed together with their key path and the fix."""
    with pytest.raises(ConfigError) as err:
        parse_runtime(
            {"batch_rows": 0, "a": {"kind": "mqtt"}, "b": {"kind": "opcua", "endpoint": "http://x"}}
        )
    text = str(err.value)
    assert "sources.a.kind: 'mqtt' is not a source kind; use mqtt-json, sparkplug or opcua" in text
    assert "sources.b.endpoint" in text and "opc.tcp://" in text
    assert "sources.batch_rows" in text and "(got 0)" in text
    with pytest.raises(ConfigError, match="unknown sink 'alerts'"):
        Runtime(workspace, config=parse_runtime({"sinks": ["alerts"]}), sources=[]).start()
    with pytest.raises(ConfigError, match="no rules"):
        Runtime(workspace, config=parse_runtime({"sinks": ["safety"]}), sources=[]).start()


class _TableSource:
    """An in-process source that delivers a table of readings once, in chunks."""

    kind = "mqtt-json"

    def __init__(self, rows: pa.Table, chunk: int = 500) -> None:
        self.name = "table"
        self.stats = SourceStats()
        self.rows, self.chunk = rows, chunk
        self.acked = 0
        self.chunks = 0

    def start(self, deliver: Deliver) -> None:
        cols = self.rows.to_pydict()
        n = self.rows.num_rows
        self.chunks = -(-n // self.chunk)
        for lo in range(0, n, self.chunk):
            d = Delivery(source=self.name, received_at=time.time())
            for i in range(lo, min(lo + self.chunk, n)):
                d.add(cols["ts"][i], cols["asset"][i], cols["signal"][i], cols["value"][i], i)
            d.ack = self._ack
            deliver(d)
        self.stats.state = "connected"

    def _ack(self) -> None:
        self.acked += 1

    def stop(self) -> None:
        self.stats.state = "stopped"


def test_detect_live_scorer_is_a_default_sink_when_a_model_is_in_production(
    workspace: Workspace,
) -> None:
    """With a production model for press-01, the runtime adds the live scorer on its
    own; its anomaly scores land as readings."""
    from factoryax import detect
    from factoryax.twin import simulate, write_to_lake

    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(microsecond=0)
    history = simulate(workspace.plant, start=start, horizon=dt.timedelta(hours=4), sample_s=30)
    write_to_lake(history, workspace.plant, workspace.lake)
    registry = detect.Registry.for_workspace(workspace.root)
    name = detect.anomaly_model_name("press-01")
    model = detect.PcaDetector(threshold_q=0.9).fit(
        detect.read_wide(workspace.lake, "press-01").columns
    )
    version = registry.register(name, model, asset="press-01")
    registry.set_stage(name, version.version, "production", why="runtime test")
    live = simulate(
        workspace.plant,
        start=start + dt.timedelta(hours=5),
        horizon=dt.timedelta(minutes=30),
        sample_s=30,
    )
    source = _TableSource(live.readings.select(["ts", "asset", "signal", "value"]))
    runtime = Runtime(workspace, config=parse_runtime({"batch_ms": 20}), sources=[source])
    runtime.start()
    try:
        _wait(lambda: source.acked == source.chunks, "every chunk durable")
    finally:
        runtime.stop()
    names = [s.name for s in runtime.health().sinks]
    assert names == ["detect"]  # no [safety] rules in the example plant
    assert runtime.health().sinks[0].errors == 0
    scores = _count(
        workspace,
        f"SELECT count(*) FROM readings WHERE signal = '{detect.SCORE_SIGNAL}' AND ts >= "
        f"TIMESTAMPTZ '{(start + dt.timedelta(hours=5)).isoformat()}'",
    )
    assert scores > 0
