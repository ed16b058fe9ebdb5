"""Log in and out, who am I, and (admin) tokens and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import COOKIE, context, principal_of, require

router = APIRouter(prefix="/api", tags=["auth"])

Ctx = Annotated[ApiContext, Depends(context)]


class Login(BaseModel):
    """The token to exchange for a session cookie."""

    token: str = Field(min_length=8, max_length=200)


class NewToken(BaseModel):
    """A token to issue."""

    name: str = Field(min_length=1, max_length=100)
    role: Role
    sites: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50)


def _me(p: Principal) -> dict[str, Any]:
    return {"name": p.name, "role": p.role.value, "sites": list(p.sites), "token_id": p.token_id}


@router.post("/login")
def login(body: Login, response: Response, ctx: Ctx) -> dict[str, Any]:
    """Checks a token and sets the HttpOnly session cookie the dashboard uses."""
    p = ctx.tokens.authenticate(body.token.strip())
    response.set_cookie(
        COOKIE,
        body.token.strip(),
        httponly=True,
        samesite="strict",
        secure=ctx.config.cookie_secure,
        path="/",
    )
    return _me(p)


@router.post("/logout")
def logout(response: Response) -> dict[str, bool]:
    """Drops the session cookie."""
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/me")
def me(p: Annotated[Principal, Depends(principal_of)]) -> dict[str, Any]:
    """The caller: name, role and site scope."""
    return _me(p)


Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


@router.get("/tokens")
def tokens(_: Admin, ctx: Ctx) -> list[dict[str, Any]]:
    """Every token (never its secret)."""
    return [
        {
            "token_id": t.token_id,
            "name": t.name,
            "role": t.role.value,
            "sites": list(t.sites),
            "created_at": t.created_at.isoformat(),
            "revoked": t.revoked,
        }
        for t in ctx.tokens.list()
    ]


@router.post("/tokens", status_code=201)
def issue(body: NewToken, _: Admin, ctx: Ctx) -> dict[str, str]:
    """Issues a token; the response is the only place its secret appears."""
    return {"token": ctx.tokens.issue(body.name, body.role, sites=tuple(body.sites))}


@router.delete("/tokens/{token_id}")
def revoke(token_id: str, _: Admin, ctx: Ctx) -> dict[str, bool]:
    """Revokes a token."""
    return {"revoked": ctx.tokens.revoke(token_id)}


@router.get("/audit")
def audit(_: Admin, ctx: Ctx, limit: int = 200) -> list[dict[str, Any]]:
    """The latest audited write requests, newest first."""
    return [
        {
            "ts": r.ts.isoformat(),
            "who": r.who,
            "role": r.role,
            "method": r.method,
            "path": r.path,
            "status": r.status,
            "body_sha256": r.body_sha256,
            "client": r.client,
        }
        for r in ctx.audit.recent(max(1, min(limit, 2000)))
    ]
