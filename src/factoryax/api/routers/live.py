"""Live updates over Server-Sent Events: latest values, states and alarm counts.

One snapshot is computed per half interval and shared by every connected client, so 50
open dashboards cost the lake what one does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from factoryax.api.auth import AuthError, Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require, token_of
from factoryax.api.queries import latest_states, latest_values
from factoryax.api.routers.alarms import current_alarms

router = APIRouter(prefix="/api", tags=["live"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]


def snapshot(ctx: ApiContext) -> dict[str, Any]:
    """One live update: ``{at, values, states, alarms_active}``."""
    doc = latest_values(ctx.ws)
    doc["states"] = latest_states(ctx.ws)
    doc["alarms_active"] = sum(
        1
        for a in current_alarms(ctx)
        if a["state"] in ("unacknowledged", "acknowledged", "rtn_unacknowledged", "latched")
    )
    return doc


@router.get("/live", response_class=StreamingResponse)
async def live(
    request: Request,
    _: Viewer,
    ctx: Ctx,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> StreamingResponse:
    """``text/event-stream`` of ``snapshot`` events every ``live_interval_s`` (``limit``
    events, then the stream ends; unlimited by default). The token is checked before each
    event; once it is revoked the stream sends ``event: end`` and closes."""

    async def stream() -> AsyncIterator[str]:
        sent = 0
        token = token_of(request) or ""
        while limit is None or sent < limit:
            if await request.is_disconnected():
                break
            try:  # a token revoked while the stream is open ends it
                ctx.tokens.authenticate(token)
            except AuthError as exc:
                yield f"event: end\ndata: {json.dumps({'error': str(exc)})}\n\n"
                break
            doc = await run_in_threadpool(
                ctx.cached, ("live",), lambda: snapshot(ctx), ctx.config.live_interval_s / 2
            )
            yield f"event: snapshot\ndata: {json.dumps(doc, default=str)}\n\n"
            sent += 1
            if limit is not None and sent >= limit:
                break
            await asyncio.sleep(ctx.config.live_interval_s)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
