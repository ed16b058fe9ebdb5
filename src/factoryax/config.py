"""Finding and opening a workspace: the only module that reads FACTORYAX_* variables.

A workspace is a folder holding ``plant.toml``; its lake lives in ``<workspace>/lake``.
Commands find it the way git finds a repository: the given folder, else
``FACTORYAX_WORKSPACE``, else the current folder or the nearest parent with a
``plant.toml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from factoryax.core import PlantModel, WorkspaceError, load_plant
from factoryax.lake import Lake

__all__ = ["PLANT_FILE", "Workspace"]

PLANT_FILE = "plant.toml"
ENV_WORKSPACE = "FACTORYAX_WORKSPACE"


@dataclass(frozen=True)
class Workspace:
    """A plant's folder: ``plant.toml`` plus the lake and other state beside it."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """Locates the workspace.

        Args:
            start: an explicit workspace folder (``--workspace``); when None, the
                ``FACTORYAX_WORKSPACE`` variable, then the current folder and its parents.

        Raises:
            WorkspaceError: no ``plant.toml`` was found; the message says where it looked.
        """
        if start is not None:
            root = Path(start).resolve()
            if not (root / PLANT_FILE).is_file():
                raise WorkspaceError(
                    f"no {PLANT_FILE} in {str(root)!r}; run `factoryax init {start}` first"
                )
            return cls(root)
        env = os.environ.get(ENV_WORKSPACE)
        if env:
            return cls.find(Path(env))
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / PLANT_FILE).is_file():
                return cls(folder)
        raise WorkspaceError(
            f"no {PLANT_FILE} in {str(here)!r} or any parent folder; "
            "run `factoryax init DIR`, or pass --workspace DIR"
        )

    @property
    def plant_path(self) -> Path:
        """The plant model file."""
        return self.root / PLANT_FILE

    @cached_property
    def plant(self) -> PlantModel:
        """The validated plant model (raises ``PlantModelError`` listing every problem)."""
        return load_plant(self.plant_path)

    @cached_property
    def lake(self) -> Lake:
        """The workspace's lake, showing times in the plant's time zone."""
        return Lake(self.root / "lake", timezone=str(self.plant.site.timezone))
