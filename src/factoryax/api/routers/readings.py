"""One signal over a time range, LTTB-downsampled for a chart."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.api.queries import latest_instant, parse_instant
from factoryax.config import Workspace
from factoryax.core import ConfigError
from factoryax.web import lttb

router = APIRouter(prefix="/api", tags=["readings"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]


def series(
    ws: Workspace, asset: str, signal: str, start: dt.datetime, end: dt.datetime, points: int
) -> dict[str, Any]:
    """``asset.signal`` in [start, end): ``points`` as ``[[ts_ms, value], …]`` after LTTB."""
    return many(ws, asset, [signal], start, end, points)[signal]


def many(
    ws: Workspace,
    asset: str,
    signals: list[str],
    start: dt.datetime,
    end: dt.datetime,
    points: int,
) -> dict[str, dict[str, Any]]:
    """:func:`series` of several signals of one asset from a single scan of the lake.

    The scan returns each row's position in ``signals`` instead of its name and is sorted
    in numpy (a lexsort of two integer columns), several times faster than ORDER BY on
    the name for a week of 1 Hz rows.
    """
    table = ws.lake.query(
        "SELECT list_position(?, signal::VARCHAR)::INTEGER AS k, epoch_ms(ts) AS t, value "
        "FROM readings WHERE date >= ? AND date <= ? AND ts >= ? AND ts < ? AND asset = ? "
        "AND signal IN (SELECT unnest(?))",
        [signals, start.date(), end.date(), start, end, asset, signals],
    )
    k = table.column("k").to_numpy()
    t = table.column("t").to_numpy()
    order = np.lexsort((t, k))
    k, x_all = k[order], t[order].astype(np.float64)
    y_all = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)[order]
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(signals, start=1):
        lo, hi = np.searchsorted(k, i, "left"), np.searchsorted(k, i, "right")
        x, y = x_all[lo:hi], y_all[lo:hi]
        keep = lttb(x, y, points) if len(x) > points else np.arange(len(x))
        values = [None if not np.isfinite(v) else float(v) for v in y[keep]]
        out[name] = {
            "asset": asset,
            "signal": name,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "raw_points": len(x),
            "points": [[int(ts), v] for ts, v in zip(x[keep], values, strict=True)],
        }
    return out


def window(
    ws: Workspace, start: str | None, end: str | None, hours: float
) -> tuple[dt.datetime, dt.datetime]:
    """The requested range; by default the last ``hours`` up to the latest reading."""
    stop = parse_instant(end, "end") if end else latest_instant(ws) + dt.timedelta(seconds=1)
    begin = parse_instant(start, "start") if start else stop - dt.timedelta(hours=hours)
    if begin >= stop:
        raise ValueError(f"start {begin.isoformat()} is not before end {stop.isoformat()}")
    return begin, stop


@router.get("/readings")
def readings(
    _: Viewer,
    ctx: Ctx,
    asset: Annotated[str, Query(min_length=1, max_length=100)],
    signal: Annotated[str, Query(min_length=1, max_length=100)],
    start: str | None = None,
    end: str | None = None,
    hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
    points: Annotated[int, Query(ge=3, le=20_000)] = 1500,
) -> dict[str, Any]:
    """Readings of one signal, downsampled to at most ``points`` (LTTB keeps peaks)."""
    known = {(a.id, s.id) for _, a in ctx.ws.plant.iter_assets() for s in a.signals}
    if (asset, signal) not in known and signal not in ("anomaly_score", "rul_h"):
        raise ConfigError(
            f"unknown signal {asset!r}.{signal!r}; GET /api/plant lists the plant's signals"
        )
    try:
        begin, stop = window(ctx.ws, start, end, hours)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return series(ctx.ws, asset, signal, begin, stop, points)
