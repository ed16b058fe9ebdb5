"""Alarm state as the lake remembers it: each rule's latest ``alarm.*`` transition.

The ``events`` table is the record of every alarm transition, whoever made it (the rules
engine of ``factoryax run``, an operator on the alarm console of another process, the
shelf-expiry of the API). :func:`latest_alarms` folds it into one :class:`SavedAlarm` per
rule, so an engine that starts (after a restart, a crash, a deploy) carries on from where
the plant was instead of from "all normal": an alarm that was active and unacknowledged
stays so and does not annunciate a second time, an acknowledgement made on the console
while the runtime was down is not lost, a shelf keeps its expiry.

Order is the transition's ``ts``, then the sequence number that ends its ``event_id``
(``safety-<rule>-<µs>-<seq>``), the same order the alarm console uses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from factoryax.safety.alarms import AlarmState

__all__ = ["OperatorAction", "SavedAlarm", "latest_alarms", "operator_actions"]

log = logging.getLogger(__name__)


class _Queryable(Protocol):
    def query(self, sql: str, params: list[object] | None = None) -> pa.Table: ...


@dataclass(frozen=True)
class SavedAlarm:
    """One rule's alarm as its latest stored transition left it.

    Attributes:
        rule: the rule id.
        state: the lifecycle state after the latest transition.
        condition: whether the rule's condition was active at its latest activation or
            return to normal (a condition that cleared while the alarm was shelved leaves
            no row; the engine's next reading settles it).
        shelved_until: the shelf's expiry when the alarm is shelved, else None.
        seq: the highest transition sequence number stored for the rule, so the engine's
            next ``event_id`` does not reuse one.
        ts: when the latest transition happened.
    """

    rule: str
    state: AlarmState
    condition: bool
    shelved_until: dt.datetime | None
    seq: int
    ts: dt.datetime


_SQL = r"""
WITH a AS (
    SELECT ts, kind, payload, evidence,
           CASE WHEN json_valid(payload) THEN json_extract_string(payload, '$.rule') END AS rule,
           coalesce(TRY_CAST(regexp_extract(event_id, '-(\d+)$', 1) AS BIGINT), 0) AS seq
    FROM events
    WHERE starts_with(kind, 'alarm.') AND kind <> 'alarm.comment'
      AND starts_with(event_id, 'safety-')  -- written by the rules engine or the console
), ranked AS (
    SELECT *,
        last_value(CASE WHEN kind IN ('alarm.active', 'alarm.rtn', 'alarm.reset')
                        THEN kind END IGNORE NULLS)
            OVER (PARTITION BY rule ORDER BY ts, seq
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cond_kind,
        max(seq) OVER (PARTITION BY rule) AS max_seq,
        row_number() OVER (PARTITION BY rule ORDER BY ts DESC, seq DESC) AS rn
    FROM a WHERE rule IS NOT NULL
)
SELECT rule, ts, kind, payload, evidence, cond_kind, max_seq FROM ranked WHERE rn = 1
"""


def latest_alarms(lake: _Queryable) -> dict[str, SavedAlarm]:
    """Each rule's alarm state from the lake's ``events`` table (empty when none).

    Args:
        lake: the workspace's :class:`~factoryax.lake.Lake` (anything with ``query``).

    Only rows whose ``event_id`` the safety package wrote (``safety-…``) count; a row
    whose payload, state or evidence cannot be read is logged and skipped, so one bad row
    never stops the rules engine.
    """
    out: dict[str, SavedAlarm] = {}
    for row in lake.query(_SQL).to_pylist():
        try:
            payload = json.loads(row["payload"] or "{}")
            state = AlarmState(payload.get("to", "normal"))
            until = None
            if state is AlarmState.SHELVED and row["evidence"]:
                raw = json.loads(row["evidence"]).get("shelved_until")
                until = dt.datetime.fromisoformat(raw) if raw else None
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning(
                "events: alarm %r: unreadable latest transition skipped: %s", row["rule"], exc
            )
            continue
        out[row["rule"]] = SavedAlarm(
            rule=row["rule"],
            state=state,
            condition=row["cond_kind"] == "alarm.active",
            shelved_until=until,
            seq=int(row["max_seq"]),
            ts=row["ts"],
        )
    return out


OPERATOR_KINDS = (
    "alarm.ack",
    "alarm.reset",
    "alarm.shelve",
    "alarm.unshelve",
    "alarm.out_of_service",
    "alarm.in_service",
)
"""Transitions a person makes (on the console of another process); the engine replays
them on its own current state instead of copying the state they left."""


@dataclass(frozen=True)
class OperatorAction:
    """One operator action read back from the lake."""

    event_id: str
    kind: str
    rule: str
    ts: dt.datetime
    who: str
    why: str
    shelved_until: dt.datetime | None


_ACTIONS_SQL = f"""
SELECT event_id, kind, ts, payload, evidence FROM events
WHERE kind IN ({", ".join(repr(k) for k in OPERATOR_KINDS)})
  AND starts_with(event_id, 'safety-') AND ts >= ?
ORDER BY ts, event_id
"""


def operator_actions(lake: _Queryable, since: dt.datetime) -> list[OperatorAction]:
    """Operator actions stored at or after ``since`` (oldest first); the engine's own
    transitions (``who = engine``) and unreadable rows are left out."""
    out = []
    for row in lake.query(_ACTIONS_SQL, [since]).to_pylist():
        try:
            payload = json.loads(row["payload"] or "{}")
            if payload.get("who") in (None, "engine") or not payload.get("rule"):
                continue
            until = None
            if row["kind"] == "alarm.shelve" and row["evidence"]:
                raw = json.loads(row["evidence"]).get("shelved_until")
                until = dt.datetime.fromisoformat(raw) if raw else None
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("events: operator action %s skipped: %s", row["event_id"], exc)
            continue
        out.append(
            OperatorAction(
                str(row["event_id"]),
                str(row["kind"]),
                str(payload["rule"]),
                row["ts"],
                str(payload["who"]),
                str(payload.get("why") or ""),
                until,
            )
        )
    return out
