"""Specification limits declared on a signal in plant.toml drive SPC and certificates."""

from __future__ import annotations

from factoryax.analytics import SpecLimits, default_specs
from factoryax.core import PlantModel
from factoryax.share.certificate import specs_from_plant


def _with_bore_spec(plant: PlantModel, lsl: float, usl: float) -> PlantModel:
    line = plant.lines[0]
    assets = []
    for asset in line.assets:
        signals = tuple(
            s.model_copy(update={"lsl": lsl, "usl": usl}) if s.id == "bore_diameter" else s
            for s in asset.signals
        )
        assets.append(asset.model_copy(update={"signals": signals}))
    return plant.model_copy(update={"lines": (line.model_copy(update={"assets": tuple(assets)}),)})


def test_declared_limits_win_over_the_twin_defaults(plant: PlantModel) -> None:
    """Analytics and certificates use the signal's lsl/usl, not the twin's tolerance."""
    tight = _with_bore_spec(plant, 41.99, 42.01)
    assert default_specs(tight)["inspect-01.bore_diameter"] == SpecLimits(41.99, 42.01, 42.0)
    limits = specs_from_plant(tight)["bore_diameter"]
    assert (limits.lower, limits.upper) == (41.99, 42.01)
