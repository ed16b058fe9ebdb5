"""The plant's tools: typed functions over FactoryAX's public surfaces.

Read-only: KPIs/OEE, downtime Pareto, SPC signals, process capability, anomalies, alarms,
ledger verification, certificate draft, twin what-if, customer-service drafts (inquiry
reply with evidence bundle, 8D report). State-changing (approval required): alarm
acknowledgement, certificate issue. :func:`build_registry` returns them all, plus the
detection tools when :mod:`factoryax.detect` is installed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from factoryax.agent.tools import ToolContext, ToolRegistry, tool
from factoryax.analytics import (
    Period,
    ReasonTree,
    capability,
    compute_kpis,
    loss_items,
    pareto,
    signal_chart,
)
from factoryax.core import FactoryAXError
from factoryax.ingest import ingest_rows
from factoryax.ledger import LEDGER_DIR, Ledger
from factoryax.safety import Alarm, AlarmState, record_incidents
from factoryax.share import build_bundle, build_certificate, issue_certificate
from factoryax.twin import simulate

__all__ = ["NotFoundError", "build_registry"]


class NotFoundError(FactoryAXError, LookupError):
    """What a tool was asked about does not exist in the plant or its data."""


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def _period(ctx: ToolContext, text: str) -> Period:
    return Period.parse(text)


def _asset(ctx: ToolContext, asset: str) -> str:
    ids = [a.id for _, a in ctx.workspace.plant.iter_assets()]
    if asset not in ids:
        raise NotFoundError(f"asset {asset!r} is not in the plant; assets: {ids!r}")
    return asset


def _span(ctx: ToolContext, period: Period) -> tuple[dt.datetime, dt.datetime]:
    plant = ctx.workspace.plant
    return period.span(plant.calendar, plant.site.timezone)


# ---------------------------------------------------------------------------- KPIs
class KpiArgs(_In):
    period: str = Field(description="Period: YYYY-MM-DD, YYYY-MM-DD/<shift>, YYYY-Www, A..B")
    asset: str | None = Field(None, description="Asset id; omit for the whole line")


class KpiOut(_Out):
    period: str
    scope: str
    oee: float | None
    availability: float | None
    performance: float | None
    quality: float | None
    parts: int
    good: int
    rework: int
    scrap: int
    defect_rate: float | None
    planned_busy_h: float


class ParetoArgs(_In):
    period: str
    asset: str | None = None
    top: int = Field(5, ge=1, le=20)


class ParetoBarOut(_Out):
    code: str
    label: str
    loss: str
    minutes: float
    stops: int
    share: float


class ParetoOut(_Out):
    period: str
    scope: str
    bars: list[ParetoBarOut]
    total_minutes: float


class SpcArgs(_In):
    asset: str
    signal: str
    period: str


class SpcOut(_Out):
    asset: str
    signal: str
    period: str
    points: int
    center: float
    ucl: float
    lcl: float
    signals: int
    rules: dict[str, int]
    first_signal_at: str | None


class CapabilityOut(_Out):
    asset: str
    signal: str
    period: str
    n: int
    mean: float
    lsl: float | None
    usl: float | None
    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None


class PeriodArgs(_In):
    period: str
    asset: str | None = None


class AnomalyAsset(_Out):
    asset: str
    max_score: float
    samples_over_threshold: int
    events: int
    top_signals: dict[str, float]
    model: str | None


class AnomalyOut(_Out):
    period: str
    assets: list[AnomalyAsset]
    threshold: float = 1.0


class AlarmItem(_Out):
    event_id: str
    at: str
    kind: str
    asset: str | None
    severity: int | None
    message: str | None


class AlarmsOut(_Out):
    period: str
    count: int
    alarms: list[AlarmItem]


class AckArgs(_In):
    event_id: str = Field(
        description="An alarm transition's event id (kind alarm.*, from list_alarms) or a "
        "safety rule id; the rule's alarm is acknowledged"
    )
    note: str = ""


class AckOut(_Out):
    event_id: str
    rule: str
    state: str
    """The alarm's ISA-18.2 state after the call."""
    ack_event_id: str | None
    acknowledged_by: str
    already_acknowledged: bool
    """True when nothing was acknowledged (the alarm was not unacknowledged)."""
    ledger_index: int | None


class NoArgs(_In):
    pass


