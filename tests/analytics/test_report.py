"""Reports: PDF with the Korean font embedded (rendered and read back), XLSX with charts."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from pypdf import PdfReader

from factoryax.analytics import ReportPaths, find_korean_font, report
from factoryax.analytics.report.fonts import ReportFont, check_glyphs
from factoryax.config import Workspace
from factoryax.core import ConfigError

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def korean_day(twin_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    """The Korean day report of Monday 2026-11-23."""
    out = tmp_path_factory.mktemp("report-ko")
    return report(twin_ws, "2026-11-23", lang="ko", kind="day", out_dir=out, now=NOW)


def test_korean_pdf_renders_to_png_and_its_hangul_reads_back(
    korean_day: ReportPaths, tmp_path: Path
) -> None:
    """pdftoppm renders page 1; pypdf extracts the Korean KPI names; the font is embedded."""
    assert korean_day.pdf.name == "factoryax-day-2026-11-23-ko.pdf"
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm is not None, "poppler-utils (pdftoppm) is needed: apt-get install poppler-utils"
    subprocess.run(
        [
            pdftoppm,
            "-png",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            str(korean_day.pdf),
            str(tmp_path / "page"),
        ],
        check=True,
        capture_output=True,
    )
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    reader = PdfReader(korean_day.pdf)
    text = "".join(page.extract_text() for page in reader.pages)
    for phrase in ("일일 생산 보고서", "설비종합효율", "가동률", "불량률", "생산성", "납기준수율"):
        assert phrase in text, phrase
    assert "산출 불가" in text  # on-time delivery is not invented
    resources: Any = reader.pages[0]["/Resources"]
    fonts = resources["/Font"]
    names = [str(fonts[k].get_object()["/BaseFont"]) for k in fonts]
    assert any("NanumGothic" in n for n in names)


def test_korean_xlsx_has_sheets_numbers_and_native_charts(korean_day: ReportPaths) -> None:
    """Each section is a sheet; KPI cells hold numbers with formats; OEE has a bar chart."""
    wb = load_workbook(korean_day.xlsx)
    assert wb.sheetnames[:3] == ["일일 생산 보고서", "요약", "설비별 KPI"]
    sheet = wb["설비별 KPI"]
    assert sheet["A3"].value == "설비" and sheet["A4"].value == "cnc-01"
    assert isinstance(sheet["B4"].value, float) and sheet["B4"].number_format == "0.0%"
    assert sheet._charts and sheet._images  # native chart + the PDF's picture
    assert any(name.startswith("통계적 공정관리") for name in wb.sheetnames)


def test_english_shift_report(twin_ws: Workspace, tmp_path: Path) -> None:
    """The English night-shift report names its period and writes both files."""
    paths = report(twin_ws, "2026-11-23/night", lang="en", kind="shift", out_dir=tmp_path, now=NOW)
    assert paths.pdf.name == "factoryax-shift-2026-11-23_night-en.pdf" and paths.xlsx.is_file()
    text = PdfReader(paths.pdf).pages[0].extract_text()
    assert "Shift production report" in text and "On-time delivery" in text


def test_missing_korean_font_names_the_fix(tmp_path: Path) -> None:
    """No font at any known path: the error says how to install one or which flag to use."""
    with pytest.raises(ConfigError, match=r"apt-get install fonts-nanum.*--font"):
        find_korean_font(candidates=[str(tmp_path / "none.ttf")])


def test_a_font_without_hangul_is_refused() -> None:
    """matplotlib's bundled DejaVu Sans has no Hangul, so it is not accepted."""
    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    with pytest.raises(ConfigError, match="no Hangul"):
        find_korean_font(dejavu)


def test_characters_outside_the_font_stop_the_report_before_drawing() -> None:
    """A character the font lacks (U+2212 minus in NanumGothic) is an error, never tofu."""
    font: ReportFont = find_korean_font()
    check_glyphs(font, ["설비종합효율 85.3% σ ≤ ±"])
    with pytest.raises(ConfigError, match="U\\+2212"):
        check_glyphs(font, ["PQ \u2212 GQ"])


def test_bad_language_and_kind_are_errors(twin_ws: Workspace, tmp_path: Path) -> None:
    """Only ko/en and shift/day/week are offered."""
    with pytest.raises(ConfigError, match="language"):
        report(twin_ws, "2026-11-23", lang="ja", out_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="kind"):
        report(twin_ws, "2026-11-23", kind="month", out_dir=tmp_path)  # type: ignore[arg-type]
