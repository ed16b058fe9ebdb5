"""Domain model, plant model file and the error tree. Imports nothing else of FactoryAX."""

from __future__ import annotations

from factoryax.core.errors import (
    BrokerError,
    ConfigError,
    FactoryAXError,
    IngestError,
    LakeError,
    MappingError,
    PlantModelError,
    QueryError,
    SchemaError,
    WorkspaceError,
)
from factoryax.core.plant import (
    Asset,
    Break,
    CalendarDay,
    DowntimeReason,
    IngestConfig,
    Line,
    LossKind,
    PlantModel,
    Shift,
    ShiftCalendar,
    Signal,
    Site,
    load_plant,
    parse_plant,
)
from factoryax.core.timeutil import UTC, ensure_utc, utc_now

__all__ = [
    "UTC",
    "Asset",
    "Break",
    "BrokerError",
    "CalendarDay",
    "ConfigError",
    "DowntimeReason",
    "FactoryAXError",
    "IngestConfig",
    "IngestError",
    "LakeError",
    "Line",
    "LossKind",
    "MappingError",
    "PlantModel",
    "PlantModelError",
    "QueryError",
    "SchemaError",
    "Shift",
    "ShiftCalendar",
    "Signal",
    "Site",
    "WorkspaceError",
    "ensure_utc",
    "load_plant",
    "parse_plant",
    "utc_now",
]