class LedgerOut(_Out):
    exists: bool
    ok: bool
    size: int
    entries_checked: int
    problems: int


class LotArgs(_In):
    lot: str = Field(description="The lot id as recorded in production.lot")


class CertificateOut(_Out):
    lot: str
    product: str
    parts_inspected: int
    first_pass_yield: float
    final_yield: float
    rework: int
    scrap: int
    cpk: float | None
    verdict: str
    defects: dict[str, int]
    certificate_sha256: str


class IssueOut(_Out):
    lot: str
    verdict: str
    ledger_index: int
    json_path: str
    pdf_path: str


class WhatIfArgs(_In):
    asset: str
    parameter: Literal["mtbf_h", "mttr_min", "performance", "changeover_min"]
    value: float = Field(gt=0)
    hours: float = Field(8.0, gt=0, le=24)


class WhatIfOut(_Out):
    asset: str
    parameter: str
    baseline_value: float | None
    value: float
    hours: float
    baseline_parts: int
    scenario_parts: int
    baseline_down_min: float
    scenario_down_min: float
    seed: int


class InquiryArgs(_In):
    lot: str
    customer: str = "customer"
    question: str = ""


class InquiryOut(_Out):
    lot: str
    reply: str
    bundle_path: str | None
    ledger_index: int | None
    missing: list[str]
    injection_flags: list[str]


class EightDArgs(_In):
    lot: str
    complaint: str = ""


class EightDOut(_Out):
    lot: str
    report: dict[str, str]
    defects: dict[str, int]
    injection_flags: list[str]


def _kpis(ctx: ToolContext, args: KpiArgs) -> KpiOut:
    ws = ctx.workspace
    period = _period(ctx, args.period)
    assets = [_asset(ctx, args.asset)] if args.asset else None
    table = compute_kpis(ws.lake, ws.plant, period, by=(), assets=assets)
    row = table.total()
    if row.pq == 0 and row.run_s == 0:
        raise NotFoundError(f"no production or machine states recorded for {period.label}")
    return KpiOut(
        period=period.label,
        scope=args.asset or ws.plant.lines[0].id,
        oee=_r(row.oee),
        availability=_r(row.availability),
        performance=_r(row.effectiveness),
        quality=_r(row.quality_ratio),
        parts=row.pq,
        good=row.ok,
        rework=row.rework,
        scrap=row.scrap,
        defect_rate=_r(row.defect_rate),
        planned_busy_h=round(row.pbt_s / 3600, 2),
    )


def _pareto(ctx: ToolContext, args: ParetoArgs) -> ParetoOut:
    ws = ctx.workspace
    period = _period(ctx, args.period)
    assets = [_asset(ctx, args.asset)] if args.asset else None
    table = compute_kpis(ws.lake, ws.plant, period, by=(), assets=assets)
    bars = pareto(loss_items(table), ReasonTree.from_plant(ws.plant), depth=None)
    if not bars:
        raise NotFoundError(f"no downtime recorded for {period.label}")
    return ParetoOut(
        period=period.label,
        scope=args.asset or ws.plant.lines[0].id,
        bars=[
            ParetoBarOut(
                code=b.code,
                label=b.label,
                loss=b.loss,
                minutes=round(b.seconds / 60, 1),
                stops=b.stops,
                share=round(b.share, 4),
            )
            for b in bars[: args.top]
        ],
        total_minutes=round(sum(b.seconds for b in bars) / 60, 1),
    )


def _signal(ctx: ToolContext, asset: str, signal: str) -> None:
    declared = [s.id for s in ctx.workspace.plant.asset(_asset(ctx, asset)).signals]
    if signal not in declared:
        raise NotFoundError(f"asset {asset!r} has no signal {signal!r}; signals: {declared!r}")


def _spc(ctx: ToolContext, args: SpcArgs) -> SpcOut:
    ws = ctx.workspace
    _signal(ctx, args.asset, args.signal)
    period = _period(ctx, args.period)
    res = signal_chart(ws.lake, ws.plant, args.asset, args.signal, period)
    chart = res.chart
    rules: dict[str, int] = {}
    for s in res.signals:
        rules[s.rule] = rules.get(s.rule, 0) + 1
    first = min((res.ts[s.index] for s in res.signals), default=None)
    series = chart.primary
    return SpcOut(
        asset=args.asset,
        signal=args.signal,
        period=period.label,
        points=len(res.ts),
        center=round(float(series.center[0]), 5),
        ucl=round(float(series.ucl[0]), 5),
        lcl=round(float(series.lcl[0]), 5),
        signals=len(res.signals),
        rules=rules,
        first_signal_at=first.astimezone(ws.plant.site.timezone).isoformat(timespec="minutes")
        if first
        else None,
    )


