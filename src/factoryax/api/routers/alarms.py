"""The alarm console: current alarms, acknowledge, shelve (with expiry), comment.

Alarm state is the ``events`` table: each rule's latest ``alarm.*`` transition. An
operator action runs through :class:`~factoryax.safety.Alarm` (the live engine's when the
server has one, else one rebuilt from that latest transition), so the rows written are
the safety package's own :class:`~factoryax.safety.AlarmEvent` rows, and an
acknowledgement is committed to the ledger as ``operator_approval`` by
:func:`~factoryax.safety.record_incident`. A shelve's expiry is kept in the row's
``evidence`` (``{"shelved_until": …}``) so any reader knows when it ends; an expired
shelf is released (``alarm.unshelve``, ``who = engine``) on the next read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from factoryax.api.auth import Principal, Role
from factoryax.api.context import ApiContext
from factoryax.api.deps import context, require
from factoryax.core import ConfigError, utc_now
from factoryax.ingest import ingest_rows
from factoryax.ledger import LEDGER_DIR, Ledger
from factoryax.safety import Alarm, AlarmEvent, AlarmState, SafetyEngine, parse_safety
from factoryax.safety import record_incident as _record

router = APIRouter(prefix="/api", tags=["alarms"])

Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Engineer = Annotated[Principal, Depends(require(Role.ENGINEER))]

_CONDITION = {AlarmState.UNACK: True, AlarmState.ACKED: True}
DEFAULT_MAX_SHELVE_S = 8 * 3600.0


class Ack(BaseModel):
    """An acknowledgement."""

    comment: str = Field("", max_length=500)


class Shelve(BaseModel):
    """Shelve for ``duration_min`` minutes with a reason."""

    duration_min: float = Field(gt=0, le=7 * 24 * 60)
    reason: str = Field(min_length=1, max_length=500)


class Comment(BaseModel):
    """A note on an alarm."""

    text: str = Field(min_length=1, max_length=1000)


class Service(BaseModel):
    """Take an alarm out of service (sensor maintenance) or return it."""

    out_of_service: bool
    reason: str = Field(min_length=1, max_length=500)


def _rows(ctx: ApiContext) -> list[dict[str, Any]]:
    table = ctx.ws.lake.query(
        "SELECT ts, event_id, kind, line, asset, severity, message, payload, evidence "
        "FROM events WHERE starts_with(kind, 'alarm.')"
    )
    rows: list[dict[str, Any]] = table.to_pylist()

    def order(r: dict[str, Any]) -> tuple[dt.datetime, int]:
        tail = str(r["event_id"]).rsplit("-", 1)[-1]
        return r["ts"], int(tail) if tail.isdigit() else 0

    rows.sort(key=order)
    return rows


def _state(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    alarms: dict[str, dict[str, Any]] = {}
    for r in rows:
        payload = json.loads(r["payload"] or "{}")
        rule = payload.get("rule")
        if not rule:
            continue
        a = alarms.setdefault(
            rule, {"rule": rule, "comments": [], "count": 0, "shelved_until": None}
        )
        if r["kind"] == "alarm.comment":
            a["comments"].append(
                {"ts": r["ts"].isoformat(), "who": payload.get("who"), "text": payload.get("why")}
            )
            continue
        if r["kind"] == "alarm.active":
            a["count"] += 1
            a["active_since"] = r["ts"].isoformat()
            a["condition"] = True
        elif r["kind"] in ("alarm.rtn", "alarm.reset"):
            a["condition"] = False
        evidence = json.loads(r["evidence"]) if r["evidence"] else {}
        if r["kind"] == "alarm.shelve":
            a["shelved_until"] = evidence.get("shelved_until")
        elif r["kind"] == "alarm.unshelve":
            a["shelved_until"] = None
        a.update(
            state=payload.get("to", "normal"),
            last_kind=r["kind"],
            ts=r["ts"].isoformat(),
            asset=r["asset"],
            line=r["line"],
            severity=r["severity"],
            message=r["message"],
            who=payload.get("who"),
            why=payload.get("why"),
            seq=a["count"] + len(a["comments"]) + 1000,
        )
    for a in alarms.values():
        a["comments"] = a["comments"][-5:]
    return alarms


def _max_shelve_s(ctx: ApiContext) -> float:
    try:
        return parse_safety(ctx.ws.plant.safety, ctx.ws.plant).max_shelve_s
    except (ConfigError, ValueError):
        return DEFAULT_MAX_SHELVE_S


def _alarm(ctx: ApiContext, known: dict[str, Any]) -> Alarm:
    """The live engine's alarm of the rule, else one rebuilt from its last transition."""
    engine = ctx.engine
    if isinstance(engine, SafetyEngine) and known["rule"] in engine.alarms:
        return engine.alarms[known["rule"]]
    state = AlarmState(known["state"])
    until = known.get("shelved_until")
    return Alarm(
        known["rule"],
        severity=int(known.get("severity") or 1),
        message=str(known.get("message") or known["rule"]),
        line=known.get("line"),
        asset=known.get("asset"),
        state=state,
        condition=bool(known.get("condition", _CONDITION.get(state, False))),
        shelved_until=dt.datetime.fromisoformat(until) if until else None,
        out_of_service=state is AlarmState.OUT_OF_SERVICE,
        suppressed=state is AlarmState.SUPPRESSED,
        seq_=int(known.get("seq", 0)),
    )


