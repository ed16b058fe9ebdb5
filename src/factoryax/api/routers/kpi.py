"""KPIs, the downtime Pareto and operators' downtime reasons.

An operator's reason is an ``events`` row of kind ``downtime.reason`` on the asset, with
payload ``{"start", "end", "reason_code", "previous", "who", "note"}`` where ``start``
is the ISO instant of the ``states`` interval it explains. The states table is never
rewritten (its rows are keyed by asset and start, and the lake is append-only); the
latest ``downtime.reason`` for an (asset, start) is the reason a person gave.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from factoryax.analytics import Period, ReasonTree, compute_kpis, loss_items, pareto
from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.api.queries import latest_instant, ms, parse_instant
from factoryax.core import ConfigError, utc_now
from factoryax.ingest import ingest_rows

router = APIRouter(prefix="/api", tags=["kpi"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]


class Reason(BaseModel):
    """An operator's reason for one stop."""

    asset: str = Field(min_length=1, max_length=100)
    start: str = Field(min_length=10, max_length=40, description="ISO instant of the stop")
    reason_code: str = Field(min_length=1, max_length=60)
    note: str = Field("", max_length=500)


def _period(ctx: ApiContext, text: str | None) -> Period:
    if text:
        return Period.parse(text)
    day = latest_instant(ctx.ws).astimezone(ctx.ws.plant.site.timezone).date()
    return Period.parse(day.isoformat())


@router.get("/kpi")
def kpi(
    _: Viewer,
    ctx: Ctx,
    period: str | None = None,
    by: Annotated[str, Query(max_length=100)] = "asset",
) -> dict[str, Any]:
    """ISO 22400 KPIs of ``period`` (default: the latest production day) grouped ``by``."""
    p = _period(ctx, period)
    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    table = compute_kpis(ctx.ws.lake, ctx.ws.plant, p, by=keys)  # type: ignore[arg-type]  # checked by compute_kpis
    return {
        "period": p.label,
        "rows": [
            {
                **dict(r.key),
                "oee": r.oee,
                "availability": r.availability,
                "performance": r.effectiveness,
                "quality": r.quality_ratio,
                "fpy": r.fpy,
                "mtbf_s": r.mtbf_s,
                "mttr_s": r.mttr_s,
                "ok": r.ok,
                "pq": r.pq,
            }
            for r in table.rows
        ],
        "notices": [str(n) for n in table.notices],
    }


def operator_reasons(ctx: ApiContext, since: dt.date) -> dict[tuple[str, int], dict[str, Any]]:
    """(asset, start ms) → the latest ``downtime.reason`` payload given for that stop."""
    rows = ctx.ws.lake.query(
        "SELECT ts, asset, payload FROM events WHERE kind = 'downtime.reason' AND date >= ? "
        "ORDER BY ts",
        [since],
    ).to_pylist()
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        payload = json.loads(r["payload"])
        out[(str(r["asset"]), ms(dt.datetime.fromisoformat(payload["start"])))] = payload
    return out


@router.get("/downtime")
def downtime(
    _: Viewer,
    ctx: Ctx,
    period: str | None = None,
    lang: Literal["en", "ko"] = "en",
) -> dict[str, Any]:
    """The downtime Pareto of ``period`` and its stops, with reasons operators gave."""
    p = _period(ctx, period)
    table = compute_kpis(ctx.ws.lake, ctx.ws.plant, p, by=("site",))
    bars = pareto(
        loss_items(table),
        ReasonTree.from_plant(ctx.ws.plant),
        lang=lang,
    )
    start, end = p.span(ctx.ws.plant.calendar, ctx.ws.plant.site.timezone)
    stops = ctx.ws.lake.query(
        'SELECT asset, start, "end", state, reason_code FROM states WHERE date >= ? AND '
        "date <= ? AND start >= ? AND start < ? AND state IN ('down', 'idle') "
        'ORDER BY "end" - start DESC LIMIT 50',
        [start.date() - dt.timedelta(days=1), end.date(), start, end],
    ).to_pylist()
    given = operator_reasons(ctx, start.date() - dt.timedelta(days=1))
    return {
        "period": p.label,
        "bars": [
            {
                "code": b.code,
                "label": b.label,
                "loss": b.loss,
                "hours": b.seconds / 3600,
                "stops": b.stops,
                "share": b.share,
                "cumulative": b.cumulative,
            }
            for b in bars
        ],
        "stops": [
            {
                "asset": s["asset"],
                "start": s["start"].isoformat(),
                "start_ms": ms(s["start"]),
                "minutes": (s["end"] - s["start"]).total_seconds() / 60,
                "state": s["state"],
                "reason_code": s["reason_code"],
                "operator_reason": given.get((str(s["asset"]), ms(s["start"])), {}).get(
                    "reason_code"
                ),
            }
            for s in stops
        ],
    }


@router.post("/downtime/reasons", status_code=201)
def add_reason(body: Reason, who: Operator, ctx: Ctx) -> dict[str, Any]:
    """Records an operator's reason for a stop (an ``events`` row ``downtime.reason``)."""
    codes = {r.code for r in ctx.ws.plant.downtime_reasons}
    if body.reason_code not in codes:
        raise ConfigError(
            f"reason_code {body.reason_code!r} is not in the plant's downtime reasons "
            f"{sorted(codes)!r}; add it to plant.toml or pick one of those"
        )
    try:
        start = parse_instant(body.start, "start")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    found = ctx.ws.lake.query(
        'SELECT "end", reason_code FROM states WHERE asset = ? AND start = ? AND date = ?',
        [body.asset, start, start.date()],
    ).to_pylist()
    if not found:
        raise ConfigError(
            f"no state interval of asset {body.asset!r} starts at {start.isoformat()}; "
            "GET /api/downtime lists the stops"
        )
    now = utc_now()
    payload = {
        "start": start.isoformat(),
        "end": found[0]["end"].isoformat(),
        "reason_code": body.reason_code,
        "previous": found[0]["reason_code"],
        "who": who.name,
        "note": body.note,
    }
    row = {
        "ts": now,
        "event_id": f"downtime-{body.asset}-{ms(start)}-{int(now.timestamp() * 1e6)}",
        "kind": "downtime.reason",
        "asset": body.asset,
        "severity": 0,
        "message": f"{who.name}: {body.reason_code}",
        "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
        "evidence": None,
    }
    with ctx.write_lock:
        report = ingest_rows(
            "events",
            pa.Table.from_pylist([row]),
            plant=ctx.ws.plant,
            lake=ctx.ws.lake,
            source="api downtime reason",
        )
    if report.quarantined:
        raise ConfigError(f"the reason was quarantined: {report.quarantine_samples!r}")
    return {"event_id": row["event_id"], **payload}
