"""The ISA-18.2 alarm lifecycle: one :class:`Alarm` per rule, every transition an event.

States (ISA-18.2 §11, figure 7)::

    NORMAL ──active──▶ UNACK ──ack──▶ ACKED ──clear──▶ NORMAL
                         │ clear                  │ clear (latch)
                         ▼                        ▼
                      RTN_UNACK ──ack──▶ NORMAL  LATCHED ──reset──▶ NORMAL
                      (LATCHED when the rule latches; reset also acknowledges)

    any state ──shelve(until)──▶ SHELVED ──unshelve / expiry──▶ NORMAL or UNACK
    any state ──suppress_when holds──▶ SUPPRESSED (by design) ──released──▶ …
    any state ──remove_from_service──▶ OUT_OF_SERVICE ──return_to_service──▶ …

While shelved, suppressed or out of service the alarm is not annunciated but its condition
is still tracked; when it is released, a still-active condition annunciates again as
UNACK, so an active condition is never silently normal.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from enum import StrEnum

from factoryax.core import ConfigError

__all__ = ["Alarm", "AlarmEvent", "AlarmState"]


class AlarmState(StrEnum):
    """Where an alarm is in its lifecycle."""

    NORMAL = "normal"
    UNACK = "unacknowledged"
    ACKED = "acknowledged"
    RTN_UNACK = "rtn_unacknowledged"
    LATCHED = "latched"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out_of_service"


_MASKS = (AlarmState.OUT_OF_SERVICE, AlarmState.SUPPRESSED, AlarmState.SHELVED)


@dataclass(frozen=True)
class AlarmEvent:
    """One transition, as a row of the lake's ``events`` table (see :meth:`to_row`)."""

    ts: dt.datetime
    event_id: str
    kind: str
    rule: str
    line: str | None
    asset: str | None
    severity: int
    message: str
    from_state: AlarmState
    to_state: AlarmState
    who: str
    why: str

    def to_row(self) -> dict[str, object]:
        """The row for the lake's ``events`` table; ``payload`` is canonical JSON."""
        payload = {
            "rule": self.rule,
            "from": self.from_state.value,
            "to": self.to_state.value,
            "who": self.who,
            "why": self.why,
        }
        return {
            "ts": self.ts,
            "event_id": self.event_id,
            "kind": self.kind,
            "line": self.line,
            "asset": self.asset,
            "severity": self.severity,
            "message": self.message,
            "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
            "evidence": None,
        }


