"""SPC over the lake: the twin's bore diameter, defectives per shift, signals as events."""

from __future__ import annotations

import json

import pytest

from factoryax.analytics import (
    Period,
    attribute_chart,
    capability,
    default_specs,
    episodes,
    publish,
    signal_chart,
    spc_events,
)
from factoryax.config import Workspace
from factoryax.core import ConfigError


def test_bore_diameter_chart_uses_the_baseline_week_and_sees_tool_wear(twin_ws: Workspace) -> None:
    """Limits come from the prior week; the tool-wear sawtooth trips Nelson run rules."""
    result = signal_chart(
        twin_ws.lake,
        twin_ws.plant,
        "inspect-01",
        "bore_diameter",
        Period.parse("2026-11-23"),
        baseline=Period.parse("2026-11-16..2026-11-22"),
    )
    chart = result.chart
    assert chart.kind == "I-MR" and 0 < chart.baseline < len(chart.primary.values)
    assert len(result.ts) == len(chart.primary.values) == len(result.values)
    assert 41.98 < chart.primary.center[0] < 42.02
    rules = {s.rule for s in result.signals}
    assert {"nelson_2", "nelson_3"} <= rules


def test_twin_spec_limits_feed_capability(twin_ws: Workspace) -> None:
    """The twin's nominal ± tolerance become spec limits; Cp exceeds Pp under tool wear."""
    spec = default_specs(twin_ws.plant)["inspect-01.bore_diameter"]
    assert (spec.lsl, spec.usl) == pytest.approx((41.975, 42.025))
    result = signal_chart(
        twin_ws.lake, twin_ws.plant, "inspect-01", "bore_diameter", Period.parse("2026-11-23")
    )
    cap = capability(result.values, lsl=spec.lsl, usl=spec.usl)
    assert cap.cp is not None and cap.pp is not None and cap.cp > cap.pp
    assert cap.cp_ci is not None and cap.cp_ci.low < cap.cp < cap.cp_ci.high


def test_publishing_signals_is_idempotent(twin_ws: Workspace) -> None:
    """Rule episodes land in ``events`` as spc.<rule>; publishing again adds nothing."""
    result = signal_chart(
        twin_ws.lake,
        twin_ws.plant,
        "inspect-01",
        "bore_diameter",
        Period.parse("2026-11-23/night"),
        kind="Xbar-S",
        subgroup_size=5,
    )
    events = spc_events(result, twin_ws.plant)
    assert events.num_rows == len(episodes(result.signals)) > 0
    first = publish(twin_ws.lake, result, twin_ws.plant)
    assert first == events.num_rows and publish(twin_ws.lake, result, twin_ws.plant) == 0
    stored = twin_ws.lake.query(
        "SELECT kind, severity, payload FROM events WHERE kind LIKE 'spc.%' ORDER BY ts"
    ).to_pylist()
    assert len(stored) >= first
    payload = json.loads(stored[0]["payload"])
    assert payload["chart"] == "Xbar-S" and payload["points"] and "ucl" in payload


def test_defectives_per_shift_make_a_p_chart(twin_ws: Workspace) -> None:
    """One point per shift instance at the inspection station, sized by its parts."""
    result = attribute_chart(
        twin_ws.lake,
        twin_ws.plant,
        "inspect-01",
        Period.parse("2026-11-16..2026-11-23"),
        kind="p",
    )
    assert result.labels[0] == "2026-11-16/day" and len(result.labels) == 12
    assert 0 < result.chart.primary.center[0] < 0.1
    with pytest.raises(ConfigError, match="np chart"):
        attribute_chart(
            twin_ws.lake,
            twin_ws.plant,
            "inspect-01",
            Period.parse("2026-11-16..2026-11-23"),
            kind="np",
        )


def test_unknown_signals_and_empty_baselines_are_errors(twin_ws: Workspace) -> None:
    """A signal the plant does not declare, or a baseline without data, is refused."""
    with pytest.raises(ConfigError, match="not a declared signal"):
        signal_chart(twin_ws.lake, twin_ws.plant, "inspect-01", "nope", Period.parse("2026-11-23"))
    with pytest.raises(ConfigError, match="baseline"):
        signal_chart(
            twin_ws.lake,
            twin_ws.plant,
            "inspect-01",
            "bore_diameter",
            Period.parse("2026-11-23"),
            baseline=Period.parse("2025-01-06"),
        )
