"""The report font: a TrueType font with Hangul, found at known paths, embedded in the PDF.

Reports never fall back to a font without Hangul (that is how "tofu" boxes happen): when no
font is found the error names the fix. Before anything is drawn, every string of the
report is checked against the font's character map (:func:`check_glyphs`).

Examples:
    >>> find_korean_font(candidates=["/nonexistent/NanumGothic.ttf"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    factoryax.core.errors.ConfigError: no Korean TrueType font found ...fonts-nanum...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # fontTools has no hints

from factoryax.core import ConfigError

__all__ = ["KNOWN_FONTS", "ReportFont", "check_glyphs", "find_korean_font"]

KNOWN_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",  # Debian/Ubuntu: fonts-nanum
    "/usr/share/fonts/nanum/NanumGothic.ttf",  # Fedora, Arch
    "/usr/share/fonts/naver-nanum/NanumGothic.ttf",  # openSUSE
    "/usr/local/share/fonts/NanumGothic.ttf",
    "/usr/share/fonts/truetype/unfonts-core/UnDotum.ttf",  # Debian: fonts-unfonts-core
    "/Library/Fonts/NanumGothic.ttf",  # macOS, user-installed
    "C:/Windows/Fonts/malgun.ttf",  # Windows: Malgun Gothic
)
"""Where a Korean TrueType font is looked for, in order."""

_HANGUL_PROBE = "가한글"


@dataclass(frozen=True)
class ReportFont:
    """A regular (and, when found beside it, bold) TrueType font with Hangul."""

    regular: Path
    bold: Path | None = None

    @property
    def family(self) -> str:
        """The family name the font is registered under in PDF and charts."""
        return _family(str(self.regular))


def find_korean_font(
    path: Path | None = None, *, candidates: Sequence[str] = KNOWN_FONTS
) -> ReportFont:
    """The configured font, else the first known one that exists and has Hangul.

    Args:
        path: an explicit ``.ttf`` (``--font`` on the command line).
        candidates: the paths to try when ``path`` is None.

    Raises:
        ConfigError: the font is missing, is not a TrueType file, or has no Hangul; the
            message names the fix.
    """
    tried = [Path(path)] if path is not None else [Path(p) for p in candidates]
    for candidate in tried:
        if not candidate.is_file():
            continue
        if candidate.suffix.lower() != ".ttf":
            raise ConfigError(
                f"report font {str(candidate)!r} is not a .ttf file; pass a TrueType font "
                "with Hangul such as NanumGothic.ttf"
            )
        if _missing(str(candidate), _HANGUL_PROBE):
            raise ConfigError(
                f"report font {str(candidate)!r} has no Hangul glyphs; pass a Korean "
                "TrueType font such as NanumGothic.ttf"
            )
        bold = _bold_beside(candidate)
        return ReportFont(candidate, bold)
    looked = ", ".join(str(p) for p in tried)
    raise ConfigError(
        f"no Korean TrueType font found (looked at: {looked}); install one with "
        "`apt-get install fonts-nanum` (Debian/Ubuntu), or pass the path of a .ttf with "
        "Hangul (`--font PATH`, or font=PATH in Python). Reports are never drawn with a "
        "font that would show Hangul as empty boxes."
    )


def check_glyphs(font: ReportFont, texts: Iterable[str]) -> None:
    """Raises when a character of ``texts`` is not in the font (it would render as tofu).

    Raises:
        ConfigError: naming the characters and where they came from.
    """
    missing: set[str] = set()
    for text in texts:
        missing |= _missing(str(font.regular), text)
    if missing:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in sorted(missing))
        raise ConfigError(
            f"report text uses characters missing from {font.regular.name}: {shown}; "
            "choose a font that has them (--font PATH) or rename the plant entries using them"
        )


def _bold_beside(regular: Path) -> Path | None:
    for name in (f"{regular.stem}Bold.ttf", f"{regular.stem}-Bold.ttf", "malgunbd.ttf"):
        candidate = regular.with_name(name)
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=8)
def _cmap(path: str) -> frozenset[int]:
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


@lru_cache(maxsize=8)
def _family(path: str) -> str:
    with TTFont(path, lazy=True) as font:
        name = font["name"].getDebugName(1)
    return name or Path(path).stem


def _missing(path: str, text: str) -> set[str]:
    cmap = _cmap(path)
    return {c for c in text if not c.isspace() and ord(c) not in cmap}
