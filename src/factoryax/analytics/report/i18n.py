"""Report wording in Korean and English, and number formats.

Korean terms follow the usage of Korean smart-factory programmes (설비종합효율 for OEE,
가동률/성능효율/양품률 for its factors, 불량률, 생산성, 납기준수율).

Examples:
    >>> text("ko", "oee"), text("en", "oee")
    ('설비종합효율(OEE)', 'OEE')
    >>> pct(0.8534), pct(None)
    ('85.3%', '—')
"""

from __future__ import annotations

from factoryax.analytics.reasons import Lang

__all__ = ["KIND_TITLES", "hours", "minutes", "num", "pct", "text", "words"]

_TEXT: dict[str, tuple[str, str]] = {
    "site": ("Site", "사업장"),
    "line": ("Line", "라인"),
    "period": ("Period", "기간"),
    "shifts": ("Shifts", "근무조"),
    "generated": ("Generated", "작성"),
    "summary": ("Summary", "요약"),
    "asset": ("Asset", "설비"),
    "shift": ("Shift", "근무조"),
    "day": ("Day", "일자"),
    "availability": ("Availability", "가동률"),
    "effectiveness": ("Performance", "성능효율"),
    "quality_ratio": ("Quality", "양품률"),
    "oee": ("OEE", "설비종합효율(OEE)"),
    "oee_short": ("OEE", "OEE"),
    "nee": ("NEE", "NEE"),
    "pq": ("Produced", "생산수량"),
    "gq": ("Good", "양품수량"),
    "scrap": ("Scrap", "폐기"),
    "rework": ("Rework", "재작업"),
    "fpy": ("FPY", "직행률"),
    "mtbf": ("MTBF (h)", "MTBF(시간)"),
    "mttr": ("MTTR (min)", "MTTR(분)"),
    "failures": ("Failures", "고장 건수"),
    "pbt": ("Planned busy time (h)", "계획 가동시간(시간)"),
    "productivity": ("Productivity (good parts / h)", "생산성(시간당 양품)"),
    "defect_rate": ("Defect rate", "불량률"),
    "on_time": ("On-time delivery", "납기준수율"),
    "on_time_na": (
        "not available: the lake holds no orders or due dates",
        "산출 불가: 데이터에 수주·납기 정보가 없음",
    ),
    "line_output": ("Line output (good parts)", "라인 산출량(양품)"),
    "all_assets": ("All assets (time-weighted)", "전체 설비(시간 가중)"),
    "kpi_by_asset": ("KPIs by asset", "설비별 KPI"),
    "kpi_by_shift": ("KPIs by shift", "근무조별 KPI"),
    "kpi_by_day": ("KPIs by day", "일자별 KPI"),
    "downtime": ("Downtime Pareto", "비가동 파레토"),
    "reason": ("Reason", "사유"),
    "loss": ("Loss", "손실 구분"),
    "lost_h": ("Lost (h)", "손실(시간)"),
    "stops": ("Stops", "정지 횟수"),
    "share": ("Share", "비율"),
    "cumulative": ("Cumulative", "누적"),
    "micro_stops": ("Short stops (minor + micro)", "순간·미세 정지"),
    "spc": ("Statistical process control", "통계적 공정관리(SPC)"),
    "capability": ("Process capability", "공정능력"),
    "signals": ("Rule signals", "이상 신호"),
    "no_signals": ("no rule signals", "이상 신호 없음"),
    "no_spc": ("no measurements in this period", "이 기간의 측정값 없음"),
    "no_spec": (
        "no spec limits configured for this characteristic",
        "이 특성의 규격 한계가 설정되지 않음",
    ),
    "notices": ("Notes", "참고 사항"),
    "trace": ("Data and method", "데이터와 산출 방법"),
    "points": ("points", "점"),
    "episodes": ("Episodes", "건수"),
    "chart": ("Chart", "관리도"),
    "baseline": ("baseline", "기준 기간"),
    "beyond": ("beyond limits", "관리한계 밖"),
    "ci": ("CI", "신뢰구간"),
    "value": ("Value", "값"),
    "center": ("CL", "중심선"),
    "ucl": ("UCL", "UCL"),
    "lcl": ("LCL", "LCL"),
    "time": ("Time", "시각"),
    "rule": ("Rule", "규칙"),
    "index": ("Point", "점 번호"),
    "kpi": ("KPI", "KPI"),
    "method_note": (
        "KPIs per ISO 22400-2 from the lake's states and production tables; planned busy "
        "time from the shift calendar; see docs/analytics.md for formulas and rules.",
        "KPI는 ISO 22400-2 정의에 따라 레이크의 states·production 표에서 산출하며, 계획 "
        "가동시간은 근무 달력에서 구함. 산식과 규칙은 docs/analytics.md 참조.",
    ),
    "loss_availability": ("availability", "가동 손실"),
    "loss_performance": ("performance", "성능 손실"),
    "loss_quality": ("quality", "품질 손실"),
    "loss_none": ("not charged", "제외"),
    "loss_mixed": ("mixed", "복합"),
}

KIND_TITLES: dict[str, tuple[str, str]] = {
    "shift": ("Shift production report", "근무조 생산 보고서"),
    "day": ("Daily production report", "일일 생산 보고서"),
    "week": ("Weekly production report", "주간 생산 보고서"),
    "range": ("Production report", "생산 보고서"),
}


def text(lang: Lang, key: str) -> str:
    """The wording of ``key`` in ``lang``."""
    en, ko = _TEXT[key]
    return ko if lang == "ko" else en


def words(lang: Lang) -> list[str]:
    """Every phrase of ``lang`` (for checking a font covers them)."""
    return [text(lang, key) for key in _TEXT] + [
        t[1 if lang == "ko" else 0] for t in KIND_TITLES.values()
    ]


def pct(value: float | None, digits: int = 1) -> str:
    """A ratio as a percentage, or a dash when undefined."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators, or a dash when undefined."""
    return "—" if value is None else f"{value:,.{digits}f}"


def hours(seconds: float | None) -> str:
    """Seconds as hours with two decimals."""
    return "—" if seconds is None else f"{seconds / 3600:,.2f}"


def minutes(seconds: float | None) -> str:
    """Seconds as minutes with one decimal."""
    return "—" if seconds is None else f"{seconds / 60:,.1f}"
