"""Alarm state survives a runtime restart and follows operator actions made elsewhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.ingest import ingest_rows
from factoryax.runtime.sinks import SafetySink
from factoryax.safety import AlarmState, SafetyEngine, parse_safety
from factoryax.safety.persist import latest_alarms

_TS = pa.timestamp("us", "UTC")
T0 = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
RULES = """
[safety.rules.oil-hot]
type = "threshold"
signal = "press-01.oil_temp"
above = 90
deadband = 5
priority = "high"
"""


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "plant.toml").write_text(example_plant_toml() + RULES, encoding="utf-8")
    return Workspace(root)


def _batch(start_s: int, values: list[float]) -> pa.Table:
    n = len(values)
    return pa.table(
        {
            "ts": pa.array([T0 + dt.timedelta(seconds=start_s + i) for i in range(n)], _TS),
            "asset": ["press-01"] * n,
            "signal": ["oil_temp"] * n,
            "value": values,
        }
    )


def _run(ws: Workspace, sink: SafetySink, start_s: int, values: list[float]) -> list[str]:
    """One runtime tick: the sink sees the batch, its rows are stored as the runtime does."""
    out = sink.process(_batch(start_s, values))
    if "events" not in out:
        return []
    ingest_rows("events", out["events"], plant=ws.plant, lake=ws.lake, source="test")
    return [str(k) for k in out["events"].column("kind").to_pylist()]


def _kinds(ws: Workspace) -> list[str]:
    rows = ws.lake.query("SELECT kind FROM events ORDER BY ts, event_id").column("kind")
    return [str(k) for k in rows.to_pylist()]


def test_restart_keeps_an_active_alarm_without_a_second_annunciation(ws: Workspace) -> None:
    first = SafetySink(ws.plant, lake=ws.lake)
    assert _run(ws, first, 0, [80.0, 95.0, 96.0]) == ["alarm.active"]
    # the runtime dies; a new one starts on the same workspace
    second = SafetySink(ws.plant, lake=ws.lake)
    assert second.restored_ == ["oil-hot"]
    alarm = second.engine.alarms["oil-hot"]
    assert alarm.state is AlarmState.UNACK and alarm.condition
    # still hot, and inside the deadband (88 >= 90 - 5): hysteresis carries on, no new alarm
    assert _run(ws, second, 10, [97.0, 88.0]) == []
    assert _run(ws, second, 20, [70.0]) == ["alarm.rtn"]
    assert _kinds(ws) == ["alarm.active", "alarm.rtn"]
    assert second.engine.alarms["oil-hot"].state is AlarmState.RTN_UNACK
    # the next event id does not reuse a stored one
    ids = ws.lake.query("SELECT event_id FROM events").column("event_id").to_pylist()
    assert len(set(ids)) == 2


def test_without_the_lake_a_restart_annunciates_again(ws: Workspace) -> None:
    """The behaviour persistence fixes: a fresh engine believes everything is normal."""
    _run(ws, SafetySink(ws.plant, lake=ws.lake), 0, [95.0])
    assert _run(ws, SafetySink(ws.plant), 10, [96.0]) == ["alarm.active"]


def test_an_acknowledgement_from_another_process_is_picked_up(ws: Workspace) -> None:
    runtime = SafetySink(ws.plant, lake=ws.lake, sync_every_s=0.0)
    assert _run(ws, runtime, 0, [95.0]) == ["alarm.active"]
    # the alarm console (another process) rebuilds the alarm from the lake and acks it
    console = SafetyEngine(parse_safety(ws.plant.safety, ws.plant), ws.plant)
    console.restore(latest_alarms(ws.lake), condition=True)
    ack = console.acknowledge("oil-hot", T0 + dt.timedelta(seconds=5), who="kim")
    rows = pa.Table.from_pylist([e.to_row() for e in ack])
    ingest_rows("events", rows, plant=ws.plant, lake=ws.lake, source="console")
    # the runtime's next batch clears the condition: acknowledged, so straight to normal
    assert _run(ws, runtime, 10, [60.0]) == ["alarm.rtn"]
    assert runtime.engine.alarms["oil-hot"].state is AlarmState.NORMAL
    assert latest_alarms(ws.lake)["oil-hot"].state is AlarmState.NORMAL


def test_a_shelf_and_its_expiry_survive_a_restart(ws: Workspace) -> None:
    first = SafetySink(ws.plant, lake=ws.lake)
    _run(ws, first, 0, [95.0])
    until = T0 + dt.timedelta(minutes=30)
    shelve = first.engine.shelve("oil-hot", T0 + dt.timedelta(seconds=1), until, who="lee", why="x")
    rows = [e.to_row() for e in shelve]
    rows[0]["evidence"] = '{"shelved_until": "' + until.isoformat() + '"}'
    ingest_rows("events", pa.Table.from_pylist(rows), plant=ws.plant, lake=ws.lake, source="t")
    saved = latest_alarms(ws.lake)["oil-hot"]
    assert saved.state is AlarmState.SHELVED and saved.shelved_until == until
    second = SafetySink(ws.plant, lake=ws.lake)
    assert second.engine.alarms["oil-hot"].shelved_until == until
    assert _run(ws, second, 60, [96.0]) == []  # still shelved
    # the shelf expires with the condition still active: annunciated afresh
    assert _run(ws, second, 31 * 60, [96.0]) == ["alarm.unshelve", "alarm.active"]


def test_latest_alarms_of_an_empty_lake_is_empty(ws: Workspace) -> None:
    assert latest_alarms(ws.lake) == {}


def test_an_ack_that_crosses_a_return_to_normal_ends_normal(ws: Workspace) -> None:
    """The console acks from its (stale) view while the runtime has just seen the clear:
    replaying the ack on the engine's current state gives normal, not 'acknowledged'."""
    runtime = SafetySink(ws.plant, lake=ws.lake, sync_every_s=0.0)
    assert _run(ws, runtime, 0, [95.0]) == ["alarm.active"]
    console = SafetyEngine(parse_safety(ws.plant.safety, ws.plant), ws.plant)
    console.restore(latest_alarms(ws.lake), condition=True)  # sees it unacknowledged
    assert _run(ws, runtime, 10, [60.0]) == ["alarm.rtn"]  # runtime: rtn_unacknowledged
    ack = console.acknowledge("oil-hot", T0 + dt.timedelta(seconds=11), who="kim")
    rows = pa.Table.from_pylist([e.to_row() for e in ack])
    ingest_rows("events", rows, plant=ws.plant, lake=ws.lake, source="console")
    assert _run(ws, runtime, 20, [61.0, 62.0]) == []
    assert runtime.engine.alarms["oil-hot"].state is AlarmState.NORMAL


def test_rows_not_written_by_the_safety_package_or_unreadable_are_ignored(
    ws: Workspace,
) -> None:
    """A forged 'out of service' from another source, or a row with a broken payload,
    neither silences the alarm nor stops the engine."""
    runtime = SafetySink(ws.plant, lake=ws.lake, sync_every_s=0.0)
    forged = {
        "ts": T0,
        "event_id": "mqtt-1",
        "kind": "alarm.out_of_service",
        "line": "line-1",
        "asset": "press-01",
        "severity": 3,
        "message": "x",
        "payload": '{"rule": "oil-hot", "to": "out_of_service", "who": "mallory"}',
        "evidence": None,
    }
    broken = forged | {"event_id": "safety-oil-hot-1-1", "payload": '{"rule": "oil-hot", "to'}
    broken["kind"] = "alarm.ack"
    rows = pa.Table.from_pylist([forged, broken])
    ingest_rows("events", rows, plant=ws.plant, lake=ws.lake, source="mqtt")
    assert _run(ws, runtime, 5, [95.0]) == ["alarm.active"]
    assert SafetySink(ws.plant, lake=ws.lake).engine.alarms["oil-hot"].state is (AlarmState.UNACK)
