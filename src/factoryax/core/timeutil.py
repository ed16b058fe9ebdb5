"""Time helpers: instants are timezone-aware UTC; plant time is only for people."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["UTC", "ensure_utc", "utc_now"]

UTC = dt.UTC


def utc_now() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    return dt.datetime.now(UTC)


def ensure_utc(value: dt.datetime, naive_zone: ZoneInfo) -> dt.datetime:
    """Converts an instant to UTC; a naive value is read as wall time in ``naive_zone``.

    Examples:
        >>> seoul = ZoneInfo("Asia/Seoul")
        >>> ensure_utc(dt.datetime(2026, 11, 23, 9, 0), seoul).isoformat()
        '2026-11-23T00:00:00+00:00'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=naive_zone)
    return value.astimezone(UTC)
