"""The ledger commands and `factoryax verify`, driven through Typer like a user would."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import typer
from typer.testing import CliRunner

from factoryax.cli.ledger import app as ledger_app
from factoryax.cli.ledger import verify
from factoryax.config import Workspace

from .conftest import LOT

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(ledger_app, name="ledger")
cli.command()(verify)


def _run(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_issue_bundle_verify_and_audit(workspace_copy: Workspace, tmp_path: Path) -> None:
    """keygen → certificate → bundle → verify (with the PDF) → audit, end to end."""
    w = str(workspace_copy.root)
    vkey = _run("ledger", "keygen", "-w", w).strip().splitlines()[-1]
    assert vkey.startswith("factoryax.local/changwon-1+")
    out = _run("ledger", "certificate", LOT, "-w", w, "-o", str(tmp_path / "certs"))
    assert "conforms" in out
    pdf = tmp_path / "certs" / f"{LOT}.coa.pdf"
    bundle = tmp_path / "bundle.json"
    _run(
        "ledger", "bundle", "--lot", LOT, "--disclose", "lot,verdict,pdf_sha256",
        "--partner", "oem", "-o", str(bundle), "-w", w,
    )  # fmt: skip
    pins = str(tmp_path / "pins.json")
    shown = _run("verify", str(bundle), "--key", vkey, "--file", str(pdf), "--pins", pins)
    assert "verified" in shown and "trust on first use" in shown and "pdf_sha256" in shown
    _run("ledger", "append", "safety_incident", "-f", "kind=estop", "-f", "asset=press-01",
         "-f", "severity=1", "-w", w)  # fmt: skip
    _run("ledger", "bundle", "1", "--partner", "oem", "-o", str(bundle), "-w", w)
    again = runner.invoke(cli, ["verify", str(bundle), "--key", vkey, "--pins", pins, "--json"])
    assert again.exit_code == 0, again.output
    doc = json.loads(again.output)
    assert doc["pin"] == "advanced" and doc["fields"]["severity"] == 1
    assert "ok" in _run("ledger", "audit", "-w", w)


def test_tampered_bundle_and_store_exit_one(workspace_copy: Workspace, tmp_path: Path) -> None:
    """A tampered bundle fails verify with exit 1 naming the step; a tampered store fails audit."""
    w = str(workspace_copy.root)
    vkey = _run("ledger", "keygen", "-w", w).strip().splitlines()[-1]
    _run("ledger", "append", "operator_approval", "-f", "action=release", "-f", "operator=kim",
         "-f", "decision=approved", "-w", w)  # fmt: skip
    _run("ledger", "checkpoint", "-w", w)
    bundle = tmp_path / "b.json"
    _run("ledger", "bundle", "0", "-o", str(bundle), "-w", w)
    doc = json.loads(bundle.read_text())
    doc["leaf"] = doc["leaf"].replace("2026", "2030", 1)
    bundle.write_text(json.dumps(doc))
    failed = runner.invoke(cli, ["verify", str(bundle), "--key", vkey, "--no-pin"])
    assert failed.exit_code == 1 and "FAILED" in failed.output
    con = sqlite3.connect(workspace_copy.root / "ledger" / "ledger.sqlite", isolation_level=None)
    con.execute("UPDATE entries SET leaf = ? WHERE idx = 0", (b"{}",))
    con.close()
    audited = runner.invoke(cli, ["ledger", "audit", "-w", w])
    assert audited.exit_code == 1 and "leaf-mismatch" in audited.output


def test_usage_errors_exit_two(workspace_copy: Workspace, tmp_path: Path) -> None:
    """Bad keys, bad fields and unknown lots are explained with exit code 2."""
    w = str(workspace_copy.root)
    bad_key = runner.invoke(cli, ["verify", str(tmp_path / "x.json"), "--key", "nonsense"])
    assert bad_key.exit_code == 2
    bad_field = runner.invoke(cli, ["ledger", "append", "operator_approval", "-f", "x", "-w", w])
    assert bad_field.exit_code == 2 and "NAME=VALUE" in bad_field.output
    no_lot = runner.invoke(cli, ["ledger", "certificate", "nope", "-w", w])
    assert no_lot.exit_code == 2 and "no production rows" in no_lot.output


def test_key_file_forget_and_status(workspace_copy: Workspace, tmp_path: Path) -> None:
    """verify reads keys from a file; forget keeps proofs; status shows size and key."""
    w = str(workspace_copy.root)
    vkey = _run("ledger", "keygen", "-w", w).strip().splitlines()[-1]
    key_file = tmp_path / "plant.vkey"
    key_file.write_text(vkey + "\n")
    _run("ledger", "append", "operator_approval", "-f", "action=release", "-f", "operator=kim",
         "-f", "decision=approved", "-w", w)  # fmt: skip
    assert "erased" in _run("ledger", "forget", "0", "--reason", "retention", "-w", w)
    bundle = tmp_path / "b.json"
    _run("ledger", "bundle", "0", "--disclose", "", "-o", str(bundle), "-w", w)
    shown = _run("verify", str(bundle), "--key", str(key_file), "--no-pin")
    assert "0 field(s) disclosed, 3 withheld" in shown
    status = _run("ledger", "status", "-w", w)
    assert "entries" in status and "size 1" in status
