"""Writing runs to the lake, the CLI, and live publishing to a real MQTT broker."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import threading
import uuid
from importlib import resources
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from factoryax.cli.twin import app
from factoryax.core import PlantModel
from factoryax.lake import Lake
from factoryax.twin import (
    LiveConfig,
    MqttJsonPublisher,
    TwinResult,
    replay,
    simulate,
    write_to_lake,
)
from factoryax.twin.live import messages

from .conftest import SEOUL

BROKER = ("127.0.0.1", 1883)


@pytest.fixture(scope="module")
def short_run(plant: PlantModel) -> TwinResult:
    """Two hours of a Monday morning shift at 10 s sampling."""
    return simulate(
        plant,
        start=dt.datetime(2026, 11, 23, 8, 0, tzinfo=SEOUL),
        horizon=dt.timedelta(hours=2),
        seed=9,
        sample_s=10,
    )


def test_write_to_lake_ingests_everything_and_keeps_truth_outside(
    plant: PlantModel, short_run: TwinResult, tmp_path: Path
) -> None:
    """All rows land (none quarantined), truth sits beside the lake, a rewrite adds nothing."""
    lake = Lake(tmp_path / "lake", timezone="Asia/Seoul")
    report = write_to_lake(short_run, plant, lake)
    for name, table in short_run.lake_tables().items():
        assert report.rows_written[name] == table.num_rows
        assert report.quarantined[name] == 0
    counted = lake.query("SELECT count(*) AS n FROM readings").column("n").to_pylist()
    assert counted == [short_run.readings.num_rows]
    for path in report.truth_files.values():
        assert path.is_file() and tmp_path / "truth" in path.parents
        assert tmp_path / "lake" not in path.parents
    again = write_to_lake(short_run, plant, lake)
    assert sum(again.rows_written.values()) == 0
    assert again.duplicates_skipped["readings"] == short_run.readings.num_rows


def test_replay_paces_messages_by_speed(short_run: TwinResult) -> None:
    """At speed 60, two simulated hours are spread over two wall minutes, in time order."""
    now = [0.0]
    sent: list[tuple[str, bytes]] = []

    class Recorder:
        def publish(self, topic: str, payload: bytes) -> None:
            sent.append((topic, payload))

        def close(self) -> None:
            pass

    def sleep(seconds: float) -> None:
        now[0] += seconds

    count = replay(short_run, Recorder(), speed=60.0, clock=lambda: now[0], sleep=sleep)
    assert count == len(sent) == len(messages(short_run))
    assert 115.0 < now[0] <= 120.0
    stamps = [json.loads(p)["ts"] for _, p in sent]
    assert stamps == sorted(stamps)


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883")
def test_live_publish_is_received_by_a_subscriber(plant: PlantModel) -> None:
    """Every message published live reaches a subscriber on the real broker, intact."""
    mqtt = pytest.importorskip("paho.mqtt.client")
    run = simulate(
        plant,
        start=dt.datetime(2026, 11, 23, 9, 0, tzinfo=SEOUL),
        horizon=dt.timedelta(minutes=5),
        seed=2,
        sample_s=5,
    )
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    expected = messages(run, prefix=prefix)
    got: list[tuple[str, bytes]] = []
    subscribed, done = threading.Event(), threading.Event()

    def on_message(client: object, userdata: object, msg: object) -> None:
        got.append((msg.topic, msg.payload))  # type: ignore[attr-defined]
        if len(got) == len(expected):
            done.set()

    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = on_message
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.connect(*BROKER)
    sub.subscribe(f"{prefix}/#", qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(10)
        publisher = MqttJsonPublisher(LiveConfig(topic_prefix=prefix))
        sent = replay(run, publisher, speed=None, prefix=prefix)
        publisher.close()
        assert done.wait(20), f"received {len(got)} of {sent}"
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert sorted(got) == sorted((t, p) for _, t, p in expected)
    snapshot = json.loads(next(p for t, p in got if t.endswith("/cnc-01/readings")))
    assert {"vibration_rms", "spindle_speed"} <= set(snapshot["values"])


def test_cli_run_writes_a_workspace_and_prints_summary(tmp_path: Path) -> None:
    """`twin run --days 0.25` fills the workspace lake and prints the per-asset summary."""
    template = resources.files("factoryax").joinpath("templates/plant.toml")
    with resources.as_file(template) as src:
        shutil.copy(src, tmp_path / "plant.toml")
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--days",
            "0.25",
            "--seed",
            "1",
            "--start",
            "2026-11-23T08:00",
            "--sample-s",
            "60",
            "--workspace",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cnc-01" in result.output and "real time" in result.output
    lake = Lake(tmp_path / "lake")
    n = lake.query("SELECT count(*) AS n FROM production").column("n").to_pylist()[0]
    assert n > 0
    assert any((tmp_path / "truth" / "rul").rglob("*.parquet"))


def test_cli_reports_a_bad_start_date(tmp_path: Path) -> None:
    """A malformed --start exits with code 2 and an example of the expected form."""
    template = resources.files("factoryax").joinpath("templates/plant.toml")
    with resources.as_file(template) as src:
        shutil.copy(src, tmp_path / "plant.toml")
    result = CliRunner().invoke(app, ["run", "--start", "23/11/2026", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "2026-11-23" in result.output


def test_run_ids_are_stable(short_run: TwinResult) -> None:
    """The run id names seed, start and horizon, so rewriting a run replaces its truth files."""
    assert short_run.run_id == "seed9-20261122T230000Z-7200s"
    assert pc.min(short_run.states.column("start")).as_py() == short_run.start
