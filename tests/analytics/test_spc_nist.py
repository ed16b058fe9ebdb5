"""SPC and capability against the NIST/SEMATECH e-Handbook's published worked examples.

Sections cited: §6.3.2.2 (individuals chart), §6.3.3.1 (c chart), §6.3.3.2 (p chart),
§6.1.6 (capability indices and their confidence limits), §1.3.6.7.4 (chi-square critical
values). The handbook rounds d2(2) to 1.128 and D4(2) to 3.267; we integrate the range
constants exactly, so limits that depend on them agree to about 3e-5 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from factoryax.analytics import (
    c_chart,
    capability,
    chi2_quantile,
    control_constants,
    imr_chart,
    np_chart,
    p_chart,
    u_chart,
    xbar_r_chart,
    xbar_s_chart,
)
from factoryax.analytics.spc import c4, d2, d3
from factoryax.core import ConfigError

FLOW_RATE = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1]
"""NIST §6.3.2.2: flow rate of the first ten batches of a new process."""

WAFER_DEFECTS = [
    16,
    14,
    28,
    16,
    12,
    20,
    10,
    12,
    10,
    17,
    19,
    17,
    14,
    16,
    15,
    13,
    14,
    16,
    11,
    20,
    11,
    19,
    16,
    31,
    13,
]
"""NIST §6.3.3.1: defects on 25 wafers."""

DEFECTIVE_CHIPS = [
    12,
    15,
    8,
    10,
    4,
    7,
    16,
    9,
    14,
    10,
    5,
    6,
    17,
    12,
    22,
    8,
    10,
    5,
    13,
    11,
    20,
    18,
    24,
    15,
    9,
    12,
    7,
    13,
    9,
    6,
]
"""NIST §6.3.3.2: defective chips on 30 wafers of 50 chips each."""


def test_individuals_chart_reproduces_nist_6_3_2_2() -> None:
    """x̄ = 50.81, MR̄ = 1.8778, I limits 55.8041 / 45.8159, MR UCL 3.267 × MR̄."""
    chart = imr_chart(FLOW_RATE)
    i, mr = chart.primary, chart.secondary
    assert mr is not None
    assert i.center[0] == pytest.approx(50.81, abs=1e-9)
    assert mr.center[0] == pytest.approx(1.8778, abs=5e-5)
    assert i.ucl[0] == pytest.approx(55.8041, abs=2e-3)
    assert i.lcl[0] == pytest.approx(45.8159, abs=2e-3)
    assert mr.ucl[0] == pytest.approx(3.267 * 1.8778, abs=2e-3)
    assert mr.lcl[0] == 0.0
    assert chart.signals() == [] and chart.signals("western_electric") == []


def test_c_chart_reproduces_nist_6_3_3_1() -> None:
    """c̄ = 16, UCL = 16 + 3·4 = 28, LCL = 4; wafer 24 (31 defects) is out of control."""
    chart = c_chart(WAFER_DEFECTS)
    s = chart.primary
    assert (s.center[0], s.ucl[0], s.lcl[0]) == pytest.approx((16.0, 28.0, 4.0))
    assert s.beyond_limits() == [23]
    assert [sig.index for sig in chart.signals() if sig.rule == "nelson_1"] == [23]


def test_p_chart_reproduces_nist_6_3_3_2() -> None:
    """p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524 for samples of 50."""
    chart = p_chart(DEFECTIVE_CHIPS, [50] * 30)
    s = chart.primary
    assert s.center[0] == pytest.approx(0.2313, abs=5e-5)
    assert s.ucl[0] == pytest.approx(0.4102, abs=5e-5)
    assert s.lcl[0] == pytest.approx(0.0524, abs=5e-5)
    assert s.beyond_limits() == [14, 22]  # 22/50 and 24/50 chips


def test_capability_reproduces_nist_6_1_6() -> None:
    """USL 20, LSL 8, mean 16, s 2: Pp = 1.0, Ppu = 0.6667, Ppl = 1.3333, Ppk = 0.6667."""
    z = np.random.default_rng(1).standard_normal(31)
    x = 16 + 2 * (z - z.mean()) / z.std(ddof=1)
    cap = capability(x, lsl=8, usl=20)
    assert (cap.mean, cap.sigma_overall) == pytest.approx((16.0, 2.0))
    assert (cap.pp, cap.ppu, cap.ppl, cap.ppk) == pytest.approx(
        (1.0, 0.6667, 1.3333, 0.6667), abs=5e-5
    )


def test_capability_confidence_limits_follow_nist_6_1_6() -> None:
    """Cp: Ĉ·√(χ²_{α/2,ν}/ν) … with the §1.3.6.7.4 table values for ν = 30 (16.791, 46.979);
    Cpk: Bissell's Ĉ ± z·√(1/(9n) + Ĉ²/(2(n−1)))."""
    z = np.random.default_rng(2).standard_normal(31)
    x = 16 + 2 * (z - z.mean()) / z.std(ddof=1)
    cap = capability(x, lsl=8, usl=20)
    assert cap.pp_ci is not None and cap.ppk_ci is not None
    assert (cap.pp_ci.low, cap.pp_ci.high) == pytest.approx(
        (math.sqrt(16.791 / 30), math.sqrt(46.979 / 30)), abs=1e-4
    )
    half = 1.959964 * math.sqrt(1 / (9 * 31) + (2 / 3) ** 2 / (2 * 30))
    assert (cap.ppk_ci.low, cap.ppk_ci.high) == pytest.approx(
        (2 / 3 - half, 2 / 3 + half), abs=1e-5
    )


