"""The PDF report (fpdf2), with the Korean TrueType font embedded (subset) in the file.

fpdf2 writes a ToUnicode map for embedded fonts, so the text can be searched, copied and
extracted (the tests read the Hangul back with pypdf).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from factoryax.analytics.report.content import Section, Table
from factoryax.analytics.report.fonts import ReportFont

__all__ = ["write_pdf"]

_FAMILY = "report"
_MARGIN = 12.0


def write_pdf(
    path: Path,
    parts: list[Section],
    figures: Mapping[str, bytes],
    font: ReportFont,
    *,
    title: str,
    footer: str,
) -> Path:
    """Lays out ``parts`` on A4 pages and writes the PDF atomically to ``path``."""
    pdf = _Report(footer)
    pdf.set_title(title)
    pdf.set_creator("FactoryAX")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN + 4)
    pdf.add_font(_FAMILY, "", str(font.regular))
    bold = font.bold is not None
    if font.bold is not None:
        pdf.add_font(_FAMILY, "B", str(font.bold))
    pdf.add_page()
    for i, part in enumerate(parts):
        heading_size = 15 if i == 0 else 11
        pdf.set_font(_FAMILY, "B" if bold else "", heading_size)
        pdf.multi_cell(0, 8 if i == 0 else 7, part.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(_FAMILY, "", 8)
        for table in (part.table, *part.extra):
            if table is not None:
                _table(pdf, table, bold)
                pdf.ln(2)
        for paragraph in part.paragraphs:
            pdf.multi_cell(0, 4.2, paragraph, new_x="LMARGIN", new_y="NEXT")
        if part.figure is not None and part.figure in figures:
            width = pdf.w - 2 * _MARGIN
            if pdf.get_y() + width * 0.38 > pdf.h - _MARGIN - 4:
                pdf.add_page()
            pdf.image(io.BytesIO(figures[part.figure]), w=width)
        pdf.ln(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with _quiet_subsetter():
        pdf.output(str(tmp))
    tmp.replace(path)
    return path


@contextlib.contextmanager
def _quiet_subsetter() -> Iterator[None]:
    """fontTools warns about every TrueType hinting table it drops while subsetting (harmless)."""
    logger = logging.getLogger("fontTools.subset")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class _Report(FPDF):
    def __init__(self, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer_text = footer

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(_FAMILY, "", 7)
        self.set_text_color(110)
        self.cell(0, 5, f"{self._footer_text} · {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)


def _table(pdf: FPDF, table: Table, bold: bool) -> None:
    widths = table.widths or tuple(1.0 for _ in table.headers)
    align = tuple("LEFT" if k == 0 else "RIGHT" for k in range(len(table.headers)))
    heading = FontFace(emphasis="BOLD" if bold else None, fill_color=(232, 238, 247))
    with pdf.table(
        col_widths=widths,
        text_align=align,
        headings_style=heading,
        line_height=4.6,
        padding=0.8,
        borders_layout="HORIZONTAL_LINES",
    ) as out:
        head = out.row()
        for name in table.headers:
            head.cell(name)
        for cells in table.rows:
            row = out.row()
            for cell in cells:
                row.cell(cell.text)
