"""The ``factoryax`` command line (Typer + Rich); ``python -m factoryax`` runs the same."""

from __future__ import annotations

from factoryax.cli.agent import app as agent_app
from factoryax.cli.agent import ask
from factoryax.cli.analytics import kpi_app, report, spc_app
from factoryax.cli.demo import demo
from factoryax.cli.detect import app as detect_app
from factoryax.cli.eval import app as eval_app
from factoryax.cli.jobs import app as jobs_app
from factoryax.cli.ledger import app as ledger_app
from factoryax.cli.ledger import verify
from factoryax.cli.main import app
from factoryax.cli.optimize import app as optimize_app
from factoryax.cli.run import app as run_app
from factoryax.cli.safety import app as safety_app
from factoryax.cli.serve import serve, token_app
from factoryax.cli.twin import app as twin_app

app.command()(demo)
app.command()(verify)
app.add_typer(twin_app, name="twin")
app.add_typer(ledger_app, name="ledger")
app.command("report")(report)
app.add_typer(kpi_app, name="kpi")
app.add_typer(spc_app, name="spc")
app.add_typer(safety_app, name="safety")
app.command()(serve)
app.add_typer(token_app, name="token")
app.add_typer(optimize_app, name="optimize")
app.add_typer(detect_app, name="detect")
app.add_typer(run_app, name="run")
app.add_typer(jobs_app, name="jobs")
app.command()(ask)
app.add_typer(agent_app, name="agent")
app.add_typer(eval_app, name="eval")

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``factoryax`` console script."""
    app()
