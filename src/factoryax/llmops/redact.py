"""Redaction of personal data before anything is persisted (traces, pending actions).

Korean resident registration numbers (주민등록번호), Korean phone numbers, e-mail
addresses and names from a configured list are replaced by a typed placeholder, e.g.
``[RRN]``. The patterns err on the side of redacting.

Examples:
    >>> Redactor(names=("홍길동",)).redact("홍길동 010-1234-5678 hong@example.com")
    '[NAME] [PHONE] [EMAIL]'
    >>> Redactor().redact("주민번호 900101-1234567")
    '주민번호 [RRN]'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Redactor"]

_RRN = re.compile(r"(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[- ]?[1-8]\d{6}(?!\d)")
_PHONE = re.compile(
    r"(?<![\d-])(?:\+82[- ]?)?0?(?:1[016789]|2|[3-6][1-5]|70)[- .]?\d{3,4}[- .]?\d{4}(?![\d-])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class Redactor:
    """Replaces personal data in text.

    Args:
        names: person names to redact wherever they appear (case-insensitive).
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = tuple(sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True))
        self._names = (
            re.compile("|".join(re.escape(n) for n in self.names), re.IGNORECASE)
            if self.names
            else None
        )

    def redact(self, text: str) -> str:
        """``text`` with RRNs, e-mails, phone numbers and listed names replaced."""
        text = _RRN.sub("[RRN]", text)
        text = _EMAIL.sub("[EMAIL]", text)
        text = _PHONE.sub("[PHONE]", text)
        if self._names is not None:
            text = self._names.sub("[NAME]", text)
        return text

    def redact_value(self, value: Any) -> Any:
        """``value`` with every string in it (dict keys and values, list items) redacted.

        Examples:
            >>> Redactor(names=("홍길동",)).redact_value({"note": ["홍길동", 3], "n": None})
            {'note': ['[NAME]', 3], 'n': None}
        """
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact_value(k): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return value