def _capability(ctx: ToolContext, args: SpcArgs) -> CapabilityOut:
    ws = ctx.workspace
    _signal(ctx, args.asset, args.signal)
    sig = next(s for s in ws.plant.asset(args.asset).signals if s.id == args.signal)
    lsl, usl = getattr(sig, "lsl", None), getattr(sig, "usl", None)
    if lsl is None and usl is None:
        raise NotFoundError(
            f"{args.asset}.{args.signal} has no specification limits (lsl/usl) in plant.toml"
        )
    period = _period(ctx, args.period)
    start, end = _span(ctx, period)
    values = (
        ws.lake.query(
            "SELECT value FROM readings WHERE asset = ? AND signal = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts",
            [args.asset, args.signal, start, end],
        )
        .column("value")
        .to_pylist()
    )
    if len(values) < 2:
        raise NotFoundError(
            f"fewer than 2 readings of {args.asset}.{args.signal} in {period.label}"
        )
    cap = capability([float(v) for v in values], lsl=lsl, usl=usl)
    return CapabilityOut(
        asset=args.asset,
        signal=args.signal,
        period=period.label,
        n=cap.n,
        mean=round(cap.mean, 5),
        lsl=lsl,
        usl=usl,
        cp=_r(cap.cp, 3),
        cpk=_r(cap.cpk, 3),
        pp=_r(cap.pp, 3),
        ppk=_r(cap.ppk, 3),
    )


def _anomalies(ctx: ToolContext, args: PeriodArgs) -> AnomalyOut:
    ws = ctx.workspace
    period = _period(ctx, args.period)
    start, end = _span(ctx, period)
    asset = _asset(ctx, args.asset) if args.asset else None
    where = " AND asset = ?" if asset else ""
    params: list[object] = [start, end] + ([asset] if asset else [])
    scores = ws.lake.query(
        "SELECT asset, max(value) AS max_score, count(*) FILTER (WHERE value >= 1.0) AS n "
        "FROM readings WHERE signal = 'anomaly_score' AND ts >= ? AND ts < ?"
        f"{where} GROUP BY asset",
        params,
    ).to_pylist()
    events = ws.lake.query(
        "SELECT asset, payload FROM events WHERE kind = 'detect.anomaly' AND ts >= ? AND ts < ?"
        f"{where} ORDER BY ts",
        params,
    ).to_pylist()
    found: dict[str, dict[str, Any]] = {}
    for r in scores:
        found[str(r["asset"])] = {"max": float(r["max_score"]), "n": int(r["n"]), "ev": 0}
    for e in events:
        item = found.setdefault(str(e["asset"]), {"max": 0.0, "n": 0, "ev": 0})
        item["ev"] += 1
        payload = json.loads(e["payload"] or "{}")
        item["model"] = f"{payload.get('model')}@{payload.get('version')}"
        threshold = float(payload.get("threshold") or 1.0)
        item["max"] = max(item["max"], float(payload.get("score", 0.0)) / threshold)
        contributions = item.setdefault("contrib", {})
        for sig, share in (payload.get("contributions") or {}).items():
            contributions[sig] = contributions.get(sig, 0.0) + float(share)
    out = []
    for name, item in sorted(found.items(), key=lambda kv: -kv[1]["max"]):
        contrib: dict[str, float] = item.get("contrib", {})
        total = sum(contrib.values()) or 1.0
        top = sorted(contrib.items(), key=lambda kv: -kv[1])[:3]
        out.append(
            AnomalyAsset(
                asset=name,
                max_score=round(item["max"], 3),
                samples_over_threshold=item["n"],
                events=item["ev"],
                top_signals={k: round(v / total, 3) for k, v in top},
                model=item.get("model"),
            )
        )
    return AnomalyOut(period=period.label, assets=out)


