"""The running plant: sources → micro-batches → lake → acknowledgements → sinks.

One writer thread owns the lake, the ledger and the sinks (SQLite connections stay on
the thread that opened them). Sources hand deliveries to :meth:`Runtime.deliver` from
their own threads; it blocks while ``max_pending_rows`` wait (back-pressure). A batch
closes at ``batch_rows`` rows or ``batch_ms`` after its first delivery; then, in order:

1. readings, rows of other tables (``states``, ``production``, ``events`` from JSON
   rules with ``kind``, source events), and quarantine rows are appended to the lake
   (fsynced);
2. every delivery of the batch is acknowledged (MQTT PUBACK, WAL commit) — only now;
3. each sink processes the batch's readings; what it returns is appended as well
   (``events`` and other tables through ingest's validation; ``readings`` — derived
   signals such as ``anomaly_score`` that the plant does not declare — straight to the
   lake, which still checks the schema and skips duplicates).

A failed append is retried with backoff and nothing is acknowledged meanwhile; on
:meth:`Runtime.stop` what is queued is written and acknowledged before sources close.
"""

from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO

import pyarrow as pa

from factoryax.config import Workspace
from factoryax.core import ConfigError, FactoryAXError, utc_now
from factoryax.ingest import ingest_rows
from factoryax.ingest.mqtt import MqttSource
from factoryax.ingest.opcua import OpcUaConfig, OpcUaSource
from factoryax.ingest.stream import Delivery, StreamSource, StreamWriter
from factoryax.ingest.validate import quarantine_table
from factoryax.ledger import LEDGER_DIR, Ledger
from factoryax.runtime.config import RuntimeConfig, parse_runtime
from factoryax.runtime.health import (
    LakeHealth,
    RuntimeHealth,
    SinkHealth,
    SourceHealth,
    write_health,
)
from factoryax.runtime.sinks import Sink, default_sinks

__all__ = ["Runtime", "build_sources"]

log = logging.getLogger(__name__)


def build_sources(workspace: Workspace, config: RuntimeConfig) -> list[StreamSource]:
    """One source per ``[sources.<name>]`` table."""
    out: list[StreamSource] = []
    for name, cfg in config.sources.items():
        if isinstance(cfg, OpcUaConfig):
            out.append(OpcUaSource(name, cfg, workspace.root / "runtime" / "wal" / name))
        else:
            state = workspace.root / "runtime" / "sparkplug" / f"{name}.json"
            out.append(MqttSource(name, cfg, workspace.plant, state_file=state))
    return out


@dataclass
class _SinkState:
    sink: Sink
    batches: int = 0
    errors: int = 0
    last_error: str | None = None


@dataclass
class _Counts:
    accepted: int = 0
    quarantined: int = 0
    queued: int = 0
    last_messages: int = 0
    rate: float = 0.0


