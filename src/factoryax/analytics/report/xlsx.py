"""The XLSX report (openpyxl): one sheet per section, numbers stored as numbers with
formats, native Excel charts (OEE by asset, the trend, the downtime Pareto) and the
chart images of the PDF on the sheets that have one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]  # openpyxl ships no type hints
from openpyxl.chart import BarChart, LineChart, Reference  # type: ignore[import-untyped]
from openpyxl.drawing.image import Image  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from factoryax.analytics.report.content import ChartSpec, Section, Table
from factoryax.analytics.report.fonts import ReportFont

__all__ = ["write_xlsx"]

_HEAD_FILL = PatternFill("solid", fgColor="E8EEF7")


def write_xlsx(
    path: Path,
    parts: list[Section],
    figures: Mapping[str, bytes],
    font: ReportFont,
) -> Path:
    """Writes the workbook atomically to ``path``; cells use the report font's family."""
    wb = Workbook()
    first = True
    used: set[str] = set()
    for part in parts:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = _sheet_name(part.title, used)
        body = Font(name=font.family, size=10)
        ws.cell(1, 1, part.title).font = Font(name=font.family, size=13, bold=True)
        row = 3
        table_top = None
        for table in (part.table, *part.extra):
            if table is None:
                continue
            if table_top is None:
                table_top = row
            row = _table(ws, table, row, body) + 1
        for paragraph in part.paragraphs:
            cell = ws.cell(row, 1, paragraph)
            cell.font = body
            cell.alignment = Alignment(wrap_text=False)
            row += 1
        if part.chart is not None and part.table is not None and part.table.rows and table_top:
            ws.add_chart(_chart(ws, part.chart, table_top, len(part.table.rows)), f"A{row + 1}")
            row += 18
        if part.figure is not None and part.figure in figures:
            image = Image(io.BytesIO(figures[part.figure]))
            image.width, image.height = image.width * 0.5, image.height * 0.5
            ws.add_image(image, f"A{row + 1}")
        _widths(ws, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(str(tmp))
    tmp.replace(path)
    return path


def _table(ws: Any, table: Table, top: int, body: Any) -> int:
    """Writes headers and rows from row ``top``; returns the last row written."""
    for col, name in enumerate(table.headers, start=1):
        cell = ws.cell(top, col, name)
        cell.font = Font(name=body.name, size=10, bold=True)
        cell.fill = _HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for r, cells in enumerate(table.rows, start=top + 1):
        for col, c in enumerate(cells, start=1):
            value = c.value if isinstance(c.value, int | float) else c.text
            cell = ws.cell(r, col, value)
            cell.font = body
            if c.fmt and isinstance(c.value, int | float):
                cell.number_format = c.fmt
    return top + len(table.rows)


def _chart(ws: Any, spec: ChartSpec, top: int, n: int) -> Any:
    chart = BarChart() if spec.kind == "bar" else LineChart()
    chart.title = spec.title
    chart.height, chart.width = 7.5, 18.0
    for col in spec.values:
        data = Reference(ws, min_col=col + 1, min_row=top, max_row=top + n)
        chart.add_data(data, titles_from_data=True)
    cats = Reference(ws, min_col=spec.category + 1, min_row=top + 1, max_row=top + n)
    chart.set_categories(cats)
    if spec.percent:
        chart.y_axis.number_format = "0%"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 1
    return chart


def _widths(ws: Any, part: Section) -> None:
    tables = [t for t in (part.table, *part.extra) if t is not None]
    ncols = max((len(t.headers) for t in tables), default=1)
    for col in range(1, ncols + 1):
        longest = max((len(t.headers[col - 1]) for t in tables if col <= len(t.headers)), default=8)
        for t in tables:
            for cells in t.rows:
                if col <= len(cells):
                    longest = max(longest, len(cells[col - 1].text))
        ws.column_dimensions[get_column_letter(col)].width = min(max(10, longest * 1.3), 60)


def _sheet_name(title: str, used: set[str]) -> str:
    """A valid, unique sheet name (≤ 31 characters, no []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "-", title)[:28].strip() or "sheet"
    name = base
    k = 2
    while name in used:
        name = f"{base[:26]}-{k}"
        k += 1
    used.add(name)
    return name
