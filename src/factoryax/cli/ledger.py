"""``factoryax ledger …`` (the plant's side) and ``factoryax verify`` (the partner's side).

Mount with ``app.add_typer(ledger_app, name="ledger")`` and ``app.command()(verify)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factoryax.cli.main import WorkspaceOpt
from factoryax.config import Workspace
from factoryax.core import FactoryAXError
from factoryax.ledger import (
    LEDGER_DIR,
    JsonValue,
    Ledger,
    VerificationError,
    VerifierKey,
)
from factoryax.share import (
    PinStore,
    SharedLog,
    SpecLimits,
    build_bundle,
    issue_certificate,
    verify_bundle,
)

__all__ = ["app", "verify"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="Tamper-evident ledger: commit records, sign checkpoints, issue certificates and "
    "evidence bundles, audit the store.",
    no_args_is_help=True,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


@contextmanager
def _ledger(
    path: Path | None, *, check: bool = True, origin: str | None = None
) -> Iterator[tuple[Workspace, Ledger]]:
    """Opens the workspace's ledger; every FactoryAX error becomes a clean exit 2."""
    try:
        ws = Workspace.find(path)
        site = ws.plant.site.id
        if origin is not None:
            ledger = Ledger.open(ws.root / LEDGER_DIR, origin=origin, check=check)
        else:
            ledger = Ledger.for_workspace(ws.root, site, check=check)
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    try:
        yield ws, ledger
    except FactoryAXError as exc:
        raise _fail(str(exc)) from None
    finally:
        ledger.close()


@app.command()
def keygen(
    workspace: WorkspaceOpt = None,
    origin: Annotated[
        str | None,
        typer.Option(help="Log origin for a new ledger (default factoryax.local/<site id>)."),
    ] = None,
    rotate: Annotated[
        bool, typer.Option(help="Add a new key; the old one keeps co-signing until retired.")
    ] = False,
    retire: Annotated[
        str | None, typer.Option(help="Stop key ID (8 hex digits) from signing.")
    ] = None,
) -> None:
    """Create the ledger's signing key (Ed25519, stored 0600) and print its public key."""
    with _ledger(workspace, origin=origin) as (_, ledger):
        if retire is not None:
            ledger.keys.retire(retire)
            console.print(f"key {retire} retired; it no longer signs checkpoints")
            return
        key = ledger.keys.generate(ledger.origin, rotate=rotate)
        console.print(f"signing key {key.key_id:08x} in {ledger.keys.folder} (mode 0600)")
        console.print("give partners this public key (factoryax verify --key …):")
        print(key.verifier.encode())


@app.command()
def status(workspace: WorkspaceOpt = None) -> None:
    """Origin, size, root, latest checkpoint and keys of the workspace's ledger."""
    with _ledger(workspace) as (_, ledger):
        latest = ledger.latest_checkpoint()
        table = Table(show_header=False, box=None)
        table.add_row("origin", ledger.origin)
        table.add_row("entries", f"{ledger.size:,}")
        table.add_row("root", ledger.root().hex())
        table.add_row("checkpoint", f"size {latest.size:,}" if latest else "none signed yet")
        for key in ledger.keys.verifiers():
            table.add_row("key", key.encode())
        console.print(table)


def _value(text: str) -> JsonValue:
    """A --field value: JSON when it parses (numbers, true, objects), else the text."""
    try:
        parsed: JsonValue = json.loads(text)
    except json.JSONDecodeError:
        return text
    return parsed


