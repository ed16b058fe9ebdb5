"""The plant model and the overview (line status, OEE per asset and line, alarm count)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from factoryax.analytics import GroupKey, Period, compute_kpis
from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.api.queries import latest_instant, latest_states
from factoryax.api.routers.alarms import current_alarms
from factoryax.core import FactoryAXError

router = APIRouter(prefix="/api", tags=["plant"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]


@router.get("/plant")
def plant(_: Viewer, ctx: Ctx) -> dict[str, Any]:
    """Site, lines, assets and signals (with units and spec limits) and downtime reasons."""
    p = ctx.ws.plant
    return {
        "site": {"id": p.site.id, "name": p.site.name, "timezone": p.site.timezone.key},
        "lines": [
            {
                "id": ln.id,
                "name": ln.name,
                "name_ko": ln.name_ko,
                "assets": [
                    {
                        "id": a.id,
                        "name": a.name,
                        "name_ko": a.name_ko,
                        "kind": a.kind,
                        "signals": [
                            {"id": s.id, "unit": s.unit, "lsl": s.lsl, "usl": s.usl}
                            for s in a.signals
                        ],
                    }
                    for a in ln.assets
                ],
            }
            for ln in p.lines
        ],
        "reasons": [
            {
                "code": r.code,
                "name": r.name,
                "name_ko": r.name_ko or r.name,
                "category": r.category,
                "parent": r.parent,
            }
            for r in p.downtime_reasons
        ],
    }


def _kpis(ctx: ApiContext, day: dt.date) -> dict[str, Any]:
    period = Period.parse(day.isoformat())
    out: dict[str, Any] = {"period": period.label, "assets": {}, "lines": {}, "notices": []}
    try:
        keys: tuple[tuple[GroupKey, str], ...] = (("asset", "assets"), ("line", "lines"))
        for key, target in keys:
            table = compute_kpis(ctx.ws.lake, ctx.ws.plant, period, by=(key,))
            for row in table.rows:
                out[target][row.key[key]] = {
                    "oee": row.oee,
                    "availability": row.availability,
                    "performance": row.effectiveness,
                    "quality": row.quality_ratio,
                    "ok": row.ok,
                    "pq": row.pq,
                }
            out["notices"] = [str(n) for n in table.notices]
    except FactoryAXError as exc:
        out["notices"].append(str(exc))
    return out


def kpi_day(ctx: ApiContext) -> dt.date:
    """The last complete production day with data (the latest day while it is the only one).

    KPIs of the day still running would charge its future planned time as loss.
    """
    zone = ctx.ws.plant.site.timezone
    status = {s.table: s for s in ctx.ws.lake.status()}["states"]
    last = latest_instant(ctx.ws).astimezone(zone).date()
    first = status.first.astimezone(zone).date() if status.first else last
    return last - dt.timedelta(days=1) if first < last else last


@router.get("/overview")
def overview(_: Viewer, ctx: Ctx) -> dict[str, Any]:
    """Line status: each asset's current state and today's OEE; the active alarms."""
    last = latest_instant(ctx.ws)
    day = kpi_day(ctx)
    kpis = ctx.cached(("kpi-overview", day), lambda: _kpis(ctx, day))
    alarms = [
        a
        for a in ctx.cached(("alarms",), lambda: current_alarms(ctx), 1.0)
        if a["state"] != "normal"
    ]
    return {
        "at": int(last.timestamp() * 1000),
        "day": day.isoformat(),
        "day_complete": day < last.astimezone(ctx.ws.plant.site.timezone).date(),
        "states": ctx.cached(("states",), lambda: latest_states(ctx.ws), 1.0),
        "kpi": kpis,
        "alarms": alarms,
    }