def _alarms(ctx: ToolContext, args: PeriodArgs) -> AlarmsOut:
    ws = ctx.workspace
    period = _period(ctx, args.period)
    start, end = _span(ctx, period)
    asset = _asset(ctx, args.asset) if args.asset else None
    rows = ws.lake.query(
        "SELECT event_id, ts, kind, asset, severity, message FROM events "
        "WHERE (kind LIKE 'alarm.active' OR kind LIKE 'safety.%') AND ts >= ? AND ts < ?"
        + (" AND asset = ?" if asset else "")
        + " ORDER BY ts, event_id",
        [start, end] + ([asset] if asset else []),
    ).to_pylist()
    zone = ws.plant.site.timezone
    items = [
        AlarmItem(
            event_id=str(r["event_id"]),
            at=r["ts"].astimezone(zone).isoformat(timespec="minutes"),
            kind=str(r["kind"]),
            asset=r["asset"],
            severity=r["severity"],
            message=r["message"],
        )
        for r in rows
    ]
    return AlarmsOut(period=period.label, count=len(items), alarms=items)


def _alarm_rows(ctx: ToolContext) -> list[dict[str, Any]]:
    """Every ``alarm.*`` row with its payload parsed, in transition order."""
    rows: list[dict[str, Any]] = ctx.workspace.lake.query(
        "SELECT ts, event_id, kind, line, asset, severity, message, payload, evidence "
        "FROM events WHERE starts_with(kind, 'alarm.')"
    ).to_pylist()
    for r in rows:
        try:
            r["data"] = json.loads(r["payload"] or "{}")
        except ValueError:
            r["data"] = {}

    def order(r: dict[str, Any]) -> tuple[dt.datetime, int]:
        tail = str(r["event_id"]).rsplit("-", 1)[-1]
        return r["ts"], int(tail) if tail.isdigit() else 0

    return sorted(rows, key=order)


def _rebuild(rule: str, rows: list[dict[str, Any]]) -> tuple[Alarm, dict[str, Any] | None]:
    """The rule's :class:`Alarm` as its transitions in the lake leave it (as the alarm
    console rebuilds it), and the rule's last ``alarm.ack`` row."""
    mine = [r for r in rows if r["data"].get("rule") == rule]
    last = mine[-1]
    state = AlarmState(last["data"].get("to", "normal"))
    condition = state in (AlarmState.UNACK, AlarmState.ACKED)
    shelved: str | None = None
    for r in mine:
        if r["kind"] == "alarm.active":
            condition = True
        elif r["kind"] in ("alarm.rtn", "alarm.reset"):
            condition = False
        if r["kind"] == "alarm.shelve":
            shelved = json.loads(r["evidence"] or "{}").get("shelved_until")
        elif r["kind"] == "alarm.unshelve":
            shelved = None
    acks = [r for r in mine if r["kind"] == "alarm.ack"]
    alarm = Alarm(
        rule,
        severity=int(last["severity"] or 1),
        message=str(last["message"] or rule),
        line=last["line"],
        asset=last["asset"],
        state=state,
        condition=condition,
        shelved_until=dt.datetime.fromisoformat(shelved) if shelved else None,
        out_of_service=state is AlarmState.OUT_OF_SERVICE,
        suppressed=state is AlarmState.SUPPRESSED,
        seq_=len(mine) + 1000,
    )
    return alarm, (acks[-1] if acks else None)