def store(ctx: ApiContext, events: list[AlarmEvent], evidence: str | None = None) -> int:
    """Writes alarm events to ``events`` and commits the new activations and acks to the
    ledger (events already stored are not committed again); returns the rows written."""
    if not events:
        return 0
    rows = [e.to_row() for e in events]
    if evidence is not None:
        for row in rows:
            if row["kind"] == "alarm.shelve":
                row["evidence"] = evidence
    ids = [str(r["event_id"]) for r in rows]
    with ctx.write_lock:
        stored = set(
            ctx.ws.lake.query(
                "SELECT event_id FROM events WHERE event_id IN (SELECT unnest(?))", [ids]
            )
            .column("event_id")
            .to_pylist()
        )
        report = ingest_rows(
            "events",
            pa.Table.from_pylist(rows),
            plant=ctx.ws.plant,
            lake=ctx.ws.lake,
            source="api alarm console",
        )
        if (ctx.root / LEDGER_DIR / "ledger.sqlite").is_file():
            with Ledger.for_workspace(ctx.root, ctx.site) as ledger:
                for e in events:
                    if e.event_id not in stored:
                        _record(ledger, e)
    return report.readings_accepted


def current_alarms(ctx: ApiContext) -> list[dict[str, Any]]:
    """Every rule's alarm: state, last transition, comments; expired shelves released."""
    known = _state(_rows(ctx))
    now = utc_now()
    expired: list[AlarmEvent] = []
    for a in known.values():
        until = a.get("shelved_until")
        if (
            a["state"] == AlarmState.SHELVED.value
            and until
            and dt.datetime.fromisoformat(until) <= now
        ):
            with ctx.write_lock:
                expired += _alarm(ctx, a).advance(now)
    if expired:
        store(ctx, expired)
        known = _state(_rows(ctx))
    order = {"unacknowledged": 0, "rtn_unacknowledged": 1, "acknowledged": 2, "latched": 3}
    return sorted(
        known.values(),
        key=lambda a: (order.get(a["state"], 9), -(a.get("severity") or 0), a["rule"]),
    )


def _find(ctx: ApiContext, rule: str) -> dict[str, Any]:
    known = _state(_rows(ctx))
    if rule not in known:
        raise ConfigError(f"no alarm {rule!r} in the events table; GET /api/alarms lists them")
    return known[rule]


def _out(events: list[AlarmEvent], note: str) -> dict[str, Any]:
    return {
        "events": [
            {"kind": e.kind, "event_id": e.event_id, "to": e.to_state.value} for e in events
        ],
        "note": note,
    }


@router.get("/alarms")
def alarms(_: Viewer, ctx: Ctx) -> list[dict[str, Any]]:
    """Every alarm with its ISA-18.2 state, newest transition and recent comments."""
    return current_alarms(ctx)


@router.post("/alarms/{rule}/ack")
def ack(rule: str, body: Ack, who: Operator, ctx: Ctx) -> dict[str, Any]:
    """Acknowledges an alarm; the ack is committed to the ledger as ``operator_approval``."""
    known = _find(ctx, rule)
    with ctx.write_lock:
        events = _alarm(ctx, known).acknowledge(utc_now(), who=who.name, why=body.comment)
    store(ctx, events)
    return _out(events, "" if events else f"alarm {rule!r} is {known['state']}: nothing to ack")


@router.post("/alarms/{rule}/shelve")
def shelve(rule: str, body: Shelve, who: Operator, ctx: Ctx) -> dict[str, Any]:
    """Shelves an alarm until now + ``duration_min`` (at most ``[safety] max_shelve_s``)."""
    known = _find(ctx, rule)
    now = utc_now()
    until = now + dt.timedelta(minutes=body.duration_min)
    with ctx.write_lock:
        events = _alarm(ctx, known).shelve(
            now, until, who=who.name, why=body.reason, max_s=_max_shelve_s(ctx)
        )
    store(ctx, events, evidence=json.dumps({"shelved_until": until.isoformat()}))
    return _out(events, f"shelved until {until.isoformat()}")


@router.post("/alarms/{rule}/unshelve")
def unshelve(rule: str, who: Operator, ctx: Ctx) -> dict[str, Any]:
    """Removes a shelf before it expires."""
    known = _find(ctx, rule)
    with ctx.write_lock:
        events = _alarm(ctx, known).unshelve(utc_now(), who=who.name, why="unshelved")
    store(ctx, events)
    return _out(events, "")


@router.post("/alarms/{rule}/comment")
def comment(rule: str, body: Comment, who: Operator, ctx: Ctx) -> dict[str, Any]:
    """Adds a comment (an ``alarm.comment`` row; the state does not change)."""
    known = _find(ctx, rule)
    state = AlarmState(known["state"])
    now = utc_now()
    event = AlarmEvent(
        ts=now,
        event_id=f"safety-{rule}-{int(now.timestamp() * 1_000_000)}-c",
        kind="alarm.comment",
        rule=rule,
        line=known.get("line"),
        asset=known.get("asset"),
        severity=int(known.get("severity") or 1),
        message=str(known.get("message") or rule),
        from_state=state,
        to_state=state,
        who=who.name,
        why=body.text,
    )
    store(ctx, [event])
    return _out([event], "")


@router.post("/alarms/{rule}/service")
def service(rule: str, body: Service, who: Engineer, ctx: Ctx) -> dict[str, Any]:
    """(engineer) Takes an alarm out of service for maintenance, or returns it."""
    known = _find(ctx, rule)
    with ctx.write_lock:
        events = _alarm(ctx, known).set_out_of_service(
            body.out_of_service, utc_now(), who=who.name, why=body.reason
        )
    store(ctx, events)
    return _out(events, "")