@pytest.mark.parametrize(
    ("p", "df", "table"),
    [
        (0.95, 10, 18.307),
        (0.05, 10, 3.940),
        (0.975, 9, 19.023),
        (0.025, 9, 2.700),
        (0.975, 30, 46.979),
        (0.025, 30, 16.791),
        (0.95, 1, 3.841),
        (0.95, 100, 124.342),
    ],
)
def test_chi_square_quantiles_match_nist_1_3_6_7_4(p: float, df: int, table: float) -> None:
    """The exact inversion reproduces the handbook's chi-square critical values."""
    assert chi2_quantile(p, df) == pytest.approx(table, abs=6e-4)


def test_range_and_sd_constants_match_the_standard_tables() -> None:
    """d2, d3, c4 and the A2/D3/D4/A3/B3/B4 factors agree with the published tables."""
    assert d2(2) == pytest.approx(2 / math.sqrt(math.pi), abs=1e-5)
    assert d3(2) == pytest.approx(math.sqrt(2 - 4 / math.pi), abs=1e-4)
    assert [round(c4(n), 4) for n in (2, 5, 10)] == [0.7979, 0.94, 0.9727]
    k5, k7, k10 = control_constants(5), control_constants(7), control_constants(10)
    assert (k5.a2, k5.d4_factor, k5.a3, k5.b4) == pytest.approx(
        (0.577, 2.114, 1.427, 2.089), abs=1e-3
    )
    assert (k7.d3_factor, k7.b3) == pytest.approx((0.076, 0.118), abs=1e-3)
    assert (k10.a2, k10.d3_factor, k10.b3, k10.b4) == pytest.approx(
        (0.308, 0.223, 0.284, 1.716), abs=1e-3
    )


def test_xbar_r_and_xbar_s_limits_are_hand_computable() -> None:
    """Subgroups (1,2,3), (2,3,4), (3,4,5): x̿ = 3, R̄ = 2, s̄ = 1 with n = 3 factors."""
    groups = [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
    r = xbar_r_chart(groups)
    k = control_constants(3)
    assert r.primary.center[0] == 3 and r.secondary is not None
    assert r.primary.ucl[0] == pytest.approx(3 + k.a2 * 2) and k.a2 == pytest.approx(
        1.023, abs=1e-3
    )
    assert r.secondary.ucl[0] == pytest.approx(k.d4_factor * 2)
    s = xbar_s_chart(groups)
    assert s.secondary is not None and s.secondary.center[0] == pytest.approx(1.0)
    assert s.primary.ucl[0] == pytest.approx(3 + k.a3 * 1.0)
    assert s.sigma == pytest.approx(1.0 / c4(3))


def test_baseline_limits_judge_later_points() -> None:
    """Limits from the first 10 points flag a later shift that their own data would hide."""
    x = FLOW_RATE + [58.0] * 3
    baseline = imr_chart(x, baseline=10)
    assert baseline.primary.ucl[0] == pytest.approx(imr_chart(FLOW_RATE).primary.ucl[0])
    assert baseline.primary.beyond_limits() == [10, 11, 12]
    assert imr_chart(x).primary.ucl[0] > baseline.primary.ucl[0]


def test_np_and_u_charts_and_bad_inputs() -> None:
    """np uses n·p̄ ± 3√(n·p̄(1−p̄)); u has per-point limits; bad inputs name the problem."""
    npc = np_chart(DEFECTIVE_CHIPS, 50)
    assert npc.primary.center[0] == pytest.approx(50 * 0.231333, abs=1e-4)
    u = u_chart([4, 6, 5], [2, 3, 1])
    assert u.primary.center[0] == pytest.approx(15 / 6)
    assert u.primary.ucl[2] > u.primary.ucl[1]  # fewer units, wider limits
    with pytest.raises(ConfigError, match="equal length"):
        p_chart([1, 2], [10])
    with pytest.raises(ConfigError, match="baseline"):
        imr_chart(FLOW_RATE, baseline=11)
    with pytest.raises(ConfigError, match="spec limit"):
        capability(FLOW_RATE)
