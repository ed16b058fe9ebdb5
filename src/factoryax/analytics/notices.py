"""Caveats that travel with KPI figures, worded in English and Korean.

A number without its caveat misleads: parts made outside any shift, effectiveness capped
at 100 %, a missing ideal cycle time or planned time nobody recorded are all stated next
to the figures they affect (in the CLI output and in reports).

Examples:
    >>> n = Notice("gaps", "1.00 h has no state record", "1.00시간의 상태 기록 없음")
    >>> str(n), n.text("ko")
    ('1.00 h has no state record', '1.00시간의 상태 기록 없음')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from factoryax.analytics.reasons import Lang

__all__ = ["Notice", "kpi_notices", "running_notice"]

_GAP_MIN_S = 1.0
"""Unrecorded time below this (rounding of instants) is not worth a notice."""


@dataclass(frozen=True)
class Notice:
    """One caveat: a stable code and its wording in both languages."""

    code: str
    en: str
    ko: str

    def text(self, lang: Lang) -> str:
        """The wording in ``lang``."""
        return self.ko if lang == "ko" else self.en

    def __str__(self) -> str:
        return self.en


def running_notice(period_label: str, until: dt.datetime) -> Notice:
    """The period is still running: its KPIs cover planned time up to ``until`` (local)."""
    at = until.strftime("%Y-%m-%d %H:%M")
    return Notice(
        "running",
        f"{period_label} is still running: KPIs cover planned time up to {at}",
        f"{period_label}은(는) 진행 중: {at}까지의 계획 시간만 집계함",
    )


def kpi_notices(
    *,
    period_label: str,
    planned: bool,
    off_shift: Mapping[str, int],
    capped: Sequence[str],
    no_ideal: Sequence[str],
    unrecorded_s: float,
) -> list[Notice]:
    """The caveats of one KPI computation (empty when there is nothing to say)."""
    out = []
    if not planned:
        out.append(
            Notice(
                "no_shift",
                f"no shift is planned in {period_label} (weekend, holiday or exception)",
                f"{period_label}에는 계획된 근무가 없음(주말·휴일·예외일)",
            )
        )
    if off_shift:
        listed = ", ".join(f"{a} {n:,}" for a, n in sorted(off_shift.items()))
        out.append(
            Notice(
                "off_shift",
                f"parts made outside every shift are not in these KPIs: {listed}",
                f"근무 시간 밖에서 생산된 수량은 KPI에서 제외됨: {listed}",
            )
        )
    if capped:
        listed = "; ".join(capped)
        out.append(
            Notice(
                "capped",
                "effectiveness capped at 100 % (ideal cycle time slower than actual, or "
                f"parts counted outside operating time) for: {listed}",
                "성능효율을 100%로 제한함(기준 사이클 타임이 실제보다 길거나 가동 시간 밖 "
                f"수량이 집계됨): {listed}",
            )
        )
    if no_ideal:
        listed = ", ".join(no_ideal)
        out.append(
            Notice(
                "no_ideal",
                f"no ideal_cycle_time_s for {listed}: effectiveness and OEE are not "
                "available; set it under [[lines.assets]] in plant.toml",
                f"{listed}에 ideal_cycle_time_s가 없어 성능효율과 OEE를 산출할 수 없음; "
                "plant.toml의 [[lines.assets]]에 설정",
            )
        )
    if unrecorded_s >= _GAP_MIN_S:
        h = unrecorded_s / 3600
        out.append(
            Notice(
                "unrecorded",
                f"{h:.2f} h of planned busy time has no state record and is counted as an "
                "availability loss",
                f"계획 가동시간 중 {h:.2f}시간은 상태 기록이 없어 가동 손실로 집계함",
            )
        )
    return out
