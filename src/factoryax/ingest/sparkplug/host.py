"""The host application's view of Sparkplug edge nodes: births, aliases, seq, deaths.

One :class:`SparkplugHost` follows every edge node it hears (Sparkplug 3.0 §7 and §10):

- NBIRTH resets the node: its ``seq`` must be 0, its ``bdSeq`` metric is remembered, its
  metric names, aliases and data types are learnt; DBIRTH does the same for a device;
- every later message of the node (DBIRTH, NDATA, DDATA, DDEATH) carries ``seq`` one more
  than the previous, modulo 256; a gap means messages were lost, so the host asks the node
  to publish its births again (NCMD ``Node Control/Rebirth`` = true) and keeps the data it
  did get (each metric carries its own timestamp);
- data from a node that was never born, or with an alias no birth declared, also asks for
  a rebirth; metrics that carry a name are still used, alias-only ones cannot be;
- NDEATH (the node's MQTT will) marks the node and all its devices stale, but only when its
  ``bdSeq`` matches the live birth: a late will from an earlier session is ignored;
  DDEATH marks one device stale.

Examples:
    >>> from factoryax.ingest.sparkplug.codec import encode_payload, metric
    >>> host = SparkplugHost()
    >>> birth = encode_payload([metric("bdSeq", 0), metric("temp", 20.0, alias=1)], seq=0)
    >>> host.handle("spBv1.0/g/NBIRTH/edge", birth).samples[0].metric
    'temp'
    >>> data = encode_payload([metric(None, 21.0, alias=1, ts_ms=1_700_000_000_000)], seq=3)
    >>> update = host.handle("spBv1.0/g/NDATA/edge", data)  # seq 1 and 2 never came
    >>> [s.value for s in update.samples], update.rebirth
    ([21.0], ['spBv1.0/g/NCMD/edge'])
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from factoryax.core import utc_now
from factoryax.ingest.sparkplug.codec import (
    BD_SEQ,
    SparkplugError,
    SpTopic,
    decode_payload,
    metric_value,
    ms_to_datetime,
    parse_topic,
    topic,
)

__all__ = ["HostUpdate", "Sample", "SparkplugHost", "Stale"]

_CONTROL_PREFIXES = ("Node Control/", "Device Control/", "Properties/")


@dataclass(frozen=True)
class Sample:
    """One metric value from an edge node (``device`` None for node-level metrics)."""

    group: str
    edge: str
    device: str | None
    metric: str
    ts: dt.datetime
    value: float | None


@dataclass(frozen=True)
class Stale:
    """Metrics that went stale at ``ts`` because their node or device died."""

    group: str
    edge: str
    device: str | None
    metrics: tuple[str, ...]
    ts: dt.datetime
    reason: str


@dataclass
class HostUpdate:
    """What one message changed: samples to store, rebirths to request, stale marks,
    problems (input that cannot be used, for quarantine: ``(field, reason)``), notices
    (sequence gaps, rebirth requests, ignored wills: for the events table) and the STATE
    seen, if any."""

    samples: list[Sample] = field(default_factory=list)
    rebirth: list[str] = field(default_factory=list)
    """NCMD topics to publish a ``Node Control/Rebirth`` request on."""
    stale: list[Stale] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    state: tuple[str, bool] | None = None
    """(host id, online) of a STATE message."""


@dataclass
class _Device:
    aliases: dict[int, str] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    online: bool = False


@dataclass
class _Node:
    bd_seq: int | None = None
    seq: int | None = None
    online: bool = False
    node: _Device = field(default_factory=_Device)
    devices: dict[str, _Device] = field(default_factory=dict)


class SparkplugHost:
    """Tracks edge node sessions and decodes their messages (see the module docstring).

    Not thread-safe: feed it from one thread (the MQTT network loop).
    """

    def __init__(self) -> None:
        self.nodes_: dict[tuple[str, str], _Node] = {}
        self.rebirths_requested_ = 0
        self.seq_gaps_ = 0

    def aliases(self) -> dict[str, dict[str, object]]:
        """The metric definitions learnt from births, to save beside the runtime: after a
        crash, messages the broker redelivers carry aliases only, and the births that
        named them came before the crash. Keys are ``group/edge`` and ``group/edge/device``."""
        out: dict[str, dict[str, object]] = {}
        for (group, edge), node in self.nodes_.items():
            for dev_id, dev in [(None, node.node), *node.devices.items()]:
                key = f"{group}/{edge}" + (f"/{dev_id}" if dev_id is not None else "")
                out[key] = {
                    "aliases": {str(a): n for a, n in dev.aliases.items()},
                    "types": dict(dev.types),
                }
        return out

    def restore_aliases(self, saved: dict[str, dict[str, object]]) -> None:
        """Loads :meth:`aliases` saved earlier. Nodes stay unborn (seq unknown), so their
        next message still asks for a rebirth, but alias-only metrics decode meanwhile."""
        for key, spec in saved.items():
            parts = key.split("/")
            if len(parts) not in (2, 3):
                continue
            node = self.nodes_.setdefault((parts[0], parts[1]), _Node())
            dev = node.node if len(parts) == 2 else node.devices.setdefault(parts[2], _Device())
            aliases = spec.get("aliases", {})
            types = spec.get("types", {})
            if isinstance(aliases, dict):
                dev.aliases.update({int(a): str(n) for a, n in aliases.items()})
            if isinstance(types, dict):
                dev.types.update({str(n): int(t) for n, t in types.items()})

    def is_stale(self, group: str, edge: str, device: str | None = None) -> bool:
        """Whether the node (or one of its devices) is not alive now."""
        node = self.nodes_.get((group, edge))
        if node is None or not node.online:
            return True
        if device is None:
            return False
        dev = node.devices.get(device)
        return dev is None or not dev.online

    def handle(self, text: str, payload: bytes, *, now: dt.datetime | None = None) -> HostUpdate:
        """Processes one message; raises :class:`SparkplugError` for a foreign topic or
        an undecodable payload (the caller quarantines it)."""
        now = now or utc_now()
        t = parse_topic(text)
        update = HostUpdate()
        if t.kind == "STATE":
            update.state = (t.edge, _state_online(payload, text))
            return update
        if t.kind in ("NCMD", "DCMD"):
            return update  # commands flow to edge nodes; not data
        p = decode_payload(payload, where=text)
        key = (t.group, t.edge)
        node = self.nodes_.get(key)
        base_ts = ms_to_datetime(p.timestamp) if p.HasField("timestamp") else now
        if t.kind == "NBIRTH":
            node = _Node(online=True)
            self.nodes_[key] = node
            for m in p.metrics:
                if m.name == BD_SEQ:
                    node.bd_seq = int(m.long_value)
            node.seq = p.seq if p.HasField("seq") else 0
            if node.seq != 0:
                update.notices.append(f"NBIRTH with seq {node.seq}, expected 0")
            self._learn(node.node, p.metrics)
            update.samples += self._samples(t, node.node, p.metrics, base_ts, update)
            return update
        if t.kind == "NDEATH":
            bd = next((int(m.long_value) for m in p.metrics if m.name == BD_SEQ), None)
            if node is None or not node.online:
                return update
            if bd is not None and node.bd_seq is not None and bd != node.bd_seq:
                update.notices.append(
                    f"NDEATH bdSeq {bd} does not match the live birth's {node.bd_seq}: "
                    "a will from an earlier session, ignored"
                )
                return update
            node.online = False
            why = "NDEATH: edge node went offline"
            update.stale.append(Stale(t.group, t.edge, None, _names(node.node), now, why))
            for dev_id, dev in node.devices.items():
                if dev.online:
                    dev.online = False
                    update.stale.append(Stale(t.group, t.edge, dev_id, _names(dev), now, why))
            return update
        # Every other message of a node carries the next seq.
        self._check_seq(t, node, p.seq if p.HasField("seq") else None, update)
        if node is None:
            node = self.nodes_.setdefault(key, _Node())
        if t.kind == "DBIRTH":
            assert t.device is not None
            dev = _Device(online=True)
            node.devices[t.device] = dev
            self._learn(dev, p.metrics)
            update.samples += self._samples(t, dev, p.metrics, base_ts, update)
        elif t.kind == "DDEATH":
            assert t.device is not None
            dev = node.devices.get(t.device, _Device())
            if dev.online:
                dev.online = False
                update.stale.append(
                    Stale(t.group, t.edge, t.device, _names(dev), now, "DDEATH: device offline")
                )
        else:  # NDATA, DDATA
            target = node.node if t.device is None else node.devices.get(t.device)
            if target is None:
                target = node.devices.setdefault(t.device or "", _Device())
                self._ask_rebirth(t, update, f"{t.kind} from device {t.device!r} before DBIRTH")
            update.samples += self._samples(t, target, p.metrics, base_ts, update)
        return update

    def _check_seq(
        self, t: SpTopic, node: _Node | None, seq: int | None, update: HostUpdate
    ) -> None:
        if node is None or node.seq is None or not node.online:
            self._ask_rebirth(t, update, f"{t.kind} from edge node {t.edge!r} before its NBIRTH")
            if node is not None and seq is not None:
                node.seq = seq
            return
        expected = (node.seq + 1) % 256
        if seq is not None:
            node.seq = seq
        if seq != expected:
            self.seq_gaps_ += 1
            self._ask_rebirth(t, update, f"seq {seq} where {expected} was due: messages lost")

    def _ask_rebirth(self, t: SpTopic, update: HostUpdate, why: str) -> None:
        cmd = topic(t.group, "NCMD", t.edge)
        if cmd not in update.rebirth:
            update.rebirth.append(cmd)
            update.notices.append(f"{why}; rebirth requested on {cmd}")
            self.rebirths_requested_ += 1

    @staticmethod
    def _learn(dev: _Device, metrics: object) -> None:
        for m in metrics:  # type: ignore[attr-defined]  # repeated Metric
            if m.HasField("alias") and m.name:
                dev.aliases[int(m.alias)] = m.name
            if m.name and m.HasField("datatype"):
                dev.types[m.name] = int(m.datatype)

    def _samples(
        self, t: SpTopic, dev: _Device, metrics: object, base_ts: dt.datetime, update: HostUpdate
    ) -> list[Sample]:
        out = []
        for m in metrics:  # type: ignore[attr-defined]  # repeated Metric
            name = m.name or dev.aliases.get(int(m.alias)) if m.HasField("alias") else m.name
            if not name:
                what = f"alias {m.alias}" if m.HasField("alias") else "a metric without name"
                self._ask_rebirth(t, update, f"{t.kind} carries {what} that no birth declared")
                update.problems.append(
                    ("metric", f"{what} is not declared by any birth; its value cannot be named")
                )
                continue
            if name == BD_SEQ or name.startswith(_CONTROL_PREFIXES):
                continue
            value = metric_value(m, dev.types.get(name))
            if isinstance(value, str):
                update.problems.append(
                    ("value", f"metric {name!r} is text ({value!r}); readings are numeric")
                )
                continue
            ts = ms_to_datetime(m.timestamp) if m.HasField("timestamp") else base_ts
            out.append(Sample(t.group, t.edge, t.device, name, ts, value))
        return out


def _names(dev: _Device) -> tuple[str, ...]:
    return tuple(
        sorted(n for n in dev.types if n != BD_SEQ and not n.startswith(_CONTROL_PREFIXES))
    )


def _state_online(payload: bytes, where: str) -> bool:
    """Sparkplug 3.0 STATE payload: JSON ``{"online": bool, "timestamp": ms}`` (§4.1.3)."""
    try:
        doc = json.loads(payload)
        online = doc["online"]
    except (ValueError, KeyError, TypeError):
        raise SparkplugError(
            f"{where}: STATE payload {payload[:80]!r} is not JSON "
            '{"online": true|false, "timestamp": <ms>}',
            source=where,
        ) from None
    if not isinstance(online, bool):
        raise SparkplugError(f"{where}: STATE `online` is {online!r}, expected true or false")
    return online
