"""Inputs for the safety engine: SPC rule events as readings, camera detections over MQTT.

:func:`spc_readings` turns the lake's ``spc.<rule>`` events (written by
:func:`factoryax.analytics.spc.monitor.publish`) into readings of signal ``spc_<rule>``
= 1.0 on the event's asset, so a rule like ``inspect-01.spc_nelson_1 > 0`` alarms.
Anomaly scores need nothing new: they are readings of a signal such as
``anomaly_score`` and a threshold rule reads them.

:class:`MqttDetectionSource` subscribes to a topic (``factoryax/vision/#``), parses each
message with :func:`~factoryax.safety.devices.camera_readings` and hands every valid
reading to a callback (e.g. ``engine.process``); an invalid message is counted and
recorded with the :class:`~factoryax.safety.devices.DetectionError` reason, and a
callback that raises is recorded too, so the network loop never dies.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from factoryax.safety.devices import DetectionError, camera_readings
from factoryax.safety.engine import Reading

__all__ = ["MqttDetectionSource", "Rejected", "spc_readings"]

log = logging.getLogger(__name__)


def spc_readings(rows: Any, *, hold_s: float | None = None) -> list[Reading]:
    """Readings of ``spc.<rule>`` event rows, in timestamp order.

    Args:
        rows: ``events`` rows (mappings with ts, kind, asset) or an Arrow table; other
            kinds and rows without an asset are skipped.
        hold_s: if given, each event also gives 0.0 ``hold_s`` after it, so the alarm
            clears; by default the signal stays 1.0 (an SPC signal needs a person).

    Examples:
        >>> t = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        >>> rs = spc_readings([{"ts": t, "kind": "spc.nelson_1", "asset": "inspect-01"}])
        >>> [(r.asset, r.signal, r.value) for r in rs]
        [('inspect-01', 'spc_nelson_1', 1.0)]
    """
    table_rows: Iterable[Mapping[str, Any]] = (
        rows.to_pylist() if hasattr(rows, "to_pylist") else rows
    )
    out: list[Reading] = []
    for row in table_rows:
        kind = str(row.get("kind") or "")
        if not kind.startswith("spc.") or len(kind) == 4 or not row.get("asset"):
            continue
        ts = row["ts"]
        if not isinstance(ts, dt.datetime) or ts.tzinfo is None:
            raise ValueError(f"ts: {ts!r} of {kind} event; give a timezone-aware datetime")
        ts = ts.astimezone(dt.UTC)
        asset, signal = str(row["asset"]), "spc_" + kind[4:]
        out.append(Reading(ts, asset, signal, 1.0))
        if hold_s is not None:
            out.append(Reading(ts + dt.timedelta(seconds=hold_s), asset, signal, 0.0))
    out.sort(key=lambda r: r.ts)
    return out


@dataclass(frozen=True)
class Rejected:
    """A message that gave no readings: its topic, raw payload and why."""

    topic: str
    payload: bytes
    reason: str


class MqttDetectionSource:
    """Camera detections from an MQTT broker into a reading callback.

    Args:
        on_reading: called with each valid :class:`Reading` (on paho's network thread).
        host, port: the broker.
        topic: the subscription filter.
        on_reject: called with each :class:`Rejected` (optional).
        min_confidence, hold_s: passed to :func:`camera_readings`.
        qos: the subscription's QoS.

    Counters ``received_``, ``accepted_`` (readings handed on) and the list
    ``rejected_`` are guarded by a lock. A camera message gives a pulse (1.0 now, 0.0
    ``hold_s`` later); both readings are handed on at once, in order.
    """

    def __init__(
        self,
        on_reading: Callable[[Reading], object],
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        topic: str = "factoryax/vision/#",
        on_reject: Callable[[Rejected], object] | None = None,
        min_confidence: float = 0.5,
        hold_s: float = 5.0,
        qos: int = 1,
        client_id: str = "",
    ) -> None:
        self.on_reading = on_reading
        self.on_reject = on_reject
        self.host, self.port, self.topic, self.qos = host, port, topic, qos
        self.min_confidence, self.hold_s = min_confidence, hold_s
        self.received_ = 0
        self.accepted_ = 0
        self.rejected_: list[Rejected] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._error: str | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- paho callbacks (network thread) ------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self._error = f"connect refused: {reason}"
            self._subscribed.set()
            return
        client.subscribe(self.topic, qos=self.qos)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        bad = [r for r in reasons if r.is_failure]
        if bad:
            self._error = f"subscribe to {self.topic!r} refused: {bad[0]}"
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.handle(msg.topic, bytes(msg.payload))

    # -- the work ----------------------------------------------------------------------
    def _reject(self, topic: str, payload: bytes, reason: str) -> None:
        rej = Rejected(topic, payload, reason)
        with self._lock:
            self.rejected_.append(rej)
        if self.on_reject is not None:
            try:
                self.on_reject(rej)
            except Exception:  # a broken observer must not stop the intake
                log.exception("on_reject callback failed for a message on %s", topic)

    def handle(self, topic: str, payload: bytes) -> int:
        """Parses one message and hands its readings on; returns how many. Never raises."""
        with self._lock:
            self.received_ += 1
        try:
            readings = camera_readings(
                payload, min_confidence=self.min_confidence, hold_s=self.hold_s
            )
        except DetectionError as exc:
            self._reject(topic, payload, str(exc))
            return 0
        except Exception as exc:  # e.g. undecodable bytes: record, never crash
            self._reject(topic, payload, f"unreadable: {type(exc).__name__}: {exc}")
            return 0
        n = 0
        for reading in readings:
            try:
                self.on_reading(reading)
            except Exception as exc:
                self._reject(topic, payload, f"callback failed: {type(exc).__name__}: {exc}")
                break
            n += 1
        with self._lock:
            self.accepted_ += n
        return n

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> None:
        """Connects, starts the network thread and waits until the subscription holds.

        Raises:
            ConnectionError: the broker refused or did not answer within ``timeout_s``.
        """
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        if not self._subscribed.wait(timeout_s) or self._error is not None:
            self.stop()
            raise ConnectionError(
                self._error or f"no SUBACK from {self.host}:{self.port} in {timeout_s} s"
            )

    def stop(self) -> None:
        """Disconnects and stops the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttDetectionSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
