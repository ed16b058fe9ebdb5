"""RUL ranking over :mod:`factoryax.detect`: "which machine needs maintenance first?".

Loaded by :func:`factoryax.agent.plant_tools.build_registry` when ``factoryax.detect`` is
importable. ``rank_rul`` (read-only) ranks the plant's assets by predicted remaining
useful life, shortest first, each with its uncertainty band and where the figure came
from:

- ``model``: the asset's ``rul-<asset>`` model (the production version, else the newest),
  predicted with :func:`factoryax.detect.predict_rul` on the readings since its last
  ``BREAKDOWN`` repair, as of the end of the reference day (or now, if earlier);
- ``readings``: else the asset's latest ``rul_h`` reading at or before that instant (a
  figure some other scorer wrote to the lake; it carries no band).

An asset with neither is listed under ``skipped`` with the reason. When no asset has
either, the tool raises :class:`MissingRulError`, which the agent turns into "cannot
answer: missing …" (nothing is guessed).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from factoryax.agent.tools import ToolContext, ToolRegistry, tool
from factoryax.core import FactoryAXError

__all__ = ["MissingRulError", "RankRulArgs", "RankRulOut", "RulItem", "register"]


class MissingRulError(FactoryAXError, LookupError):
    """No RUL model and no ``rul_h`` readings exist for the assets asked about."""


class RankRulArgs(BaseModel):
    """Arguments of ``rank_rul``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str | None = Field(None, description="Only this asset id; omit to rank all assets")
    top: int = Field(5, ge=1, le=50, description="How many assets to return, shortest RUL first")


class RulItem(BaseModel):
    """One asset's remaining useful life, in hours."""

    model_config = ConfigDict(frozen=True)

    rank: int
    asset: str
    rul_h: float
    low_h: float | None
    high_h: float | None
    source: str
    model: str | None
    version: int | None
    stage: str | None
    failures_trained_on: int | None


class RankRulOut(BaseModel):
    """The ranking, shortest remaining useful life first."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    count: int
    ranking: list[RulItem]
    skipped: dict[str, str]


def _as_of(ctx: ToolContext) -> dt.datetime:
    zone = ctx.workspace.plant.site.timezone
    day_end = dt.datetime.combine(ctx.today + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return min(day_end.astimezone(dt.UTC), dt.datetime.now(dt.UTC))


def _from_model(
    ctx: ToolContext, asset: str, at: dt.datetime
) -> tuple[dict[str, object] | None, str]:
    from factoryax.detect import DetectError, Registry, predict_rul, rul_model_name

    reg = Registry.for_workspace(ctx.workspace.root)
    name = rul_model_name(asset)
    versions = reg.versions(name)
    if not versions:
        return None, f"no RUL model {name!r}"
    prod = reg.production(name)
    chosen = prod or versions[-1]
    try:
        summary, est = predict_rul(ctx.workspace, asset, at=at, version=chosen.version)
    except DetectError as exc:
        return None, f"{name} v{chosen.version}: {exc}"
    failures = summary.fingerprint.get("failures")
    return {
        "rul_h": round(float(est.rul), 2),
        "low_h": round(float(min(est.low, est.rul)), 2),
        "high_h": round(float(max(est.high, est.rul)), 2),
        "source": "model",
        "model": summary.name,
        "version": summary.version,
        "stage": str(summary.stage),
        "failures_trained_on": int(failures) if isinstance(failures, int) else None,
    }, ""


def _from_readings(ctx: ToolContext, asset: str, at: dt.datetime) -> dict[str, object] | None:
    rows = ctx.workspace.lake.query(
        "SELECT arg_max(value, ts) AS v, max(ts) AS t FROM readings "
        "WHERE asset = ? AND signal = 'rul_h' AND ts <= ?",
        [asset, at],
    ).to_pylist()
    if not rows or rows[0]["v"] is None:
        return None
    return {
        "rul_h": round(float(rows[0]["v"]), 2),
        "low_h": None,
        "high_h": None,
        "source": "readings",
        "model": None,
        "version": None,
        "stage": None,
        "failures_trained_on": None,
    }


def _rank(ctx: ToolContext, args: RankRulArgs) -> RankRulOut:
    ids = [a.id for _, a in ctx.workspace.plant.iter_assets()]
    if args.asset is not None and args.asset not in ids:
        raise MissingRulError(
            f"asset {args.asset!r} is not in the plant; assets: {ids!r} (ask about one of them)"
        )
    assets = [args.asset] if args.asset else ids
    at = _as_of(ctx)
    found: list[dict[str, object]] = []
    skipped: dict[str, str] = {}
    for asset in assets:
        item, why = _from_model(ctx, asset, at)
        if item is None:
            item = _from_readings(ctx, asset, at)
            if item is None:
                skipped[asset] = f"{why}; no rul_h readings"
                continue
        found.append({"asset": asset, **item})
    if not found:
        local = at.astimezone(ctx.workspace.plant.site.timezone)
        raise MissingRulError(
            f"missing a RUL model or rul_h readings for {', '.join(assets)} (none up to "
            f"{local.isoformat(timespec='minutes')}; train one with "
            "`factoryax detect train --task rul`, which needs at least 2 BREAKDOWN stops)"
        )
    items = sorted(
        (RulItem.model_validate({"rank": 0, **f}) for f in found),
        key=lambda r: (r.rul_h, r.asset),
    )
    ranking = [r.model_copy(update={"rank": i + 1}) for i, r in enumerate(items[: args.top])]
    return RankRulOut(
        as_of=at.astimezone(ctx.workspace.plant.site.timezone).isoformat(timespec="minutes"),
        count=len(ranking),
        ranking=ranking,
        skipped=skipped,
    )


def register(reg: ToolRegistry) -> None:
    """Adds ``rank_rul`` (read-only, intent ``rul``) to ``reg``."""
    tool(
        reg,
        "rank_rul",
        "Rank assets by predicted remaining useful life (hours, shortest first) with the "
        "uncertainty band, from the detect RUL models or rul_h readings",
        RankRulArgs,
        RankRulOut,
        intent="rul",
    )(_rank)
