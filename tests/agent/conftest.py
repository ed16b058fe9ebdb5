"""A small workspace shared by the agent tests: 24 simulated hours at 10-minute samples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from factoryax.agent import Agent, AgentConfig
from factoryax.config import Workspace
from factoryax.testing import tiny_workspace

DAY = dt.date(2026, 11, 23)
TODAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The example plant with one simulated day (2026-11-23) in its lake."""
    root = tiny_workspace(tmp_path_factory.mktemp("agent-ws"), day=DAY, hours=24, sample_s=600)
    return Workspace.find(root)


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
