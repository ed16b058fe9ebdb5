"""The model registry: every version with its stage, fingerprint, backtest and shadow
results, and promotion through :mod:`factoryax.detect`'s gate.

A promotion goes the way ``factoryax detect promote`` goes: the candidate's shadow figures
(else its backtest) and production's comparable figures
(:func:`~factoryax.detect.gate_inputs`) are judged by :func:`~factoryax.detect.gate`, and
:func:`~factoryax.detect.promote` records the decision (a ``detect.promotion`` event, and
when it passes a ``model_promotion`` ledger record) with the caller's token name as the
approver. It is never forced: a failed gate is recorded as
``rejected`` and the version keeps its stage. Only engineers and admins may promote.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.core import ConfigError
from factoryax.detect import Registry, gate, gate_inputs, list_models, promote

__all__ = ["Promote", "router"]

router = APIRouter(prefix="/api", tags=["models"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Engineer = Annotated[Principal, Depends(require(Role.ENGINEER))]

_FIGURES = (
    "detection_rate",
    "mean_lead_time_s",
    "false_alarms_per_shift",
    "precision",
    "alarms",
    "alarms_per_shift",
    "wear_detected",
    "wear_total",
    "truth",
    "window",
    "in_sample",
    "training_window",
    "at",
)


class Promote(BaseModel):
    """A registered version to put through the promotion gate."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    accept_without_failures: str | None = Field(
        default=None,
        min_length=10,
        max_length=1000,
        description="The engineer's justification for promoting on a window with no "
        "failure to catch (recorded with the decision and in the ledger)",
    )


def _figures(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The backtest/shadow figures the page shows (the fingerprint and lead list dropped)."""
    if result is None:
        return None
    return {k: result.get(k) for k in _FIGURES if k in result}


@router.get("/models")
def models(_: Viewer, ctx: Ctx) -> list[dict[str, Any]]:
    """Every registered model version: name, version, kind, asset, stage, created_at,
    training fingerprint, metrics, backtest and shadow figures, and the stage history."""
    out = []
    for m in list_models(ctx.ws):
        item = m.model_dump(mode="json", exclude={"params"})
        item["backtest"] = _figures(m.backtest)
        if m.shadow is not None:
            shadow = dict(m.shadow)
            shadow["candidate"] = _figures(shadow.get("candidate"))
            shadow["production"] = _figures(shadow.get("production"))
            item["shadow"] = shadow
        out.append(item)
    return out


@router.post("/models/promote")
def promote_model(body: Promote, who: Engineer, ctx: Ctx) -> dict[str, Any]:
    """(engineer, admin) Gates a version against production and promotes it if it passes.

    The decision (promoted, rejected, or insufficient evidence when the window holds no
    failure to catch, with the gate's reasons) is recorded as a ``detect.promotion``
    event; a promotion is also a ``model_promotion`` ledger record. An engineer may accept
    a window without failures by giving ``accept_without_failures`` (a justification kept
    with the decision).
    """
    reg = Registry.for_workspace(ctx.root)
    with ctx.write_lock:
        cand = reg.get(body.name, body.version)
        if cand.stage == "production":
            raise ConfigError(
                f"{body.name} v{body.version} is already in production; promote another version"
            )
        evidence, production = gate_inputs(cand, reg.production(body.name))
        if evidence is None:
            raise ConfigError(
                f"{body.name} v{body.version} has no backtest or shadow run to gate on; run "
                f"`factoryax detect backtest {body.name} --version {body.version}` first"
            )
        decision = gate(evidence, production, accept_without_failures=body.accept_without_failures)
        result = promote(ctx.ws, body.name, cand.version, decision, approved_by=who.name)
    return {**result, "passed": decision.passed, "criteria": decision.criteria}
