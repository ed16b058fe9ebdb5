"""Detection tools over :mod:`factoryax.detect`: model list (read) and promotion (approval).

Loaded by :func:`factoryax.agent.plant_tools.build_registry` when ``factoryax.detect`` is
importable. Promotion follows ``factoryax detect promote``: the candidate's shadow (else
backtest) figures go through the gate against production's; it never forces.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from factoryax.agent.tools import ToolContext, ToolRegistry, tool
from factoryax.core import FactoryAXError

__all__ = ["register"]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelsArgs(_In):
    name: str | None = Field(None, description="Only versions of this model")


class ModelItem(BaseModel):
    name: str
    version: int
    kind: str
    stage: str
    asset: str | None
    detection_rate: float | None
    false_alarms_per_shift: float | None


class ModelsOut(BaseModel):
    count: int
    models: list[ModelItem]


class PromoteArgs(_In):
    name: str
    version: int = Field(ge=1)
    accept_without_failures: str | None = Field(
        default=None,
        min_length=10,
        description="justification for promoting on a window with no failure to catch",
    )


class PromoteOut(BaseModel):
    name: str
    version: int
    decision: str
    reasons: list[str]


class MissingEvidenceError(FactoryAXError, LookupError):
    """A model version has no backtest or shadow run to gate on."""


def _models(ctx: ToolContext, args: ModelsArgs) -> ModelsOut:
    from factoryax.detect import list_models

    items = []
    for m in list_models(ctx.workspace):
        if args.name and m.name != args.name:
            continue
        bt: dict[str, Any] = m.backtest or {}
        items.append(
            ModelItem(
                name=m.name,
                version=m.version,
                kind=m.kind,
                stage=str(m.stage),
                asset=m.asset,
                detection_rate=bt.get("detection_rate"),
                false_alarms_per_shift=bt.get("false_alarms_per_shift"),
            )
        )
    return ModelsOut(count=len(items), models=items)


def _promote(ctx: ToolContext, args: PromoteArgs) -> PromoteOut:
    from factoryax.detect import Registry, gate, gate_inputs, promote

    reg = Registry.for_workspace(ctx.workspace.root)
    cand = reg.get(args.name, args.version)
    evidence = (cand.shadow or {}).get("candidate") or cand.backtest
    if evidence is None:
        raise MissingEvidenceError(
            f"{args.name} v{args.version} has no backtest or shadow run; run "
            f"`factoryax detect backtest {args.name} --version {args.version}` first"
        )
    _, prod_figures = gate_inputs(cand, reg.production(args.name))
    decision = gate(evidence, prod_figures, accept_without_failures=args.accept_without_failures)
    result = promote(ctx.workspace, args.name, cand.version, decision, approved_by=ctx.user)
    return PromoteOut(
        name=args.name,
        version=cand.version,
        decision=str(result["decision"]),
        reasons=list(decision.reasons),
    )


def register(reg: ToolRegistry) -> None:
    """Adds ``list_models`` and ``promote_model`` to ``reg``."""
    tool(
        reg,
        "list_models",
        "Registered detection models with stage and backtest figures",
        ModelsArgs,
        ModelsOut,
        intent="models",
    )(_models)
    tool(
        reg,
        "promote_model",
        "Gate a detection model version against production and "
        "promote it if it passes (recorded in the lake and the ledger)",
        PromoteArgs,
        PromoteOut,
        state_changing=True,
        intent="promote",
    )(_promote)
