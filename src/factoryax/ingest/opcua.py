"""OPC UA source (asyncua): subscribe, map node ids to signals, survive server restarts.

- **Subscribe** with a sampling and a publishing interval, optionally a deadband
  (absolute, or percent of the EU range: OPC UA Part 4 §7.22.2 DataChangeFilter); every
  notification keeps the server's *source* timestamp.
- **Mapping**: ``nodes = {"ns=2;i=7" = "press-01.oil_temp"}``, and/or ``browse`` a folder
  whose child objects are assets and whose variables are their signals (the twin's
  server is laid out that way).
- **Reconnect**: the connection is probed every ``probe_s``; when it fails the client
  backs off (doubling up to ``reconnect_max_s``), reconnects and creates the subscription
  again — after a server restart the old subscription is gone, and re-subscribing is the
  step clients forget.
- **Nothing lost**: OPC UA cannot redeliver, so every notification is first written to a
  :class:`~factoryax.ingest.wal.WriteAheadBuffer` (fsynced, group commit every
  ``flush_ms``) and only then handed to the runtime; the buffer is committed once the
  batch is in the lake, and replayed on the next start.
- **Security**: ``security_policy`` (None, Basic256Sha256, Aes128_Sha256_RsaOaep,
  Aes256_Sha256_RsaPss) with ``security_mode`` Sign or SignAndEncrypt, our certificate
  and key, the server certificate; optional user name and password.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from factoryax.core import utc_now
from factoryax.ingest.stream import Deliver, Delivery, SourceKind, SourceStats
from factoryax.ingest.wal import WalRecord, WriteAheadBuffer

__all__ = ["OpcUaConfig", "OpcUaSource"]

log = logging.getLogger(__name__)


class OpcUaConfig(BaseModel):
    """``[sources.<name>]`` with ``kind = "opcua"``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["opcua"] = "opcua"
    endpoint: str = "opc.tcp://127.0.0.1:4840"
    nodes: dict[str, str] = Field(default_factory=dict)
    """Node id → ``asset.signal``."""
    browse: str | None = None
    """Node id of a folder: its objects are assets, their variables signals."""
    sampling_interval_ms: float = Field(100.0, ge=0)
    publishing_interval_ms: float = Field(100.0, gt=0)
    queue_size: int = Field(100, ge=1)
    """Samples the server keeps per item between publishes (so none is overwritten)."""
    trigger: Literal["status_value", "status_value_timestamp"] = "status_value_timestamp"
    """What counts as a change: by default a new source timestamp does too, so a sensor
    that reads the same value twice gives two readings (OPC UA Part 4 §7.22.2)."""
    deadband: float = Field(0.0, ge=0)
    deadband_kind: Literal["absolute", "percent"] = "absolute"
    security_policy: Literal[
        "None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"
    ] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None
    application_uri: str = "urn:factoryax:client"
    """Our application URI; it must match the URI in ``certificate``."""
    username: str | None = None
    password: str | None = None
    probe_s: float = Field(1.0, gt=0)
    timeout_s: float = Field(4.0, gt=0)
    reconnect_max_s: float = Field(5.0, gt=0)
    flush_ms: float = Field(20.0, gt=0)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not value.startswith("opc.tcp://"):
            raise ValueError(f"endpoint {value!r} must start with opc.tcp://")
        return value

    @field_validator("nodes")
    @classmethod
    def _targets(cls, nodes: dict[str, str]) -> dict[str, str]:
        for node, target in nodes.items():
            if target.count(".") < 1:
                raise ValueError(
                    f"nodes[{node!r}] = {target!r} is not 'asset.signal'; write e.g. "
                    "'press-01.oil_temp'"
                )
        return nodes

    @model_validator(mode="after")
    def _complete(self) -> OpcUaConfig:
        if not self.nodes and self.browse is None:
            raise ValueError("no nodes to read: set `nodes` (node id = 'asset.signal') or `browse`")
        secure = self.security_policy != "None"
        if secure != (self.security_mode != "None"):
            raise ValueError(
                f"security_policy {self.security_policy!r} needs a matching security_mode "
                "(Sign or SignAndEncrypt with a policy, None without)"
            )
        if secure and (self.certificate is None or self.private_key is None):
            raise ValueError(
                f"security_policy {self.security_policy!r} needs `certificate` and `private_key`"
            )
        return self