def _ack(ctx: ToolContext, args: AckArgs) -> AckOut:
    ws = ctx.workspace
    rows = _alarm_rows(ctx)
    rules = {str(r["data"]["rule"]) for r in rows if r["data"].get("rule")}
    if args.event_id in rules:
        rule = args.event_id
    else:
        hit = ws.lake.query(
            "SELECT kind, payload FROM events WHERE event_id = ?", [args.event_id]
        ).to_pylist()
        if not hit:
            raise NotFoundError(
                f"no alarm event or rule {args.event_id!r} in the lake; list alarms first "
                "and pass the event id of an alarm.* transition"
            )
        kind = str(hit[0]["kind"])
        rule_of = json.loads(hit[0]["payload"] or "{}").get("rule")
        if not kind.startswith("alarm.") or not rule_of:
            raise NotFoundError(
                f"event {args.event_id!r} is a {kind!r} event, not an alarm; only alarm.* "
                "transitions (from the safety rules) can be acknowledged — pass the event "
                "id of the alarm.active row (list_alarms) or the rule id"
            )
        rule = str(rule_of)
    alarm, last_ack = _rebuild(rule, rows)
    now = dt.datetime.now(dt.UTC)
    events = alarm.acknowledge(now, who=ctx.user, why=args.note)
    if not events:
        who = (last_ack["data"].get("who") if last_ack else None) or ""
        return AckOut(
            event_id=args.event_id,
            rule=rule,
            state=alarm.state.value,
            ack_event_id=str(last_ack["event_id"]) if last_ack else None,
            acknowledged_by=str(who),
            already_acknowledged=True,
            ledger_index=None,
        )
    # Stored the way the alarm console stores them (factoryax.api.store_alarm_events):
    # the AlarmEvent rows into `events`, the ack to the ledger as operator_approval.
    ingest_rows(
        "events",
        pa.Table.from_pylist([e.to_row() for e in events]),
        plant=ws.plant,
        lake=ws.lake,
        source="agent ack",
    )
    index = None
    if (ws.root / LEDGER_DIR / "ledger.sqlite").is_file():
        with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
            receipts = record_incidents(ledger, events)
            index = receipts[-1].index if receipts else None
    return AckOut(
        event_id=args.event_id,
        rule=rule,
        state=alarm.state.value,
        ack_event_id=events[-1].event_id,
        acknowledged_by=ctx.user,
        already_acknowledged=False,
        ledger_index=index,
    )


def _ledger(ctx: ToolContext, args: NoArgs) -> LedgerOut:
    ws = ctx.workspace
    if not (ws.root / LEDGER_DIR / "ledger.sqlite").is_file():
        raise NotFoundError("this workspace has no ledger (run `factoryax ledger keygen`)")
    with Ledger.for_workspace(ws.root, ws.plant.site.id, check=False) as ledger:
        report = ledger.audit()
    return LedgerOut(
        exists=True,
        ok=report.ok,
        size=report.size,
        entries_checked=report.entries_checked,
        problems=report.problem_count,
    )


def _lot_exists(ctx: ToolContext, lot: str) -> None:
    n = (
        ctx.workspace.lake.query("SELECT count(*) AS n FROM production WHERE lot = ?", [lot])
        .column("n")[0]
        .as_py()
    )
    if not n:
        raise NotFoundError(f"no production rows for lot {lot!r}")


def _draft_certificate(ctx: ToolContext, args: LotArgs) -> CertificateOut:
    ws = ctx.workspace
    _lot_exists(ctx, args.lot)
    cert = build_certificate(
        ws.lake, ws.plant, args.lot, issued_at=dt.datetime.combine(ctx.today, dt.time(), dt.UTC)
    )
    cpks = [m.cpk for m in cert.measurements if m.cpk is not None]
    return CertificateOut(
        lot=cert.lot,
        product=cert.product,
        parts_inspected=cert.parts_inspected,
        first_pass_yield=round(cert.first_pass_yield, 4),
        final_yield=round(cert.final_yield, 4),
        rework=cert.rework,
        scrap=cert.scrap,
        cpk=round(min(cpks), 3) if cpks else None,
        verdict=cert.verdict,
        defects=dict(cert.defects),
        certificate_sha256=cert.sha256(),
    )


def _issue(ctx: ToolContext, args: LotArgs) -> IssueOut:
    ws = ctx.workspace
    _lot_exists(ctx, args.lot)
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        found = ledger.find("quality_certificate", lot=args.lot)
        out_dir = ws.root / "certificates"
        if found:
            fields = ledger.fields(found[-1])
            stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.lot)
            return IssueOut(
                lot=args.lot,
                verdict=str(fields.get("verdict")),
                ledger_index=found[-1],
                json_path=str(out_dir / f"{stem}.coa.json"),
                pdf_path=str(out_dir / f"{stem}.coa.pdf"),
            )
        issued = issue_certificate(ledger, ws.lake, ws.plant, args.lot, out_dir=out_dir)
    return IssueOut(
        lot=args.lot,
        verdict=issued.certificate.verdict,
        ledger_index=issued.receipt.index,
        json_path=str(issued.json_path),
        pdf_path=str(issued.pdf_path),
    )


