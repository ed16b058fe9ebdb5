"""One asset: its signals, latest values, anomaly score with contributing signals, RUL.

Anomaly scores are ``readings`` rows with signal ``anomaly_score`` (1.0 = the detector's
threshold); explanations are ``events`` of kind ``detect.anomaly`` whose payload holds
``contributions`` ``{signal: share}``; remaining useful life is readings of ``rul_h``
(hours). All three are written by :mod:`factoryax.detect`; the page shows them when present.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.api.queries import latest_instant, latest_values, ms
from factoryax.api.routers.readings import many
from factoryax.core import ConfigError

router = APIRouter(prefix="/api", tags=["assets"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]


@router.get("/assets/{asset}")
def asset_detail(
    asset: str,
    _: Viewer,
    ctx: Ctx,
    hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
    points: Annotated[int, Query(ge=3, le=20_000)] = 1500,
) -> dict[str, Any]:
    """Signals, latest values, every signal's series and the anomaly score (LTTB to
    ``points`` each, one scan of the lake), contributions and RUL of ``asset``."""
    found = [(ln, a) for ln, a in ctx.ws.plant.iter_assets() if a.id == asset]
    if not found:
        ids = [a.id for _, a in ctx.ws.plant.iter_assets()]
        raise ConfigError(f"unknown asset {asset!r}; the plant's assets are {ids!r}")
    line, meta = found[0]
    end = latest_instant(ctx.ws) + dt.timedelta(seconds=1)
    start = end - dt.timedelta(hours=hours)
    names = [s.id for s in meta.signals]
    charts = many(ctx.ws, asset, [*names, "anomaly_score"], start, end, points)
    anomaly = charts.pop("anomaly_score")
    rul = ctx.ws.lake.query(
        "SELECT arg_max(value, ts) AS v, max(ts) AS t FROM readings "
        "WHERE asset = ? AND signal = 'rul_h'",
        [asset],
    ).to_pylist()[0]
    events = ctx.ws.lake.query(
        "SELECT ts, severity, message, payload FROM events WHERE kind = 'detect.anomaly' "
        "AND asset = ? AND date >= ? ORDER BY ts DESC LIMIT 20",
        [asset, start.date()],
    ).to_pylist()
    explained = []
    for e in events:
        try:
            payload = json.loads(e["payload"] or "{}")
        except json.JSONDecodeError:
            payload = {}
        contributions = payload.get("contributions") if isinstance(payload, dict) else None
        explained.append(
            {
                "ts": ms(e["ts"]),
                "severity": e["severity"],
                "message": e["message"],
                "score": payload.get("score") if isinstance(payload, dict) else None,
                "contributions": contributions if isinstance(contributions, dict) else {},
            }
        )
    latest = latest_values(ctx.ws).get("values", {}).get(asset, {})
    return {
        "id": meta.id,
        "name": meta.name,
        "name_ko": meta.name_ko,
        "kind": meta.kind,
        "line": line.id,
        "signals": [{"id": s.id, "unit": s.unit, "lsl": s.lsl, "usl": s.usl} for s in meta.signals],
        "latest": latest,
        "anomaly": anomaly,
        "series": charts,
        "anomalies": explained,
        "rul": None if rul["t"] is None else {"hours": rul["v"], "ts": ms(rul["t"])},
    }
