"""FastAPI dependencies: the context, the caller and role/site checks."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from factoryax.api.auth import AuthError, Principal, Role
from factoryax.api.context import ApiContext

__all__ = ["COOKIE", "context", "principal_of", "require"]

COOKIE = "fax_session"
"""The session cookie set by ``POST /api/login`` (HttpOnly, SameSite=Strict)."""


def context(request: Request) -> ApiContext:
    """The app's :class:`ApiContext`."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


def token_of(request: Request) -> str | None:
    """The token sent as ``Authorization: Bearer …`` or in the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("the Authorization header must be `Bearer <token>`")
        return value.strip()
    return request.cookies.get(COOKIE)


def principal_of(request: Request) -> Principal:
    """The authenticated caller, or 401."""
    token = token_of(request)
    if token is None:
        raise AuthError(
            "no token: send `Authorization: Bearer <token>` or log in at POST /api/login"
        )
    principal = context(request).tokens.authenticate(token)
    request.state.principal = principal
    return principal


def require(*roles: Role, site_data: bool = True) -> Callable[[Request], Principal]:
    """A dependency admitting callers holding any of ``roles`` (403 otherwise).

    With ``site_data`` the caller's site scope must also cover the plant's site.
    """
    names = " or ".join(r.value for r in roles)

    def check(request: Request) -> Principal:
        who = principal_of(request)
        if not any(who.has(r) for r in roles):
            raise AuthError(
                f"role {who.role.value!r} may not {request.method} {request.url.path}; "
                f"it needs {names}",
                status=403,
            )
        site = context(request).site
        if site_data and not who.sees_site(site):
            raise AuthError(
                f"token scope {list(who.sites)!r} does not include site {site!r}", status=403
            )
        return who

    return check
