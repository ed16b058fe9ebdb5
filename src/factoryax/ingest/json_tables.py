"""JSON messages → rows of the lake's ``states``, ``production`` and ``events`` tables.

A JSON mapping rule (``[[sources.<name>.rules]]``) says which table a topic carries with
``kind``; this module turns one decoded message into one row of that table, or into the
reason it cannot be one. The columns, their types and which are required come from the
lake's own table specs (:mod:`factoryax.lake.tables`), so a message is held to the same
schema as a file: what is checked here is what the lake would refuse (a missing
required field, an instant without a zone, text where a number belongs); what depends on
the plant (an unknown asset, a state or result outside the closed sets, an undeclared
reason code, an interval that ends before it starts) is checked afterwards by
:func:`factoryax.ingest.ingest_rows`, the same path files and the twin take.

Examples:
    >>> cols = columns("states")
    >>> [(c.name, c.type, c.required) for c in cols]  # doctest: +NORMALIZE_WHITESPACE
    [('start', 'instant', True), ('end', 'instant', True), ('state', 'text', True),
     ('reason_code', 'text', False)]
    >>> row, problem = to_row("states", {"start": "2026-11-23T09:00:00Z",
    ...     "end": "2026-11-23T09:05:00Z", "state": "down", "reason_code": "JAM"},
    ...     fields={}, rename={})
    >>> problem, row["state"], row["end"].isoformat()
    (None, 'down', '2026-11-23T09:05:00+00:00')
    >>> print(to_row("production", {"ts": 1764000000000, "result": "ok"}, fields={},
    ...              rename={})[1][1])  # doctest: +NORMALIZE_WHITESPACE
    field 'part_id' is missing; a production message needs it
    (or map it: fields.part_id = "...")
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from factoryax.lake import table_spec

__all__ = ["TABLE_KINDS", "Column", "ColumnType", "TableKind", "columns", "parse_instant", "to_row"]

TableKind = Literal["readings", "states", "production", "events"]
TABLE_KINDS: tuple[TableKind, ...] = ("readings", "states", "production", "events")
ColumnType = Literal["instant", "text", "number", "integer"]

_FROM_PLANT = ("site", "line", "asset")
"""Columns a message does not carry: the site and line follow from the plant, the asset
from the rule's ``asset`` template."""


@dataclass(frozen=True)
class Column:
    """One column a message maps to: its lake name, value type and whether required."""

    name: str
    type: ColumnType
    required: bool
    bits: int = 0
    """Width of an integer column (``severity`` is int16), to refuse what would overflow."""


def columns(table: TableKind) -> tuple[Column, ...]:
    """The columns of ``table`` that a message maps (not site, line, asset)."""
    out = []
    for f in table_spec(table).input_schema:
        if f.name in _FROM_PLANT:
            continue
        kind = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if pa.types.is_timestamp(kind):
            out.append(Column(f.name, "instant", not f.nullable))
        elif pa.types.is_floating(kind):
            out.append(Column(f.name, "number", not f.nullable))
        elif pa.types.is_integer(kind):
            out.append(Column(f.name, "integer", not f.nullable, kind.bit_width))
        else:
            out.append(Column(f.name, "text", not f.nullable))
    return tuple(out)


def parse_instant(value: object) -> dt.datetime | None:
    """An instant from ISO 8601 text (zone required) or epoch milliseconds, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None
    return None


Problem = tuple[str, str]
"""(field, reason) of a message that cannot become a row."""


def to_row(
    table: TableKind,
    doc: dict[str, object],
    *,
    fields: dict[str, str],
    rename: dict[str, dict[str, str]],
) -> tuple[dict[str, object], Problem | None]:
    """One row of ``table`` from a decoded JSON object.

    Args:
        table: the lake table the rule's topic carries (not ``readings``).
        doc: the message, a JSON object.
        fields: lake column → JSON field, where they differ (default: the same name).
        rename: lake column → {value sent: value stored}, e.g. ``{"result": {"good": "ok"}}``.

    Returns:
        The row (lake column → value; absent optional fields are None) and None, or an
        empty row and the (field, reason) of the first problem.
    """
    row: dict[str, object] = {}
    for col in columns(table):
        source = fields.get(col.name, col.name)
        raw = doc.get(source)
        if raw is None:
            if col.required:
                return {}, (source, _missing(table, col.name, source))
            row[col.name] = None
            continue
        value, why = _convert(col, raw)
        if why is not None:
            return {}, (source, f"field {source!r} = {raw!r} {why}")
        if isinstance(value, str):
            value = rename.get(col.name, {}).get(value, value)
        row[col.name] = value
    return row, None


def _missing(table: str, column: str, source: str) -> str:
    how = "set `ts` in the rule" if column == "ts" else f'or map it: fields.{column} = "..."'
    return f"field {source!r} is missing; a {table} message needs it ({how})"


def _convert(col: Column, raw: object) -> tuple[object, str | None]:
    """The stored value of one field, or why it cannot be stored."""
    if col.type == "instant":
        when = parse_instant(raw)
        if when is None:
            return None, "is not an instant (ISO 8601 with a zone, or epoch milliseconds)"
        return when, None
    if col.type == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            return None, "is not a finite number"
        return float(raw), None
    if col.type == "integer":
        limit = 2 ** (col.bits - 1)
        if isinstance(raw, bool) or not isinstance(raw, int) or not -limit <= raw < limit:
            return None, f"is not an integer in [{-limit}, {limit - 1}]"
        return raw, None
    if isinstance(raw, str):
        return raw, None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw), None  # part ids and codes are often numbers on a PLC
    if isinstance(raw, dict | list) and col.name in ("payload", "evidence"):
        return json.dumps(raw, sort_keys=True, ensure_ascii=False), None
    return None, "is not text"
