"""SPC: a control chart with rule violations marked, and Cp/Cpk/Pp/Ppk."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query

from factoryax.analytics import (
    Period,
    capability,
    default_specs,
    episodes,
    publish,
    signal_chart,
)
from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.api.queries import latest_instant, ms
from factoryax.core import ConfigError

router = APIRouter(prefix="/api", tags=["spc"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Engineer = Annotated[Principal, Depends(require(Role.ENGINEER))]
MAX_POINTS = 5000


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _chart(ctx: ApiContext, characteristic: str, period: str | None, kind: str, rules: str) -> Any:
    asset, _, signal = characteristic.partition(".")
    if not signal:
        raise ConfigError(f"characteristic {characteristic!r}: write asset.signal")
    if period:
        p = Period.parse(period)
    else:
        day = latest_instant(ctx.ws).astimezone(ctx.ws.plant.site.timezone).date()
        p = Period.parse(day.isoformat())
    return signal_chart(ctx.ws.lake, ctx.ws.plant, asset, signal, p, kind=kind, rules=rules)  # type: ignore[arg-type]  # validated by Query Literal


@router.get("/spc/characteristics")
def characteristics(_: Viewer, ctx: Ctx) -> list[dict[str, Any]]:
    """Signals with specification limits (the natural SPC characteristics)."""
    return [
        {"characteristic": k, "lsl": v.lsl, "usl": v.usl}
        for k, v in sorted(default_specs(ctx.ws.plant).items())
    ]


@router.get("/spc")
def spc(
    _: Viewer,
    ctx: Ctx,
    characteristic: Annotated[str, Query(min_length=3, max_length=200)],
    period: str | None = None,
    chart: Literal["I-MR", "Xbar-R", "Xbar-S"] = "I-MR",
    rules: Literal["nelson", "western_electric"] = "nelson",
) -> dict[str, Any]:
    """Control chart points, limits, rule episodes and capability of ``asset.signal``."""
    result = _chart(ctx, characteristic, period, chart, rules)
    s = result.chart.primary
    n = len(s.values)
    flagged = sorted({i for sig in result.signals for i in sig.points})
    step = max(1, math.ceil(n / MAX_POINTS))
    shown = sorted(set(range(0, n, step)) | set(flagged))
    spec = default_specs(ctx.ws.plant).get(characteristic)
    cap = (
        capability(
            np.asarray(result.values, dtype=float),
            lsl=spec.lsl if spec else None,
            usl=spec.usl if spec else None,
        )
        if len(result.values) >= 2
        else None
    )
    return {
        "characteristic": characteristic,
        "kind": result.chart.kind,
        "points": [[ms(result.ts[i]), _num(s.values[i])] for i in shown],
        "center": _num(s.center[0]) if n else None,
        "ucl": _num(s.ucl[0]) if n else None,
        "lcl": _num(s.lcl[0]) if n else None,
        "n": n,
        "violations": [ms(result.ts[i]) for i in flagged],
        "episodes": [
            {
                "rule": e.rule,
                "ts": ms(result.ts[e.index]),
                "points": len(e.points),
                "name": e.name,
                "name_ko": e.name_ko,
            }
            for e in episodes(result.signals)[:200]
        ],
        "capability": None
        if cap is None
        else {
            "n": cap.n,
            "mean": _num(cap.mean),
            "lsl": cap.lsl,
            "usl": cap.usl,
            "cp": _num(cap.cp),
            "cpk": _num(cap.cpk),
            "pp": _num(cap.pp),
            "ppk": _num(cap.ppk),
        },
    }


@router.post("/spc/publish")
def spc_publish(
    _: Engineer,
    ctx: Ctx,
    characteristic: Annotated[str, Query(min_length=3, max_length=200)],
    period: str | None = None,
) -> dict[str, int]:
    """(engineer) Writes the chart's rule episodes to ``events`` (``spc.*``, idempotent)."""
    result = _chart(ctx, characteristic, period, "I-MR", "nelson")
    with ctx.write_lock:
        written = publish(ctx.ws.lake, result, ctx.ws.plant)
    return {"written": written}