@app.command()
def append(
    record_type: Annotated[str, typer.Argument(help="e.g. operator_approval, safety_incident.")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="NAME=VALUE (VALUE read as JSON when it parses)."),
    ] = None,
    from_json: Annotated[
        Path | None, typer.Option("--json", help="A JSON object of fields (merged first).")
    ] = None,
    claimed_at: Annotated[
        str | None, typer.Option(help="When it happened, ISO 8601 with offset (default now).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Commit one record (salted per-field commitments) and print its durable index."""
    fields: dict[str, JsonValue] = {}
    if from_json is not None:
        loaded = json.loads(from_json.read_text("utf-8"))
        if not isinstance(loaded, dict):
            raise _fail(f"{from_json} must hold a JSON object of fields")
        fields.update(loaded)
    for item in field or []:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise _fail(f"--field {item!r}: write NAME=VALUE")
        fields[name] = _value(text)
    at = None
    if claimed_at is not None:
        try:
            at = dt.datetime.fromisoformat(claimed_at)
        except ValueError:
            raise _fail(f"--claimed-at {claimed_at!r} is not ISO 8601") from None
        if at.tzinfo is None:
            raise _fail(f"--claimed-at {claimed_at!r} needs a UTC offset, e.g. +09:00")
    with _ledger(workspace) as (_, ledger):
        receipt = ledger.commit(record_type, fields, at)
        console.print(
            f"entry {receipt.index} committed (leaf hash {receipt.leaf_hash.hex()})",
            soft_wrap=True,
        )
        if ledger.maybe_checkpoint() is not None:
            console.print(f"checkpoint signed at size {ledger.size}")


@app.command()
def checkpoint(workspace: WorkspaceOpt = None) -> None:
    """Sign the current tree head (C2SP checkpoint) and publish it to ledger/checkpoint."""
    with _ledger(workspace) as (_, ledger):
        signed = ledger.checkpoint()
        print(signed.note, end="")


@app.command()
def audit(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the whole tree from the entries and report any tampering (exit 1)."""
    with _ledger(workspace, check=False) as (_, ledger):
        report = ledger.audit()
    if as_json:
        doc = dataclasses.asdict(report)
        doc["root"] = report.root.hex()
        doc["ok"] = report.ok
        print(json.dumps(doc, indent=1))
    else:
        console.print(
            f"{report.entries_checked:,} entries, {report.nodes_checked:,} nodes, "
            f"{report.checkpoints_checked} checkpoints, {report.payloads_checked:,} payloads "
            f"checked ({report.payloads_deleted} deleted on purpose)"
        )
        for p in report.problems:
            console.print(f"[red]{p.kind}[/red] {escape(p.message)}")
        if report.problem_count > len(report.problems):
            console.print(f"… {report.problem_count - len(report.problems)} more problem(s)")
        if report.ok:
            console.print(f"[green]ok[/green] — root {report.root.hex()}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def certificate(
    lot: Annotated[str, typer.Argument(help="Lot id as in production.lot.")],
    spec: Annotated[
        list[str] | None,
        typer.Option(help="SIGNAL=LSL:USL (default: [twin.quality] nominal ± tolerance)."),
    ] = None,
    min_cpk: Annotated[
        float | None, typer.Option(help="Cpk each specified characteristic must reach.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder (default <workspace>/certificates).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Issue the lot's certificate of analysis (PDF + JSON) and commit it to the ledger."""
    specs = None
    if spec:
        specs = {}
        for item in spec:
            name, sep, limits = item.partition("=")
            if not sep:
                raise _fail(f"--spec {item!r}: write SIGNAL=LSL:USL")
            try:
                specs[name] = SpecLimits.parse(limits)
            except FactoryAXError as exc:
                raise _fail(str(exc)) from None
    with _ledger(workspace) as (ws, ledger):
        issued = issue_certificate(
            ledger,
            ws.lake,
            ws.plant,
            lot,
            out_dir=out or ws.root / "certificates",
            specs=specs,
            min_cpk=min_cpk,
        )
        ledger.checkpoint()
        c = issued.certificate
        console.print(
            f"lot {c.lot}: {c.verdict.replace('_', ' ')} — {c.parts_shipped}/{c.parts_started} "
            f"shipped, FPY {c.first_pass_yield:.1%}"
        )
        console.print(f"ledger entry {issued.receipt.index}; files:")
        print(issued.pdf_path)
        print(issued.json_path)


@app.command()
def bundle(
    index: Annotated[int | None, typer.Argument(help="Ledger index of the entry.")] = None,
    lot: Annotated[
        str | None, typer.Option(help="Instead of INDEX: the lot's latest certificate.")
    ] = None,
    disclose: Annotated[
        str | None,
        typer.Option(help="Comma-separated fields to reveal (default all; '' for none)."),
    ] = None,
    partner: Annotated[
        str | None, typer.Option(help="Partner name: adds a proof from what it was last sent.")
    ] = None,
    since: Annotated[
        list[int] | None, typer.Option(help="Checkpoint size the partner holds (repeatable).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write an evidence bundle: chosen disclosures + leaf + tlog-proof + checkpoint."""
    if (index is None) == (lot is None):
        raise _fail("give an INDEX or --lot LOT (one of them)")
    with _ledger(workspace) as (_, ledger):
        if index is None:
            found = ledger.find("quality_certificate", lot=lot)
            if not found:
                raise _fail(f"no certificate of lot {lot!r} in the ledger; issue one first")
            index = found[-1]
        sizes = set(since or [])
        shared = SharedLog(ledger.folder / "partners.json") if ledger.folder else None
        if partner is not None and shared is not None:
            sizes.update(shared.sizes(partner)[-1:])
        names = None if disclose is None else {n.strip() for n in disclose.split(",") if n.strip()}
        result = build_bundle(ledger, index, disclose=names, since=sizes)
        text = result.to_json()
        if partner is not None and shared is not None:
            shared.record(partner, result.checkpoint_size)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"bundle of entry {index} written to {output} ({len(text):,} bytes)")


@app.command()
def forget(
    index: Annotated[int, typer.Argument(help="Ledger index whose payload to erase.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the deletion record).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Erase an entry's payload (retention, personal data); its proofs stay valid."""
    with _ledger(workspace) as (_, ledger):
        gone = ledger.forget(index, reason)
    console.print(f"payload of entry {index} {'erased' if gone else 'was already gone'}")


def _keys(values: list[str]) -> list[VerifierKey]:
    keys: list[VerifierKey] = []
    for value in values:
        path = Path(value)
        texts = path.read_text("utf-8").split() if path.is_file() else [value]
        keys.extend(VerifierKey.parse(t) for t in texts)
    return keys


def verify(
    bundle: Annotated[Path, typer.Argument(help="The evidence bundle (JSON).")],
    key: Annotated[
        list[str],
        typer.Option("--key", "-k", help="Trusted public key <name>+<id>+<base64>, or a file."),
    ],
    origin: Annotated[
        str | None, typer.Option(help="Expected log origin (default: the key's name).")
    ] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="A document (the PDF) whose digest must match."),
    ] = None,
    pins: Annotated[
        Path | None,
        typer.Option(help="Pinned checkpoints file (default ~/.factoryax/pins.json)."),
    ] = None,
    no_pin: Annotated[
        bool, typer.Option("--no-pin", help="Do not check or update pinned checkpoints.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify an evidence bundle offline: signature → leaf → inclusion → disclosures → pin.

    Exit 0 when every check passes, 1 when one fails (the step is named), 2 on bad input.
    """
    try:
        keys = _keys(key)
        text = bundle.read_text("utf-8")
        store = None if no_pin else PinStore(pins or Path.home() / ".factoryax" / "pins.json")
        result = verify_bundle(text, keys, origin=origin, pins=store, attachments=file or [])
    except VerificationError as exc:
        err_console.print(f"[red]FAILED[/red] at step {exc.step!r}: {escape(str(exc))}")
        raise typer.Exit(1) from None
    except (FactoryAXError, OSError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps(result.summary(), indent=1, ensure_ascii=False))
        return
    console.print(
        f"[green]verified[/green] entry {result.index} of {escape(result.origin)} "
        f"(checkpoint size {result.checkpoint.size:,}, signed by {', '.join(result.signed_by)})",
        soft_wrap=True,
    )
    console.print(
        f"record {result.record_type} v{result.schema_version}, claimed "
        f"{result.claimed_at.isoformat()}; {len(result.fields)} field(s) disclosed, "
        f"{result.undisclosed} withheld",
        soft_wrap=True,
    )
    if result.pin is not None:
        console.print(f"pin: {result.pin.describe()}")
    for name, field_name in result.attachments.items():
        console.print(f"file {escape(name)} matches {field_name}")
    if not result.fields:
        return
    table = Table("field", "value", title_justify="left")
    for name, value in result.fields.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        table.add_row(escape(name), escape(shown if len(shown) < 200 else shown[:197] + "…"))
    console.print(table)
