"""The KPI job: Spark gives DuckDB's (= factoryax.analytics') numbers, row by row."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from factoryax.analytics import KpiConfig, Period, compute_kpis
from factoryax.core import ConfigError, PlantModel
from factoryax.jobs import DuckDBEngine, KpiJob, SparkEngine
from factoryax.lake import Lake

from .conftest import kpi_mismatches


def test_duckdb_engine_gives_exactly_what_analytics_gives(
    twin: tuple[PlantModel, Path],
) -> None:
    """On DuckDB the job returns compute_kpis' rows for the same period and grouping."""
    plant, root = twin
    period = Period.parse("2026-11-16..2026-11-18")
    ours = KpiJob(plant, period, by=("asset", "shift")).run(DuckDBEngine(root))
    theirs = compute_kpis(Lake(root), plant, period, by=("asset", "shift"))
    assert ours.rows == theirs.rows
    assert ours.rows and any(r.pq for r in ours.rows)


def test_spark_equals_duckdb_on_the_simulated_line(
    twin: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """Every time element, count and KPI per asset × shift instance agrees to 1e-9."""
    plant, root = twin
    job = KpiJob(plant, Period.parse("2026-11-16..2026-11-18"), by=("asset", "shift_instance"))
    want = job.run(DuckDBEngine(root))
    got = job.run(SparkEngine(root, session=spark))
    assert kpi_mismatches(want.base, got.base) == []
    assert kpi_mismatches(want.rows, got.rows) == []
    assert [str(n) for n in want.notices] == [str(n) for n in got.notices]
    assert sum(r.pq for r in got.rows) > 0 and sum(r.failures for r in got.rows) > 0


def test_spark_reconciles_overlaps_failures_and_odd_parts_like_duckdb(
    edge: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """Overlapping rows, a breakdown split by a break, a zero-length row, parts between
    shifts and reworked parts: Spark's elements and KPIs equal DuckDB's."""
    plant, root = edge
    period = Period.parse("2026-11-16..2026-11-18")
    engine = SparkEngine(root, session=spark)
    # non-default counting here (the simulated-line test covers the defaults); the
    # groupings are sums of these base rows, so base rows equal means every grouping does
    config = KpiConfig(micro_stop_s=300.0, failure_reasons=("BREAKDOWN",))
    job = KpiJob(plant, period, by=("line", "day"), config=config)
    want, got = job.run(DuckDBEngine(root)), job.run(engine)
    assert kpi_mismatches(want.base, got.base) == []
    assert kpi_mismatches(want.rows, got.rows) == []
    assert [str(n) for n in want.notices] == [str(n) for n in got.notices]
    assert sum(r.failures for r in got.base) > 0
    overlaps = DuckDBEngine(root).sql(
        'SELECT count(*) AS n FROM (SELECT start, lag("end") OVER '
        "(PARTITION BY asset ORDER BY start) AS prev FROM states) WHERE start < prev"
    )
    assert overlaps.column("n")[0].as_py() > 10  # the case is really exercised
    assert "off_shift" in {n.code for n in got.notices}


def test_spark_on_an_empty_lake_and_empty_asset_list_matches(
    tmp_path: Path, edge: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """No data: the same zero availability and unrecorded-time notice on both engines."""
    plant, _ = edge
    for assets in (None, ()):
        job = KpiJob(plant, Period.parse("2026-11-16"), assets=assets)
        want = job.run(DuckDBEngine(tmp_path / "lake"))
        got = job.run(SparkEngine(tmp_path / "lake", session=spark))
        assert kpi_mismatches(want.rows, got.rows) == []
        assert [str(n) for n in want.notices] == [str(n) for n in got.notices]


def test_bad_grouping_and_unknown_assets_are_config_errors_on_spark(
    edge: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """The Spark path checks its arguments like compute_kpis, with the same messages."""
    plant, root = edge
    engine = SparkEngine(root, session=spark)
    period = Period.parse("2026-11-16")
    with pytest.raises(ConfigError, match="unknown KPI grouping"):
        KpiJob(plant, period, by=("colour",)).run(engine)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"unknown asset\(s\) \['m9'\]"):
        KpiJob(plant, period, assets=("m9",)).run(engine)
    with pytest.raises(ConfigError, match="not declared downtime reasons"):
        KpiJob(plant, period, config=KpiConfig(failure_reasons=("NOPE",))).run(engine)


def test_operator_reasons_count_the_same_on_spark(tmp_path: Path, spark: SparkSession) -> None:
    """A reason given later on the dashboard (``downtime.reason`` event, latest wins)
    re-files the stop on both engines alike."""
    import datetime as dt
    import json

    import pyarrow as pa

    from factoryax.analytics.downtime import loss_items

    from .conftest import _local, edge_plant

    plant = edge_plant()
    lake = Lake(tmp_path / "lake", timezone="Asia/Seoul")
    day = dt.date(2026, 11, 16)
    starts = [_local(day, h) for h in (8, 9, 9.5, 10)]
    ends = [*starts[1:], _local(day, 12)]
    lake.append(
        "states",
        pa.table(
            {
                "site": ["s1"] * 4,
                "start": pa.array(starts, pa.timestamp("us", tz="UTC")),
                "end": pa.array(ends, pa.timestamp("us", tz="UTC")),
                "line": ["l1"] * 4,
                "asset": ["m1"] * 4,
                "state": ["running", "down", "running", "down"],
                "reason_code": [None, None, None, "TOOL"],
            }
        ),
    )

    def given(n: int, start: dt.datetime, code: str) -> dict[str, object]:
        return {
            "site": "s1",
            "ts": _local(day, 13 + n),
            "event_id": f"r{n}",
            "kind": "downtime.reason",
            "asset": "m1",
            "payload": json.dumps({"start": start.isoformat(), "reason_code": code}),
        }

    rows = [given(0, starts[1], "TOOL"), given(1, starts[1], "BREAKDOWN")]
    lake.append("events", pa.Table.from_pylist([*rows, given(2, starts[3], "BREAKDOWN")]))
    job = KpiJob(plant, Period.parse("2026-11-16"), by=("asset",))
    want = job.run(DuckDBEngine(tmp_path / "lake"))
    got = job.run(SparkEngine(tmp_path / "lake", session=spark))
    assert kpi_mismatches(want.base, got.base) == []
    codes = {(i.code, round(i.seconds)) for i in loss_items(want) if i.code}
    assert codes == {("BREAKDOWN", 1800 + 7200)}


def test_a_running_period_is_cut_at_the_same_instant_on_spark(
    twin: tuple[PlantModel, Path], spark: SparkSession
) -> None:
    """Asked in the middle of the simulated days, both engines count planned time only
    up to that instant and say so."""
    import datetime as dt

    plant, root = twin
    until = dt.datetime(2026, 11, 17, 3, 30, tzinfo=dt.UTC)  # 12:30 in Seoul
    job = KpiJob(plant, Period.parse("2026-11-16..2026-11-18"), by=("asset",), until=until)
    want = job.run(DuckDBEngine(root))
    got = job.run(SparkEngine(root, session=spark))
    assert kpi_mismatches(want.base, got.base) == []
    assert [str(n) for n in want.notices] == [str(n) for n in got.notices]
    assert "running" in {n.code for n in got.notices}
    full = KpiJob(plant, Period.parse("2026-11-16..2026-11-18"), by=("asset",)).run(
        DuckDBEngine(root)
    )
    assert sum(r.pbt_s for r in want.rows) < sum(r.pbt_s for r in full.rows)
