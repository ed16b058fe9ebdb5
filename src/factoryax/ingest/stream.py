"""The streaming port: what a live source hands over, and how a batch of it lands.

A source (MQTT, OPC UA) turns what it receives into :class:`Delivery` objects — readings
in columns, rejected input with its reason, extra ``events`` rows, and an ``ack`` to call
once the delivery is durable — and passes them to a ``deliver`` callback, which may block
(that is the back-pressure: a full runtime queue slows the source down, memory stays
bounded). :class:`StreamWriter` lands a micro-batch of deliveries in the lake through the
same validation as files: bad readings go to quarantine with their reason, duplicates
(a redelivery after a crash) are skipped by the lake's idempotence.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pyarrow as pa

from factoryax.core import PlantModel, utc_now
from factoryax.ingest.layout import Layout
from factoryax.ingest.pipeline import IngestReport, append_validated, quarantine_rows
from factoryax.ingest.rows import ingest_rows
from factoryax.ingest.validate import ReadingValidator, quarantine_table
from factoryax.lake import Lake, new_ingest_id, table_spec

__all__ = [
    "Deliver",
    "Delivery",
    "SourceKind",
    "SourceState",
    "SourceStats",
    "StreamSource",
    "StreamWriter",
    "WriteResult",
]

SourceKind = Literal["mqtt-json", "sparkplug", "opcua"]
SourceState = Literal["connecting", "connected", "reconnecting", "stopped"]
Reject = tuple[str, str | None, str, str]
"""(position, field, reason, raw) of input that cannot become a reading."""


@dataclass
class Delivery:
    """Readings (as columns) and rejects from one or more messages of one source."""

    source: str
    ts: list[dt.datetime] = field(default_factory=list)
    asset: list[str] = field(default_factory=list)
    signal: list[str] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    """The source's message number of each reading (shown in quarantine as 'message N')."""
    rejects: list[Reject] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    """Rows for other lake tables (``states``, ``production``, ``events``) by table,
    each with ``_where`` (the message it came from, shown in quarantine)."""
    ack: Callable[[], None] | None = None
    """Called once the delivery is durable in the lake (MQTT PUBACK, WAL commit)."""
    received_at: float = 0.0
    """Wall time (``time.time()``) the newest message arrived, for lag."""

    def add(self, ts: dt.datetime, asset: str, signal: str, value: float | None, pos: int) -> None:
        """Appends one reading."""
        self.ts.append(ts)
        self.asset.append(asset)
        self.signal.append(signal)
        self.value.append(value)
        self.position.append(pos)

    def add_row(self, table: str, row: dict[str, object], where: str) -> None:
        """Appends one row for ``table`` (its input columns) from the message ``where``."""
        self.rows.setdefault(table, []).append({**row, "_where": where})

    @property
    def size(self) -> int:
        """Rows of every kind plus rejects: what batch size and back-pressure count."""
        tables = sum(len(r) for r in self.rows.values())
        return len(self.ts) + len(self.rejects) + len(self.events) + tables


Deliver = Callable[[Delivery], None]


@dataclass
class SourceStats:
    """Counters a source keeps for health (read from other threads; ints are atomic)."""

    state: SourceState = "connecting"
    messages: int = 0
    readings: int = 0
    rejected: int = 0
    reconnects: int = 0
    buffered: int = 0
    last_message_at: dt.datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class StreamSource(Protocol):
    """A live source; adapters carry their technology in the name (``MqttSource``)."""

    name: str
    kind: SourceKind
    stats: SourceStats

    def start(self, deliver: Deliver) -> None:
        """Connects and starts handing deliveries to ``deliver`` (from its own thread)."""
        ...

    def stop(self) -> None:
        """Disconnects; unacknowledged input is redelivered (or replayed) next start."""
        ...


@dataclass
class WriteResult:
    """What one micro-batch did: durable readings (for sinks) and counts per source."""

    readings: pa.Table
    """The batch's validated readings (including ones the lake already held)."""
    accepted: dict[str, int]
    """New rows stored per source, readings and other tables together."""
    quarantined: dict[str, int]
    duplicates: int
    tables: dict[str, int] = field(default_factory=dict)
    """New rows stored per table other than readings (``states``, ``production`` …)."""


