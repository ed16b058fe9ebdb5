"""SPC over the lake: charts of a measured signal or of defectives, and signals as events.

A variables chart reads one signal's readings (e.g. ``inspect-01.bore_diameter``, one per
inspected part) in time order; an attribute chart counts defectives per shift instance
from ``production``. Limits come from a baseline period (Phase I) and judge the monitored
period (Phase II). :func:`publish` writes each rule episode as an ``events`` row of kind
``spc.<rule>`` so the alarm engine can act on it; the event id is derived from the asset,
signal, chart, rule, the instant of the first completing point and the limits, so running
the same analysis again adds nothing (the lake skips known keys).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from factoryax.analytics.calendar import CalendarException, Period
from factoryax.analytics.kpi import compute_kpis
from factoryax.analytics.spc.charts import (
    ControlChart,
    c_chart,
    imr_chart,
    np_chart,
    p_chart,
    u_chart,
    xbar_r_chart,
    xbar_s_chart,
)
from factoryax.analytics.spc.rules import RuleSet, RuleSignal, episodes
from factoryax.core import ConfigError, PlantModel
from factoryax.lake import Lake

__all__ = ["SpcResult", "attribute_chart", "publish", "signal_chart", "spc_events"]

VariablesKind = Literal["I-MR", "Xbar-R", "Xbar-S"]
AttributeKind = Literal["p", "np", "c", "u"]

_READINGS_SQL = """
SELECT ts, value FROM readings
WHERE asset = $1 AND signal = $2 AND ts >= $3 AND ts < $4
  AND value IS NOT NULL AND coalesce(quality::VARCHAR, 'good') <> 'bad'
