"""Ledger status, certificates (issue, list, PDF) and evidence bundles.

A partner token reaches the certificate list and bundles of ``quality_certificate``
entries only; issuing is for the quality role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.core import ConfigError
from factoryax.ledger import LEDGER_DIR, Ledger
from factoryax.share import build_bundle, issue_certificate

router = APIRouter(prefix="/api", tags=["ledger"])

Ctx = Annotated[ApiContext, Depends(context)]
Quality = Annotated[Principal, Depends(require(Role.QUALITY))]
Evidence = Annotated[Principal, Depends(require(Role.QUALITY, Role.PARTNER))]
Anyone = Annotated[Principal, Depends(require(*Role, site_data=False))]


class Issue(BaseModel):
    """A certificate to issue."""

    lot: str = Field(min_length=1, max_length=100)
    min_cpk: float | None = Field(None, gt=0, le=10)


@contextmanager
def ledger_of(ctx: ApiContext) -> Iterator[Ledger]:
    """The workspace's ledger, or a 400 saying how to create it."""
    if not (ctx.root / LEDGER_DIR / "ledger.sqlite").is_file():
        raise ConfigError("this workspace has no ledger yet; run `factoryax ledger keygen`")
    with Ledger.for_workspace(ctx.root, ctx.site) as ledger:
        yield ledger


@router.get("/ledger")
def status(_: Anyone, ctx: Ctx) -> dict[str, Any]:
    """Origin, size, root, latest checkpoint and the public keys to verify with."""
    with ledger_of(ctx) as ledger:
        latest = ledger.latest_checkpoint()
        return {
            "origin": ledger.origin,
            "size": ledger.size,
            "root": ledger.root().hex(),
            "checkpoint_size": latest.size if latest else None,
            "keys": [k.encode() for k in ledger.keys.verifiers()],
        }


@router.get("/certificates")
def certificates(_: Evidence, ctx: Ctx) -> list[dict[str, Any]]:
    """Issued certificates, newest first."""
    out = []
    with ledger_of(ctx) as ledger:
        for index in reversed(ledger.find("quality_certificate")):
            f = ledger.fields(index)
            out.append(
                {
                    "index": index,
                    "lot": f.get("lot"),
                    "verdict": f.get("verdict"),
                    "issued_at": f.get("issued_at"),
                    "product": f.get("product"),
                }
            )
    return out


@router.get("/certificates/lots")
def lots(_: Quality, ctx: Ctx) -> list[dict[str, Any]]:
    """Lots in the lake (latest first) that a certificate can be issued for."""
    rows = ctx.ws.lake.query(
        "SELECT lot, max(ts) AS last, count(*) AS parts FROM production WHERE lot IS NOT NULL "
        "GROUP BY lot ORDER BY last DESC LIMIT 50"
    ).to_pylist()
    return [{"lot": r["lot"], "last": r["last"].isoformat(), "parts": r["parts"]} for r in rows]


@router.post("/certificates", status_code=201)
def issue(body: Issue, _: Quality, ctx: Ctx) -> dict[str, Any]:
    """(quality) Issues the lot's certificate of analysis and commits it to the ledger."""
    with ctx.write_lock, ledger_of(ctx) as ledger:
        issued = issue_certificate(
            ledger,
            ctx.ws.lake,
            ctx.ws.plant,
            body.lot,
            out_dir=ctx.root / "certificates",
            min_cpk=body.min_cpk,
        )
        ledger.checkpoint()
    c = issued.certificate
    return {
        "index": issued.receipt.index,
        "lot": c.lot,
        "verdict": c.verdict,
        "parts_shipped": c.parts_shipped,
        "parts_started": c.parts_started,
        "first_pass_yield": c.first_pass_yield,
        "pdf_sha256": issued.pdf_sha256,
    }


def _certificate_entry(ledger: Ledger, index: int) -> dict[str, Any]:
    if not 0 <= index < ledger.size:
        raise ConfigError(f"no ledger entry {index}; the ledger has {ledger.size}")
    entry = ledger.entry(index)
    if entry.record_type != "quality_certificate":
        raise ConfigError(f"entry {index} is a {entry.record_type!r}, not a certificate")
    return ledger.fields(index)


@router.get("/bundles/{index}")
def bundle(
    index: int,
    _: Evidence,
    ctx: Ctx,
    disclose: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """The evidence bundle of certificate entry ``index`` (JSON download)."""
    with ctx.write_lock, ledger_of(ctx) as ledger:
        fields = _certificate_entry(ledger, index)
        names = None if disclose is None else {n.strip() for n in disclose.split(",") if n.strip()}
        text = build_bundle(ledger, index, disclose=names).to_json()
    lot = str(fields.get("lot", index))
    return Response(text, media_type="application/json", headers=_attachment(f"{lot}.bundle.json"))


def _attachment(name: str) -> dict[str, str]:
    """A Content-Disposition for any file name: an ASCII fallback plus RFC 5987 UTF-8,
    so a lot named in Korean downloads under its own name instead of failing."""
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return {
        "Content-Disposition": f'attachment; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    }


@router.get("/certificates/{index}/pdf")
def pdf(index: int, _: Evidence, ctx: Ctx) -> FileResponse:
    """The certificate's PDF (its SHA-256 is a committed field)."""
    with ledger_of(ctx) as ledger:
        fields = _certificate_entry(ledger, index)
    lot = str(fields.get("lot"))
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in lot)
    path = ctx.root / "certificates" / f"{stem}.coa.pdf"
    if not path.is_file():
        raise ConfigError(
            f"the PDF of lot {lot!r} is not in the workspace's certificates folder; "
            "issue the certificate again"
        )
    return FileResponse(path, media_type="application/pdf", filename=path.name)
