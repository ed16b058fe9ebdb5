"""Layouts: which column holds the time, and how the other columns map to signals.

Two layouts are recognised from the header:

- **long**: one reading per record, with ``signal`` and ``value`` columns (and ``asset``,
  unless the signal is written ``asset.signal``); optional ``unit`` and ``quality``.
- **wide**: one record per instant, one column per signal. A column maps to a signal by,
  in order: an entry in ``[ingest.columns]``; the name ``asset.signal``; a signal id when
  the file has an ``asset`` column; a signal's alias. A unit may follow the name in
  brackets (``bearing_temp [°F]``) and is converted when it differs from the declared one.

Column names are matched case-insensitively; common Korean headers (일시, 설비, 신호, 값,
단위) are understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from factoryax.core import MappingError, PlantModel

__all__ = ["Layout", "WideColumn", "plan_layout"]

_TIME_NAMES = ("ts", "timestamp", "time", "datetime", "date_time", "일시", "시간", "시각", "일자")
_ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "asset": ("asset", "equipment", "machine", "설비", "설비명", "장비"),
    "signal": ("signal", "tag", "variable", "신호", "항목", "태그"),
    "value": ("value", "val", "값", "측정값"),
    "unit": ("unit", "units", "단위"),
    "quality": ("quality", "품질코드"),
    "line": ("line", "라인"),
}
_UNIT_SUFFIX = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]+)[\])]\s*$")


@dataclass(frozen=True)
class WideColumn:
    """A wide-layout column mapped to a signal (asset None: taken from the asset column)."""

    column: str
    asset: str | None
    signal: str
    unit: str | None


@dataclass(frozen=True)
class Layout:
    """How a file's columns become readings."""

    kind: Literal["long", "wide"]
    ts: str
    roles: dict[str, str] = field(default_factory=dict)
    """Role ('asset', 'signal', 'value', 'unit', 'quality', 'line') -> column name."""
    wide: tuple[WideColumn, ...] = ()
    unmapped: tuple[str, ...] = ()


def plan_layout(columns: list[str], plant: PlantModel, *, source: str) -> Layout:
    """Decides the layout of a file from its column names.

    Raises:
        MappingError: no time column, or no column maps to any declared signal.
    """
    data_cols = [c for c in columns if c != "_pos"]
    by_lower = {c.strip().lower(): c for c in data_cols}
    if len(by_lower) < len(data_cols):
        clash = sorted(
            c
            for c in data_cols
            if [d.strip().lower() for d in data_cols].count(c.strip().lower()) > 1
        )
        raise MappingError(
            f"{source}: columns {clash!r} differ only in case or spaces, so it is unclear "
            "which one to use; rename or remove one of them",
            source=source,
        )
    ts = _find_time_column(by_lower, plant, source)
    roles = {
        role: by_lower[name]
        for role, names in _ROLE_NAMES.items()
        for name in names
        if name in by_lower and by_lower[name] != ts
    }
    if "signal" in roles and "value" in roles:
        used = {ts, *roles.values()}
        unused = tuple(c for c in data_cols if c not in used)
        return Layout("long", ts, roles, unmapped=unused)
    rest = [c for c in data_cols if c != ts and c not in {roles.get("asset"), roles.get("line")}]
    mapped: list[WideColumn] = []
    unmapped: list[str] = []
    for col in rest:
        target = _map_wide_column(col, plant, has_asset_column="asset" in roles)
        if target is None:
            unmapped.append(col)
        else:
            mapped.append(target)
    if not mapped:
        known = ", ".join(f"{a.id}.{s.id}" for _, a in plant.iter_assets() for s in a.signals[:1])
        raise MappingError(
            f"{source}: none of the columns {rest[:8]!r} maps to a declared signal. "
            "Use a long layout (ts, asset, signal, value), name wide columns "
            f"'asset.signal' (e.g. {known}), or map them under [ingest.columns] in plant.toml",
            source=source,
        )
    keep = {k: v for k, v in roles.items() if k in ("asset", "line")}
    return Layout("wide", ts, keep, tuple(mapped), tuple(unmapped))


def _find_time_column(by_lower: dict[str, str], plant: PlantModel, source: str) -> str:
    configured = plant.ingest.timestamp_column
    if configured:
        if configured.lower() in by_lower:
            return by_lower[configured.lower()]
        raise MappingError(
            f"{source}: ingest.timestamp_column = {configured!r} is not a column of this file "
            f"(columns: {list(by_lower.values())[:10]!r}); fix plant.toml or the file header",
            source=source,
        )
    for name in _TIME_NAMES:
        if name in by_lower:
            return by_lower[name]
    raise MappingError(
        f"{source}: no time column; name it one of {', '.join(_TIME_NAMES)} "
        "or set ingest.timestamp_column in plant.toml",
        source=source,
    )


def _map_wide_column(
    column: str, plant: PlantModel, *, has_asset_column: bool
) -> WideColumn | None:
    name, unit = column.strip(), None
    match = _UNIT_SUFFIX.match(name)
    if match:
        name, unit = match["name"].strip(), match["unit"].strip()
    explicit = plant.ingest.columns.get(column) or plant.ingest.columns.get(name)
    if explicit:
        asset, _, signal = explicit.partition(".")
        return WideColumn(column, asset, signal, unit)
    asset, dot, signal = name.partition(".")
    if dot and plant.find_signal(asset, signal) is not None:
        return WideColumn(column, asset, signal, unit)
    lowered = name.lower()
    if has_asset_column:
        ids = {s.id.lower(): s.id for _, a in plant.iter_assets() for s in a.signals}
        if lowered in ids:
            return WideColumn(column, None, ids[lowered], unit)
    hits = [
        (a.id, s.id)
        for _, a in plant.iter_assets()
        for s in a.signals
        if lowered in (x.lower() for x in s.aliases)
    ]
    if len(hits) == 1:
        return WideColumn(column, hits[0][0], hits[0][1], unit)
    return None
