"""Live mode: replay a run at real time (or N× real time) to a message broker.

The run is simulated first (fast), then its rows are published in time order, paced by
the wall clock so that one simulated second takes ``1 / speed`` wall seconds. Messages
are plain JSON, one topic per asset and kind (every payload also has ``site``, ``line``
and ``asset``)::

    <prefix>/<site>/<line>/<asset>/readings    {"ts", "values": {signal: value, ...}}
    <prefix>/<site>/<line>/<asset>/state       {"ts" (= end), "start", "end", "state", ...}
    <prefix>/<site>/<line>/<asset>/production  {"ts", "part_id", "product", "lot", "result", ...}
    <prefix>/<site>/<line>/<asset>/events      {"ts", "event_id", "kind", "severity", ...}

``ts`` is ISO 8601 UTC with microseconds. A readings message carries every signal of the
asset sampled at that instant, as a device publishing a snapshot would. A state interval
is published when it ends (a machine knows an interval's length only then), a part when
it is finished. :func:`json_source` is the ``[sources]`` entry that maps every one of
these topics into its lake table, so ``factoryax twin live`` + ``factoryax run`` feed
the KPIs (OEE) live.

The same replay drives two more publishers, so the twin is the demo for every protocol
``factoryax run`` reads (see docs/streaming.md):

- :class:`SparkplugEdgeNode`: a Sparkplug B edge node (``spBv1.0/<group>/…/<edge>``); each
  asset is a device; NBIRTH with ``bdSeq``, DBIRTH with aliases on a device's first
  sample, DDATA by alias, ``seq`` 0..255, NDEATH as the MQTT will and on close, and a
  rebirth on NCMD ``Node Control/Rebirth``;
- :class:`OpcUaTwinServer`: an asyncua server whose folder ``Plant`` holds one object per
  asset and one Double variable per signal, written with the reading's source timestamp.

Only readings travel over Sparkplug and OPC UA; states, production and events stay JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from factoryax.core import BrokerError
from factoryax.twin.base import Publisher
from factoryax.twin.config import LiveConfig
from factoryax.twin.result import TwinResult

__all__ = [
    "MqttJsonPublisher",
    "OpcUaTwinServer",
    "Publisher",
    "SparkplugEdgeNode",
    "json_source",
    "messages",
    "replay",
]

Message = tuple[int, str, bytes]


class MqttJsonPublisher:
    """Publishes to an MQTT broker with paho-mqtt (MQTT 3.1.1).

    Args:
        config: broker address, QoS and topic prefix (``[twin.live]``).
        client_id: the MQTT client id (default: a random ``factoryax-twin-…``).

    Raises:
        ImportError: paho-mqtt is not installed.
        BrokerError: the broker cannot be reached; the message names host and port.
    """

    def __init__(self, config: LiveConfig, *, client_id: str | None = None) -> None:
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ModuleNotFoundError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "live mode needs paho-mqtt; install it with `pip install paho-mqtt`"
            ) from None
        self.config = config
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"factoryax-twin-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self._pending: list[Any] = []
        try:
            self._client.connect(config.host, config.port, keepalive=30)
        except OSError as exc:
            raise BrokerError(
                f"cannot reach the MQTT broker at {config.host}:{config.port} ({exc}); "
                "start one (e.g. mosquitto) or set [twin.live] host/port in plant.toml"
            ) from None
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        """Queues one message; QoS 1 and 2 messages are tracked until :meth:`close`."""
        info = self._client.publish(topic, payload, qos=self.config.qos)
        if self.config.qos:
            self._pending.append(info)
            if len(self._pending) >= 1000:
                self._drain()

    def _drain(self) -> None:
        for info in self._pending:
            info.wait_for_publish(timeout=30)
        self._pending.clear()

    def close(self) -> None:
        """Waits until the broker acknowledged every QoS ≥ 1 message, then disconnects."""
        try:
            self._drain()
        finally:
            self._client.loop_stop()
            self._client.disconnect()


def _iso(us: int) -> str:
    return (
        dt.datetime.fromtimestamp(us / 1e6, dt.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def _plain(table: pa.Table) -> pa.Table:
    """The table with dictionary-encoded columns decoded (Arrow cannot sort those)."""
    fields = [
        pa.field(f.name, f.type.value_type, f.nullable) if pa.types.is_dictionary(f.type) else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _rows(table: pa.Table, time_column: str) -> Iterator[tuple[int, dict[str, Any]]]:
    table = _plain(table)
    order = pc.sort_indices(table, [(time_column, "ascending")])
    table = table.take(order)
    times = pc.cast(table.column(time_column), pa.int64()).to_pylist()
    yield from zip(times, table.to_pylist(), strict=True)


def messages(result: TwinResult, *, prefix: str = "factoryax") -> list[Message]:
    """Every message of a run as (UTC µs, topic, JSON payload), in time order."""
    out: list[Message] = []
    base = f"{prefix}/{result.site}"
    r = _plain(result.readings)
    if r.num_rows:
        r = r.take(pc.sort_indices(r, [("ts", "ascending"), ("asset", "ascending")]))
        times = pc.cast(r.column("ts"), pa.int64()).to_pylist()
        assets = r.column("asset").to_pylist()
        lines = r.column("line").to_pylist()
        signals = r.column("signal").to_pylist()
        values = r.column("value").to_pylist()
        start = 0
        for k in range(1, len(times) + 1):
            if k == len(times) or times[k] != times[start] or assets[k] != assets[start]:
                doc = {
                    "ts": _iso(times[start]),
                    "site": result.site,
                    "line": lines[start],
                    "asset": assets[start],
                    "values": dict(zip(signals[start:k], values[start:k], strict=True)),
                }
                topic = f"{base}/{lines[start]}/{assets[start]}/readings"
                out.append((times[start], topic, json.dumps(doc).encode()))
                start = k
    for table, column, kind in (
        (result.states, "end", "state"),
        (result.production, "ts", "production"),
        (result.events, "ts", "events"),
    ):
        for us, row in _rows(table, column):
            doc = {
                k: (_iso(int(v.timestamp() * 1e6)) if isinstance(v, dt.datetime) else v)
                for k, v in row.items()
            }
            doc["ts"] = _iso(us)
            out.append(
                (us, f"{base}/{row['line']}/{row['asset']}/{kind}", json.dumps(doc).encode())
            )
    out.sort(key=lambda m: m[0])
    return out


def json_source(
    *, prefix: str = "factoryax", host: str = "127.0.0.1", port: int = 1883
) -> dict[str, Any]:
    """The ``[sources.<name>]`` table that maps every topic :func:`messages` publishes.

    Examples:
        >>> [(r["topic"], r.get("kind", "readings")) for r in json_source()["rules"]]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('factoryax/+/+/{asset}/readings', 'readings'),
         ('factoryax/+/+/{asset}/state', 'states'),
         ('factoryax/+/+/{asset}/production', 'production'),
         ('factoryax/+/+/{asset}/events', 'events')]
    """
    base = f"{prefix}/+/+/{{asset}}"
    return {
        "kind": "mqtt-json",
        "host": host,
        "port": port,
        "rules": [
            {"topic": f"{base}/readings"},
            {"topic": f"{base}/state", "kind": "states"},
            {"topic": f"{base}/production", "kind": "production"},
            {"topic": f"{base}/events", "kind": "events"},
        ],
    }


def replay(
    result: TwinResult,
    publisher: Publisher,
    *,
    speed: float | None = 1.0,
    prefix: str = "factoryax",
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Publishes a run in time order, paced at ``speed`` simulated seconds per wall second.

    Args:
        result: the run to publish.
        publisher: where messages go (e.g. :class:`MqttJsonPublisher`).
        speed: simulated seconds per wall second; None publishes as fast as possible.
        prefix: first level of every topic.
        stop: set it (from another thread) to end the replay early.
        clock: monotonic clock in seconds (injectable for tests).
        sleep: how to wait (injectable for tests).

    Returns:
        The number of messages published.

    Examples:
        >>> import datetime as dt
        >>> from factoryax.twin import example_plant, simulate
        >>> run = simulate(example_plant(), start=dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC),
        ...                horizon=dt.timedelta(minutes=2), sample_s=60)
        >>> class Printer:
        ...     def publish(self, topic: str, payload: bytes) -> None:
        ...         if topic.endswith("press-01/readings"):
        ...             print(topic, sorted(json.loads(payload)["values"])[:2])
        ...     def close(self) -> None: ...
        >>> replay(run, Printer(), speed=None)  # doctest: +ELLIPSIS
        factoryax/changwon-1/line-1/press-01/readings ['hydraulic_pressure', 'motor_current']
        factoryax/changwon-1/line-1/press-01/readings ['hydraulic_pressure', 'motor_current']
        ...
    """
    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be > 0 simulated seconds per wall second, got {speed!r}")
    sent = 0
    all_messages = messages(result, prefix=prefix)
    if not all_messages:
        return 0
    first_us, began = all_messages[0][0], clock()
    for us, topic, payload in all_messages:
        if stop is not None and stop.is_set():
            break
        if speed is not None:
            due = began + (us - first_us) / 1e6 / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        publisher.publish(topic, payload)
        sent += 1
    return sent


