"""The demo's safety pass: readings reach the engine in Arrow-chosen chunks, same stream."""

from __future__ import annotations

import datetime as dt
import heapq
import importlib

import pytest

from factoryax.cli.demo import _device_readings, _engine_inputs, _engine_readings, _feed, demo_rules
from factoryax.cli.main import example_plant_toml
from factoryax.config import PLANT_FILE, Workspace
from factoryax.safety import readings_of
from factoryax.twin import TwinResult, simulate

DEMO = importlib.import_module("factoryax.cli.demo")
"""The module (``factoryax.cli.demo`` the attribute is the command function)."""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace with the example plant (the demo's rules need one)."""
    root = tmp_path_factory.mktemp("demo")
    (root / PLANT_FILE).write_text(example_plant_toml(), encoding="utf-8")
    return Workspace(root)


@pytest.fixture(scope="module")
def run(ws: Workspace) -> TwinResult:
    """A working day at 20 s: every signal shares the grid, so instants tie often."""
    start = dt.datetime(2026, 11, 23, 8, tzinfo=ws.plant.site.timezone)
    return simulate(ws.plant, start=start, horizon=dt.timedelta(hours=16), seed=4, sample_s=20)


def test_engine_readings_are_readings_of_in_the_same_order(
    ws: Workspace, run: TwinResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunked, Arrow-filtered readings equal ``readings_of(keep=inputs)``, ties included,
    and ``until`` keeps exactly the readings before it."""
    monkeypatch.setattr(DEMO, "_FEED_ROWS", 997)
    inputs = _engine_inputs(demo_rules(ws))
    expected = list(readings_of(run.readings, keep=inputs))
    assert len(expected) > 5 * 997
    assert list(_engine_readings(run.readings, inputs, None)) == expected
    cut = run.start + dt.timedelta(hours=9, seconds=10)
    before = [r for r in expected if r.ts < cut]
    assert 0 < len(before) < len(expected)
    assert list(_engine_readings(run.readings, inputs, cut)) == before


def test_feed_raises_the_same_alarms_as_the_whole_table(
    ws: Workspace, run: TwinResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's feed gives the alarm events of merging every reading at once."""
    monkeypatch.setattr(DEMO, "_FEED_ROWS", 1000)
    reference = demo_rules(ws)
    device = _device_readings(run, reference)
    stream = heapq.merge(
        sorted(device, key=lambda r: r.ts),
        readings_of(run.readings, keep=_engine_inputs(reference)),
        key=lambda r: r.ts,
    )
    expected = reference.process_many(stream)
    assert any("temp" in e.rule for e in expected)  # a rule on readings fired, not just devices
    got = _feed(demo_rules(ws), device, run.readings)
    assert got == expected


def test_no_inputs_means_no_readings(run: TwinResult) -> None:
    """An engine that reads no signal gets no readings (and no empty-mask error)."""
    assert list(_engine_readings(run.readings, set(), None)) == []