class Runtime:
    """Runs sources into the lake in-process (``start()``/``stop()``, or ``with``).

    Args:
        workspace: the plant's workspace; health goes to ``<root>/runtime/health.json``.
        config: the runtime settings (default: the plant's ``[sources]`` table).
        sources: sources to run (default: built from ``config``).
        sinks: sinks to run (default: :func:`~factoryax.runtime.sinks.default_sinks`,
            built on the writer thread with the workspace's ledger, if it has one).

    Raises:
        ConfigError: ``[sources]`` does not validate, or another runtime holds the
            workspace (``runtime/run.lock``).
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        config: RuntimeConfig | None = None,
        sources: Sequence[StreamSource] | None = None,
        sinks: Sequence[Sink] | None = None,
    ) -> None:
        self.workspace = workspace
        self.config = config or parse_runtime(workspace.plant.sources)
        self.sources: list[StreamSource] = (
            list(sources) if sources is not None else build_sources(workspace, self.config)
        )
        self._given_sinks = list(sinks) if sinks is not None else None
        self._sinks: list[_SinkState] = []
        self._queue: collections.deque[tuple[float, Delivery]] = collections.deque()
        self._pending_rows = 0
        self.peak_pending_rows_ = 0
        """The most rows ever queued at once (back-pressure keeps it near the limit)."""
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._counts = {s.name: _Counts() for s in self.sources}
        self._batches = 0
        self._rows = 0
        self._last_append_at: str | None = None
        self._started_at = utc_now().isoformat()
        self._lock_file: IO[str] | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._last_health = time.monotonic()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Takes the workspace's runtime lock, starts the writer thread, then the sources."""
        folder = self.workspace.root / "runtime"
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / "run.lock", "a+", encoding="utf-8")  # noqa: SIM115 - held open
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise ConfigError(
                f"another `factoryax run` holds {str(folder / 'run.lock')!r}; stop it first "
                "(one runtime per workspace: sources share their sessions)"
            ) from None
        self._lock_file = lock
        self._thread = threading.Thread(target=self._run, name="runtime-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            self._release()
            raise self._failed
        for source in self.sources:
            source.start(self.deliver)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Writes and acknowledges what is queued, then stops the sources and the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        for source in self.sources:
            source.stop()
        self._write_health()
        self._release()

    def _release(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # ------------------------------------------------------------------ intake

    def deliver(self, delivery: Delivery) -> None:
        """Queues a delivery; blocks while the queue is full (back-pressure).

        After :meth:`stop` began, deliveries are dropped unacknowledged: the broker
        redelivers them, the write-ahead buffer replays them, at the next start.
        """
        with self._cond:
            while self._pending_rows >= self.config.max_pending_rows and not self._stopping:
                self._cond.wait(0.5)
            if self._stopping:
                return
            self._queue.append((time.monotonic(), delivery))
            self._pending_rows += delivery.size
            self.peak_pending_rows_ = max(self.peak_pending_rows_, self._pending_rows)
            counts = self._counts.get(delivery.source)
            if counts is not None:
                counts.queued += delivery.size
            self._cond.notify_all()

    def _take(self) -> list[Delivery]:
        """The next micro-batch (may be empty when nothing arrived for a while)."""
        cfg = self.config
        with self._cond:
            if not self._queue and not self._stopping:
                self._cond.wait(min(cfg.health_interval_s, 0.25))
            if not self._queue:
                return []
            deadline = self._queue[0][0] + cfg.batch_ms / 1000
            while self._pending_rows < cfg.batch_rows and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch: list[Delivery] = []
            rows = 0
            while self._queue and (rows < cfg.batch_rows or not batch):
                _, d = self._queue.popleft()
                batch.append(d)
                rows += d.size
            return batch

    def _done(self, batch: Sequence[Delivery]) -> None:
        with self._cond:
            for d in batch:
                self._pending_rows -= d.size
                counts = self._counts.get(d.source)
                if counts is not None:
                    counts.queued -= d.size
            self._cond.notify_all()

    # ------------------------------------------------------------------ writer

    def _run(self) -> None:
        ledger: Ledger | None = None
        writer: StreamWriter | None = None
        try:
            ws = self.workspace
            if (ws.root / LEDGER_DIR / "ledger.sqlite").is_file():
                ledger = Ledger.for_workspace(ws.root, ws.plant.site.id)
            sinks = (
                self._given_sinks
                if self._given_sinks is not None
                else default_sinks(ws, self.config.sinks, ledger)
            )
            self._sinks = [_SinkState(s) for s in sinks]
            writer = StreamWriter(ws.plant, ws.lake)
        except BaseException as exc:
            self._failed = exc
            if ledger is not None:
                ledger.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(writer, ledger)
        finally:
            writer.close()
            if ledger is not None:
                ledger.close()

    def _loop(self, writer: StreamWriter, ledger: Ledger | None) -> None:
        backoff = 0.1
        batch: list[Delivery] = []
        while True:
            if not batch:
                batch = self._take()
            if batch:
                try:
                    self._write(writer, batch)
                    backoff = 0.1
                    batch = []
                except (FactoryAXError, OSError, pa.ArrowException) as exc:
                    log.error("runtime: lake append failed, retrying: %s", exc)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    if self._stopping and backoff >= 5.0:
                        return  # unacknowledged: redelivered or replayed next start
            if time.monotonic() - self._last_health >= self.config.health_interval_s:
                self._write_health()
                if ledger is not None:
                    try:
                        ledger.maybe_checkpoint()
                    except FactoryAXError as exc:
                        log.warning("runtime: ledger checkpoint failed: %s", exc)
            with self._cond:
                if self._stopping and not self._queue and not batch:
                    return

    def _write(self, writer: StreamWriter, batch: list[Delivery]) -> None:
        result = writer.write(batch)
        for d in batch:  # durable: now, and only now, acknowledge
            if d.ack is not None:
                d.ack()
        self._done(batch)
        for name, n in result.accepted.items():
            if name in self._counts:
                self._counts[name].accepted += n
        for name, n in result.quarantined.items():
            if name in self._counts:
                self._counts[name].quarantined += n
        self._batches += 1
        self._rows += result.readings.num_rows
        self._last_append_at = utc_now().isoformat()
        if result.readings.num_rows == 0:
            return
        for state in self._sinks:
            try:
                out = state.sink.process(result.readings)
                for table, rows in out.items():
                    if rows.num_rows:
                        self._append_sink_rows(state.sink.name, table, rows)
                state.batches += 1
            except Exception as exc:  # a sink's failure must not stop ingestion
                state.errors += 1
                state.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("runtime: sink %s failed", state.sink.name)

    def _append_sink_rows(self, sink: str, table: str, rows: pa.Table) -> None:
        """Appends what a sink returned. Readings are derived signals (``anomaly_score``)
        that the plant does not declare, so they skip the plant check and go straight to
        the lake (schema, atomicity and idempotence still apply; a key stored with another
        value is quarantined); other tables take the normal ingest path."""
        ws = self.workspace
        source = f"sink {sink}"
        if table != "readings":
            ingest_rows(table, rows, plant=ws.plant, lake=ws.lake, source=source)
            return
        result = ws.lake.append("readings", rows)
        if result.conflicts is not None and result.conflicts.num_rows:
            items = [
                (
                    f"{r['asset']}.{r['signal']} at {r['ts'].isoformat()}",
                    "value",
                    f"{sink} computed {r['value']!r} but another value is stored (kept)",
                    json.dumps(r, default=str),
                )
                for r in result.conflicts.drop_columns(["site"]).to_pylist()
            ]
            ws.lake.append(
                "quarantine", quarantine_table(ws.plant.site.id, source, utc_now(), items)
            )

    # ------------------------------------------------------------------ health

    def health(self) -> RuntimeHealth:
        """The current health (what :meth:`_write_health` stores)."""
        now = time.time()
        with self._cond:
            oldest: dict[str, float] = {}
            for _, d in self._queue:
                oldest.setdefault(d.source, d.received_at)
        sources = []
        for s in self.sources:
            c = self._counts.get(s.name, _Counts())
            st = s.stats
            last = st.last_message_at.isoformat() if st.last_message_at else None
            lag = max(0.0, now - oldest[s.name]) if s.name in oldest else 0.0
            sources.append(
                SourceHealth(
                    name=s.name,
                    kind=s.kind,
                    state=st.state,
                    rate_per_s=round(c.rate, 3),
                    lag_s=round(lag, 3),
                    last_message_at=last,
                    reconnects=st.reconnects,
                    accepted=c.accepted,
                    quarantined=c.quarantined,
                    buffered=c.queued + st.buffered,
                )
            )
        return RuntimeHealth(
            updated_at=utc_now().isoformat(),
            pid=os.getpid(),
            started_at=self._started_at,
            sources=sources,
            lake=LakeHealth(self._batches, self._rows, self._last_append_at),
            sinks=[SinkHealth(s.sink.name, s.batches, s.errors, s.last_error) for s in self._sinks],
        )

    def _write_health(self) -> None:
        now = time.monotonic()
        span = max(now - self._last_health, 1e-3)
        self._last_health = now
        for s in self.sources:
            c = self._counts.setdefault(s.name, _Counts())
            c.rate = (s.stats.messages - c.last_messages) / span
            c.last_messages = s.stats.messages
        try:
            write_health(self.workspace.root, self.health())
        except OSError as exc:
            log.warning("runtime: cannot write health: %s", exc)
