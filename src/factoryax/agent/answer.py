"""Grounded answers: templates that state tool results, and the evidence checker.

Every number and entity in an answer must come from a tool result. :func:`check_grounding`
removes the strings the evidence contains (ids, periods, names), matches dates and times
as whole tokens against the dates and times in the evidence, then requires each remaining
number to equal an evidence number at the precision written; a percentage must equal
100 × an evidence number (a ratio), never the raw number. Numbers inside ISO date/time
strings of the evidence are not evidence numbers. Whatever is left is *unsupported* and
is reported (the agent blocks such a model answer and answers from the templates instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Evidence", "check_grounding", "compose", "evidence_values"]


@dataclass(frozen=True)
class Evidence:
    """One tool result as the answer may cite it."""

    id: str
    tool: str
    args: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None = None


_ISO = re.compile(
    r"(?<!\d)(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
)
_TIME = re.compile(r"(?<![\d:.])(\d{1,2}):(\d{2})(?::\d{2})?(?![\d:])")
_KO_DAY = re.compile(r"(?<![\d.])(\d{1,2})\s*월\s*(\d{1,2})\s*일")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_EN_DAY = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?![\d.])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Values:
    nums: list[float]
    strs: list[str]
    dates: set[str]
    """``YYYY-MM-DD`` and ``MM-DD`` of every ISO date in the evidence."""
    times: set[str]
    """``HH:MM`` of every ISO date-time (and bare ``HH:MM``) in the evidence."""


def _values(items: Iterable[Evidence]) -> _Values:
    nums: list[float] = []
    strs: list[str] = []
    dates: set[str] = set()
    times: set[str] = set()

    def harvest(text: str) -> None:
        for m in _ISO.finditer(text):
            dates.update({f"{m[1]}-{m[2]}-{m[3]}", f"{m[2]}-{m[3]}"})
            if m[4] is not None:
                times.add(f"{m[4]}:{m[5]}")
        rest = _ISO.sub(" ", text)
        for m in _TIME.finditer(rest):
            times.add(f"{int(m[1]):02d}:{m[2]}")
        rest = _TIME.sub(" ", rest)
        nums.extend(float(x) for x in re.findall(r"\d+(?:\.\d+)?", rest))

    def walk(v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int | float):
            nums.append(float(v))
        elif isinstance(v, str):
            strs.append(v)
            harvest(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                strs.append(str(k))
                harvest(str(k))
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    for e in items:
        strs.append(e.id)
        walk(e.args)
        walk(e.output)
        if e.error:
            strs.append(e.error)
            harvest(e.error)
    return _Values(nums, strs, dates, times)


def evidence_values(items: Iterable[Evidence]) -> tuple[list[float], list[str]]:
    """Every number and every string in the evidence (arguments included).

    Numbers inside ISO dates and times are not numbers of the evidence: a date is
    evidence only as a whole date.

    Examples:
        >>> evidence_values([Evidence("ev-1", "t", {"period": "2026-11-23"}, {"n": 3})])
        ([3.0], ['ev-1', 'period', '2026-11-23', 'n'])
    """
    v = _values(items)
    return v.nums, v.strs


_NUM = re.compile(r"(?<![\d.])-?\d+(?:,\d{3})*(?:\.\d+)?(\s*%)?")
_ENTITY = re.compile(r"\b(?:[a-z]+-\d{2}|line-\d+|L\d{4}|ev-[0-9a-f]{10})\b")


def check_grounding(
    answer: str, evidence: Sequence[Evidence], allowed: Iterable[str] = ()
) -> list[str]:
    """Numbers and entities in ``answer`` that no evidence supports (empty = grounded).

    Examples:
        >>> ev = [Evidence("ev-0000000001", "get_kpis", {"period": "2026-11-23"}, {"oee": 0.8532})]
        >>> check_grounding("OEE 85.3% on 2026-11-23 [ev-0000000001]", ev)
        []
        >>> check_grounding("OEE 91% on 2026-11-23", ev)
        ['91%']
    """
    ev = _values(evidence)
    text = answer
    for s in sorted({*ev.strs, *allowed}, key=len, reverse=True):
        if len(s) >= 3:
            text = text.replace(s, " ")
    bad: list[str] = []
    for m in _ENTITY.finditer(text):
        bad.append(m[0])
    text = _ENTITY.sub(" ", text)
    text = _dates(text, ev, bad)
    for m in _NUM.finditer(text):
        raw = m[0].strip()
        pct = raw.endswith("%")
        digits = raw.rstrip("%").strip().replace(",", "")
        value = float(digits)
        places = len(digits.split(".")[1]) if "." in digits else 0
        scale = 100.0 if pct else 1.0
        ok = any(
            abs(round(v * scale, places) - value) < 10 ** (-places) / 2 + 1e-9 for v in ev.nums
        )
        if not ok:
            bad.append(raw)
    return bad


def _dates(text: str, ev: _Values, bad: list[str]) -> str:
    """``text`` without its dates and times; those no evidence states go to ``bad``."""

    def iso(m: re.Match[str]) -> str:
        day = f"{m[1]}-{m[2]}-{m[3]}"
        if day not in ev.dates or (m[4] is not None and f"{m[4]}:{m[5]}" not in ev.times):
            bad.append(m[0])
        return " "

    def clock(m: re.Match[str]) -> str:
        if f"{int(m[1]):02d}:{m[2]}" not in ev.times:
            bad.append(m[0])
        return " "

    def month_day(month: int, day: int, raw: str) -> str:
        if f"{month:02d}-{day:02d}" not in ev.dates:
            bad.append(raw)
        return " "

    text = _ISO.sub(iso, text)
    text = _TIME.sub(clock, text)
    text = _KO_DAY.sub(lambda m: month_day(int(m[1]), int(m[2]), m[0]), text)
    return _EN_DAY.sub(
        lambda m: month_day(_MONTHS.index(m[1][:3].lower()) + 1, int(m[2]), m[0]), text
    )


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


def _one(e: Evidence, lang: str) -> str:
    ko = lang == "ko"
    o = e.output or {}
    cite = f" [{e.id}]"
    if e.error is not None:
        # A failed call supports no figure, so it is stated, not cited.
        what = e.error if e.error.startswith("missing") else f"missing {e.error}"
        return f"답할 수 없음: {e.error}" if ko else f"cannot answer: {what}"
    t = e.tool
    if t == "get_kpis":
        if ko:
            return (
                f"{o['period']} {o['scope']}: OEE {_pct(o['oee'])} "
                f"(가동률 {_pct(o['availability'])}, "
                f"성능 {_pct(o['performance'])}, 품질 {_pct(o['quality'])}), "
                f"생산 {o['parts']}개 중 "
                f"양품 {o['good']}개, 재작업 {o['rework']}개, 폐기 {o['scrap']}개, "
                f"불량률 {_pct(o['defect_rate'])}." + cite
            )
        return (
            f"{o['period']} {o['scope']}: OEE {_pct(o['oee'])} (availability "
            f"{_pct(o['availability'])}, performance {_pct(o['performance'])}, quality "
            f"{_pct(o['quality'])}); {o['parts']} parts, {o['good']} good, {o['rework']} rework, "
            f"{o['scrap']} scrap, defect rate {_pct(o['defect_rate'])}." + cite
        )
    if t == "downtime_pareto":
        bars = ", ".join(f"{b['code']} {b['minutes']} min ({_pct(b['share'])})" for b in o["bars"])
        head = (
            f"{o['period']} {o['scope']} 정지 손실 상위: "
            if ko
            else f"{o['period']} {o['scope']} top downtime: "
        )
        return head + bars + f" / total {o['total_minutes']} min." + cite
    if t == "spc_signals":
        rules = ", ".join(f"{k} {v}" for k, v in sorted(o["rules"].items()))
        if ko:
            return (
                f"{o['asset']}.{o['signal']} {o['period']}: 점 {o['points']}개, "
                f"중심 {o['center']}, "
                f"UCL {o['ucl']}, LCL {o['lcl']}, 규칙 위반 {o['signals']}건 ({rules or '없음'})."
                + cite
            )
        return (
            f"{o['asset']}.{o['signal']} {o['period']}: {o['points']} points, "
            f"centre {o['center']}, "
            f"UCL {o['ucl']}, LCL {o['lcl']}, {o['signals']} rule signal(s) ({rules or 'none'})."
            + cite
        )
    if t == "process_capability":
        return (
            f"{o['asset']}.{o['signal']} {o['period']}: n={o['n']}, mean {o['mean']}, "
            f"LSL {o['lsl']}, USL {o['usl']}, Cp {o['cp']}, Cpk {o['cpk']}, Pp {o['pp']}, "
            f"Ppk {o['ppk']}." + cite
        )
    if t == "list_anomalies":
        if not o["assets"]:
            return (
                f"{o['period']}: 기록된 이상 점수/이상 이벤트가 없습니다."
                if ko
                else f"{o['period']}: no anomaly scores or anomaly events recorded."
            ) + cite
        parts = []
        for a in o["assets"]:
            top = ", ".join(f"{k} {_pct(v)}" for k, v in a["top_signals"].items())
            parts.append(
                f"{a['asset']} max {a['max_score']} ({a['samples_over_threshold']} over threshold, "
                f"{a['events']} events{'; ' + top if top else ''})"
            )
        return f"{o['period']}: " + "; ".join(parts) + cite
    if t == "list_alarms":
        items = "; ".join(
            f"{a['at']} {a['asset']} {a['kind']} ({a['event_id']})" for a in o["alarms"][:5]
        )
        head = (
            f"{o['period']} 알람 {o['count']}건" if ko else f"{o['period']}: {o['count']} alarm(s)"
        )
        return head + (f": {items}" if items else "") + "." + cite
    if t == "ack_alarm":
        if o["already_acknowledged"]:
            return (
                f"알람 {o['rule']} ({o['event_id']}) 상태 {o['state']}: 확인(ack)할 것 없음."
                if ko
                else f"alarm {o['rule']} ({o['event_id']}) is {o['state']}: nothing to acknowledge."
            ) + cite
        ledger = f", ledger #{o['ledger_index']}" if o["ledger_index"] is not None else ""
        return (
            f"알람 {o['rule']} ({o['event_id']}) 확인(ack) 완료: {o['acknowledged_by']} → "
            f"{o['state']}{ledger}."
            if ko
            else f"alarm {o['rule']} ({o['event_id']}) acknowledged by {o['acknowledged_by']} → "
            f"{o['state']}{ledger}."
        ) + cite
    if t == "verify_ledger":
        state = (
            ("정상" if ko else "intact") if o["ok"] else ("문제 발견" if ko else "PROBLEMS FOUND")
        )
        return (
            f"ledger: {state}; entries {o['size']}, checked {o['entries_checked']}, "
            f"problems {o['problems']}." + cite
        )
    if t == "draft_certificate":
        head = "성적서 초안" if ko else "certificate draft"
        return (
            f"{head} {o['lot']} ({o['product']}): inspected {o['parts_inspected']}, FPY "
            f"{_pct(o['first_pass_yield'])}, final yield {_pct(o['final_yield'])}, rework "
            f"{o['rework']}, scrap {o['scrap']}, Cpk {o['cpk']}, verdict {o['verdict']}." + cite
        )
    if t == "issue_certificate":
        return (
            f"{o['lot']} 성적서 발행: ledger #{o['ledger_index']}, {o['pdf_path']}"
            if ko
            else f"certificate of {o['lot']} issued: ledger #{o['ledger_index']}, {o['pdf_path']}"
        ) + cite
    if t == "twin_what_if":
        return (
            f"twin what-if {o['asset']} {o['parameter']} {o['baseline_value']} → {o['value']} "
            f"({o['hours']} h, seed {o['seed']}): parts {o['baseline_parts']} → "
            f"{o['scenario_parts']}, down {o['baseline_down_min']} → {o['scenario_down_min']} min."
            + cite
        )
    if t == "draft_inquiry_reply":
        extra = f"\n(missing: {', '.join(o['missing'])})" if o["missing"] else ""
        bundle = f"\nbundle: {o['bundle_path']}" if o["bundle_path"] else ""
        return str(o["reply"]) + bundle + extra + cite
    if t == "rank_rul":

        def band(r: dict[str, Any]) -> str:
            if r["low_h"] is None or r["high_h"] is None:
                return ""
            return f" ({r['low_h']:.1f}–{r['high_h']:.1f} h)"

        items = "; ".join(
            f"{r['rank']}. {r['asset']} {r['rul_h']:.1f} h{band(r)}" for r in o["ranking"]
        )
        skipped = ", ".join(sorted(o["skipped"]))
        if ko:
            head = f"{o['as_of']} 기준 잔여 수명(짧은 순): "
            tail = f" / 예측 불가: {skipped}" if skipped else ""
        else:
            head = f"remaining useful life as of {o['as_of']}, shortest first: "
            tail = f" / no prediction: {skipped}" if skipped else ""
        return head + items + tail + "." + cite
    if t == "draft_8d":
        return "\n".join(f"{k}: {v}" for k, v in o["report"].items()) + cite
    return f"{t}: {o}" + cite


def compose(evidence: Sequence[Evidence], lang: str) -> str:
    """The answer stating each result (the last result of each tool)."""
    last: dict[str, Evidence] = {}
    for e in evidence:
        last[e.tool] = e
    return "\n".join(_one(e, lang) for e in last.values())
