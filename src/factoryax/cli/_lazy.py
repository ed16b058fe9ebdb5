"""Sub-commands mounted on ``factoryax`` by name, imported only when a command line needs them.

Each sub-command module pulls in its capability (FastAPI, scikit-learn, Optuna, matplotlib,
asyncua, …) at import time; importing all of them made every ``factoryax`` call take seconds.
The root click group therefore knows the sub-commands from `MOUNTS` alone and imports a
module the first time its command is looked up, so ``factoryax status`` never loads the API
server. `mount_all` mounts the same table eagerly, for code that wants the whole Typer app
(``factoryax.cli.app``); one table serves both, so the two command trees cannot drift apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import typer
from typer._click.core import Command, Context  # typer vendors the click it extends
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

__all__ = ["MOUNTS", "LazyGroup", "Mount", "mount_all"]


@dataclass(frozen=True)
class Mount:
    """One sub-command of ``factoryax``: its name and the ``module:attribute`` defining it.

    ``group`` says whether the attribute is a `typer.Typer` (mounted with ``add_typer``) or
    a command function (mounted with ``command``).
    """

    name: str
    target: str
    group: bool

    def load(self) -> object:
        """Imports the module and returns the Typer app or command function it names."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def mount_on(self, app: typer.Typer) -> None:
        """Adds this sub-command to ``app`` exactly as an eager ``app.add_typer``/``command``."""
        target = self.load()
        if self.group:
            if not isinstance(target, typer.Typer):
                raise TypeError(f"{self.target} is {target!r}; expected a typer.Typer app")
            app.add_typer(target, name=self.name)
        else:
            if not callable(target):
                raise TypeError(f"{self.target} is {target!r}; expected a command function")
            app.command(self.name)(target)


# In mounting order; `factoryax --help` lists the commands first, then the groups.
MOUNTS: tuple[Mount, ...] = (
    Mount("demo", "factoryax.cli.demo:demo", group=False),
    Mount("verify", "factoryax.cli.ledger:verify", group=False),
    Mount("twin", "factoryax.cli.twin:app", group=True),
    Mount("ledger", "factoryax.cli.ledger:app", group=True),
    Mount("report", "factoryax.cli.analytics:report", group=False),
    Mount("kpi", "factoryax.cli.analytics:kpi_app", group=True),
    Mount("spc", "factoryax.cli.analytics:spc_app", group=True),
    Mount("safety", "factoryax.cli.safety:app", group=True),
    Mount("serve", "factoryax.cli.serve:serve", group=False),
    Mount("token", "factoryax.cli.serve:token_app", group=True),
    Mount("optimize", "factoryax.cli.optimize:app", group=True),
    Mount("detect", "factoryax.cli.detect:app", group=True),
    Mount("run", "factoryax.cli.run:app", group=True),
    Mount("jobs", "factoryax.cli.jobs:app", group=True),
    Mount("ask", "factoryax.cli.agent:ask", group=False),
    Mount("agent", "factoryax.cli.agent:app", group=True),
    Mount("eval", "factoryax.cli.eval:app", group=True),
)
_BY_NAME = {mount.name: mount for mount in MOUNTS}


def mount_all(app: typer.Typer) -> None:
    """Mounts every sub-command of `MOUNTS` on ``app`` now (imports all their modules)."""
    for mount in MOUNTS:
        mount.mount_on(app)


class LazyGroup(TyperGroup):
    """The root click group: `MOUNTS` not yet in ``commands`` are built on first lookup.

    When the sub-commands are already mounted (``factoryax.cli.app`` was built), they are in
    ``commands`` and nothing here is lazy.
    """

    def list_commands(self, ctx: Context) -> list[str]:
        """All names, in the order Typer gives an eager app, without importing any module.

        Typer lists an app's commands before its groups, each in the order mounted: the
        root's own, then `MOUNTS`.
        """
        own = [name for name in super().list_commands(ctx) if name not in _BY_NAME]
        own_groups = [name for name in own if isinstance(self.commands[name], TyperGroup)]
        return [
            *(name for name in own if name not in own_groups),
            *(mount.name for mount in MOUNTS if not mount.group),
            *own_groups,
            *(mount.name for mount in MOUNTS if mount.group),
        ]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """Returns the command, importing only its own module the first time it is asked for."""
        command = super().get_command(ctx, cmd_name)
        mount = _BY_NAME.get(cmd_name)
        if command is None and mount is not None:
            command = _build(mount)
            self.add_command(command, cmd_name)
        return command

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        """On an unknown name, loads every sub-command first so "did you mean" sees them all."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError:
            if all(mount.name in self.commands for mount in MOUNTS):
                raise
            for name in self.list_commands(ctx):
                self.get_command(ctx, name)
            return super().resolve_command(ctx, args)


def _build(mount: Mount) -> Command:
    """The click command Typer would make for ``mount`` on the root app, and nothing else.

    The mount goes on a scratch Typer with the root's settings (a callback keeps Typer from
    collapsing a one-command app), so its name, help and options come out as when mounted.
    """
    from factoryax.cli.main import app as root

    scratch = typer.Typer(
        rich_markup_mode=root.rich_markup_mode,
        suggest_commands=root.suggest_commands,
        pretty_exceptions_short=root.pretty_exceptions_short,
        add_completion=False,
    )
    scratch.callback()(_no_op)
    mount.mount_on(scratch)
    group = typer.main.get_command(scratch)
    if not isinstance(group, TyperGroup):  # pragma: no cover - a callback always makes a group
        raise TypeError(f"Typer built {group!r} for the scratch app; expected a TyperGroup")
    return group.commands[mount.name]


def _no_op() -> None:
    """Callback of the scratch app in `_build`; never run."""
