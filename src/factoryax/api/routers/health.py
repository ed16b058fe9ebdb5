"""Liveness, and the runtime's health file (sources, lake, sinks) when one is running."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require

router = APIRouter(prefix="/api", tags=["health"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
HEALTH_FILE = ("runtime", "health.json")


@router.get("/healthz")
def healthz() -> dict[str, bool]:
    """Unauthenticated liveness probe."""
    return {"ok": True}


@router.get("/health")
def health(_: Viewer, ctx: Ctx) -> dict[str, Any]:
    """``<workspace>/runtime/health.json`` (written by the runtime) and the lake's tables."""
    path = ctx.root.joinpath(*HEALTH_FILE)
    runtime: Any = None
    problem = None
    if path.is_file():
        try:
            runtime = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            problem = f"{path} is not readable JSON: {exc}"
    return {
        "runtime": runtime,
        "runtime_problem": problem,
        "lake": [
            {
                "table": s.table,
                "rows": s.rows,
                "files": s.files,
                "last": s.last.isoformat() if s.last else None,
            }
            for s in ctx.ws.lake.status()
        ],
    }
