"""Shared fixtures: the example plant, a fresh workspace, its lake."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.core import PlantModel, parse_plant
from factoryax.lake import Lake


@pytest.fixture
def plant() -> PlantModel:
    """The example plant that `factoryax init` writes."""
    return parse_plant(tomllib.loads(example_plant_toml()))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A workspace folder holding the example plant.toml."""
    (tmp_path / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    return Workspace(tmp_path)


@pytest.fixture
def lake(workspace: Workspace) -> Lake:
    """The (empty) lake of the example workspace."""
    return workspace.lake
