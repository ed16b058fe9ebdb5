"""MQTT sources (paho-mqtt 2, MQTT 5): plain JSON topics with mapping rules, Sparkplug B.

Nothing is lost between the broker and the lake:

- subscriptions are QoS 1 in a **persistent session** (fixed client id, ``clean_start``
  false, a session expiry), so the broker keeps what arrives while we are away;
- acknowledgement is **manual**: a message's PUBACK is sent only after the micro-batch it
  belongs to is durable in the lake (its readings, its quarantine rows, its events); a
  crash before that makes the broker redeliver it, and the lake's idempotence (key
  asset, signal, ts) skips what had already landed;
- ``Receive Maximum`` is raised to 65 535 so the broker keeps sending while a batch waits
  for its acknowledgements (MQTT 5 §3.1.2.11.3);
- ``deliver`` may block: a full runtime queue stops the network loop from reading, TCP
  pushes back, the broker queues — memory stays bounded.

A JSON rule maps a topic pattern to readings::

    [[sources.line-1.rules]]
    topic = "factoryax/+/+/{asset}/readings"   # {name} captures one level
    ts = "ts"                                  # field with the instant (ISO 8601 or epoch ms)
    values = "values"                          # object {signal: value, ...}
    # or one reading per message: signal = "{signal}" (from the topic) or a field name,
    #                             value = "value"

or, with ``kind``, to rows of another lake table — one row per message, fields named
like the table's columns unless ``fields`` maps them (see
:mod:`factoryax.ingest.json_tables`)::

    [[sources.line-1.rules]]
    topic = "factoryax/+/+/{asset}/state"
    kind = "states"                            # {start, end, state, reason_code}
    [[sources.line-1.rules]]
    topic = "factoryax/+/+/{asset}/production"
    kind = "production"                        # {ts, part_id, result, product, ...}
    rename = { result = { good = "ok", bad = "scrap" } }

Input that fits no rule (bad JSON, no timestamp, a value that is not a number, an unknown
signal, a missing required field) goes to quarantine with the topic and the reason; rows
of the other tables then take the same checks as files (unknown asset, state or result
outside the closed sets, undeclared reason code) in :func:`factoryax.ingest.ingest_rows`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from factoryax.core import PlantModel, utc_now
from factoryax.ingest.json_tables import TableKind, columns, parse_instant, to_row
from factoryax.ingest.sparkplug import (
    REBIRTH,
    SparkplugError,
    SparkplugHost,
    encode_payload,
    metric,
    state_topic,
)
from factoryax.ingest.stream import Deliver, Delivery, SourceKind, SourceStats

__all__ = [
    "JsonRule",
    "MqttJsonConfig",
    "MqttSource",
    "MqttTls",
    "SparkplugConfig",
]

log = logging.getLogger(__name__)

_CAPTURE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttTls(_Model):
    """TLS to the broker: CA bundle, optional client certificate and key."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False
    """Skip the host name check (a lab broker with a self-signed certificate only)."""


class _Connection(_Model):
    host: str = "127.0.0.1"
    port: int = Field(1883, gt=0, lt=65536)
    client_id: str | None = None
    """Fixed client id of the persistent session; default ``factoryax-<source name>``."""
    username: str | None = None
    password: str | None = None
    tls: MqttTls | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    session_expiry_s: int = Field(7 * 86_400, ge=0)
    """How long the broker keeps our session (and queues messages) while we are away."""
    reconnect_max_s: float = Field(5.0, gt=0)


