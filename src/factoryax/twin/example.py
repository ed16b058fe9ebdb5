"""The built-in example plant (``templates/plant.toml``) as a validated model."""

from __future__ import annotations

import tomllib
from importlib import resources

from factoryax.core import PlantModel, parse_plant

__all__ = ["example_plant"]


def example_plant() -> PlantModel:
    """The example auto-parts line: press → CNC → washer → inspection → packing.

    Examples:
        >>> [a.id for _, a in example_plant().iter_assets()]
        ['press-01', 'cnc-01', 'wash-01', 'inspect-01', 'pack-01']
    """
    text = resources.files("factoryax").joinpath("templates/plant.toml").read_text("utf-8")
    return parse_plant(tomllib.loads(text))
