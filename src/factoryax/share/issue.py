"""Issuing a lot's certificate: build from the lake, render, commit, write the files.

The order matters for the evidence chain: the certificate document is hashed, the PDF is
rendered from the document (its footer shows the document hash), the PDF is hashed, and
the ledger record commits to both digests together with every certificate field as its
own salted disclosure. A partner later receives the PDF plus an evidence bundle and checks
the PDF's SHA-256 against the disclosed ``pdf_sha256``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from factoryax.core import PlantModel
from factoryax.lake import Lake
from factoryax.ledger import Ledger, Receipt, parse_time
from factoryax.share.certificate import Certificate, SpecLimits, build_certificate
from factoryax.share.pdf import render_certificate_pdf

__all__ = ["IssuedCertificate", "issue_certificate"]


@dataclass(frozen=True)
class IssuedCertificate:
    """A committed certificate and where its files were written."""

    certificate: Certificate
    receipt: Receipt
    json_path: Path
    pdf_path: Path
    pdf_sha256: str


def _safe_name(lot: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in lot)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def issue_certificate(
    ledger: Ledger,
    lake: Lake,
    plant: PlantModel,
    lot: str,
    *,
    out_dir: Path,
    specs: Mapping[str, SpecLimits] | None = None,
    min_cpk: float | None = None,
    issued_at: dt.datetime | None = None,
) -> IssuedCertificate:
    """Builds, renders and commits the certificate of ``lot``; writes JSON and PDF.

    Files: ``<out_dir>/<lot>.coa.json`` (the document plus its ledger receipt) and
    ``<out_dir>/<lot>.coa.pdf``.

    Raises:
        LotNotFoundError: no production rows for ``lot``.
    """
    cert = build_certificate(lake, plant, lot, specs=specs, min_cpk=min_cpk, issued_at=issued_at)
    pdf = render_certificate_pdf(cert, origin=ledger.origin)
    pdf_sha = hashlib.sha256(pdf).hexdigest()
    receipt = ledger.commit(
        "quality_certificate",
        cert.fields(pdf_sha256=pdf_sha),
        claimed_at=parse_time(cert.issued_at),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _safe_name(lot)
    json_path, pdf_path = out_dir / f"{stem}.coa.json", out_dir / f"{stem}.coa.pdf"
    doc = {
        "certificate": cert.document(),
        "certificate_sha256": cert.sha256(),
        "pdf_sha256": pdf_sha,
        "ledger": {
            "origin": ledger.origin,
            "index": receipt.index,
            "leaf_hash": receipt.leaf_hash.hex(),
        },
    }
    _write(json_path, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode())
    _write(pdf_path, pdf)
    return IssuedCertificate(cert, receipt, json_path, pdf_path, pdf_sha)
