"""Sparkplug B topics and payloads (Eclipse Sparkplug 3.0.0, chapters 4 and 6).

Topics are ``spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]`` and, for a
primary host application's state, ``spBv1.0/STATE/<host_id>`` (§4.1). Payloads are the
``org.eclipse.tahu.protobuf.Payload`` message of ``sparkplug_b.proto``.

Examples:
    >>> parse_topic("spBv1.0/plant/DDATA/edge-1/press-01")
    SpTopic(group='plant', kind='DDATA', edge='edge-1', device='press-01')
    >>> payload = encode_payload([metric("temp", 21.5, alias=1, ts_ms=1_700_000_000_000)], seq=4)
    >>> decoded = decode_payload(payload)
    >>> decoded.seq, decoded.metrics[0].alias, metric_value(decoded.metrics[0])
    (4, 1, 21.5)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, cast

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no stubs

from factoryax.core import IngestError
from factoryax.ingest.sparkplug import sparkplug_b_pb2 as pb

__all__ = [
    "BD_SEQ",
    "NAMESPACE",
    "REBIRTH",
    "MessageKind",
    "SpTopic",
    "SparkplugError",
    "decode_payload",
    "encode_payload",
    "metric",
    "metric_value",
    "ms_to_datetime",
    "parse_topic",
    "state_topic",
    "topic",
]

NAMESPACE = "spBv1.0"
BD_SEQ = "bdSeq"
"""Birth/death sequence metric of NBIRTH and NDEATH (§6.4.18)."""
REBIRTH = "Node Control/Rebirth"
"""The NCMD metric that asks an edge node to publish its births again (§6.4.19)."""

MessageKind = Literal[
    "NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD", "STATE"
]
_KINDS = frozenset(MessageKind.__args__)  # type: ignore[attr-defined]  # Literal's members

Payload = pb.Payload
Metric = pb.Payload.Metric
DataType = pb.DataType

# Signed integers travel as two's complement in unsigned fields (§6.4.16).
_SIGNED_BITS = {DataType.Int8: 8, DataType.Int16: 16, DataType.Int32: 32, DataType.Int64: 64}


class SparkplugError(IngestError, ValueError):
    """A topic or payload that is not Sparkplug B; the message says what and why."""


@dataclass(frozen=True)
class SpTopic:
    """A parsed Sparkplug topic; for STATE, ``edge`` holds the host id and group is ''."""

    group: str
    kind: MessageKind
    edge: str
    device: str | None = None


def parse_topic(text: str) -> SpTopic:
    """Splits a Sparkplug B topic; raises :class:`SparkplugError` naming what is wrong."""
    parts = text.split("/")
    if len(parts) == 3 and parts[0] == NAMESPACE and parts[1] == "STATE":
        return SpTopic("", "STATE", parts[2])
    if parts[0] != NAMESPACE or len(parts) not in (4, 5):
        raise SparkplugError(
            f"topic {text!r} is not spBv1.0/<group>/<type>/<edge node>[/<device>]",
            source=text,
        )
    kind = parts[2]
    if kind not in _KINDS or kind == "STATE":
        raise SparkplugError(
            f"topic {text!r}: message type {kind!r} is not one of "
            "NBIRTH NDEATH DBIRTH DDEATH NDATA DDATA NCMD DCMD",
            source=text,
        )
    device = parts[4] if len(parts) == 5 else None
    if (device is None) == kind.startswith("D"):
        raise SparkplugError(
            f"topic {text!r}: {kind} needs {'a' if kind.startswith('D') else 'no'} device id",
            source=text,
        )
    return SpTopic(parts[1], kind, parts[3], device)  # type: ignore[arg-type]  # checked above


def topic(group: str, kind: MessageKind, edge: str, device: str | None = None) -> str:
    """Builds a topic (the inverse of :func:`parse_topic`)."""
    tail = f"/{device}" if device is not None else ""
    return f"{NAMESPACE}/{group}/{kind}/{edge}{tail}"


def state_topic(host_id: str) -> str:
    """The primary host application's STATE topic (Sparkplug 3.0 §4.1.3)."""
    return f"{NAMESPACE}/STATE/{host_id}"


def decode_payload(data: bytes, *, where: str = "payload") -> pb.Payload:
    """Parses a Sparkplug B payload; raises :class:`SparkplugError` if it is not one."""
    try:
        return cast(pb.Payload, pb.Payload.FromString(data))
    except DecodeError as exc:
        raise SparkplugError(
            f"{where}: not a Sparkplug B protobuf payload ({exc}); "
            "check the edge node publishes spBv1.0 payloads on this topic",
            source=where,
        ) from None


def metric(
    name: str | None,
    value: float | bool | int | str | None,
    *,
    alias: int | None = None,
    ts_ms: int | None = None,
    datatype: int | None = None,
) -> pb.Payload.Metric:
    """Builds a metric; the data type follows the Python type unless given."""
    m = pb.Payload.Metric()
    if name is not None:
        m.name = name
    if alias is not None:
        m.alias = alias
    if ts_ms is not None:
        m.timestamp = ts_ms
    if value is None:
        m.is_null = True
        m.datatype = datatype if datatype is not None else DataType.Double
        return m
    if isinstance(value, bool):
        m.datatype = DataType.Boolean
        m.boolean_value = value
    elif isinstance(value, int) and datatype in (None, DataType.Int64, DataType.UInt64):
        m.datatype = datatype if datatype is not None else DataType.Int64
        m.long_value = value & 0xFFFFFFFFFFFFFFFF
    elif isinstance(value, str):
        m.datatype = DataType.String
        m.string_value = value
    else:
        m.datatype = datatype if datatype is not None else DataType.Double
        if m.datatype == DataType.Float:
            m.float_value = float(value)
        else:
            m.double_value = float(value)
    return m


def encode_payload(
    metrics: list[pb.Payload.Metric], *, seq: int | None = None, ts_ms: int | None = None
) -> bytes:
    """Serialises a payload of ``metrics`` with the given sequence number and timestamp."""
    p = pb.Payload()
    if ts_ms is not None:
        p.timestamp = ts_ms
    if seq is not None:
        p.seq = seq
    p.metrics.extend(metrics)
    return bytes(p.SerializeToString())


def metric_value(m: pb.Payload.Metric, datatype: int | None = None) -> float | str | None:
    """The metric's value as a float (numbers and booleans), a str, or None (null/unknown).

    ``datatype`` is the type declared in the birth when the data message omits it (§6.4.4:
    data messages may send only alias and value).
    """
    if m.is_null:
        return None
    kind = m.WhichOneof("value")
    dtype = m.datatype if m.HasField("datatype") else datatype
    if kind in ("int_value", "long_value"):
        raw = m.int_value if kind == "int_value" else m.long_value
        bits = _SIGNED_BITS.get(dtype) if dtype is not None else None  # type: ignore[call-overload]
        if bits is not None:
            raw &= (1 << bits) - 1
            if raw >= 1 << (bits - 1):
                raw -= 1 << bits
        return float(raw)
    if kind in ("float_value", "double_value"):
        return float(m.float_value if kind == "float_value" else m.double_value)
    if kind == "boolean_value":
        return 1.0 if m.boolean_value else 0.0
    if kind == "string_value":
        return m.string_value
    return None


def ms_to_datetime(ms: int) -> dt.datetime:
    """Sparkplug timestamps are milliseconds since the Unix epoch, UTC (§6.4.2)."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