class JsonRule(_Model):
    """How messages on matching topics become lake rows (see the module docstring)."""

    topic: str
    kind: TableKind = "readings"
    """The lake table the topic carries: ``readings`` (default), ``states``,
    ``production`` or ``events``."""
    ts: str = "ts"
    values: str | None = "values"
    signal: str | None = None
    value: str = "value"
    asset: str = "{asset}"
    """``{name}`` takes a topic level, anything else names a JSON field."""
    signals: dict[str, str] = Field(default_factory=dict)
    """Renames: source signal name → declared signal id."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Other tables: lake column → JSON field where the names differ (``ts`` has its
    own key)."""
    rename: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Other tables: lake column → {value sent: value stored}, e.g. PLC codes to states."""

    @model_validator(mode="after")
    def _shape(self) -> JsonRule:
        caps = _CAPTURE.findall(self.topic)
        for template in (self.asset, self.signal or ""):
            m = _CAPTURE.fullmatch(template)
            if m and m.group(1) not in caps:
                raise ValueError(
                    f"{template!r} refers to a topic level {{{m.group(1)}}} that topic "
                    f"{self.topic!r} does not capture; add it to the topic pattern"
                )
        if self.kind != "readings":
            self._table_shape()
        else:
            if self.fields or self.rename:
                raise ValueError(
                    "`fields` and `rename` map other tables; a readings rule renames "
                    "signals with `signals`"
                )
            if self.signal is not None:
                object.__setattr__(self, "values", None)
            if self.values is None and self.signal is None:
                raise ValueError(
                    "a rule needs `values` (an object of signal: value) or `signal` and `value`"
                )
        if "#" in self.topic[:-1]:
            raise ValueError(f"topic {self.topic!r}: '#' may only end the pattern")
        return self

    def _table_shape(self) -> None:
        """A states/production/events rule: only keys that table uses, known columns."""
        readings_only = {"values", "signal", "value", "signals"} & self.model_fields_set
        if readings_only:
            raise ValueError(
                f"{', '.join(sorted(readings_only))} only apply to readings rules; a "
                f"{self.kind} rule maps columns with `fields`"
            )
        names = [c.name for c in columns(self.kind)]
        if self.kind == "states" and "ts" in self.model_fields_set:
            raise ValueError(
                "a states rule has no `ts`: an interval is `start` and `end` "
                "(map them with fields.start / fields.end)"
            )
        if "ts" in self.fields:
            raise ValueError("map the time field with `ts`, not fields.ts")
        text = [c.name for c in columns(self.kind) if c.type == "text"]
        for key, allowed, what in (
            (self.fields, names, "fields"),
            (self.rename, text, "rename"),
        ):
            unknown = sorted(set(key) - set(allowed))
            if unknown:
                raise ValueError(
                    f"{what}: {', '.join(map(repr, unknown))} not a column of {self.kind}; "
                    f"use {', '.join(n for n in allowed if n != 'ts')}"
                )

    def field_map(self) -> dict[str, str]:
        """Lake column → JSON field of a non-readings rule (``ts`` included)."""
        return {**self.fields, "ts": self.ts} if self.kind != "states" else dict(self.fields)

    @property
    def subscription(self) -> str:
        """The MQTT filter: every ``{name}`` becomes ``+``."""
        return _CAPTURE.sub("+", self.topic)

    def match(self, topic: str) -> dict[str, str] | None:
        """Captured topic levels when ``topic`` matches, else None."""
        m = _pattern(self.topic).fullmatch(topic)
        return m.groupdict() if m else None


@functools.lru_cache(maxsize=256)
def _pattern(topic: str) -> re.Pattern[str]:
    """The compiled regular expression of a topic pattern (once per pattern)."""
    parts: list[str] = []
    for level in topic.split("/"):
        cap = _CAPTURE.fullmatch(level)
        if cap:
            parts.append(f"(?P<{cap.group(1)}>[^/]+)")
        elif level == "+":
            parts.append("[^/]+")
        elif level == "#":
            parts.append(".*")
        else:
            parts.append(re.escape(level))
    return re.compile("/".join(parts))


class MqttJsonConfig(_Connection):
    """``[sources.<name>]`` with ``kind = "mqtt-json"``."""

    kind: Literal["mqtt-json"] = "mqtt-json"
    rules: tuple[JsonRule, ...] = Field(min_length=1)


class SparkplugConfig(_Connection):
    """``[sources.<name>]`` with ``kind = "sparkplug"``: a Sparkplug B host application."""

    kind: Literal["sparkplug"] = "sparkplug"
    group: str = "+"
    """Sparkplug group id to follow ('+' for every group)."""
    host_id: str = "factoryax"
    """Our primary host id: STATE is published on ``spBv1.0/STATE/<host_id>``."""
    assets: dict[str, str] = Field(default_factory=dict)
    """'<edge>/<device>' (or '<edge>' for node metrics, or '<device>') → asset id;
    default: the device id (the edge node id for node metrics)."""
    metrics: dict[str, str] = Field(default_factory=dict)
    """Metric name → signal id; default: the metric name itself."""
    rebirth_min_interval_s: float = Field(2.0, ge=0)

    @field_validator("host_id")
    @classmethod
    def _host_id(cls, value: str) -> str:
        if not value or any(c in value for c in "/+#"):
            raise ValueError(f"host_id {value!r} must be one topic level without / + #")
        return value


class MqttSource:
    """A broker subscription feeding the runtime (JSON rules or Sparkplug B).

    Args:
        name: the source's name (``[sources.<name>]``); quarantine rows name it.
        config: :class:`MqttJsonConfig` or :class:`SparkplugConfig`.
        plant: the plant model (to put declared assets on Sparkplug stale events).
    """

    def __init__(
        self,
        name: str,
        config: MqttJsonConfig | SparkplugConfig,
        plant: PlantModel,
        *,
        state_file: Path | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.kind: SourceKind = config.kind
        self.plant = plant
        self.stats = SourceStats()
        self.host_ = SparkplugHost()
        self.state_file = state_file
        """Where Sparkplug metric definitions are kept across restarts (optional)."""
        if state_file is not None and state_file.is_file():
            self.host_.restore_aliases(json.loads(state_file.read_text(encoding="utf-8")))
        self._assets = {a.id for _, a in plant.iter_assets()}
        self._client: mqtt.Client | None = None
        self._deliver: Deliver | None = None
        self._seq = 0
        self._last_rebirth: dict[str, float] = {}
        self._birth_ms = 0
        self._connected_once = False
        self._suback_mid = -1

    # ------------------------------------------------------------------ lifecycle

    def start(self, deliver: Deliver) -> None:
        """Connects (in the background, retrying with backoff) and starts delivering."""
        cfg = self.config
        self._deliver = deliver
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"factoryax-{self.name}",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if cfg.username is not None:
            client.username_pw_set(cfg.username, cfg.password)
        if cfg.tls is not None:
            client.tls_set(
                ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
            )
            client.tls_insecure_set(cfg.tls.insecure)
        if isinstance(cfg, SparkplugConfig):
            self._birth_ms = int(time.time() * 1000)
            client.will_set(state_topic(cfg.host_id), self._state(online=False), 1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(cfg.reconnect_max_s)))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho
        props.SessionExpiryInterval = cfg.session_expiry_s
        props.ReceiveMaximum = 65535
        self.stats.state = "connecting"
        client.connect_async(
            cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=False, properties=props
        )
        self._client = client
        client.loop_start()

    def stop(self) -> None:
        """Publishes STATE offline (Sparkplug), disconnects; unacked messages stay queued
        at the broker for the next start."""
        client = self._client
        if client is None:
            return
        self.stats.state = "stopped"
        if isinstance(self.config, SparkplugConfig) and client.is_connected():
            info = client.publish(
                state_topic(self.config.host_id), self._state(online=False), 1, retain=True
            )
            info.wait_for_publish(timeout=2)
        client.disconnect()
        client.loop_stop()
        self._client = None

    def _state(self, *, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._birth_ms}).encode()

    # ------------------------------------------------------------------ callbacks

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            self.stats.state = "reconnecting"
            log.warning("source %s: broker refused the connection: %s", self.name, reason)
            return
        if self._connected_once:
            self.stats.reconnects += 1
        self._connected_once = True
        cfg = self.config
        if isinstance(cfg, SparkplugConfig):
            # Sparkplug 3.0 §5.9: a host subscribes to its own STATE, then publishes
            # itself online (retained, QoS 1) before it follows the edge nodes.
            filters = [state_topic(cfg.host_id), f"spBv1.0/{cfg.group}/#"]
            client.publish(state_topic(cfg.host_id), self._state(online=True), 1, retain=True)
        else:
            filters = [rule.subscription for rule in cfg.rules]
        # "connected" once the broker granted every subscription (SUBACK), not before:
        # what is published after that is ours.
        _, mid = client.subscribe([(f, 1) for f in filters])
        self._suback_mid = -1 if mid is None else mid

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        if mid != self._suback_mid:
            return
        refused = [r for r in reasons if getattr(r, "is_failure", False)]
        if refused:
            log.error("source %s: broker refused subscriptions: %s", self.name, refused)
            self.stats.state = "reconnecting"
            return
        self.stats.state = "connected"

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.stats.state != "stopped":
            self.stats.state = "reconnecting"

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._seq += 1
        n = self._seq
        delivery = Delivery(source=self.name, received_at=time.time())
        now = utc_now()
        try:
            if isinstance(self.config, SparkplugConfig):
                self._sparkplug(msg, n, delivery, now)
            else:
                self._json(msg, n, delivery)
        except Exception as exc:  # never let one message kill the network loop
            delivery.rejects.append(
                (f"{msg.topic} message {n}", None, f"could not be read: {exc}", _raw(msg.payload))
            )
        if msg.qos > 0:
            mid, qos = msg.mid, msg.qos

            def ack() -> None:
                client.ack(mid, qos)

            delivery.ack = ack
        stats = self.stats
        stats.messages += 1
        stats.readings += len(delivery.ts) + sum(len(r) for r in delivery.rows.values())
        stats.rejected += len(delivery.rejects)
        stats.last_message_at = now
        assert self._deliver is not None
        self._deliver(delivery)

    # ------------------------------------------------------------------ JSON

    def _json(self, msg: mqtt.MQTTMessage, n: int, out: Delivery) -> None:
        assert isinstance(self.config, MqttJsonConfig)
        where = f"{msg.topic} message {n}"
        for rule in self.config.rules:
            caps = rule.match(msg.topic)
            if caps is not None:
                break
        else:
            out.rejects.append(
                (where, None, "no mapping rule matches the topic", _raw(msg.payload))
            )
            return
        try:
            doc = json.loads(msg.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            out.rejects.append((where, None, f"payload is not JSON ({exc})", _raw(msg.payload)))
            return
        if not isinstance(doc, dict):
            out.rejects.append(
                (where, None, f"payload is JSON {type(doc).__name__}, expected an object",
                 _raw(msg.payload))
            )  # fmt: skip
            return
        if rule.kind != "readings":
            self._table_row(rule, caps, doc, where, _raw(msg.payload), out)
            return
        ts = parse_instant(doc.get(rule.ts))
        if ts is None:
            out.rejects.append(
                (where, rule.ts, f"field {rule.ts!r} = {doc.get(rule.ts)!r} is not an instant "
                 "(ISO 8601 with a zone, or epoch milliseconds); fix the publisher or set `ts` "
                 "in the rule", _raw(msg.payload))
            )  # fmt: skip
            return
        asset = _pick(rule.asset, caps, doc)
        if asset is None:
            out.rejects.append((where, "asset", f"no asset: {rule.asset!r} is missing",
                                _raw(msg.payload)))  # fmt: skip
            return
        if rule.values is not None:
            values = doc.get(rule.values)
            if not isinstance(values, dict):
                out.rejects.append(
                    (where, rule.values, f"field {rule.values!r} = {values!r} is not an object "
                     "of signal: value", _raw(msg.payload))
                )  # fmt: skip
                return
            pairs = list(values.items())
        else:
            signal = _pick(rule.signal or "", caps, doc)
            if signal is None:
                out.rejects.append((where, "signal", f"no signal: {rule.signal!r} is missing",
                                    _raw(msg.payload)))  # fmt: skip
                return
            pairs = [(signal, doc.get(rule.value))]
        for signal, value in pairs:
            name = rule.signals.get(str(signal), str(signal))
            if isinstance(value, bool) or not isinstance(value, int | float | type(None)):
                out.rejects.append(
                    (where, "value", f"{asset}.{name} = {value!r} is not a number",
                     json.dumps({"ts": doc.get(rule.ts), "asset": asset, "signal": name,
                                 "value": value}, default=str))
                )  # fmt: skip
                continue
            out.add(ts, asset, name, None if value is None else float(value), n)

    def _table_row(
        self,
        rule: JsonRule,
        caps: dict[str, str],
        doc: dict[str, Any],
        where: str,
        raw: str,
        out: Delivery,
    ) -> None:
        """A states/production/events message: one row, or a reject naming the field."""
        asset = _pick(rule.asset, caps, doc)
        if asset is None and rule.kind != "events":
            out.rejects.append(
                (where, "asset", f"no asset: {rule.asset!r} is missing; a {rule.kind} row "
                 "belongs to an asset (set `asset` in the rule)", raw)
            )  # fmt: skip
            return
        row, problem = to_row(rule.kind, doc, fields=rule.field_map(), rename=rule.rename)
        if problem is not None:
            field, reason = problem
            out.rejects.append((where, field, f"{rule.kind}: {reason}", raw))
            return
        out.add_row(rule.kind, {**row, "asset": asset}, where)

    # ------------------------------------------------------------------ Sparkplug

    def _sparkplug(self, msg: mqtt.MQTTMessage, n: int, out: Delivery, now: dt.datetime) -> None:
        cfg = self.config
        assert isinstance(cfg, SparkplugConfig)
        where = f"{msg.topic} message {n}"
        try:
            update = self.host_.handle(msg.topic, bytes(msg.payload), now=now)
        except SparkplugError as exc:
            out.rejects.append((where, None, str(exc), _raw(msg.payload)))
            return
        if update.state is not None:
            host, online = update.state
            mine = host == cfg.host_id and self.stats.state == "connected"
            if mine and not online and self._client is not None:
                # our own stale will (an earlier session): say we are online again
                self._client.publish(state_topic(host), self._state(online=True), 1, retain=True)
            return
        for s in update.samples:
            asset = self._asset(s.edge, s.device)
            out.add(s.ts, asset, cfg.metrics.get(s.metric, s.metric), s.value, n)
        for field, reason in update.problems:
            out.rejects.append((where, field, reason, _raw(msg.payload)))
        for notice in update.notices:
            out.events.append(
                self._event(now, "sparkplug.notice", None, notice, {"topic": msg.topic})
            )
        for st in update.stale:
            asset = self._asset(st.edge, st.device)
            signals = [cfg.metrics.get(m, m) for m in st.metrics]
            out.events.append(
                self._event(
                    st.ts,
                    "source.stale",
                    asset if asset in self._assets else None,
                    f"{st.reason}; signals stale: {', '.join(signals) or '-'}",
                    {
                        "group": st.group,
                        "edge": st.edge,
                        "device": st.device,
                        "asset": asset,
                        "signals": signals,
                    },
                )
            )
        for cmd in update.rebirth:
            self._request_rebirth(cmd)
        if self.state_file is not None and msg.topic.split("/")[2:3] in (["NBIRTH"], ["DBIRTH"]):
            self._save_aliases(self.state_file)

    def _save_aliases(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.host_.aliases(), sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def _asset(self, edge: str, device: str | None) -> str:
        a = self.config.assets if isinstance(self.config, SparkplugConfig) else {}
        if device is None:
            return a.get(edge, edge)
        return a.get(f"{edge}/{device}", a.get(device, device))

    def _event(
        self, ts: dt.datetime, kind: str, asset: str | None, message: str, payload: dict[str, Any]
    ) -> dict[str, object]:
        us = int(ts.timestamp() * 1e6)
        body = json.dumps(payload, sort_keys=True, default=str)
        # Deterministic id: a redelivered message gives the same event, which the lake skips.
        digest = hashlib.sha256(f"{message}|{body}".encode()).hexdigest()[:12]
        return {
            "ts": ts,
            "event_id": f"{self.name}-{kind}-{us}-{digest}",
            "kind": kind,
            "asset": asset,
            "severity": 2 if kind == "source.stale" else 1,
            "message": message,
            "payload": body,
        }

    def _request_rebirth(self, cmd_topic: str) -> None:
        cfg = self.config
        assert isinstance(cfg, SparkplugConfig)
        last = self._last_rebirth.get(cmd_topic, 0.0)
        if time.monotonic() - last < cfg.rebirth_min_interval_s or self._client is None:
            return
        self._last_rebirth[cmd_topic] = time.monotonic()
        payload = encode_payload([metric(REBIRTH, True)], ts_ms=int(time.time() * 1000))
        # Sparkplug 3.0 §6.4.19: NCMD is published with QoS 0, not retained.
        self._client.publish(cmd_topic, payload, qos=0, retain=False)


def _pick(template: str, caps: dict[str, str], doc: dict[str, Any]) -> str | None:
    m = _CAPTURE.fullmatch(template)
    if m:
        return caps.get(m.group(1))
    value = doc.get(template)
    return None if value is None else str(value)


def _raw(payload: bytes | bytearray) -> str:
    try:
        return payload[:4000].decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + payload[:2000].hex()


def wait_connected(source: MqttSource, timeout_s: float = 10.0) -> bool:
    """Waits until the source is connected (tests and benchmarks use it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if source.stats.state == "connected":
            return True
        time.sleep(0.02)
    return False
