"""The ``factoryax`` command line (Typer + Rich); ``python -m factoryax`` runs the same."""

from __future__ import annotations

from factoryax.cli.main import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``factoryax`` console script."""
    app()
