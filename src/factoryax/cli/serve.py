"""``factoryax serve`` (the API and dashboard of a workspace) and ``factoryax token …``.

Mount in ``cli/__init__.py``::

    from factoryax.cli.serve import serve, token_app
    app.command()(serve)
    app.add_typer(token_app, name="token")
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factoryax.api import API_DIR, ApiConfig, Role, TokenStore, create_app
from factoryax.cli.main import WorkspaceOpt, open_workspace
from factoryax.config import Workspace
from factoryax.core import FactoryAXError

__all__ = ["run_server", "serve", "token_app"]

console = Console()
err_console = Console(stderr=True)

token_app = typer.Typer(
    help="API tokens: issue (printed once; stored scrypt-hashed), list, revoke.",
    no_args_is_help=True,
)


def _store(ws: Workspace) -> TokenStore:
    return TokenStore(ws.root / API_DIR / "api.sqlite")


def run_server(
    ws: Workspace, host: str, port: int, *, config: ApiConfig | None = None, ctx_hook: object = None
) -> None:
    """Serves ``ws`` with uvicorn until interrupted (Ctrl-C)."""
    import uvicorn

    app = create_app(ws, config)
    if callable(ctx_hook):
        ctx_hook(app.state.ctx)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def serve(
    workspace: WorkspaceOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    max_body_kib: Annotated[
        int, typer.Option(help="Largest request body accepted, KiB.", min=1)
    ] = 1024,
) -> None:
    """Serve the API and the web dashboard of a configured plant.

    The first start of a workspace with no tokens issues an admin token and prints it
    (once); issue more with `factoryax token issue NAME --role viewer`.
    """
    ws = open_workspace(workspace)
    store = _store(ws)
    try:
        if not store.list():
            token = store.issue("admin", Role.ADMIN)
            console.print("first start: an admin token was issued (shown only now):")
            print(token)
    finally:
        store.close()
    console.print(f"FactoryAX dashboard on http://{host}:{port}/  (API docs: /docs)")
    run_server(ws, host, port, config=ApiConfig(max_body_bytes=max_body_kib * 1024))


@token_app.command("issue")
def token_issue(
    name: Annotated[str, typer.Argument(help="Who or what the token is for.")],
    role: Annotated[str, typer.Option(help="viewer, operator, engineer, quality, admin, partner.")],
    site: Annotated[
        list[str] | None, typer.Option(help="Site ids the token may see (default: all).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Issue a token and print it (it cannot be shown again)."""
    ws = open_workspace(workspace)
    store = _store(ws)
    try:
        print(store.issue(name, role, sites=tuple(site or ["*"])))
    except FactoryAXError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        store.close()


@token_app.command("list")
def token_list(workspace: WorkspaceOpt = None) -> None:
    """List tokens (ids, names, roles, sites; never secrets)."""
    ws = open_workspace(workspace)
    store = _store(ws)
    try:
        table = Table("id", "name", "role", "sites", "created", "revoked", title_justify="left")
        for t in store.list():
            table.add_row(
                t.token_id,
                escape(t.name),
                t.role.value,
                ",".join(t.sites),
                t.created_at.strftime("%Y-%m-%d %H:%M"),
                "yes" if t.revoked else "",
            )
        console.print(table)
    finally:
        store.close()


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (fax_<id>_…).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke a token."""
    ws = open_workspace(workspace)
    store = _store(ws)
    try:
        if not store.revoke(token_id):
            err_console.print(f"[red]error:[/red] no active token {escape(token_id)!r}")
            raise typer.Exit(2)
        console.print(f"token {token_id} revoked")
    finally:
        store.close()
