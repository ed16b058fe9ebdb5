"""End to end: the twin's live JSON feed, through `factoryax run`, gives the same OEE as
the same run written to the lake in one batch.

Both paths use real components: a Mosquitto on a free loopback port, the twin's
publisher (the one `factoryax twin live --protocol json` uses), the runtime's MQTT
source and writer, and the KPI engine over each lake.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from factoryax.analytics import Period, compute_kpis
from factoryax.analytics.kpi import KpiTable
from factoryax.config import Workspace
from factoryax.lake import Lake
from factoryax.runtime import Runtime, parse_runtime
from factoryax.twin import (
    LiveConfig,
    MqttJsonPublisher,
    TwinConfig,
    TwinResult,
    replay,
    simulate,
    write_to_lake,
)
from factoryax.twin.live import json_source
from tests.runtime.brokers import Mosquitto

SEOUL = ZoneInfo("Asia/Seoul")
TABLES = ("states", "production", "events")


def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _count(lake: Lake, table: str) -> int:
    return int(lake.query(f"SELECT count(*) FROM {table}").column(0)[0].as_py())


def _holds(lake: Lake, table: str, n: int) -> Callable[[], bool]:
    return lambda: _count(lake, table) >= n


def _rows(lake: Lake, table: str) -> list[dict[str, object]]:
    """Every stored row, without the batch id (which differs by construction)."""
    order = "start, asset" if table == "states" else "ts, asset"
    rows: list[dict[str, object]] = lake.query(
        f"SELECT * EXCLUDE (ingest_id) FROM {table} ORDER BY {order}"
    ).to_pylist()
    return rows


def _kpis(ws: Workspace, lake: Lake, run: TwinResult) -> KpiTable:
    day = run.start.astimezone(SEOUL).date().isoformat()
    return compute_kpis(lake, ws.plant, Period.parse(day), by=("asset",), until=run.end)


def _assert_same_kpis(live: KpiTable, batch: KpiTable) -> None:
    assert [r.key for r in live.rows] == [r.key for r in batch.rows]
    for a, b in zip(live.rows, batch.rows, strict=True):
        assert (a.availability, a.effectiveness, a.quality_ratio, a.oee) == (
            b.availability,
            b.effectiveness,
            b.quality_ratio,
            b.oee,
        ), a.key
    assert live.base == batch.base  # every time element and count, not just the ratios
    # the run is not trivial: machines ran, parts were made, some time was lost
    oee = [r.oee for r in batch.rows if r.oee is not None]
    assert oee and max(oee) > 0
    assert any((r.availability or 0) < 1 for r in batch.rows)
    assert sum(r.pq for r in batch.rows) > 0


def test_twin_live_json_through_the_runtime_gives_the_batch_kpis(
    workspace: Workspace, broker: Mosquitto, tmp_path: Path
) -> None:
    """A replayed run lands in states/production/events exactly as the batch write
    stores it, and availability, performance, quality and OEE per asset are equal."""
    plant = workspace.plant
    run = simulate(
        plant,
        start=dt.datetime(2026, 11, 16, 8, tzinfo=SEOUL),
        horizon=dt.timedelta(hours=3),
        seed=11,
        sample_s=600,
    )
    batch = Lake(tmp_path / "batch", timezone="Asia/Seoul")
    report = write_to_lake(run, plant, batch)
    assert all(report.quarantined[t] == 0 for t in TABLES)
    source = json_source(port=broker.port)
    runtime = Runtime(workspace, config=parse_runtime({"sinks": [], "twin": source}))
    runtime.start()
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the source to connect")
        publisher = MqttJsonPublisher(LiveConfig(port=broker.port, qos=1))
        try:
            sent = replay(run, publisher, speed=None)
        finally:
            publisher.close()  # waits for every PUBACK
        assert sent > 0
        lake = workspace.lake
        for table in TABLES:
            want = run.lake_tables()[table].num_rows
            _wait(_holds(lake, table, want), f"all {table}")
    finally:
        runtime.stop()
    for table in TABLES:
        assert _rows(lake, table) == _rows(batch, table), table
    assert _count(lake, "quarantine") == 0
    _assert_same_kpis(_kpis(workspace, lake, run), _kpis(workspace, batch, run))


def test_factoryax_twin_live_and_run_from_plant_toml_feed_oee(
    workspace: Workspace, broker: Mosquitto, tmp_path: Path
) -> None:
    """The commands a user runs: `[sources]` written in plant.toml as docs/streaming.md
    shows, `factoryax twin live --protocol json` in its own process; the live lake then
    holds the run's states and parts, and its KPIs equal the batch write of the same run
    (same seed and horizon; the start, "now" in the CLI, read back from the intervals)."""
    text = (workspace.root / "plant.toml").read_text("utf-8")
    assert "# sample_s = 1.0" in text
    text = text.replace("# sample_s = 1.0", "sample_s = 60.0")  # fewer readings, same OEE
    text += '\n[sources]\nbatch_ms = 100\nsinks = []\n\n[sources.twin]\nkind = "mqtt-json"\n'
    text += f"port = {broker.port}\n"
    for rule in json_source()["rules"]:
        text += "\n[[sources.twin.rules]]\n" + "".join(f'{k} = "{v}"\n' for k, v in rule.items())
    (workspace.root / "plant.toml").write_text(text, encoding="utf-8")
    ws = Workspace(workspace.root)
    assert tomllib.loads(text)["sources"]["twin"]["rules"][1] == {
        "topic": "factoryax/+/+/{asset}/state",
        "kind": "states",
    }
    hours, seed = 1.5, 5
    runtime = Runtime(ws)  # the config comes from plant.toml
    runtime.start()
    try:
        _wait(lambda: runtime.sources[0].stats.state == "connected", "the source to connect")
        cmd = [sys.executable, "-m", "factoryax", "twin", "live", "--workspace", str(ws.root),
               "--protocol", "json", "--hours", str(hours), "--speed", "1000000",
               "--seed", str(seed), "--port", str(broker.port)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        found = re.search(r"published ([\d,]+) messages", done.stdout)
        assert found is not None, done.stdout
        sent = int(found.group(1).replace(",", ""))
        _wait(lambda: runtime.sources[0].stats.messages >= sent, "every message")
    finally:
        runtime.stop()  # writes and acknowledges what is queued
    lake = ws.lake
    assert _count(lake, "states") > 0
    start = lake.query("SELECT min(start) FROM states").column(0)[0].as_py()
    run = simulate(
        ws.plant,
        start=start,
        horizon=dt.timedelta(hours=hours),
        seed=seed,
        config=TwinConfig.from_plant(ws.plant),
    )
    batch = Lake(tmp_path / "batch", timezone="Asia/Seoul")
    write_to_lake(run, ws.plant, batch)
    for table in ("states", "production"):
        # no `> 0` for parts: "now" may fall on a break or a weekend (the first test
        # covers a fixed working morning)
        assert _count(lake, table) == run.lake_tables()[table].num_rows, table
        assert _rows(lake, table) == _rows(batch, table), table
    live_kpis, batch_kpis = _kpis(ws, lake, run), _kpis(ws, batch, run)
    assert [r.oee for r in live_kpis.rows] == [r.oee for r in batch_kpis.rows]
    assert live_kpis.base == batch_kpis.base
