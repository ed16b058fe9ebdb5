"""One router per capability; :data:`ROUTERS` is what the app mounts, in order.

Adding a capability is one line here (and one entry in :data:`factoryax.web.NAV`).
"""

from __future__ import annotations

from fastapi import APIRouter

from factoryax.api.routers import (
    agent,
    alarms,
    assets,
    auth,
    health,
    kpi,
    ledger,
    live,
    models,
    plant,
    readings,
    spc,
    verify,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    plant.router,
    readings.router,
    assets.router,
    kpi.router,
    spc.router,
    alarms.router,
    ledger.router,
    verify.router,
    health.router,
    live.router,
    models.router,  # factoryax.detect model registry: backtest / shadow results, promote
    agent.router,  # factoryax.agent chat, traces and pending approvals
)
