"""OPC UA: subscriptions against a real asyncua server on loopback, deadband, security,
server restarts and the write-ahead buffer."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.core import ConfigError, parse_plant
from factoryax.ingest.wal import WriteAheadBuffer
from factoryax.runtime import Runtime, parse_runtime, read_health
from factoryax.twin.live import OpcUaTwinServer
from tests.runtime.brokers import free_port

T0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(microsecond=0)


def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _values(ws: Workspace, signal: str = "oil_temp") -> list[float]:
    """Values written by the test (stamped from T0 on; the servers' initial values carry
    the time the server started)."""
    sql = (
        f"SELECT value FROM readings WHERE asset = 'press-01' AND signal = '{signal}' "
        "AND ts < ? ORDER BY ts"
    )
    return [
        float(v) for v in ws.lake.query(sql, [T0 + dt.timedelta(hours=1)]).column(0).to_pylist()
    ]


def _write(server: OpcUaTwinServer, ts: dt.datetime, **values: float) -> None:
    doc = {"ts": ts.isoformat(), "asset": "press-01", "values": values}
    server.publish("factoryax/s/line-1/press-01/readings", json.dumps(doc).encode())


def _runtime(ws: Workspace, endpoint: str, **source: object) -> Runtime:
    raw = {
        "batch_ms": 50,
        "sinks": [],
        "press": {
            "kind": "opcua",
            "endpoint": endpoint,
            "sampling_interval_ms": 0,
            "publishing_interval_ms": 50,
            "reconnect_max_s": 0.5,
            "probe_s": 0.2,
            **source,
        },
    }
    return Runtime(ws, config=parse_runtime(raw))


@pytest.fixture(scope="module")
def server() -> Iterator[OpcUaTwinServer]:
    """The twin's OPC UA server on a free loopback port, shared by this module's tests
    (starting one costs seconds); each test writes its own signal, so none sees another's
    values; the restart test, last, closes it."""
    plant = parse_plant(tomllib.loads(example_plant_toml()))
    srv = OpcUaTwinServer(plant, f"opc.tcp://127.0.0.1:{free_port()}")
    yield srv
    srv.close()


def test_browse_subscribe_keeps_source_timestamps(
    workspace: Workspace, server: OpcUaTwinServer
) -> None:
    """Browsing Plant/<asset>/<signal> maps every variable; each change lands with the
    server's source timestamp, in order."""
    runtime = _runtime(workspace, server.endpoint, browse=server.folder_id)
    runtime.start()
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the subscription")
        for i in range(20):
            _write(server, T0 + dt.timedelta(seconds=i), oil_temp=40.0 + i)
        _wait(lambda: len(_values(workspace)) >= 20, "20 changes")
    finally:
        runtime.stop()
    rows = workspace.lake.query(
        "SELECT ts, value FROM readings WHERE signal = 'oil_temp' AND ts < ? ORDER BY ts",
        [T0 + dt.timedelta(hours=1)],
    ).to_pylist()
    assert [r["value"] for r in rows] == [40.0 + i for i in range(20)]
    assert [r["ts"].astimezone(dt.UTC) for r in rows] == [
        T0 + dt.timedelta(seconds=i) for i in range(20)
    ]
    mapped = set(runtime.sources[0].mapping_.values())  # type: ignore[attr-defined]
    assert ("press-01", "oil_temp") in mapped and len(mapped) == sum(
        len(a.signals) for _, a in workspace.plant.iter_assets()
    )


def test_absolute_deadband_drops_small_changes(
    workspace: Workspace, server: OpcUaTwinServer
) -> None:
    """With deadband 1.0 only changes larger than 1.0 from the last reported value come
    (OPC UA Part 4 §7.22.2), mapped through an explicit node id."""
    node = server.nodes_[("press-01", "hydraulic_pressure")].nodeid.to_string()
    nodes = {node: "press-01.hydraulic_pressure"}
    runtime = _runtime(workspace, server.endpoint, nodes=nodes, deadband=1.0)
    runtime.start()
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the subscription")
        for i, v in enumerate([10.0, 10.2, 10.4, 12.0, 12.5, 14.0, 99.0]):
            _write(server, T0 + dt.timedelta(seconds=i), hydraulic_pressure=v)
        _wait(lambda: 99.0 in _values(workspace, "hydraulic_pressure"), "the last change")
    finally:
        runtime.stop()
    assert _values(workspace, "hydraulic_pressure") == [10.0, 12.0, 14.0, 99.0]


