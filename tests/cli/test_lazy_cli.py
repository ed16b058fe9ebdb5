"""The console script loads sub-commands on demand, yet shows the same tree as the eager app.

Each check of the lazy path runs in a fresh interpreter: in this one, other tests have
already built ``factoryax.cli.app``, which mounts every sub-command eagerly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from factoryax.cli._lazy import MOUNTS

HEAVY = ("fastapi", "uvicorn", "sklearn", "optuna", "matplotlib", "scipy", "asyncua")


def describe(command: Any) -> dict[str, Any]:
    """Names, help, options and sub-commands of a click command, as plain JSON data."""
    tree: dict[str, Any] = {
        "name": command.name,
        "help": command.help,
        "short_help": command.short_help,
        "hidden": command.hidden,
        "params": [
            [
                p.name,
                p.opts,
                p.secondary_opts,
                p.required,
                repr(p.default),
                p.nargs,
                p.multiple,
                getattr(p, "is_flag", None),
                getattr(p, "help", None),
                getattr(p, "hidden", None),
                repr(getattr(getattr(p, "type_descriptor", None), "annotation", None)),
            ]
            for p in command.params
        ],
    }
    if isinstance(command, TyperGroup):
        ctx = typer.Context(command)
        tree["commands"] = {
            name: describe(command.get_command(ctx, name)) for name in command.list_commands(ctx)
        }
    return tree


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter that can import this module as ``test_lazy_cli``."""
    here = str(Path(__file__).parent)
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {here!r})\n{code}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_LAZY_TREE = """
import json, typer
from factoryax.cli import main
from factoryax.cli.main import app  # what main() runs
from factoryax.cli._lazy import MOUNTS
from test_lazy_cli import describe
root = typer.main.get_command(app)
modules = {m.target.partition(":")[0] for m in MOUNTS}
imported_first = sorted(modules & set(sys.modules))
print(json.dumps({"imported_first": imported_first, "tree": describe(root)}))
"""


def test_lazy_entry_point_shows_the_same_tree_as_the_eager_app() -> None:
    """Every command, group, sub-command and option matches, in the same order."""
    from factoryax.cli import app

    done = _python(_LAZY_TREE)
    assert done.returncode == 0, done.stderr
    lazy = json.loads(done.stdout)
    assert lazy["imported_first"] == [], "the lazy root imported sub-command modules up front"
    eager = describe(typer.main.get_command(app))
    assert lazy["tree"] == eager
    assert {m.name for m in MOUNTS} <= set(eager["commands"])


def test_every_command_of_the_manual_is_there() -> None:
    """A literal list, not the mount table: a command dropped from `MOUNTS` fails here."""
    from factoryax.cli import app

    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert names == set(_MANUAL)


_MANUAL = (
    "agent", "ask", "demo", "detect", "eval", "ingest", "init", "jobs", "kpi", "lake",
    "ledger", "optimize", "query", "report", "run", "safety", "serve", "spc", "status",
    "token", "twin", "verify",
)  # fmt: skip


def test_eager_app_lists_commands_in_typer_order() -> None:
    """The root's listing keeps the order Typer itself mounted the commands in."""
    from factoryax.cli import app

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    assert root.list_commands(typer.Context(root)) == list(root.commands)


_RUN_MAIN = """
import json
from factoryax.cli import main
sys.argv = ["factoryax", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = [m for m in json.loads({heavy!r}) if m in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [["status", "--help"], ["query", "--help"], ["ledger", "--help"], ["lake", "--help"]],
)
def test_light_commands_do_not_import_heavy_libraries(argv: list[str]) -> None:
    """`factoryax status --help` and friends run without FastAPI, scikit-learn, matplotlib…"""
    done = _python(_RUN_MAIN.format(heavy=json.dumps(HEAVY)), *argv)
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, done.stderr
    assert "Usage: factoryax " + argv[0] in done.stdout


def test_python_m_factoryax_is_lazy_too() -> None:
    """`python -m factoryax status --help` takes the same lazy path (no FastAPI imported)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "factoryax", "status", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    assert "factoryax.cli.main" in imported
    assert not imported & set(HEAVY)
    assert "status" in done.stdout


def test_unknown_command_still_suggests_a_lazy_one() -> None:
    """A typo of a not-yet-loaded group still gets "did you mean" with that group."""
    done = _python(_RUN_MAIN.format(heavy=json.dumps(HEAVY)), "kip")
    assert json.loads(done.stderr.strip().splitlines()[-1])["code"] == 2
    assert "Did you mean 'kpi'?" in done.stderr
