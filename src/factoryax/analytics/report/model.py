"""What a shift, day or week report shows, gathered once for both the PDF and the XLSX.

Line-level Korean smart-factory KPIs are taken where they are physically meaningful:

- **line output** and **productivity (생산성)**: good parts of the line's last asset (what
  leaves the line) and their number per planned busy hour of that asset;
- **defect rate (불량률)**: defective results (rework, scrap, ng) anywhere on the line per
  part entering the line (produced rows of its first asset);
- **on-time delivery (납기준수율)**: needs orders and due dates, which the lake does not
  hold, so it is reported as not available rather than invented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from factoryax.analytics.calendar import CalendarException, Period
from factoryax.analytics.downtime import MicroStops, ParetoBar, loss_items, micro_stops, pareto
from factoryax.analytics.kpi import GroupKey, KpiConfig, KpiRow, KpiTable, compute_kpis
from factoryax.analytics.notices import Notice
from factoryax.analytics.reasons import Lang, ReasonTree
from factoryax.analytics.spc import (
    Capability,
    RuleSignal,
    SpcResult,
    capability,
    episodes,
    signal_chart,
)
from factoryax.core import ConfigError, PlantModel
from factoryax.lake import Lake
from factoryax.twin import TwinConfig

__all__ = ["LineSummary", "ReportData", "ReportKind", "SpecLimits", "build", "default_specs"]

ReportKind = Literal["shift", "day", "week"]


@dataclass(frozen=True)
class SpecLimits:
    """Specification limits of a measured characteristic."""

    lsl: float | None
    usl: float | None
    target: float | None = None


@dataclass(frozen=True)
class LineSummary:
    """The Korean smart-factory KPIs of one line (see the module docstring)."""

    line: str
    name: str
    output_good: int
    productivity_per_h: float | None
    defect_rate: float | None
    on_time_delivery: float | None = None


@dataclass(frozen=True, eq=False)
class SpcSection:
    """One characteristic's chart, capability and the baseline used."""

    key: str
    result: SpcResult | None
    capability: Capability | None
    spec: SpecLimits | None
    baseline_label: str
    first_point: int = 0
    """Index of the first point in the monitored period (earlier points are the baseline)."""

    def signals_in_period(self) -> list[RuleSignal]:
        """Rule episodes completed inside the monitored period."""
        if self.result is None:
            return []
        return [s for s in episodes(self.result.signals) if s.index >= self.first_point]


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything one report shows."""

    plant: PlantModel
    period: Period
    kind: ReportKind
    lang: Lang
    generated_at: dt.datetime
    kpis: KpiTable
    by_asset: tuple[KpiRow, ...]
    by_time: tuple[KpiRow, ...]
    time_key: GroupKey
    total: KpiRow
    lines: tuple[LineSummary, ...]
    pareto: tuple[ParetoBar, ...]
    micro: MicroStops
    spc: tuple[SpcSection, ...]
    notices: tuple[Notice, ...]

    @property
    def shift_names(self) -> list[str]:
        """The shifts that ran in the period, in calendar order."""
        ran = {r.key.get("shift") for r in self.kpis.regroup(("shift",))}
        return [s.name for s in self.plant.calendar.shifts if s.name in ran]


def default_specs(plant: PlantModel) -> dict[str, SpecLimits]:
    """Spec limits the plant model implies, keyed ``asset.signal``.

    Signals with ``lsl``/``usl`` in ``plant.toml`` come first; for the inspection
    dimension of a line that declares none, the digital twin's ``[twin.quality]``
    (nominal ± tolerance) is used.
    """
    declared = {
        f"{a.id}.{s.id}": SpecLimits(s.lsl, s.usl, s.target)
        for _, a in plant.iter_assets()
        for s in a.signals
        if s.has_spec
    }
    try:
        q = TwinConfig.from_plant(plant).quality
    except ConfigError:
        return declared
    out: dict[str, SpecLimits] = {}
    for line in plant.lines:
        inspection = q.inspection_asset or next(
            (a.id for a in line.assets if a.kind == "inspection"), None
        )
        if inspection is None:
            continue
        asset = plant.asset(inspection)
        signal = q.measurement_signal or next(
            (s.id for s in asset.signals if "diameter" in s.id or "bore" in s.id), None
        )
        if signal is not None:
            lo, hi = q.nominal_mm - q.tolerance_mm, q.nominal_mm + q.tolerance_mm
            out[f"{inspection}.{signal}"] = SpecLimits(lo, hi, q.nominal_mm)
    return out | declared


def build(
    lake: Lake,
    plant: PlantModel,
    period: Period,
    *,
    kind: ReportKind,
    lang: Lang,
    specs: Mapping[str, SpecLimits] | None = None,
    config: KpiConfig | None = None,
    exceptions: Sequence[CalendarException] = (),
    spc_baseline_days: int = 7,
    now: dt.datetime | None = None,
) -> ReportData:
    """Queries the lake once for the KPIs and once per characteristic for SPC."""
    kpis = compute_kpis(
        lake,
        plant,
        period,
        by=("asset",),
        config=config,
        exceptions=exceptions,
    )
    time_key: GroupKey = "shift_instance" if len(period.days()) == 1 else "day"
    tree = ReasonTree.from_plant(plant)
    items = loss_items(kpis)
    specs = default_specs(plant) if specs is None else dict(specs)
    sections = tuple(
        _spc_section(lake, plant, period, key, spec, spc_baseline_days, exceptions)
        for key, spec in specs.items()
    )
    zone = plant.site.timezone
    return ReportData(
        plant=plant,
        period=period,
        kind=kind,
        lang=lang,
        generated_at=(now or dt.datetime.now(dt.UTC)).astimezone(zone),
        kpis=kpis,
        by_asset=kpis.rows,
        by_time=tuple(kpis.regroup((time_key,))),
        time_key=time_key,
        total=kpis.total(),
        lines=tuple(_line_summaries(plant, kpis)),
        pareto=tuple(pareto(items, tree, lang=lang)),
        micro=micro_stops(items),
        spc=sections,
        notices=kpis.notices,
    )


def _line_summaries(plant: PlantModel, kpis: KpiTable) -> list[LineSummary]:
    rows = {r.key["asset"]: r for r in kpis.rows_by_asset()}
    out = []
    for line in plant.lines:
        mine = [rows[a.id] for a in line.assets if a.id in rows]
        if not mine:
            continue
        first, last = mine[0], mine[-1]
        defects = sum(r.pq - r.ok for r in mine)
        out.append(
            LineSummary(
                line=line.id,
                name=line.name_ko or line.name or line.id,
                output_good=last.ok,
                productivity_per_h=last.productivity_per_h,
                defect_rate=defects / first.pq if first.pq else None,
            )
        )
    return out


def _spc_section(
    lake: Lake,
    plant: PlantModel,
    period: Period,
    key: str,
    spec: SpecLimits,
    baseline_days: int,
    exceptions: Sequence[CalendarException],
) -> SpcSection:
    asset, _, signal = key.partition(".")
    before = Period(
        "range",
        period.first_day - dt.timedelta(days=baseline_days),
        period.first_day - dt.timedelta(days=1),
    )
    for baseline in (before, None):
        try:
            result = signal_chart(
                lake, plant, asset, signal, period, baseline=baseline, exceptions=exceptions
            )
        except ConfigError:
            continue
        inside = _in_period(result, plant, period)
        shown = [v for v, t in zip(result.values, inside, strict=True) if t]
        cap = None
        if len(shown) >= 3 and (spec.lsl is not None or spec.usl is not None):
            cap = capability(shown, lsl=spec.lsl, usl=spec.usl)
        label = (baseline or period).label
        start, _ = period.span(plant.calendar, plant.site.timezone, exceptions)
        first = sum(1 for t in result.ts if t < start)
        return SpcSection(key, result, cap, spec, label, first)
    return SpcSection(key, None, None, spec, period.label)


def _in_period(result: SpcResult, plant: PlantModel, period: Period) -> list[bool]:
    """Whether each individual value lies in the monitored period (not the baseline)."""
    start, end = period.span(plant.calendar, plant.site.timezone)
    return [start <= t < end for t in result.value_ts]
