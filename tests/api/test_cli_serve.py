"""`factoryax token …` (mounted here on a local Typer app until the main CLI mounts it)."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from factoryax.api import TokenStore
from factoryax.cli.serve import serve, token_app
from factoryax.config import Workspace

app = typer.Typer()
app.command()(serve)
app.add_typer(token_app, name="token")


def test_token_issue_list_revoke(workspace: Workspace) -> None:
    """A token issued on the command line authenticates; revoking it stops it."""
    runner = CliRunner()
    w = ["--workspace", str(workspace.root)]
    out = runner.invoke(app, ["token", "issue", "kim", "--role", "operator", *w])
    assert out.exit_code == 0, out.output
    token = out.output.strip().splitlines()[-1]
    store = TokenStore(workspace.root / "api" / "api.sqlite")
    try:
        assert store.authenticate(token).role.value == "operator"
        listed = runner.invoke(app, ["token", "list", *w])
        assert "kim" in listed.output and token.split("_")[2] not in listed.output
        token_id = token.split("_")[1]
        assert runner.invoke(app, ["token", "revoke", token_id, *w]).exit_code == 0
        assert runner.invoke(app, ["token", "revoke", token_id, *w]).exit_code == 2
    finally:
        store.close()
    bad = runner.invoke(app, ["token", "issue", "x", "--role", "boss", *w])
    assert bad.exit_code == 2 and "boss" in bad.output


def test_serve_rejects_a_folder_without_plant(tmp_path: Path) -> None:
    """`serve` outside a workspace exits 2 with the reason."""
    out = CliRunner().invoke(app, ["serve", "--workspace", str(tmp_path)])
    assert out.exit_code == 2 and "plant.toml" in out.output