def _run_twin(ctx: ToolContext, hours: float, station: str, changes: dict[str, float]) -> Any:
    from factoryax.twin import TwinConfig

    plant = ctx.workspace.plant
    config = TwinConfig.from_plant(plant)
    if changes:
        old = config.stations[station]
        stations = dict(config.stations)
        stations[station] = old.model_copy(update=changes)
        config = config.model_copy(update={"stations": stations})
    run = simulate(
        plant,
        start=ctx.today,
        horizon=dt.timedelta(hours=hours),
        seed=config.seed,
        sample_s=600.0,
        config=config,
    )
    tables = run.lake_tables()
    prod, states = tables["production"], tables["states"]
    last = [a.id for _, a in plant.iter_assets()][-1]
    parts = sum(1 for a in prod.column("asset").to_pylist() if a == last)
    down = 0.0
    for r in states.select(["start", "end", "state"]).to_pylist():
        if r["state"] == "down":
            down += (r["end"] - r["start"]).total_seconds()
    return parts, round(down / 60, 1), config.seed


def _what_if(ctx: ToolContext, args: WhatIfArgs) -> WhatIfOut:
    from factoryax.twin import TwinConfig

    _asset(ctx, args.asset)
    base_config = TwinConfig.from_plant(ctx.workspace.plant)
    baseline_value = getattr(base_config.stations[args.asset], args.parameter)
    b_parts, b_down, seed = _run_twin(ctx, args.hours, args.asset, {})
    s_parts, s_down, _ = _run_twin(ctx, args.hours, args.asset, {args.parameter: args.value})
    return WhatIfOut(
        asset=args.asset,
        parameter=args.parameter,
        baseline_value=baseline_value,
        value=args.value,
        hours=args.hours,
        baseline_parts=b_parts,
        scenario_parts=s_parts,
        baseline_down_min=b_down,
        scenario_down_min=s_down,
        seed=seed,
    )


def _inquiry(ctx: ToolContext, args: InquiryArgs) -> InquiryOut:
    from factoryax.llmops.guard import injection_findings

    ws = ctx.workspace
    cert = _draft_certificate(ctx, LotArgs(lot=args.lot))
    missing: list[str] = []
    bundle_path: str | None = None
    index: int | None = None
    if (ws.root / LEDGER_DIR / "ledger.sqlite").is_file():
        with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
            found = ledger.find("quality_certificate", lot=args.lot)
            if found:
                index = found[-1]
                try:
                    bundle = build_bundle(
                        ledger,
                        index,
                        disclose={"lot", "product", "verdict", "first_pass_yield", "final_yield"},
                    )
                except FactoryAXError as exc:
                    missing.append(f"evidence bundle ({exc})")
                else:
                    folder = ws.root / "agent" / "drafts"
                    folder.mkdir(parents=True, exist_ok=True)
                    path = folder / f"{_stem(args.lot)}.bundle.json"
                    path.write_text(bundle.to_json(), encoding="utf-8")
                    bundle_path = str(path)
            else:
                missing.append("issued certificate for the lot (issue_certificate, approval)")
    else:
        missing.append("ledger (factoryax ledger keygen)")
    reply = (
        f"Dear {args.customer},\n\nthank you for your inquiry about lot {cert.lot} "
        f"({cert.product}). Our records show {cert.parts_inspected} parts inspected, "
        f"first-pass yield {cert.first_pass_yield:.2%}, final yield {cert.final_yield:.2%}, "
        f"{cert.rework} reworked and {cert.scrap} scrapped; verdict: {cert.verdict}."
        + (
            " The attached evidence bundle lets you verify these figures offline with "
            "`factoryax verify` and our public key."
            if bundle_path
            else " A verifiable evidence bundle will follow once the certificate is issued."
        )
        + "\n\nBest regards"
    )
    return InquiryOut(
        lot=cert.lot,
        reply=reply,
        bundle_path=bundle_path,
        ledger_index=index,
        missing=missing,
        injection_flags=injection_findings(args.question),
    )


