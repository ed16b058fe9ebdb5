"""A small workspace shared by the agent tests: 24 simulated hours at 10-minute samples,
plus two safety alarms (as the safety engine would store them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa
import pytest

from factoryax.agent import Agent, AgentConfig
from factoryax.config import Workspace
from factoryax.ingest import ingest_rows
from factoryax.safety import Alarm, AlarmEvent
from factoryax.testing import tiny_workspace

DAY = dt.date(2026, 11, 23)
TODAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The example plant with one simulated day (2026-11-23) in its lake."""
    root = tiny_workspace(tmp_path_factory.mktemp("agent-ws"), day=DAY, hours=24, sample_s=600)
    ws = Workspace.find(root)
    add_alarms(ws)
    return ws


def add_alarms(ws: Workspace) -> None:
    """Two alarms on DAY: press-01 overload (active, returned to normal, unacknowledged)
    and, later, cnc-01 guard open (active, unacknowledged): the latest alarm."""
    t0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    press = Alarm("press-01-overload", 3, "press overload", line="line-1", asset="press-01")
    cnc = Alarm("cnc-01-guard-open", 4, "guard open", line="line-1", asset="cnc-01")
    events: list[AlarmEvent] = [
        *press.set_condition(True, t0, why="force 130 %"),
        *press.set_condition(False, t0 + dt.timedelta(minutes=5), why="force normal"),
        *cnc.set_condition(True, t0 + dt.timedelta(hours=2), why="guard open while running"),
    ]
    ingest_rows(
        "events",
        pa.Table.from_pylist([e.to_row() for e in events]),
        plant=ws.plant,
        lake=ws.lake,
        source="agent tests",
    )


@pytest.fixture
def agent(workspace: Workspace) -> Iterator[Agent]:
    """An offline agent whose "today" is the day after the simulated one."""
    a = Agent(workspace, AgentConfig(today=TODAY))
    yield a
    a.close()


@pytest.fixture
def lot(workspace: Workspace) -> str:
    """The third lot of the day."""
    lots = workspace.lake.query("SELECT DISTINCT lot FROM production ORDER BY lot").column("lot")
    return str(lots[2].as_py())