class StreamWriter:
    """Validates and appends micro-batches of deliveries (one writer thread).

    Args:
        plant: the plant model readings must fit.
        lake: where they land.
    """

    def __init__(self, plant: PlantModel, lake: Lake) -> None:
        self.plant = plant
        self.lake = lake
        self._validators: dict[str, ReadingValidator] = {}

    def close(self) -> None:
        """Releases the validators."""
        for v in self._validators.values():
            v.close()
        self._validators.clear()

    def write(
        self, deliveries: Sequence[Delivery], *, now: dt.datetime | None = None
    ) -> WriteResult:
        """Lands deliveries: readings, rejects to quarantine, events; returns the readings."""
        now = now or utc_now()
        by_source: dict[str, list[Delivery]] = {}
        for d in deliveries:
            by_source.setdefault(d.source, []).append(d)
        accepted: dict[str, int] = {}
        quarantined: dict[str, int] = {}
        duplicates = 0
        stored: dict[str, int] = {}
        tables: list[pa.Table] = []
        for source, group in by_source.items():
            report = IngestReport(source=source, ingest_id=new_ingest_id(), layout="rows")
            n = sum(len(d.ts) for d in group)
            if n:
                raw = pa.table(
                    {
                        "ts": pa.array(
                            [t for d in group for t in d.ts], pa.timestamp("us", tz="UTC")
                        ),
                        "asset": pa.array([a for d in group for a in d.asset], pa.string()),
                        "signal": pa.array([s for d in group for s in d.signal], pa.string()),
                        "value": pa.array([v for d in group for v in d.value], pa.float64()),
                        "_pos": pa.array(
                            np.fromiter((p for d in group for p in d.position), np.int64, n)
                        ),
                    }
                )
                validator = self._validators.get(source)
                if validator is None:
                    validator = ReadingValidator(
                        self.plant, source=source, position_label="message"
                    )
                    self._validators[source] = validator
                roles = {"asset": "asset", "signal": "signal", "value": "value"}
                result = validator.validate(raw, Layout("long", "ts", roles), now=now)
                append_validated(self.lake, result, report, ingest_id=report.ingest_id, now=now)
                tables.append(result.accepted.drop_columns(["_pos"]))
            rejects = [r for d in group for r in d.rejects]
            if rejects:
                quarantine_rows(
                    self.lake, quarantine_table(self.plant.site.id, source, now, rejects), report
                )
            other = 0
            for table, rows in _table_rows(group).items():
                done = ingest_rows(
                    table,
                    pa.Table.from_pylist(rows, schema=_row_schema(table, rows)),
                    plant=self.plant,
                    lake=self.lake,
                    source=source,
                )
                report.quarantined += done.quarantined
                other += done.readings_accepted
                duplicates += done.duplicates_skipped
                stored[table] = stored.get(table, 0) + done.readings_accepted
            accepted[source] = report.readings_accepted + other
            quarantined[source] = report.quarantined
            duplicates += report.duplicates_skipped
        readings = (
            pa.concat_tables(tables, promote_options="permissive")
            if tables
            else pa.table({"ts": pa.array([], pa.timestamp("us", tz="UTC"))})
        )
        return WriteResult(readings, accepted, quarantined, duplicates, stored)


def _table_rows(group: Sequence[Delivery]) -> dict[str, list[dict[str, object]]]:
    """Rows for tables other than readings, by table, in arrival order (a source's own
    events — Sparkplug notices, stale marks — join the ``events`` rows of its rules)."""
    out: dict[str, list[dict[str, object]]] = {}
    for d in group:
        if d.events:
            out.setdefault("events", []).extend(d.events)
        for table, rows in d.rows.items():
            out.setdefault(table, []).extend(rows)
    return out


def _row_schema(table: str, rows: Sequence[dict[str, object]]) -> pa.Schema:
    """The ``table`` input columns the rows use, names as plain strings (an all-null
    column would otherwise be inferred as type null), and ``_where`` when present."""
    used = {k for e in rows for k in e}
    fields = []
    for f in table_spec(table).input_schema:
        if f.name in used:
            kind = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
            fields.append(pa.field(f.name, kind))
    if "_where" in used:
        fields.append(pa.field("_where", pa.string()))
    return pa.schema(fields)
