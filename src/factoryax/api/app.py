"""The FastAPI application: routers, limits, audit, errors and the dashboard's files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from factoryax import __version__
from factoryax.api.audit import AuditRow
from factoryax.api.auth import AuthError
from factoryax.api.context import ApiConfig, ApiContext
from factoryax.api.deps import COOKIE
from factoryax.api.routers import ROUTERS
from factoryax.config import Workspace
from factoryax.core import FactoryAXError
from factoryax.ledger import VerificationError
from factoryax.web import STATIC_DIR

__all__ = ["create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_READS = {"GET", "HEAD", "OPTIONS"}


def create_app(ws: Workspace, config: ApiConfig | None = None) -> FastAPI:
    """The API and dashboard of the workspace ``ws``.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from factoryax.cli.main import example_plant_toml
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
        >>> app = create_app(Workspace.find(root))
        >>> sorted(p for p in app.openapi()["paths"] if p.startswith("/api/alarms"))[:2]
        ['/api/alarms', '/api/alarms/{rule}/ack']
    """
    ctx = ApiContext(ws, config or ApiConfig())
    app = FastAPI(
        title="FactoryAX",
        version=__version__,
        description=(
            "Plant data, KPIs, SPC, alarms and evidence. Authenticate with "
            "`Authorization: Bearer fax_<id>_<secret>` (or the session cookie set by "
            "POST /api/login). Roles: viewer, operator, engineer, quality, admin, partner."
        ),
    )
    app.state.ctx = ctx
    for router in ROUTERS:
        app.include_router(router)
    _errors(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.add_middleware(_LimitAndAudit, ctx=ctx)
    return app


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        response = _error(exc.status, str(exc))
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(VerificationError)
    async def _verify(_: Request, exc: VerificationError) -> JSONResponse:
        return _error(422, f"verification failed at step {exc.step!r}: {exc}", step=exc.step)

    @app.exception_handler(FactoryAXError)
    async def _domain(_: Request, exc: FactoryAXError) -> JSONResponse:
        return _error(404 if isinstance(exc, LookupError) else 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "invalid request: " + "; ".join(problems), problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))


class _LimitAndAudit:
    """Rejects bodies over the limit (413) and writes an audit row for every write."""

    def __init__(self, app: ASGIApp, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        limit = self.ctx.config.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        chunks: list[bytes] = []
        too_big = False
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            too_big = True
        else:
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body = message.get("body", b"")
                size += len(body)
                if size > limit:
                    too_big = True
                    break
                chunks.append(body)
                more = message.get("more_body", False)
        status = {"code": 500}
        audited = False
        write = method not in _READS

        def audit_once() -> None:
            nonlocal audited
            if write and not audited:
                audited = True
                self._audit(scope, headers, b"".join(chunks), status["code"])

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Before the last byte goes out: a client that reads the audit log after
                # its response finds its own row there.
                audit_once()
            await send(message)

        if too_big:
            text = json.dumps(
                {
                    "error": f"request body is larger than the limit of {limit:,} bytes "
                    f"(Content-Length {declared!r}); send less or raise ApiConfig.max_body_bytes",
                    "status": 413,
                }
            ).encode()
            await capture(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await capture({"type": "http.response.body", "body": text})
        else:
            body = b"".join(chunks)
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            try:
                await self.app(scope, replay, capture)
            finally:  # a write that raised is audited too (status stays 500)
                audit_once()

    def _audit(self, scope: Scope, headers: dict[str, str], body: bytes, status: int) -> None:
        who, role = "anonymous", "-"
        token = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        else:
            for part in headers.get("cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    token = value
        if token:
            try:
                p = self.ctx.tokens.authenticate(token)
                who, role = f"{p.name} ({p.token_id})", p.role.value
            except AuthError:
                who = "invalid token"
        client = scope.get("client") or ("-", 0)
        self.ctx.audit.record(
            AuditRow(
                self.ctx.audit.now(),
                who,
                role,
                scope["method"],
                scope["path"],
                status,
                hashlib.sha256(body).hexdigest(),
                f"{client[0]}",
            )
        )
