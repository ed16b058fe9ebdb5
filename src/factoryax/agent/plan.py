"""Plans and the offline planner's templates (one per intent).

A :class:`Plan` is either tool calls, a clarifying question (a required slot is
ambiguous) or an abstention naming what is missing. The offline planner maps the
classified intent and the filled slots onto a template; it never guesses a slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from factoryax.agent.nlu import Slots

__all__ = [
    "INTENT_TOOLS",
    "MAX_RUN_HOURS",
    "WHATIF_PARAMETERS",
    "Plan",
    "ToolCall",
    "template_plan",
]


@dataclass(frozen=True)
class ToolCall:
    """One planned call."""

    tool: str
    args: dict[str, Any]


@dataclass
class Plan:
    """What to do: ``calls``, or ``clarify`` (question + options), or ``missing``."""

    intent: str
    calls: list[ToolCall] = field(default_factory=list)
    clarify: str | None = None
    options: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


INTENT_TOOLS = {
    "kpi": "get_kpis",
    "downtime": "downtime_pareto",
    "spc": "spc_signals",
    "capability": "process_capability",
    "anomaly": "list_anomalies",
    "alarms": "list_alarms",
    "ack": "ack_alarm",
    "ledger": "verify_ledger",
    "certificate": "draft_certificate",
    "issue": "issue_certificate",
    "whatif": "twin_what_if",
    "inquiry": "draft_inquiry_reply",
    "eightd": "draft_8d",
    "rul": "rank_rul",
    "promote": "promote_model",
}
"""Intent → the tool its template calls (``unsupported`` has none)."""

_CLARIFY = {
    "asset": ("어느 설비를 말씀하시나요?", "Which asset do you mean?"),
    "signal": ("어느 신호(측정 항목)를 말씀하시나요?", "Which signal do you mean?"),
    "lot": ("어느 로트인가요? (예: L0003)", "Which lot? (e.g. L0003)"),
    "alarm": ("어느 알람을 확인(ack)할까요?", "Which alarm should be acknowledged?"),
    "whatif": (
        "어느 설비의 어떤 값을 얼마로 바꿔 볼까요? 바꿀 수 있는 값: MTBF(시간), MTTR(분), "
        "성능(%), 기종 변경 시간(분) (예: 프레스 MTTR 30분)",
        "Which asset, parameter and value should change? I can vary MTBF (h), MTTR (min), "
        "performance (%) or changeover time (min) (e.g. press MTTR 30 min)",
    ),
}

WHATIF_PARAMETERS = ["mtbf_h", "mttr_min", "performance", "changeover_min"]
"""The parameters ``twin_what_if`` can vary (its schema's names)."""
MAX_RUN_HOURS = 24.0
"""The longest what-if run ``twin_what_if`` accepts."""


def _ask(plan: Plan, what: str, lang: str, options: list[str]) -> Plan:
    ko, en = _CLARIFY[what]
    plan.clarify = ko if lang == "ko" else en
    plan.options = options
    return plan


READ_ONLY_INTENT = {"issue": "certificate", "ack": "alarms"}
"""What a state-changing intent becomes when the user declines the change ("draft only")."""


def template_plan(
    intent: str,
    slots: Slots,
    lang: str,
    *,
    available: set[str],
    all_assets: list[str],
    spec_signals: list[str] | None = None,
) -> Plan:
    """The plan of ``intent`` with ``slots``; clarifies or abstains instead of guessing.

    ``spec_signals`` (``asset.signal`` with specification limits) are the default of a
    capability question that names no signal. A user who declines the state change
    (``slots.read_only``) gets the read-only counterpart of a state-changing intent.
    """
    spec_signals = spec_signals or []
    if slots.read_only and intent in READ_ONLY_INTENT:
        intent = READ_ONLY_INTENT[intent]
    plan = Plan(intent)
    tool = INTENT_TOOLS.get(intent)
    if slots.read_only and intent == "promote":
        plan.missing.append("nothing to run: you asked not to promote (list models instead)")
        return plan
    if tool is None or tool not in available:
        plan.missing.append(
            "a tool for this question" if tool is None else f"the {tool} tool (not installed)"
        )
        return plan
    if slots.unknown:
        plan.missing.extend(f"{u} — not in this plant or its data" for u in slots.unknown)
        return plan
    if slots.unknown_signal and intent in ("spc", "capability"):
        plan.missing.append(f"signal {slots.unknown_signal} — not measured in this plant")
        return plan
    period = slots.period or ""
    if intent in ("kpi", "downtime"):
        if len(slots.asset_candidates) > 1:
            return _ask(plan, "asset", lang, slots.asset_candidates)
        args: dict[str, Any] = {"period": period}
        if slots.asset:
            args["asset"] = slots.asset
        if intent == "downtime" and slots.top is not None:
            args["top"] = min(slots.top, 20)
        plan.calls.append(ToolCall(tool, args))
    elif intent in ("anomaly", "alarms"):
        args = {"period": period}
        if slots.asset:
            args["asset"] = slots.asset
        plan.calls.append(ToolCall(tool, args))
    elif intent in ("spc", "capability"):
        if slots.signal is None or slots.asset is None:
            if len(slots.signal_candidates) > 1:
                return _ask(plan, "signal", lang, slots.signal_candidates)
            if slots.asset is not None:
                spec_signals = [s for s in spec_signals if s.startswith(slots.asset + ".")]
            if intent == "capability" and not slots.signal_candidates and spec_signals:
                if len(spec_signals) > 1:
                    return _ask(plan, "signal", lang, spec_signals)
                slots.asset, slots.signal = spec_signals[0].split(".", 1)
            else:
                return _ask(plan, "signal", lang, slots.signal_candidates)
        plan.calls.append(
            ToolCall(tool, {"asset": slots.asset, "signal": slots.signal, "period": period})
        )
    elif intent in ("certificate", "issue", "inquiry", "eightd"):
        if slots.lot is None:
            return _ask(plan, "lot", lang, [])
        plan.calls.append(ToolCall(tool, {"lot": slots.lot}))
    elif intent == "ack":
        if slots.event_id:
            plan.calls.append(ToolCall(tool, {"event_id": slots.event_id}))
        elif slots.latest or slots.asset:
            args = {"period": period}
            if slots.asset:
                args["asset"] = slots.asset
            plan.calls.append(ToolCall("list_alarms", args))
            plan.calls.append(ToolCall(tool, {"event_id": "$latest_alarm"}))
        else:
            return _ask(plan, "alarm", lang, [])
    elif intent == "ledger":
        plan.calls.append(ToolCall(tool, {}))
    elif intent == "whatif":
        if slots.asset is None or slots.parameter is None or slots.value is None:
            # A vague what-if ("improve the press a bit") gets asked, never a default run.
            options = WHATIF_PARAMETERS if slots.asset else all_assets
            return _ask(plan, "whatif", lang, options)
        if slots.hours is not None and not 0 < slots.hours <= MAX_RUN_HOURS:
            plan.missing.append(
                f"a run of {slots.hours:g} h — the twin simulates at most {MAX_RUN_HOURS:g} h"
            )
            return plan
        args = {"asset": slots.asset, "parameter": slots.parameter, "value": slots.value}
        if slots.hours is not None:
            args["hours"] = slots.hours
        plan.calls.append(ToolCall(tool, args))
    elif intent == "rul":
        args = {"top": min(slots.top, 50)} if slots.top is not None else {}
        if slots.asset:
            args["asset"] = slots.asset
        plan.calls.append(ToolCall(tool, args))
    else:
        plan.missing.append("a tool for this question")
    return plan
