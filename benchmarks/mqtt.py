"""MQTT benchmark: end-to-end publish → durable in the lake, beside a bare paho subscriber.

Both runs use the same Mosquitto (started here on a free loopback port, unlimited
queues), the same publisher (paho, QoS 1, as fast as it can) and the same messages (one
asset snapshot of ``--signals`` readings each, JSON as the twin's live mode sends):

- baseline: a bare paho subscriber (MQTT 5, QoS 1, automatic acknowledgement) that only
  counts messages;
- end to end: ``factoryax.runtime.Runtime`` with an ``mqtt-json`` source: parse, map,
  validate, append to the lake (fsync), then acknowledge (manual PUBACK).

Prints messages/s and readings/s of each, their ratio (target >= 0.7), zero loss
(every reading stored once) and the p50/p99 latency from publish to durable (each
reading's timestamp is its publish instant; a sink called after the append and the
acknowledgement measures the age). Runs are interleaved; medians are reported.

Usage: python benchmarks/mqtt.py [--messages 20000] [--signals 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from multiprocessing import Queue
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pyarrow as pa
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.runtime import Runtime, parse_runtime

SIGNALS = ["vibration_rms", "motor_current", "hydraulic_pressure", "oil_temp", "power"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        "max_inflight_messages 0\n",
        encoding="utf-8",
    )
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.02)
    raise RuntimeError("mosquitto did not start")


def _publish_proc(
    port: int, n: int, signals: int, topic: str, rate: float, out: Queue[float]
) -> None:
    """Child process: publishes n messages (QoS 1), as fast as paho can or at ``rate``/s;
    each reading's timestamp is its publish instant (unique, increasing)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.monotonic_ns()}")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    names = SIGNALS[:signals]
    start = time.time()
    last_us = 0
    infos = []
    for i in range(n):
        if rate > 0:
            wait = start + i / rate - time.time()
            if wait > 0:
                time.sleep(wait)
        us = max(int(time.time() * 1e6), last_us + 1)
        last_us = us
        ts = dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat()
        doc = {"ts": ts, "values": {s: 20.0 + (i % 20) for s in names}}  # in every range
        infos.append(client.publish(topic, json.dumps(doc), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()
    out.put(start)


def _publish(port: int, n: int, signals: int, topic: str, rate: float = 0.0) -> float:
    """Publishes from a separate process (as a real edge device would: the publisher does
    not share our interpreter); returns the instant the first message went out."""
    ctx = multiprocessing.get_context("fork")
    out: Queue[float] = ctx.Queue()
    proc = ctx.Process(target=_publish_proc, args=(port, n, signals, topic, rate, out))
    proc.start()
    start = out.get(timeout=600)
    proc.join()
    return start


def baseline(port: int, n: int, signals: int) -> float:
    """Seconds from the first publish until a bare paho subscriber got all n messages."""
    got = 0
    done = threading.Event()

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        nonlocal got
        got += 1
        if got == n:
            done.set()

    sub = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-sub-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5,
    )
    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = 65535
    sub.connect("127.0.0.1", port, properties=props)
    sub.subscribe("bench/#", qos=1)
    sub.loop_start()
    subscribed.wait(30)
    start = _publish(port, n, signals, "bench/s/line-1/press-01/readings")
    if not done.wait(300):
        raise RuntimeError(f"bare subscriber got {got:,} of {n:,} messages")
    end = time.time()
    sub.loop_stop()
    sub.disconnect()
    return end - start


class _Latency:
    """A sink that records, per durable reading, now − its timestamp (= publish instant)."""

    name = "latency"

    def __init__(self) -> None:
        self.ages: list[np.ndarray] = []
        self.rows = 0
        self.last_at = 0.0

    def process(self, readings: pa.Table) -> dict[str, pa.Table]:
        now_us = time.time() * 1e6
        ts = readings.column("ts").cast(pa.int64()).to_numpy()
        self.ages.append((now_us - ts) / 1e3)
        self.rows += readings.num_rows
        self.last_at = time.time()
        return {}


def end_to_end(
    port: int,
    n: int,
    signals: int,
    folder: Path,
    batch_rows: int,
    batch_ms: float,
    rate: float = 0.0,
) -> tuple[float, np.ndarray, int]:
    """Seconds from first publish until all n messages are durable; latencies (ms); rows."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace(folder)
    config = parse_runtime(
        {
            "batch_rows": batch_rows,
            "batch_ms": batch_ms,
            "bench": {
                "kind": "mqtt-json",
                "port": port,
                "client_id": f"bench-rt-{time.monotonic_ns()}",
                "rules": [{"topic": "e2e/+/+/{asset}/readings"}],
            },
        }
    )
    sink = _Latency()
    runtime = Runtime(ws, config=config, sinks=[sink])
    runtime.start()
    while runtime.sources[0].stats.state != "connected":
        time.sleep(0.02)
    start = _publish(port, n, signals, "e2e/s/line-1/press-01/readings", rate)
    expected = n * signals
    deadline = time.time() + 600
    while sink.rows < expected and time.time() < deadline:
        time.sleep(0.01)
    if sink.rows < expected:
        print(f"end to end: only {sink.rows:,} of {expected:,} readings became durable")
    elapsed = sink.last_at - start
    runtime.stop()
    stored = ws.lake.query("SELECT count(DISTINCT (signal, ts)) AS n FROM readings").column(0)
    return elapsed, np.concatenate(sink.ages), int(stored[0].as_py())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--signals", type=int, default=5, choices=range(1, 6))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--batch-ms", type=float, default=100.0)
    parser.add_argument(
        "--latency-rate", type=float, default=1000.0, help="msg/s of the paced latency run"
    )
    args = parser.parse_args()
    n, k = args.messages, args.signals
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = _broker(Path(tmp))
        try:
            base, e2e, lat, lost = [], [], [], []
            for r in range(args.repeat):
                base.append(baseline(port, n, k))
                secs, ages, stored = end_to_end(
                    port, n, k, Path(tmp) / f"ws{r}", args.batch_rows, args.batch_ms
                )
                e2e.append(secs)
                lat.append(ages)
                lost.append(n * k - stored)
                print(
                    f"run {r + 1}: bare paho {n / base[-1]:,.0f} msg/s, end to end "
                    f"{n / secs:,.0f} msg/s, stored {stored:,}/{n * k:,}"
                )
            paced_n = int(min(n, args.latency_rate * 10))
            _, paced, paced_stored = end_to_end(
                port, paced_n, k, Path(tmp) / "paced", args.batch_rows, args.batch_ms,
                args.latency_rate,
            )  # fmt: skip
            lost.append(paced_n * k - paced_stored)
        finally:
            proc.terminate()
            proc.wait()
    b, e = statistics.median(base), statistics.median(e2e)
    ages = np.concatenate(lat)
    print(f"median of {args.repeat} interleaved runs, {n:,} messages x {k} readings")
    print(f"bare paho subscriber : {n / b:,.0f} msg/s ({n * k / b:,.0f} readings/s)")
    print(f"end to end (durable) : {n / e:,.0f} msg/s ({n * k / e:,.0f} readings/s)")
    print(f"ratio                : {b / e:.2f} (target >= 0.7)")
    print(f"lost readings        : {sum(lost)} (every reading stored once: {sum(lost) == 0})")
    print(
        f"publish → durable, flat out : p50 {np.percentile(ages, 50):,.0f} ms, "
        f"p99 {np.percentile(ages, 99):,.0f} ms (queueing included)"
    )
    print(
        f"publish → durable at {args.latency_rate:,.0f} msg/s: p50 "
        f"{np.percentile(paced, 50):,.0f} ms, p99 {np.percentile(paced, 99):,.0f} ms "
        f"(batch_ms {args.batch_ms:g})"
    )


if __name__ == "__main__":
    main()
