"""The ``factoryax`` command line (Typer + Rich); ``python -m factoryax`` runs the same.

`main` (the console script) imports a sub-command's module only when that command runs
(see `factoryax.cli._lazy`), so ``factoryax status`` starts without FastAPI, scikit-learn or
matplotlib. ``factoryax.cli.app`` is the whole Typer app with every sub-command mounted; it
is built, importing everything, on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factoryax.cli._lazy import mount_all
from factoryax.cli.main import app as _root

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]

app: typer.Typer  # bound by `__getattr__` on first access


def __getattr__(name: str) -> typer.Typer:
    """Builds ``app`` on first access: the root app with every sub-command mounted."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    mount_all(_root)
    globals()["app"] = _root
    return _root


def main() -> None:
    """Entry point of the ``factoryax`` console script: sub-commands load when invoked."""
    _root()
