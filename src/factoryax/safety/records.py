"""Alarm transitions as ledger records: an activation is a ``safety_incident``, an
acknowledgement an ``operator_approval``, each committed with the alarm's instant."""

from __future__ import annotations

from collections.abc import Iterable

from factoryax.ledger import Ledger, Receipt
from factoryax.ledger.canonical import JsonValue
from factoryax.safety.alarms import AlarmEvent
from factoryax.safety.rules import PRIORITY_SEVERITY

__all__ = ["record_incident", "record_incidents"]

_PRIORITY = {v: k for k, v in PRIORITY_SEVERITY.items()}


def _common(event: AlarmEvent) -> dict[str, JsonValue]:
    return {
        "rule": event.rule,
        "asset": event.asset,
        "line": event.line,
        "priority": _PRIORITY.get(event.severity, str(event.severity)),
        "severity": event.severity,
        "who": event.who,
        "why": event.why,
        "ts": event.ts.isoformat(),
        "event_id": event.event_id,
        "message": event.message,
    }


def record_incident(ledger: Ledger, event: AlarmEvent) -> Receipt | None:
    """Commits ``alarm.active`` as ``safety_incident`` and ``alarm.ack`` as
    ``operator_approval``; returns None (commits nothing) for any other transition.

    Fields: rule, asset, line, priority, severity, who, why, ts, event_id, message; an
    incident adds ``kind`` (the rule); an approval adds action, operator and decision.
    ``claimed_at`` is the alarm's instant.
    """
    fields = _common(event)
    if event.kind == "alarm.active":
        fields["kind"] = event.rule
        return ledger.commit("safety_incident", fields, claimed_at=event.ts)
    if event.kind == "alarm.ack":
        fields.update(
            action=f"acknowledge alarm {event.rule}", operator=event.who, decision="acknowledged"
        )
        return ledger.commit("operator_approval", fields, claimed_at=event.ts)
    return None


def record_incidents(ledger: Ledger, events: Iterable[AlarmEvent]) -> list[Receipt]:
    """:func:`record_incident` over ``events``; the receipts of what was committed."""
    out = []
    for event in events:
        receipt = record_incident(ledger, event)
        if receipt is not None:
            out.append(receipt)
    return out