def _eight_d(ctx: ToolContext, args: EightDArgs) -> EightDOut:
    from factoryax.llmops.guard import injection_findings

    cert = _draft_certificate(ctx, LotArgs(lot=args.lot))
    defects = {k: v for k, v in cert.defects.items() if v}
    top = max(defects, key=lambda k: defects[k]) if defects else None
    report = {
        "D1 team": "to be named by the quality manager",
        "D2 problem": (
            f"lot {cert.lot} ({cert.product}): {cert.parts_inspected} inspected, "
            f"{cert.rework} rework, {cert.scrap} scrap; complaint: {args.complaint or '-'}"
        ),
        "D3 containment": "hold remaining stock of the lot; 100% re-inspection of the complaint "
        "characteristic",
        "D4 root cause": (
            f"most frequent defect code {top} ({defects[top]} parts); check SPC of the "
            "characteristic and tool changes in the lot's period"
            if top
            else "no defect recorded for this lot in the lake; investigate with the customer"
        ),
        "D5 corrective actions": "to be chosen after D4 is confirmed",
        "D6 implementation": "to be filled by the team",
        "D7 prevention": "to be filled by the team",
        "D8 closure": "to be filled by the team",
    }
    return EightDOut(
        lot=cert.lot,
        report=report,
        defects=defects,
        injection_flags=injection_findings(args.complaint),
    )


def _stem(lot: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in lot)


def build_registry(*, detect: bool = True) -> ToolRegistry:
    """Every tool of the plant in one registry.

    Args:
        detect: also register the detection tools (RUL ranking, model promotion) when
            :mod:`factoryax.detect` provides them.
    """
    reg = ToolRegistry()
    tool(
        reg,
        "get_kpis",
        "OEE, availability, performance, quality and parts of a period for the line or one asset",
        KpiArgs,
        KpiOut,
        intent="kpi",
    )(_kpis)
    tool(
        reg,
        "downtime_pareto",
        "Downtime by reason, largest first (Pareto)",
        ParetoArgs,
        ParetoOut,
        intent="downtime",
    )(_pareto)
    tool(
        reg,
        "spc_signals",
        "Control chart (I-MR) of an asset's signal and its Nelson rule signals",
        SpcArgs,
        SpcOut,
        intent="spc",
    )(_spc)
    tool(
        reg,
        "process_capability",
        "Cp, Cpk, Pp, Ppk of a characteristic against its spec limits",
        SpcArgs,
        CapabilityOut,
        intent="capability",
    )(_capability)
    tool(
        reg,
        "list_anomalies",
        "Anomaly scores (1.0 = threshold) per asset and the signals that contributed",
        PeriodArgs,
        AnomalyOut,
        intent="anomaly",
    )(_anomalies)
    tool(
        reg,
        "list_alarms",
        "Safety alarms and events of a period",
        PeriodArgs,
        AlarmsOut,
        intent="alarms",
    )(_alarms)
    tool(
        reg,
        "ack_alarm",
        "Acknowledge a safety alarm (ISA-18.2 lifecycle; the ack is an alarm.ack row in the "
        "lake, shown by the alarm console, and an operator_approval in the ledger)",
        AckArgs,
        AckOut,
        state_changing=True,
        intent="ack",
    )(_ack)
    tool(
        reg, "verify_ledger", "Audit the tamper-evident ledger", NoArgs, LedgerOut, intent="ledger"
    )(_ledger)
    tool(
        reg,
        "draft_certificate",
        "Draft (not issue) the quality certificate of a lot",
        LotArgs,
        CertificateOut,
        intent="certificate",
    )(_draft_certificate)
    tool(
        reg,
        "issue_certificate",
        "Issue a lot's quality certificate: commit it to the ledger and write PDF/JSON",
        LotArgs,
        IssueOut,
        state_changing=True,
        intent="issue",
    )(_issue)
    tool(
        reg,
        "twin_what_if",
        "Simulate the line with one station parameter changed and compare with the baseline",
        WhatIfArgs,
        WhatIfOut,
        intent="whatif",
    )(_what_if)
    tool(
        reg,
        "draft_inquiry_reply",
        "Draft a reply to a customer's quality inquiry about a lot, with the evidence bundle",
        InquiryArgs,
        InquiryOut,
        intent="inquiry",
    )(_inquiry)
    tool(
        reg,
        "draft_8d",
        "Draft an 8D report for a customer complaint about a lot",
        EightDArgs,
        EightDOut,
        intent="eightd",
    )(_eight_d)
    if detect:
        _register_detect(reg)
    return reg


def _register_detect(reg: ToolRegistry) -> None:
    """Adds RUL ranking and model promotion when :mod:`factoryax.detect` offers them."""
    try:
        import factoryax.detect  # noqa: F401
    except ImportError:
        return
    import importlib

    for name in ("factoryax.agent.detect_tools", "factoryax.agent.rul_tools"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.register(reg)