@dataclass
class Alarm:
    """The lifecycle of one rule's alarm.

    Args:
        rule: the rule id.
        severity: 1 (low) … 4 (urgent).
        message: what the operator reads.
        latch: whether the alarm latches until reset.
        line, asset: where it belongs, for the events table.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        >>> a = Alarm("oil-hot", severity=3, message="oil hot")
        >>> [e.kind for e in a.set_condition(True, t, why="oil 95")]
        ['alarm.active']
        >>> [e.kind for e in a.acknowledge(t, who="kim")], a.state.value
        (['alarm.ack'], 'acknowledged')
    """

    rule: str
    severity: int
    message: str
    latch: bool = False
    line: str | None = None
    asset: str | None = None
    state: AlarmState = AlarmState.NORMAL
    condition: bool = False
    shelved_until: dt.datetime | None = None
    suppressed: bool = False
    out_of_service: bool = False
    seq_: int = field(default=0)

    # -- helpers -------------------------------------------------------------------------
    def _emit(self, ts: dt.datetime, kind: str, to: AlarmState, who: str, why: str) -> AlarmEvent:
        self.seq_ += 1
        us = int(ts.timestamp() * 1_000_000)
        event = AlarmEvent(
            ts=ts,
            event_id=f"safety-{self.rule}-{us}-{self.seq_}",
            kind=kind,
            rule=self.rule,
            line=self.line,
            asset=self.asset,
            severity=self.severity,
            message=self.message,
            from_state=self.state,
            to_state=to,
            who=who,
            why=why,
        )
        self.state = to
        return event

    def _masked(self) -> AlarmState | None:
        if self.out_of_service:
            return AlarmState.OUT_OF_SERVICE
        if self.suppressed:
            return AlarmState.SUPPRESSED
        if self.shelved_until is not None:
            return AlarmState.SHELVED
        return None

    def _release(self, ts: dt.datetime, kind: str, who: str, why: str) -> list[AlarmEvent]:
        """Leaves a masking state: re-enter the next mask, or annunciate afresh."""
        mask = self._masked()
        if mask is not None:
            return [self._emit(ts, kind, mask, who, why)]
        target = AlarmState.UNACK if self.condition else AlarmState.NORMAL
        events = [self._emit(ts, kind, AlarmState.NORMAL, who, why)]
        if target is AlarmState.UNACK:
            events.append(self._emit(ts, "alarm.active", target, "engine", "condition active"))
        return events

    # -- process side ---------------------------------------------------------------------
    def set_condition(self, active: bool, ts: dt.datetime, *, why: str = "") -> list[AlarmEvent]:
        """The rule's condition became ``active`` (or cleared) at ``ts``."""
        if active == self.condition:
            return []
        self.condition = active
        if self.state in _MASKS:
            return []
        s, who = self.state, "engine"
        if active:
            if s in (AlarmState.NORMAL, AlarmState.RTN_UNACK, AlarmState.LATCHED):
                return [self._emit(ts, "alarm.active", AlarmState.UNACK, who, why)]
            return []
        if s is AlarmState.UNACK:
            to = AlarmState.LATCHED if self.latch else AlarmState.RTN_UNACK
            return [self._emit(ts, "alarm.rtn", to, who, why)]
        if s is AlarmState.ACKED:
            to = AlarmState.LATCHED if self.latch else AlarmState.NORMAL
            return [self._emit(ts, "alarm.rtn", to, who, why)]
        return []

    def advance(self, ts: dt.datetime) -> list[AlarmEvent]:
        """Moves the clock to ``ts``: a shelf whose time is up is removed (ISA-18.2 §10.6)."""
        if self.shelved_until is not None and ts >= self.shelved_until:
            self.shelved_until = None
            if self.state is AlarmState.SHELVED:
                return self._release(ts, "alarm.unshelve", "engine", "shelf expired")
        return []

    # -- operator side --------------------------------------------------------------------
    def acknowledge(self, ts: dt.datetime, *, who: str, why: str = "") -> list[AlarmEvent]:
        """An operator acknowledges; a no-op unless the alarm is unacknowledged."""
        if self.state is AlarmState.UNACK:
            return [self._emit(ts, "alarm.ack", AlarmState.ACKED, who, why)]
        if self.state is AlarmState.RTN_UNACK:
            return [self._emit(ts, "alarm.ack", AlarmState.NORMAL, who, why)]
        return []

    def reset(self, ts: dt.datetime, *, who: str, why: str = "") -> list[AlarmEvent]:
        """An operator resets a latched alarm whose condition has cleared."""
        if self.state is AlarmState.LATCHED and not self.condition:
            return [self._emit(ts, "alarm.reset", AlarmState.NORMAL, who, why)]
        return []

    def shelve(
        self, ts: dt.datetime, until: dt.datetime, *, who: str, why: str, max_s: float
    ) -> list[AlarmEvent]:
        """Shelves the alarm until ``until``, at most ``max_s`` seconds; needs a reason."""
        if not why.strip():
            raise ConfigError(f"shelving {self.rule!r}: `why` is empty; say why it is shelved")
        span = (until - ts).total_seconds()
        if not 0 < span <= max_s:
            raise ConfigError(
                f"shelving {self.rule!r}: duration must be in (0, {max_s!r}] s, got {span!r}; "
                "pick an earlier `until` or raise [safety] max_shelve_s"
            )
        self.shelved_until = until
        if self.state in (AlarmState.OUT_OF_SERVICE, AlarmState.SUPPRESSED):
            return []
        return [self._emit(ts, "alarm.shelve", AlarmState.SHELVED, who, why)]

    def unshelve(self, ts: dt.datetime, *, who: str, why: str = "") -> list[AlarmEvent]:
        """Removes the shelf before it expires."""
        if self.shelved_until is None:
            return []
        self.shelved_until = None
        if self.state is AlarmState.SHELVED:
            return self._release(ts, "alarm.unshelve", who, why)
        return []

    def set_suppressed(self, on: bool, ts: dt.datetime, *, why: str) -> list[AlarmEvent]:
        """Suppressed by design: the plant state says this alarm is meaningless now."""
        if on == self.suppressed:
            return []
        self.suppressed = on
        if on and self.state is not AlarmState.OUT_OF_SERVICE:
            return [self._emit(ts, "alarm.suppress", AlarmState.SUPPRESSED, "engine", why)]
        if not on and self.state is AlarmState.SUPPRESSED:
            return self._release(ts, "alarm.unsuppress", "engine", why)
        return []

    def set_out_of_service(
        self, on: bool, ts: dt.datetime, *, who: str, why: str
    ) -> list[AlarmEvent]:
        """Takes the alarm out of service (maintenance of the sensor) or returns it."""
        if on == self.out_of_service:
            return []
        self.out_of_service = on
        if on:
            return [self._emit(ts, "alarm.out_of_service", AlarmState.OUT_OF_SERVICE, who, why)]
        return self._release(ts, "alarm.in_service", who, why)
