"""Statistical process control: Shewhart charts, Western Electric and Nelson rules,
capability indices with confidence intervals, and SPC signals published as lake events.

Public names are re-exported by :mod:`factoryax.analytics`.
"""

from __future__ import annotations

from factoryax.analytics.spc.capability import (
    Capability,
    Interval,
    bissell_interval,
    capability,
    chi2_interval,
)
from factoryax.analytics.spc.charts import (
    ChartKind,
    ControlChart,
    Series,
    c_chart,
    imr_chart,
    np_chart,
    p_chart,
    u_chart,
    xbar_r_chart,
    xbar_s_chart,
)
from factoryax.analytics.spc.monitor import (
    SpcResult,
    attribute_chart,
    publish,
    signal_chart,
    spc_events,
)
from factoryax.analytics.spc.rules import (
    RULES,
    RuleSet,
    RuleSignal,
    episodes,
    nelson,
    western_electric,
)
from factoryax.analytics.spc.stats import (
    ControlConstants,
    c4,
    chi2_quantile,
    control_constants,
    d2,
    d3,
    normal_quantile,
)

__all__ = [
    "RULES",
    "Capability",
    "ChartKind",
    "ControlChart",
    "ControlConstants",
    "Interval",
    "RuleSet",
    "RuleSignal",
    "Series",
    "SpcResult",
    "attribute_chart",
    "bissell_interval",
    "c4",
    "c_chart",
    "capability",
    "chi2_interval",
    "chi2_quantile",
    "control_constants",
    "d2",
    "d3",
    "episodes",
    "imr_chart",
    "nelson",
    "normal_quantile",
    "np_chart",
    "p_chart",
    "publish",
    "signal_chart",
    "spc_events",
    "u_chart",
    "western_electric",
    "xbar_r_chart",
    "xbar_s_chart",
]
