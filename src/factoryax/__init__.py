"""FactoryAX: the manufacturing AI-transformation platform for small and mid-sized plants.

The headline names are re-exported here; each capability lives in its own subpackage
(``factoryax.core``, ``factoryax.lake``, ``factoryax.ingest`` ...) with its public
surface in that package's ``__all__``.
"""

from __future__ import annotations

from factoryax.core import FactoryAXError, PlantModel, load_plant
from factoryax.lake import Lake

__version__ = "0.1.0"

__all__ = ["FactoryAXError", "Lake", "PlantModel", "__version__", "load_plant"]
