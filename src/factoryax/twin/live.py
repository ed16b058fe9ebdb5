"""Live mode: replay a run at real time (or N× real time) to a message broker.

The run is simulated first (fast), then its rows are published in time order, paced by
the wall clock so that one simulated second takes ``1 / speed`` wall seconds. Messages
are plain JSON, one topic per asset and kind (every payload also has ``site``, ``line``
and ``asset``)::

    <prefix>/<site>/<line>/<asset>/readings    {"ts", "values": {signal: value, ...}}
    <prefix>/<site>/<line>/<asset>/state       {"ts", "start", "end", "state", "reason_code"}
    <prefix>/<site>/<line>/<asset>/production  {"ts", "part_id", "product", "lot", "result", ...}
    <prefix>/<site>/<line>/<asset>/events      {"ts", "event_id", "kind", "severity", ...}

``ts`` is ISO 8601 UTC with microseconds. A readings message carries every signal of the
asset sampled at that instant, as a device publishing a snapshot would. Sparkplug B and
an OPC UA server are not implemented here (see docs/twin.md).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from factoryax.core import BrokerError
from factoryax.twin.base import Publisher
from factoryax.twin.config import LiveConfig
from factoryax.twin.result import TwinResult

__all__ = ["MqttJsonPublisher", "Publisher", "messages", "replay"]

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
        (result.states, "start", "state"),
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
