"""The certificate as a PDF (fpdf2): bilingual (English / 한국어) when a Korean font exists.

The PDF is a rendering of the certificate JSON, nothing more: every number in it comes
from :class:`~factoryax.share.certificate.Certificate`, and its footer carries the
document's SHA-256 so a reader can match paper to data. Rendering is deterministic (the
creation date is the issue time), so the same certificate always gives the same bytes
and the PDF's own SHA-256 can be committed to the ledger.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from factoryax.ledger import JsonValue, parse_time
from factoryax.share.certificate import Certificate

__all__ = ["FONT_CANDIDATES", "render_certificate_pdf"]

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
    Path("/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
"""Korean-capable fonts tried in order; without one the PDF is English only."""


def _label(en: str, ko: str, korean: bool) -> str:
    return f"{en} / {ko}" if korean else en


def _fmt(value: JsonValue) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: list[int]) -> None:
    pdf.set_fill_color(230, 236, 245)
    for text, width in zip(header, widths, strict=True):
        pdf.cell(width, 6, text, border=1, fill=True)
    pdf.ln()
    for row in rows:
        for text, width in zip(row, widths, strict=True):
            pdf.cell(width, 6, text, border=1)
        pdf.ln()
    pdf.ln(2)


def render_certificate_pdf(
    certificate: Certificate, *, origin: str | None = None, font: Path | None = None
) -> bytes:
    """Renders the certificate; returns the PDF bytes.

    Args:
        certificate: what to render.
        origin: the ledger's origin, printed in the footer (where to verify).
        font: a TrueType font with Hangul; default the first of :data:`FONT_CANDIDATES`.
    """
    # fontTools reports tables it cannot subset on the logging channel; the font still works.
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    korean_font = font or next((p for p in FONT_CANDIDATES if p.is_file()), None)
    korean = korean_font is not None
    pdf = FPDF(format="A4")
    pdf.set_creation_date(parse_time(certificate.issued_at))
    pdf.set_title(f"Certificate of analysis {certificate.lot}")
    pdf.set_author(certificate.site_name)
    pdf.set_creator("FactoryAX")
    if korean_font is not None:
        pdf.add_font("cert", fname=str(korean_font))
        family = "cert"
    else:
        family = "helvetica"
    pdf.add_page()
    pdf.set_font(family, size=16)
    pdf.cell(0, 10, _label("Certificate of Analysis", "품질 성적서", korean))
    pdf.ln(12)
    pdf.set_font(family, size=9)
    c = certificate
    head = [
        (_label("Supplier", "공급사", korean), f"{c.site_name} ({c.site})"),
        (_label("Line", "라인", korean), c.line),
        (_label("Product", "품번", korean), c.product),
        (_label("Lot", "로트", korean), c.lot),
        (_label("Produced (UTC)", "생산 기간", korean), f"{c.period_start} - {c.period_end}"),
        (_label("Issued (UTC)", "발행일", korean), c.issued_at),
        (_label("Certificate", "성적서 번호", korean), c.certificate_id),
    ]
    for key, value in head:
        pdf.cell(55, 6, key)
        pdf.cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font(family, size=11)
    pdf.cell(0, 7, _label("Quantities", "수량", korean), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, size=9)
    quantities = [
        ["started", str(c.parts_started)],
        ["inspected", str(c.parts_inspected)],
        ["shipped (ok)", str(c.parts_shipped)],
        ["first-pass ok", str(c.first_pass_ok)],
        ["rework", str(c.rework)],
        ["scrap", str(c.scrap)],
        ["first-pass yield", f"{c.first_pass_yield:.2%}"],
        ["final yield", f"{c.final_yield:.2%}"],
    ]
    _table(pdf, ["", _label("parts", "개수", korean)], quantities, [60, 40])
    if c.defects:
        pdf.set_font(family, size=11)
        pdf.cell(0, 7, _label("Defects", "불량", korean), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(family, size=9)
        _table(pdf, ["code", "n"], [[k, str(v)] for k, v in c.defects.items()], [60, 40])
    pdf.set_font(family, size=11)
    pdf.cell(0, 7, _label("Measurements", "측정 결과", korean), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, size=8)
    header = ["characteristic", "n", "mean", "sd", "min", "max", "LSL", "USL", "Cpk", "OOS"]
    widths = [34, 12, 20, 18, 20, 20, 18, 18, 14, 14]
    rows = [
        [
            f"{m.signal} [{m.unit}]",
            str(m.n),
            _fmt(m.mean),
            _fmt(m.sd),
            _fmt(m.min),
            _fmt(m.max),
            _fmt(m.lower),
            _fmt(m.upper),
            _fmt(m.cpk),
            f"{m.out_of_spec}/{m.out_of_spec_shipped}",
        ]
        for m in c.measurements
    ]
    _table(pdf, header, rows, widths)
    pdf.cell(
        0,
        5,
        "OOS = out of spec: all measured / among shipped parts",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    if c.kpis:
        pdf.set_font(family, size=11)
        pdf.cell(
            0, 7, _label("Process KPIs", "공정 지표", korean), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_font(family, size=8)
        _table(pdf, ["kpi", "value"], [[k, _fmt(v)] for k, v in c.kpis.items()], [60, 40])
    pdf.ln(3)
    verdict = "CONFORMS" if c.verdict == "conforms" else "DOES NOT CONFORM"
    verdict_ko = "적합" if c.verdict == "conforms" else "부적합"
    pdf.set_font(family, size=13)
    pdf.cell(
        0,
        9,
        _label(f"Verdict: {verdict}", verdict_ko, korean),
        border=1,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(family, size=9)
    for reason in c.reasons:
        pdf.cell(0, 5, f"- {reason}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    pdf.set_font(family, size=7)
    footer = [
        f"Certificate document SHA-256: {c.sha256()}",
        "Committed to a tamper-evident ledger"
        + (f" ({origin})" if origin else "")
        + "; check the evidence bundle with: "
        "factoryax verify BUNDLE.json --key KEY --file THIS.pdf",
    ]
    for line in footer:
        pdf.multi_cell(0, 4, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