ORDER BY ts
"""


@dataclass(frozen=True, eq=False)
class SpcResult:
    """A chart of one characteristic with the instants of its points and its signals.

    Attributes:
        asset: the asset measured.
        characteristic: the signal id, or ``defectives`` for attribute charts.
        chart: the control chart.
        ts: the instant of each point (a subgroup's last value; a shift's start).
        labels: a short label per point (a shift instance key for attribute charts).
        rules: the rule set applied.
        signals: rule firings on the primary series.
        values: the individual values behind a variables chart (for capability).
        value_ts: the instant of each individual value.
        source: the query (or KPI grouping) the points came from.
    """

    asset: str
    characteristic: str
    chart: ControlChart
    ts: tuple[dt.datetime, ...]
    labels: tuple[str, ...]
    rules: RuleSet
    signals: tuple[RuleSignal, ...]
    values: tuple[float, ...] = ()
    value_ts: tuple[dt.datetime, ...] = ()
    source: str = ""


def signal_chart(
    lake: Lake,
    plant: PlantModel,
    asset: str,
    signal: str,
    period: Period,
    *,
    baseline: Period | None = None,
    kind: VariablesKind = "I-MR",
    subgroup_size: int = 5,
    rules: RuleSet = "nelson",
    exceptions: Sequence[CalendarException] = (),
) -> SpcResult:
    """A variables chart of ``asset.signal`` readings over ``period``.

    Args:
        lake: the lake with the readings.
        plant: the plant model (zone and calendar place the periods).
        asset: asset id.
        signal: signal id (one reading per measured part, or a sampled value).
        period: the monitored period.
        baseline: the period whose points set the limits (default: ``period`` itself);
            when it starts earlier, its points lead the chart.
        kind: ``I-MR``, ``Xbar-R`` or ``Xbar-S`` (consecutive subgroups of
            ``subgroup_size``; a partial last subgroup is left out).
        subgroup_size: values per subgroup for X̄ charts.
        rules: ``nelson`` or ``western_electric``.
        exceptions: calendar exceptions.

    Raises:
        ConfigError: the signal is not declared, or too few values for the chart.
    """
    if plant.find_signal(asset, signal) is None:
        raise ConfigError(f"{asset}.{signal} is not a declared signal of the plant")
    zone, cal = plant.site.timezone, plant.calendar
    start, end = period.span(cal, zone, exceptions)
    b_start, b_end = baseline.span(cal, zone, exceptions) if baseline else (start, end)
    first = min(start, b_start)
    table = lake.query(_READINGS_SQL, [asset, signal, first, max(end, b_end)])
    ts_all = table.column("ts").to_pylist()
    x_all = np.asarray(table.column("value").to_numpy(zero_copy_only=False), dtype=np.float64)
    keep = np.array([(b_start <= t < b_end) or (start <= t < end) for t in ts_all], dtype=bool)
    ts = [t for t, k in zip(ts_all, keep, strict=True) if k]
    x = x_all[keep] if len(x_all) else x_all
    in_base = sum(1 for t in ts if b_start <= t < b_end)
    if in_base < 2:
        raise ConfigError(
            f"{asset}.{signal}: the baseline {(baseline or period).label} holds {in_base} "
            "value(s); limits need at least 2 (pick a baseline period with data)"
        )
    if kind == "I-MR":
        chart = imr_chart(x, baseline=in_base)
        point_ts = ts
    else:
        if subgroup_size < 2:
            raise ConfigError(f"subgroup_size must be >= 2 for {kind}, got {subgroup_size!r}")
        groups = len(x) // subgroup_size
        if groups < 2:
            raise ConfigError(
                f"{asset}.{signal}: {len(x)} value(s) make fewer than 2 subgroups of "
                f"{subgroup_size} in {period.label}"
            )
        arr = x[: groups * subgroup_size].reshape(groups, subgroup_size)
        base_groups = min(max(in_base // subgroup_size, 1), groups)
        make = xbar_r_chart if kind == "Xbar-R" else xbar_s_chart
        chart = make(arr, baseline=base_groups)
        point_ts = [ts[(g + 1) * subgroup_size - 1] for g in range(groups)]
    labels = tuple(t.astimezone(zone).strftime("%m-%d %H:%M") for t in point_ts)
    return SpcResult(
        asset,
        signal,
        chart,
        tuple(point_ts),
        labels,
        rules,
        tuple(chart.signals(rules)),
        tuple(float(v) for v in x),
        tuple(ts),
        _READINGS_SQL.strip(),
    )


def attribute_chart(
    lake: Lake,
    plant: PlantModel,
    asset: str,
    period: Period,
    *,
    baseline: Period | None = None,
    kind: AttributeKind = "p",
    rules: RuleSet = "nelson",
    exceptions: Sequence[CalendarException] = (),
) -> SpcResult:
    """A p, np, c or u chart of defective parts per shift instance at ``asset``.

    Defectives are production rows whose result is not ``ok``; the sample size is the
    rows of the shift (np needs every shift to have the same size).

    Raises:
        ConfigError: fewer than two shifts with parts, or np with unequal sizes.
    """
    first = min(period.first_day, baseline.first_day) if baseline else period.first_day
    span = Period("range", first, period.last_day)
    table = compute_kpis(
        lake, plant, span, by=("shift_instance",), assets=[asset], exceptions=exceptions
    )
    base_days = set(baseline.days()) if baseline else set(period.days())
    rows = [r for r in table.rows if r.pq > 0]
    if len(rows) < 2:
        raise ConfigError(
            f"{asset}: an attribute chart needs at least 2 shifts with parts in {span.label}"
        )
    starts = {i.key: i.start for i in table.elements.instances} if table.elements else {}
    keys = [r.key["shift_instance"] for r in rows]
    n = [r.pq for r in rows]
    d = [r.pq - r.ok for r in rows]
    in_base = sum(1 for k in keys if dt.date.fromisoformat(k.split("/")[0]) in base_days)
    b = max(in_base, 1)
    if kind == "p":
        chart = p_chart(d, n, baseline=b)
    elif kind == "np":
        if len(set(n)) != 1:
            raise ConfigError(
                f"{asset}: an np chart needs equal sample sizes, shifts made {sorted(set(n))}; "
                "use a p chart"
            )
        chart = np_chart(d, n[0], baseline=b)
    elif kind == "c":
        chart = c_chart(d, baseline=b)
    else:
        chart = u_chart(d, n, baseline=b)
    return SpcResult(
        asset,
        "defectives",
        chart,
        tuple(starts[k] for k in keys),
        tuple(keys),
        rules,
        tuple(chart.signals(rules)),
        source="compute_kpis(by=shift_instance): PQ - GQ per shift",
    )


def spc_events(result: SpcResult, plant: PlantModel) -> pa.Table:
    """One ``events`` row per rule episode (kind ``spc.<rule>``), ready to append."""
    series = result.chart.primary
    line = plant.line_of(result.asset).id
    limits = f"{series.center[0]:.9g}|{series.ucl[0]:.9g}|{series.lcl[0]:.9g}"
    digest = hashlib.sha256(limits.encode()).hexdigest()[:8]
    rows: dict[str, list[object]] = {
        k: [] for k in ("ts", "event_id", "kind", "line", "asset", "severity", "message", "payload")
    }
    for ep in episodes(result.signals):
        at = result.ts[ep.index]
        us = int(at.timestamp() * 1_000_000)
        name = f"{result.asset}.{result.characteristic}"
        payload = {
            "chart": result.chart.kind,
            "series": series.name,
            "rule": ep.rule,
            "rule_name": ep.name,
            "characteristic": name,
            "points": list(ep.points),
            "points_ts": [result.ts[i].isoformat() for i in ep.points],
            "values": [round(float(series.values[i]), 9) for i in ep.points],
            "center": float(series.center[ep.index]),
            "ucl": float(series.ucl[ep.index]),
            "lcl": float(series.lcl[ep.index]),
            "baseline_points": result.chart.baseline,
        }
        rows["ts"].append(at)
        rows["event_id"].append(f"spc-{name}-{result.chart.kind}-{ep.rule}-{us}-{digest}")
        rows["kind"].append(f"spc.{ep.rule}")
        rows["line"].append(line)
        rows["asset"].append(result.asset)
        rows["severity"].append(3 if ep.rule in ("nelson_1", "we_1") else 2)
        rows["message"].append(f"{name}: {ep.name} ({ep.name_ko}), {len(ep.points)} point(s)")
        rows["payload"].append(json.dumps(payload, sort_keys=True, ensure_ascii=False))
    n = len(rows["ts"])
    return pa.table(
        {
            "site": pa.array([plant.site.id] * n, pa.string()),
            "ts": pa.array(rows["ts"], pa.timestamp("us", tz="UTC")),
            "event_id": pa.array(rows["event_id"], pa.string()),
            "kind": pa.array(rows["kind"], pa.string()),
            "line": pa.array(rows["line"], pa.string()),
            "asset": pa.array(rows["asset"], pa.string()),
            "severity": pa.array(rows["severity"], pa.int16()),
            "message": pa.array(rows["message"], pa.string()),
            "payload": pa.array(rows["payload"], pa.string()),
            "evidence": pa.array([result.source] * n, pa.string()),
        }
    )


def publish(lake: Lake, result: SpcResult, plant: PlantModel) -> int:
    """Appends the result's rule episodes to the lake's ``events``; returns rows written.

    Re-publishing the same result writes nothing: the event ids are deterministic.
    """
    events = spc_events(result, plant)
    if events.num_rows == 0:
        return 0
    return lake.append("events", events).rows_written
