"""Properties: the SQL agrees with a second-by-second reference; A, P, Q in [0, 1]."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factoryax.analytics import (
    Bucket,
    KpiConfig,
    Period,
    ReasonTree,
    classify,
    compute_kpis,
)
from factoryax.analytics.reasons import PRIORITY

from .conftest import at, fill_lake, make_plant

STATES = ("running", "idle", "down", "setup", "planned_stop", "other")
CODES = (
    None,
    "PLANNED",
    "PM",
    "CHANGEOVER",
    "BREAKDOWN",
    "TOOL",
    "STARVED",
    "MINOR",
    "QCHECK",
    "UNDECLARED",
)
SHIFT = [
    {"name": "a", "start": "08:00", "end": "10:00", "breaks": [{"start": "09:00", "end": "09:10"}]}
]
T0 = at("2026-11-23 07:50")
"""Ten minutes before the shift: rows may start before it, cross the break and run after."""


def _reference(
    rows: list[tuple[int, int, str, str | None]], tree: ReasonTree, micro_stop_s: float
) -> Counter[str]:
    """Seconds per bucket, one second at a time: the highest-priority row covering each
    busy second wins (ties: the later start); uncovered busy seconds are unrecorded."""
    busy = [(600, 4200), (4800, 7800)]  # 08:00–09:00 and 09:10–10:00, seconds after T0
    ranked = [
        (start, end, PRIORITY[b], b)
        for start, end, state, reason in rows
        for b in [classify(tree, state, reason, end - start, micro_stop_s)]
    ]
    out: Counter[str] = Counter()
    for a, b in busy:
        for t in range(a, b):
            covering = [(p, start, bucket) for start, end, p, bucket in ranked if start <= t < end]
            out[max(covering)[2].value if covering else "unrecorded"] += 1
    return out


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 9000),
        st.integers(1, 2400),
        st.sampled_from(STATES),
        st.sampled_from(CODES),
    ),
    max_size=12,
    unique_by=lambda r: r[0],
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=rows_strategy,
    parts=st.integers(0, 300),
    good_share=st.floats(0, 1),
    micro=st.sampled_from([0.0, 120.0]),
)
def test_sql_matches_a_second_by_second_reference_and_kpis_stay_in_bounds(
    rows: list[tuple[int, int, str, str | None]], parts: int, good_share: float, micro: float
) -> None:
    """Random overlapping rows: every bucket's seconds equal the reference; 0 ≤ A, P, Q ≤ 1;
    OEE = A × P × Q; APT + losses = PBT."""
    plant = make_plant(SHIFT, assets=[("m1", 30.0)])
    tree = ReasonTree.from_plant(plant)
    spans = [(s, s + length, state, reason) for s, length, state, reason in rows]
    good = round(parts * good_share)
    results = ["ok"] * good + ["scrap"] * (parts - good)
    production = [
        (T0 + dt.timedelta(seconds=600 + 7200 * (i + 0.5) / max(parts, 1)), r)
        for i, r in enumerate(results)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        lake = fill_lake(
            Path(tmp),
            [
                (T0 + dt.timedelta(seconds=a), T0 + dt.timedelta(seconds=b), s, r)
                for a, b, s, r in spans
            ],
            production,
        )
        table = compute_kpis(
            lake, plant, Period.parse("2026-11-23"), config=KpiConfig(micro_stop_s=micro)
        )
    [row] = table.rows
    want = _reference(spans, tree, micro)
    got = {b.value: getattr(row, f"{b.value}_s") for b in Bucket}
    for bucket in Bucket:
        assert got[bucket.value] == pytest.approx(want[bucket.value], abs=1e-6), bucket
    losses = row.setup_s + row.down_s + row.delay_s + row.unrecorded_s
    assert row.apt_s + losses == pytest.approx(row.pbt_s)
    factors = (row.availability, row.effectiveness, row.quality_ratio)
    for value in factors:
        assert value is None or 0.0 <= value <= 1.0
    if None not in factors:
        assert row.oee == pytest.approx(factors[0] * factors[1] * factors[2])  # type: ignore[operator]


def test_sql_and_python_classify_every_state_and_reason_alike(tmp_path: Path) -> None:
    """Each (state, reason, length) combination lands in the bucket ``classify`` names."""
    plant = make_plant([{"name": "a", "start": "00:00", "end": "23:59"}])
    tree = ReasonTree.from_plant(plant)
    rows = []
    start = at("2026-11-23 00:10")
    want: Counter[tuple[str, str | None]] = Counter()
    for state in STATES:
        for code in CODES:
            for length in (30, 300):
                rows.append((start, start + dt.timedelta(seconds=length), state, code))
                want[(classify(tree, state, code, length, 60.0).value, code)] += length
                start += dt.timedelta(seconds=length)
    lake = fill_lake(tmp_path, rows)
    table = compute_kpis(lake, plant, Period.parse("2026-11-23"), config=KpiConfig(micro_stop_s=60))
    assert table.elements is not None
    t = table.elements.time.to_pydict()
    got: Counter[tuple[str, str | None]] = Counter()
    for bucket, code, seconds in zip(t["bucket"], t["reason_code"], t["seconds"], strict=True):
        if seconds:
            got[(bucket, code)] += round(seconds)
    assert got == want
