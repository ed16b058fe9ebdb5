"""Sparkplug B (Eclipse Sparkplug 3.0.0): payload codec and the host application's view.

Contract:

- :mod:`~factoryax.ingest.sparkplug.codec` encodes and decodes topics and payloads of
  ``sparkplug_b.proto`` (written from the specification; the generated
  ``sparkplug_b_pb2`` module is rebuilt by ``scripts/gen-sparkplug.sh``);
- :class:`SparkplugHost` follows births, deaths and sequence numbers of every edge node
  and turns data into samples; a sequence gap, an unknown alias or data before a birth
  asks for a rebirth (NCMD), a death marks the node's or device's metrics stale, and a
  death whose ``bdSeq`` does not match the live birth is ignored (§7.1, §10).
"""

from __future__ import annotations

from factoryax.ingest.sparkplug.codec import (
    BD_SEQ,
    NAMESPACE,
    REBIRTH,
    SparkplugError,
    SpTopic,
    decode_payload,
    encode_payload,
    metric,
    metric_value,
    parse_topic,
    state_topic,
    topic,
)
from factoryax.ingest.sparkplug.host import HostUpdate, Sample, SparkplugHost, Stale

__all__ = [
    "BD_SEQ",
    "NAMESPACE",
    "REBIRTH",
    "HostUpdate",
    "Sample",
    "SpTopic",
    "SparkplugError",
    "SparkplugHost",
    "Stale",
    "decode_payload",
    "encode_payload",
    "metric",
    "metric_value",
    "parse_topic",
    "state_topic",
    "topic",
]