def _readings_doc(topic: str, payload: bytes) -> tuple[str, int, dict[str, float]] | None:
    """(asset, UTC ms, values) of a readings message; None for other kinds."""
    if not topic.endswith("/readings"):
        return None
    doc = json.loads(payload)
    ts = dt.datetime.fromisoformat(str(doc["ts"]).replace("Z", "+00:00"))
    values = {k: float(v) for k, v in doc["values"].items() if v is not None}
    return str(doc["asset"]), int(ts.timestamp() * 1000), values


class SparkplugEdgeNode:
    """The twin as a Sparkplug B edge node (Eclipse Sparkplug 3.0 §5 and §6).

    Args:
        config: broker address and QoS (``[twin.live]``).
        group: the Sparkplug group id.
        edge: the edge node id.
        client_id: the MQTT client id (default ``factoryax-edge-<edge>``).

    Raises:
        BrokerError: the broker cannot be reached.
    """

    def __init__(
        self,
        config: LiveConfig,
        *,
        group: str = "factoryax",
        edge: str = "twin",
        client_id: str | None = None,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from factoryax.ingest.sparkplug import BD_SEQ, REBIRTH, encode_payload, metric, topic

        self._encode, self._metric, self._topic = encode_payload, metric, topic
        self._bd_name, self._rebirth_name = BD_SEQ, REBIRTH
        self.config = config
        self.group, self.edge = group, edge
        self.bd_seq = 0
        self.seq_ = 0
        self.births_ = 0
        self._lock = threading.Lock()
        self._aliases: dict[str, dict[str, int]] = {}
        self._last: dict[str, tuple[int, dict[str, float]]] = {}
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"factoryax-edge-{edge}",
            protocol=mqtt.MQTTv311,
        )
        self._client.will_set(self._topic(group, "NDEATH", edge), self._death(), qos=1)
        self._client.on_message = self._on_command
        try:
            self._client.connect(config.host, config.port, keepalive=30)
        except OSError as exc:
            raise BrokerError(
                f"cannot reach the MQTT broker at {config.host}:{config.port} ({exc}); "
                "start one (e.g. mosquitto) or set [twin.live] host/port in plant.toml"
            ) from None
        self._client.subscribe(self._topic(group, "NCMD", edge), qos=1)
        self._client.loop_start()
        self._pending: list[Any] = []
        self._birth()

    def _death(self) -> bytes:
        return self._encode([self._metric(self._bd_name, self.bd_seq)], ts_ms=_now_ms())

    def _next_seq(self) -> int:
        seq = self.seq_
        self.seq_ = (self.seq_ + 1) % 256
        return seq

    def _send(self, topic: str, payload: bytes, qos: int | None = None) -> None:
        info = self._client.publish(topic, payload, qos=self.config.qos if qos is None else qos)
        if info.rc == 0 and (self.config.qos if qos is None else qos):
            self._pending.append(info)
            if len(self._pending) >= 1000:
                self._drain()

    def _drain(self) -> None:
        for info in self._pending:
            info.wait_for_publish(timeout=30)
        self._pending.clear()

    def _birth(self) -> None:
        """NBIRTH (seq 0, bdSeq, rebirth control), then a DBIRTH per known device."""
        with self._lock:
            self.seq_ = 0
            self.births_ += 1
            metrics = [
                self._metric(self._bd_name, self.bd_seq),
                self._metric(self._rebirth_name, False),
            ]
            self._send(
                self._topic(self.group, "NBIRTH", self.edge),
                self._encode(metrics, seq=self._next_seq(), ts_ms=_now_ms()),
            )
            for device, (ms, values) in self._last.items():
                self._device_birth(device, ms, values)

    def _device_birth(self, device: str, ms: int, values: dict[str, float]) -> None:
        aliases = self._aliases.setdefault(device, {})
        for name in values:
            aliases.setdefault(name, len(aliases) + 1)
        metrics = [
            self._metric(name, values.get(name), alias=alias, ts_ms=ms)
            for name, alias in aliases.items()
        ]
        self._send(
            self._topic(self.group, "DBIRTH", self.edge, device),
            self._encode(metrics, seq=self._next_seq(), ts_ms=ms),
        )

    def _on_command(self, client: Any, userdata: Any, msg: Any) -> None:
        from factoryax.ingest.sparkplug import decode_payload

        try:
            payload = decode_payload(msg.payload)
        except ValueError:
            return
        if any(m.name == self._rebirth_name and m.boolean_value for m in payload.metrics):
            self._birth()

    def publish(self, topic: str, payload: bytes) -> None:
        """Publishes a readings message as DDATA (DBIRTH first for a new device or
        signal); other kinds are not sent over Sparkplug."""
        found = _readings_doc(topic, payload)
        if found is None:
            return
        device, ms, values = found
        with self._lock:
            known = self._aliases.get(device, {})
            self._last[device] = (ms, values)
            if device not in self._aliases or any(n not in known for n in values):
                self._device_birth(device, ms, values)
                return
            metrics = [
                self._metric(None, v, alias=known[name], ts_ms=ms) for name, v in values.items()
            ]
            self._send(
                self._topic(self.group, "DDATA", self.edge, device),
                self._encode(metrics, seq=self._next_seq(), ts_ms=ms),
            )

    def close(self) -> None:
        """Waits for QoS ≥ 1 deliveries, publishes NDEATH and disconnects."""
        try:
            self._drain()
            info = self._client.publish(
                self._topic(self.group, "NDEATH", self.edge), self._death(), qos=1
            )
            info.wait_for_publish(timeout=10)
        finally:
            self._client.loop_stop()
            self._client.disconnect()


