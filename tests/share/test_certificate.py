"""Quality certificates: numbers traced to the lake, verdict rules, PDF and JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import statistics
from pathlib import Path

import pytest
from pypdf import PdfReader

from factoryax.config import Workspace
from factoryax.core import ConfigError
from factoryax.ledger import Ledger
from factoryax.share import (
    Certificate,
    LotNotFoundError,
    SpecLimits,
    build_certificate,
    issue_certificate,
    render_certificate_pdf,
    specs_from_plant,
)

from .conftest import LOT

ISSUED = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def certificate(lots_workspace: Path) -> Certificate:
    """The certificate of LOT with the plant's own spec limits."""
    ws = Workspace(lots_workspace)
    return build_certificate(ws.lake, ws.plant, LOT, issued_at=ISSUED)


def test_quantities_add_up_and_match_the_lake(
    lots_workspace: Path, certificate: Certificate
) -> None:
    """Started = shipped + scrap (+ pending rework); FPY and defects come from the rows."""
    c = certificate
    ws = Workspace(lots_workspace)
    rows = ws.lake.query(
        "SELECT part_id, result, defect_code FROM production "
        "WHERE lot = ? AND asset = 'inspect-01' ORDER BY ts",
        [LOT],
    ).to_pylist()
    assert c.parts_inspected == len({r["part_id"] for r in rows}) == c.parts_started
    assert c.parts_shipped + c.scrap <= c.parts_started
    assert sum(c.defects.values()) == sum(1 for r in rows if r["defect_code"])
    assert c.first_pass_yield == round(c.first_pass_ok / c.parts_inspected, 4)
    assert c.rework > 0 and c.scrap > 0  # the simulated lot has both


def test_measurements_match_numpy_on_the_joined_rows(
    lots_workspace: Path, certificate: Certificate
) -> None:
    """Mean, sd, min, max and Cpk of the bore equal a direct computation."""
    ws = Workspace(lots_workspace)
    values = [
        r["value"]
        for r in ws.lake.query(
            "SELECT r.value FROM production p JOIN readings r ON r.asset = p.asset "
            "AND r.ts = p.ts WHERE p.lot = ? AND p.asset = 'inspect-01' "
            "AND r.signal = 'bore_diameter'",
            [LOT],
        ).to_pylist()
    ]
    (m,) = certificate.measurements
    assert (m.signal, m.unit, m.n) == ("bore_diameter", "mm", len(values))
    assert m.mean == pytest.approx(statistics.fmean(values), abs=1e-6)
    assert m.sd == pytest.approx(statistics.stdev(values), abs=1e-6)
    assert (m.lower, m.upper) == (41.975, 42.025)
    cpk = min(42.025 - m.mean, m.mean - 41.975) / (3 * m.sd)
    assert m.cpk == pytest.approx(cpk, abs=2e-3)
    assert m.out_of_spec >= m.out_of_spec_shipped == 0


def test_verdict_rules(lots_workspace: Path, certificate: Certificate) -> None:
    """Conforms by default; a Cpk requirement or a tighter spec makes it not conform."""
    ws = Workspace(lots_workspace)
    assert certificate.verdict == "conforms" and certificate.reasons == ()
    strict = build_certificate(ws.lake, ws.plant, LOT, min_cpk=1.33, issued_at=ISSUED)
    assert strict.verdict == "does_not_conform"
    assert "Cpk of bore_diameter" in strict.reasons[0]
    tight = {"bore_diameter": SpecLimits(41.99, 42.0)}
    narrow = build_certificate(ws.lake, ws.plant, LOT, specs=tight, issued_at=ISSUED)
    assert narrow.verdict == "does_not_conform"
    assert "shipped part(s) out of spec" in narrow.reasons[0]


def test_unfinished_lot_does_not_conform(lots_workspace: Path) -> None:
    """A lot none of whose parts reached inspection cannot be certified."""
    ws = Workspace(lots_workspace)
    cert = build_certificate(ws.lake, ws.plant, "line-1-261123T0800-L0003", issued_at=ISSUED)
    assert cert.parts_inspected == 0
    assert cert.verdict == "does_not_conform"


def test_unknown_lot_names_existing_ones(lots_workspace: Path) -> None:
    """Asking for a lot that is not in the lake lists lots that are."""
    ws = Workspace(lots_workspace)
    with pytest.raises(LotNotFoundError, match="line-1-261123T0800-L0001"):
        build_certificate(ws.lake, ws.plant, "no-such-lot")


def test_spec_limits_parse() -> None:
    """LSL:USL parses, open sides are allowed, bad text says how to write it."""
    assert SpecLimits.parse("1:2") == SpecLimits(1.0, 2.0)
    assert SpecLimits.parse(":2") == SpecLimits(None, 2.0)
    for bad in ("2:1", "x:y", "12", ":"):
        with pytest.raises(ConfigError, match=r"LSL:USL|below"):
            SpecLimits.parse(bad)


def test_plant_specs_come_from_the_twin_quality_table(lots_workspace: Path) -> None:
    """The example plant's [twin.quality] gives 42.000 ± 0.025 mm on the bore."""
    specs = specs_from_plant(Workspace(lots_workspace).plant)
    assert specs == {"bore_diameter": SpecLimits(41.975, 42.025)}


def test_json_document_round_trips(certificate: Certificate) -> None:
    """The certificate document reads back equal, with the same SHA-256."""
    doc = json.loads(json.dumps(certificate.document()))
    again = Certificate.from_document(doc)
    assert again == certificate and again.sha256() == certificate.sha256()


def test_pdf_is_deterministic_and_readable(certificate: Certificate) -> None:
    """The same certificate renders to the same bytes; the PDF text shows lot and verdict."""
    first = render_certificate_pdf(certificate, origin="factoryax.local/changwon-1")
    assert first == render_certificate_pdf(certificate, origin="factoryax.local/changwon-1")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(first)).pages)
    assert LOT in text and "CONFORMS" in text and certificate.sha256() in text


def test_issue_commits_fields_and_digests(workspace_copy: Workspace, plant_ledger: Ledger) -> None:
    """Issuing writes PDF and JSON and commits every field plus both digests."""
    ws = workspace_copy
    issued = issue_certificate(
        plant_ledger, ws.lake, ws.plant, LOT, out_dir=ws.root / "certs", issued_at=ISSUED
    )
    fields = plant_ledger.fields(issued.receipt.index)
    assert fields["lot"] == LOT and fields["verdict"] == "conforms"
    assert fields["pdf_sha256"] == hashlib.sha256(issued.pdf_path.read_bytes()).hexdigest()
    saved = json.loads(issued.json_path.read_text())
    assert saved["ledger"]["index"] == issued.receipt.index
    assert Certificate.from_document(saved["certificate"]).sha256() == fields["certificate_sha256"]
    assert plant_ledger.find("quality_certificate", lot=LOT) == [issued.receipt.index]
