"""Verify an uploaded evidence bundle against the plant's public key(s), offline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.api.routers.ledger import ledger_of
from factoryax.core import ConfigError
from factoryax.ledger import VerifierKey
from factoryax.share import verify_bundle

router = APIRouter(prefix="/api", tags=["verify"])

Ctx = Annotated[ApiContext, Depends(context)]
Anyone = Annotated[Principal, Depends(require(*Role, site_data=False))]


@router.post(
    "/verify",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "The evidence bundle file as JSON (what GET /api/bundles/{i} gives).",
        }
    },
)
async def verify(request: Request, _: Anyone, ctx: Ctx) -> dict[str, Any]:
    """Checks the bundle's signature, inclusion proof and disclosures (422 names the step)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("the bundle is not UTF-8 text; upload the .bundle.json file") from None
    if not text.strip():
        raise ConfigError("empty body; upload the evidence bundle JSON")
    with ledger_of(ctx) as ledger:
        keys = [VerifierKey.parse(k.encode()) for k in ledger.keys.verifiers()]
    return verify_bundle(text, keys).summary()