def _now_ms() -> int:
    return int(time.time() * 1000)


class OpcUaTwinServer:
    """The twin as an OPC UA server (asyncua) on ``endpoint``.

    Objects/Plant/<asset>/<signal> are Double variables, one per declared signal; each
    readings message writes its values with the reading's time as source timestamp.

    Args:
        plant: the plant model (which assets and signals to expose).
        endpoint: e.g. ``opc.tcp://127.0.0.1:4840``.
        namespace: the namespace URI of the plant's nodes.
        certificate, private_key: the server's certificate and key (PEM or DER); given,
            the server offers Basic256Sha256 Sign and SignAndEncrypt only (no
            unencrypted endpoint).
    """

    def __init__(
        self,
        plant: Any,
        endpoint: str = "opc.tcp://127.0.0.1:4840",
        *,
        namespace: str = "urn:factoryax:twin",
        certificate: Path | None = None,
        private_key: Path | None = None,
    ) -> None:
        import asyncio

        self.certificate, self.private_key = certificate, private_key
        self.endpoint = endpoint
        self.plant = plant
        self.namespace = namespace
        self.nodes_: dict[tuple[str, str], Any] = {}
        self.folder_id: str = ""
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opcua-twin", daemon=True
        )
        self._thread.start()
        self._call(self._start())

    def _call(self, coro: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _start(self) -> None:
        from asyncua.server.server import Server

        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("FactoryAX twin")
        if self.certificate is not None and self.private_key is not None:
            from asyncua import ua

            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
            server.set_security_policy(
                [
                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                ]
            )
        idx = await server.register_namespace(self.namespace)
        folder = await server.nodes.objects.add_folder(idx, "Plant")
        self.folder_id = folder.nodeid.to_string()
        for _, asset in self.plant.iter_assets():
            obj = await folder.add_object(idx, asset.id)
            for signal in asset.signals:
                var = await obj.add_variable(idx, signal.id, 0.0)
                self.nodes_[(asset.id, signal.id)] = var
        await server.start()
        self._server = server

    async def _write(self, ts: dt.datetime, values: list[tuple[Any, float]]) -> None:
        from asyncua import ua

        for node, value in values:
            stamp = ua.DateTime.fromtimestamp(ts.timestamp(), dt.UTC)
            dv = ua.DataValue(
                ua.Variant(value, ua.VariantType.Double),
                SourceTimestamp=stamp,
                ServerTimestamp=stamp,
            )
            await node.write_value(dv)

    def publish(self, topic: str, payload: bytes) -> None:
        """Writes a readings message's values; other kinds are ignored."""
        found = _readings_doc(topic, payload)
        if found is None:
            return
        asset, ms, values = found
        ts = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        pairs = [
            (self.nodes_[(asset, name)], v)
            for name, v in values.items()
            if (asset, name) in self.nodes_
        ]
        self._call(self._write(ts, pairs))

    def close(self) -> None:
        """Stops the server and its thread (a second call does nothing)."""
        if self._loop.is_closed():
            return
        if self._server is not None:
            self._call(self._server.stop())
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
