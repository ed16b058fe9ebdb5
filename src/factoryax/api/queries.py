"""Reads over the lake shared by several routers (latest instants, values, states)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from factoryax.config import Workspace
from factoryax.core import utc_now

__all__ = ["latest_instant", "latest_states", "latest_values", "ms", "parse_instant"]


def ms(ts: dt.datetime) -> int:
    """Epoch milliseconds of an aware instant (what the charts plot)."""
    return int(ts.timestamp() * 1000)


def parse_instant(text: str, what: str) -> dt.datetime:
    """An ISO 8601 instant with offset, or ``ValueError`` naming ``what`` and the fix."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{what} {text!r} is not ISO 8601, e.g. 2026-11-23T09:00:00+09:00"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"{what} {text!r} needs a UTC offset, e.g. +09:00 or Z")
    return value.astimezone(dt.UTC)


def latest_instant(ws: Workspace) -> dt.datetime:
    """The last reading's instant (from Parquet footers), else now."""
    for status in ws.lake.status():
        if status.table == "readings" and status.last is not None:
            return status.last
    return utc_now()


def latest_values(ws: Workspace, window: dt.timedelta = dt.timedelta(minutes=10)) -> dict[str, Any]:
    """``{asset: {signal: [value, ts_ms]}}``: each signal's last value in the window."""
    end = latest_instant(ws)
    start = end - window
    table = ws.lake.query(
        "SELECT asset, signal, arg_max(value, ts) AS v, max(ts) AS t FROM readings "
        "WHERE date >= ? AND ts >= ? GROUP BY asset, signal",
        [start.date(), start],
    )
    out: dict[str, dict[str, list[float | int | None]]] = {}
    for row in table.to_pylist():
        out.setdefault(str(row["asset"]), {})[str(row["signal"])] = [row["v"], ms(row["t"])]
    return {"at": ms(end), "values": out}


def latest_states(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Each asset's most recent state interval (``state``, ``reason_code``, ``since``)."""
    table = ws.lake.query(
        "SELECT asset, arg_max(state, start) AS state, arg_max(reason_code, start) AS reason, "
        "max(start) AS since FROM states WHERE date >= ? GROUP BY asset",
        [(latest_instant(ws) - dt.timedelta(days=2)).date()],
    )
    return {
        str(r["asset"]): {"state": r["state"], "reason_code": r["reason"], "since": ms(r["since"])}
        for r in table.to_pylist()
    }