class OpcUaSource:
    """Subscribes to an OPC UA server and feeds the runtime through a write-ahead buffer.

    Args:
        name: the source's name (``[sources.<name>]``).
        config: the validated config.
        wal_folder: where this source's write-ahead buffer lives.
    """

    kind: SourceKind = "opcua"

    def __init__(self, name: str, config: OpcUaConfig, wal_folder: Path) -> None:
        self.name = name
        self.config = config
        self.stats = SourceStats()
        self.wal = WriteAheadBuffer(wal_folder)
        self.mapping_: dict[str, tuple[str, str]] = {}
        self._pending: list[WalRecord] = []
        self._rejects: list[tuple[str, str | None, str, str]] = []
        self._deliver: Deliver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._n = 0
        self._connected_once = False

    # ------------------------------------------------------------------ lifecycle

    def start(self, deliver: Deliver) -> None:
        """Replays the buffer's uncommitted samples, then connects in a background thread."""
        self._deliver = deliver
        pending = self.wal.pending()
        if pending:
            d = Delivery(source=self.name, received_at=time.time())
            for seq, asset, signal, value, ts in pending:
                d.add(ts, asset, signal, value, seq)
            d.ack = self._committer(pending[-1][0])
            deliver(d)
        self.stats.buffered = self.wal.backlog
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._stop = asyncio.Event()
            ready.set()
            try:
                loop.run_until_complete(self._main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"opcua-{self.name}", daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        """Disconnects; samples buffered but not committed are replayed next start."""
        self.stats.state = "stopped"
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def _committer(self, seq: int) -> Callable[[], None]:
        def commit() -> None:
            self.wal.commit(seq)
            self.stats.buffered = self.wal.backlog

        return commit

    # ------------------------------------------------------------------ main loop

    async def _main(self) -> None:
        assert self._stop is not None
        backoff = 0.25
        flusher = asyncio.create_task(self._flush_loop())
        try:
            while not self._stop.is_set():
                self.stats.state = "reconnecting" if self._connected_once else "connecting"
                try:
                    await self._session()
                    backoff = 0.25
                except (TimeoutError, OSError, UaError, ConnectionError) as exc:
                    log.warning("source %s: %s: %s", self.name, type(exc).__name__, exc)
                if self._stop.is_set():
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, self.config.reconnect_max_s)
        finally:
            flusher.cancel()
            await self._flush()
            self.stats.state = "stopped"

    async def _session(self) -> None:
        """One connection: connect, subscribe, probe until it fails or we stop."""
        cfg = self.config
        assert self._stop is not None
        client = Client(cfg.endpoint, timeout=cfg.timeout_s)
        if cfg.username is not None:
            client.set_user(cfg.username)
            client.set_password(cfg.password or "")
        client.application_uri = cfg.application_uri
        if cfg.security_policy != "None":
            assert cfg.certificate is not None
            assert cfg.private_key is not None
            await client.set_security_string(
                ",".join(
                    [
                        cfg.security_policy,
                        cfg.security_mode,
                        str(cfg.certificate),
                        str(cfg.private_key),
                        *([str(cfg.server_certificate)] if cfg.server_certificate else []),
                    ]
                )
            )
        await client.connect()
        try:
            mapping = await self._resolve(client)
            self.mapping_ = {str(k): v for k, v in mapping.items()}
            handler = _Handler(self)
            sub = await client.create_subscription(cfg.publishing_interval_ms, handler)
            await sub.create_monitored_items(self._requests(mapping))
            if self._connected_once:
                self.stats.reconnects += 1
            self._connected_once = True
            self.stats.state = "connected"
            probe = client.get_node(ObjectIds.Server_ServerStatus_State)
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=cfg.probe_s)
                except TimeoutError:
                    await asyncio.wait_for(probe.read_value(), timeout=cfg.timeout_s)
        finally:
            # the connection may already be gone; there is nothing left to close then
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), timeout=1.0)

    async def _resolve(self, client: Client) -> dict[ua.NodeId, tuple[str, str]]:
        cfg = self.config
        out: dict[ua.NodeId, tuple[str, str]] = {}
        if cfg.browse is not None:
            folder = client.get_node(cfg.browse)
            for obj in await folder.get_children(nodeclassmask=ua.NodeClass.Object):
                asset = str((await obj.read_browse_name()).Name)
                for var in await obj.get_children(nodeclassmask=ua.NodeClass.Variable):
                    out[var.nodeid] = (asset, str((await var.read_browse_name()).Name))
        for node_id, target in cfg.nodes.items():
            asset, _, signal = target.partition(".")
            out[ua.NodeId.from_string(node_id)] = (asset, signal)
        return out

    def _requests(
        self, mapping: dict[ua.NodeId, tuple[str, str]]
    ) -> list[ua.MonitoredItemCreateRequest]:
        cfg = self.config
        requests = []
        for handle, node_id in enumerate(mapping, start=1):
            params = ua.MonitoringParameters()
            params.ClientHandle = handle
            params.SamplingInterval = cfg.sampling_interval_ms
            params.QueueSize = cfg.queue_size
            params.DiscardOldest = True
            f = ua.DataChangeFilter()
            f.Trigger = (
                ua.DataChangeTrigger.StatusValueTimestamp
                if cfg.trigger == "status_value_timestamp"
                else ua.DataChangeTrigger.StatusValue
            )
            if cfg.deadband > 0:
                f.DeadbandType = 1 if cfg.deadband_kind == "absolute" else 2
                f.DeadbandValue = cfg.deadband
            params.Filter = f
            item = ua.ReadValueId()
            item.NodeId = node_id
            item.AttributeId = AttributeIds.Value
            req = ua.MonitoredItemCreateRequest()
            req.ItemToMonitor = item
            req.MonitoringMode = ua.MonitoringMode.Reporting
            req.RequestedParameters = params
            requests.append(req)
        return requests

    # ------------------------------------------------------------------ samples

    def _on_change(self, node: Node, value: Any, data: Any) -> None:
        target = self.mapping_.get(str(node.nodeid))
        dv = data.monitored_item.Value
        ts = dv.SourceTimestamp or dv.ServerTimestamp
        self._n += 1
        now = utc_now()
        self.stats.messages += 1
        self.stats.last_message_at = now
        where = f"{node.nodeid.to_string()} notification {self._n}"
        if target is None:
            self._rejects.append((where, None, "node is not mapped to a signal", repr(value)))
            return
        if dv.StatusCode is not None and not dv.StatusCode.is_good():
            self._rejects.append(
                (where, "value", f"{target[0]}.{target[1]}: status {dv.StatusCode.name}",
                 repr(value))
            )  # fmt: skip
            return
        if ts is None:
            ts = now
        elif ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        number: float | None
        if isinstance(value, bool):
            number = 1.0 if value else 0.0
        elif isinstance(value, int | float):
            number = float(value)
        else:
            self._rejects.append(
                (where, "value", f"{target[0]}.{target[1]} = {value!r} is not a number",
                 repr(value))
            )  # fmt: skip
            return
        self._pending.append((ts, target[0], target[1], number))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_ms / 1000)
            await self._flush()

    async def _flush(self) -> None:
        records, self._pending = self._pending, []
        rejects, self._rejects = self._rejects, []
        if not records and not rejects:
            return
        loop = asyncio.get_running_loop()
        last = await loop.run_in_executor(None, self.wal.append, records)  # fsync off-loop
        first = last - len(records) + 1
        d = Delivery(source=self.name, received_at=time.time(), rejects=rejects)
        for i, (ts, asset, signal, value) in enumerate(records):
            d.add(ts, asset, signal, value, first + i)
        if records:
            d.ack = self._committer(last)
        self.stats.readings += len(records)
        self.stats.rejected += len(rejects)
        self.stats.buffered = self.wal.backlog
        assert self._deliver is not None
        await loop.run_in_executor(None, self._deliver, d)  # may block: back-pressure


class _Handler:
    """asyncua's subscription callback: runs on the source's event loop thread."""

    def __init__(self, source: OpcUaSource) -> None:
        self.source = source

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self.source._on_change(node, val, data)

    def status_change_notification(self, status: Any) -> None:
        log.info("source %s: subscription status %s", self.source.name, status)
