"""Manufacturing analytics: ISO 22400-2 KPIs, downtime, SPC and shift/day/week reports.

Contract:

- **KPIs** (:func:`compute_kpis`) are ratios of summed ISO 22400-2 time elements and
  quantities, computed in DuckDB over the lake's ``states`` and ``production``; planned
  busy time comes from the plant's shift calendar (a plant without shifts gets a
  :class:`~factoryax.core.ConfigError`, never a silent 24/7). Overlapping state records are
  reconciled by a stated priority, so availability, effectiveness and quality always lie
  in [0, 1] and OEE = A × P × Q.
- **Downtime** (:func:`loss_items`, :func:`pareto`) adds up to exactly the time the KPIs
  lose, per reason of the plant's reason tree, plus time nobody recorded.
- **SPC** (:func:`imr_chart` … :func:`u_chart`, :func:`nelson`,
  :func:`western_electric`, :func:`capability`) follows the NIST/SEMATECH e-Handbook;
  :func:`publish` writes rule episodes to ``events`` with deterministic ids.
- **Reports** (:func:`report`) write a PDF (Korean font embedded) and an XLSX.

Every figure carries the queries behind it (``KpiTable.sql``, ``SpcResult.source``).

Examples:
    >>> from factoryax.analytics import Period, nelson
    >>> Period.parse("2026-11-23/night").label
    '2026-11-23/night'
    >>> [s.rule for s in nelson([3.5])]
    ['nelson_1']
"""

from __future__ import annotations

from factoryax.analytics.calendar import (
    CalendarException,
    Period,
    PeriodKind,
    ShiftInstance,
    elapsed,
    shift_instances,
)
from factoryax.analytics.downtime import (
    LossItem,
    MicroStops,
    ParetoBar,
    loss_items,
    micro_stops,
    pareto,
)
from factoryax.analytics.kpi import GroupKey, KpiConfig, KpiRow, KpiTable, compute_kpis
from factoryax.analytics.reasons import Bucket, ReasonTree, classify
from factoryax.analytics.report import (
    ReportFont,
    ReportPaths,
    SpecLimits,
    default_specs,
    find_korean_font,
    report,
)
from factoryax.analytics.spc import (
    RULES,
    Capability,
    ControlChart,
    Interval,
    RuleSignal,
    Series,
    SpcResult,
    attribute_chart,
    c_chart,
    capability,
    chi2_quantile,
    control_constants,
    episodes,
    imr_chart,
    nelson,
    np_chart,
    p_chart,
    publish,
    signal_chart,
    spc_events,
    u_chart,
    western_electric,
    xbar_r_chart,
    xbar_s_chart,
)

__all__ = [
    "RULES",
    "Bucket",
    "CalendarException",
    "Capability",
    "ControlChart",
    "GroupKey",
    "Interval",
    "KpiConfig",
    "KpiRow",
    "KpiTable",
    "LossItem",
    "MicroStops",
    "ParetoBar",
    "Period",
    "PeriodKind",
    "ReasonTree",
    "ReportFont",
    "ReportPaths",
    "RuleSignal",
    "Series",
    "ShiftInstance",
    "SpcResult",
    "SpecLimits",
    "attribute_chart",
    "c_chart",
    "capability",
    "chi2_quantile",
    "classify",
    "compute_kpis",
    "control_constants",
    "default_specs",
    "elapsed",
    "episodes",
    "find_korean_font",
    "imr_chart",
    "loss_items",
    "micro_stops",
    "nelson",
    "np_chart",
    "p_chart",
    "pareto",
    "publish",
    "report",
    "shift_instances",
    "signal_chart",
    "spc_events",
    "u_chart",
    "western_electric",
    "xbar_r_chart",
    "xbar_s_chart",
]
