"""Fixtures of the share tests: a workspace whose lake holds a few simulated lots."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.ledger import Ledger, default_origin
from factoryax.twin import simulate, write_to_lake

LOT = "line-1-261123T0800-L0002"
"""A complete lot of the simulated morning (with rework and scrap)."""


@pytest.fixture(scope="session")
def lots_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace (example plant) with five simulated hours of production in its lake."""
    root = tmp_path_factory.mktemp("lots")
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace(root)
    run = simulate(
        ws.plant,
        start=dt.datetime(2026, 11, 23, 8, 0),  # noqa: DTZ001 - plant time, read in its zone
        horizon=dt.timedelta(hours=5),
        seed=7,
        sample_s=60,
    )
    write_to_lake(run, ws.plant, ws.lake)
    return root


@pytest.fixture
def workspace_copy(lots_workspace: Path, tmp_path: Path) -> Workspace:
    """A private copy of the lots workspace (its ledger starts empty)."""
    target = tmp_path / "ws"
    shutil.copytree(lots_workspace, target)
    return Workspace(target)


@pytest.fixture
def plant_ledger(workspace_copy: Workspace) -> Iterator[Ledger]:
    """The copy's ledger, with a signing key."""
    led = Ledger.for_workspace(workspace_copy.root, workspace_copy.plant.site.id)
    led.keys.generate(default_origin(workspace_copy.plant.site.id))
    yield led
    led.close()