def test_server_restart_mid_stream_resubscribes_with_no_gap(
    workspace: Workspace, server: OpcUaTwinServer
) -> None:
    """The server goes away mid-stream and comes back on the same endpoint: the source
    notices, backs off, reconnects and subscribes again by itself; every value the server
    served before the stop and after the restart is stored, contiguous, once."""
    runtime = _runtime(workspace, server.endpoint, browse=server.folder_id)
    runtime.start()
    source = runtime.sources[0]
    restarted: OpcUaTwinServer | None = None
    try:
        _wait(lambda: source.stats.state == "connected", "the subscription")
        for i in range(60):
            _write(server, T0 + dt.timedelta(seconds=i), motor_current=float(i))
            time.sleep(0.005)
        _wait(lambda: 59.0 in _values(workspace, "motor_current"), "the first half")
        server.close()
        _wait(lambda: source.stats.state == "reconnecting", "the loss to be noticed")
        restarted = OpcUaTwinServer(workspace.plant, server.endpoint)  # same endpoint
        _wait(lambda: source.stats.state == "connected", "the re-subscription")
        for i in range(60, 120):
            _write(restarted, T0 + dt.timedelta(seconds=i), motor_current=float(i))
            time.sleep(0.005)
        _wait(lambda: 119.0 in _values(workspace, "motor_current"), "the second half")
    finally:
        runtime.stop()
        if restarted is not None:
            restarted.close()
    assert _values(workspace, "motor_current") == [float(i) for i in range(120)]
    health = read_health(workspace)
    assert health is not None and health.sources[0].reconnects == 1


def test_write_ahead_buffer_replays_what_a_crash_left_unacknowledged(workspace: Workspace) -> None:
    """Samples in the buffer but not committed (the process died before the lake append)
    land at the next start even while the server is unreachable; then the buffer is empty."""
    wal_dir = workspace.root / "runtime" / "wal" / "press"
    wal = WriteAheadBuffer(wal_dir)
    wal.append([(T0 + dt.timedelta(seconds=i), "press-01", "oil_temp", 50.0 + i) for i in range(5)])
    wal.commit(2)  # the first two had reached the lake before the crash
    with (wal_dir / wal._segments()[-1].name).open("a", encoding="utf-8") as fh:
        fh.write("6\t123")  # a torn record: the crash hit mid-write, it was never accepted
    dead = f"opc.tcp://127.0.0.1:{free_port()}"
    runtime = _runtime(workspace, dead, nodes={"ns=2;i=2": "press-01.oil_temp"})
    runtime.start()
    try:
        _wait(lambda: len(_values(workspace)) >= 3, "the replay")
        _wait(lambda: WriteAheadBuffer(wal_dir).backlog == 0, "the commit")
    finally:
        runtime.stop()
    assert _values(workspace) == [52.0, 53.0, 54.0]
    assert runtime.sources[0].stats.state == "stopped"


def test_security_sign_and_encrypt_with_certificates(workspace: Workspace, tmp_path: Path) -> None:
    """Basic256Sha256 + SignAndEncrypt against a server that offers nothing weaker."""
    host = socket.gethostname()

    async def certs() -> None:
        await setup_self_signed_certificate(
            tmp_path / "server.pem", tmp_path / "server.der", "urn:factoryax:twin", host,
            [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "twin"},
        )  # fmt: skip
        await setup_self_signed_certificate(
            tmp_path / "client.pem", tmp_path / "client.der", "urn:factoryax:client", host,
            [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "factoryax"},
        )  # fmt: skip

    asyncio.run(certs())
    srv = OpcUaTwinServer(
        workspace.plant,
        f"opc.tcp://127.0.0.1:{free_port()}",
        certificate=tmp_path / "server.der",
        private_key=tmp_path / "server.pem",
    )
    runtime = _runtime(
        workspace,
        srv.endpoint,
        browse=srv.folder_id,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        certificate=str(tmp_path / "client.der"),
        private_key=str(tmp_path / "client.pem"),
        server_certificate=str(tmp_path / "server.der"),
    )
    runtime.start()
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the secure session")
        _write(srv, T0, oil_temp=77.0)
        _wait(lambda: 77.0 in _values(workspace), "a value over the secure channel")
    finally:
        runtime.stop()
        srv.close()


def test_security_settings_are_checked_when_loaded() -> None:
    """A policy without a mode, or without certificate and key, names the fix."""
    with pytest.raises(ConfigError, match="needs a matching security_mode"):
        parse_runtime(
            {"p": {"kind": "opcua", "browse": "i=85", "security_policy": "Basic256Sha256"}}
        )
    with pytest.raises(ConfigError, match="needs `certificate` and `private_key`"):
        parse_runtime(
            {"p": {"kind": "opcua", "browse": "i=85", "security_policy": "Basic256Sha256",
                   "security_mode": "Sign"}}
        )  # fmt: skip
