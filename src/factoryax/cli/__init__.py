"""The ``factoryax`` command line (Typer + Rich); ``python -m factoryax`` runs the same."""

from __future__ import annotations

from factoryax.cli.demo import demo
from factoryax.cli.main import app
from factoryax.cli.twin import app as twin_app

app.command()(demo)
app.add_typer(twin_app, name="twin")

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``factoryax`` console script."""
    app()
