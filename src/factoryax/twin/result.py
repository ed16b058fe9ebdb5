"""What a simulation returns: the lake's tables, the ground truth and the work in progress.

The ground truth is what a benchmark scores detectors against and what no detector may
see; it is kept apart from the lake tables, and :func:`~factoryax.twin.write_to_lake`
writes it outside the lake. Its tables (instants are UTC, ``*_s`` are seconds):

``faults``
    fault_id, line, asset, signal, kind (``wear_failure``, ``sudden_failure``,
    ``sensor_stuck``, ``sensor_spike``, ``sensor_dropout``), onset_at, failure_at,
    end_at, onset_run_s, failure_run_s. A wear failure's onset is when degradation
    becomes visible; failure_at is null when the failure lies beyond the horizon.
``rul``
    ts, line, asset, rul_run_s (operating seconds to the next failure, always known),
    rul_s (wall seconds to it; null when it lies beyond the horizon), degradation (0 → 1
    linear from onset to failure), in_repair. Every ``rul_step_s``, for assets that fail.
``defects``
    ts, line, asset, part_id, product, lot, result, defect_code, cause (``tool_wear``,
    ``process_variation``, ``spindle_degradation``, ``press_degradation``, ``material``,
    ``wash_process``, ``breakdown``), origin_asset, measured_mm, true_mm, tool_wear,
    degradation.
``safety``
    event_id, ts, end_at, line, asset, kind, severity, signal, peak, emitted (whether
    it is also in the ``events`` table), machine_running.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa

from factoryax.twin.config import TwinConfig

__all__ = ["PM_SCHEMA", "TRUTH_SCHEMAS", "WAIT_SCHEMA", "Truth", "TwinResult"]

_TS = pa.timestamp("us", tz="UTC")
_S = pa.string()
_F = pa.float64()

TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "faults": pa.schema(
        [
            ("fault_id", _S),
            ("line", _S),
            ("asset", _S),
            ("signal", _S),
            ("kind", _S),
            ("onset_at", _TS),
            ("failure_at", _TS),
            ("end_at", _TS),
            ("onset_run_s", _F),
            ("failure_run_s", _F),
        ]
    ),
    "rul": pa.schema(
        [
            ("ts", _TS),
            ("line", _S),
            ("asset", _S),
            ("rul_run_s", _F),
            ("rul_s", _F),
            ("degradation", _F),
            ("in_repair", pa.bool_()),
        ]
    ),
    "defects": pa.schema(
        [
            ("ts", _TS),
            ("line", _S),
            ("asset", _S),
            ("part_id", _S),
            ("product", _S),
            ("lot", _S),
            ("result", _S),
            ("defect_code", _S),
            ("cause", _S),
            ("origin_asset", _S),
            ("measured_mm", _F),
            ("true_mm", _F),
            ("tool_wear", _F),
            ("degradation", _F),
        ]
    ),
    "safety": pa.schema(
        [
            ("event_id", _S),
            ("ts", _TS),
            ("end_at", _TS),
            ("line", _S),
            ("asset", _S),
            ("kind", _S),
            ("severity", pa.int16()),
            ("signal", _S),
            ("peak", _F),
            ("emitted", pa.bool_()),
            ("machine_running", pa.bool_()),
        ]
    ),
}
"""Arrow schema of each ground-truth table."""

WAIT_SCHEMA = pa.schema(
    [("line", _S), ("asset", _S), ("job", _S), ("start", _TS), ("end", _TS), ("wait_s", _F)]
)
"""Schema of :attr:`TwinResult.technician_waits`."""
PM_SCHEMA = pa.schema([("line", _S), ("asset", _S), ("start", _TS), ("end", _TS)])
"""Schema of :attr:`TwinResult.pm_stops`."""


@dataclass(frozen=True)
class Truth:
    """Ground truth of one run; see the module docstring for the columns."""

    faults: pa.Table
    rul: pa.Table
    defects: pa.Table
    safety: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        """The truth tables by name."""
        return {
            "faults": self.faults,
            "rul": self.rul,
            "defects": self.defects,
            "safety": self.safety,
        }


@dataclass(frozen=True)
class TwinResult:
    """One simulation run.

    Attributes:
        site: the plant's site id (every lake row carries it).
        seed: the seed the run was drawn from.
        start: first simulated instant (UTC).
        end: end of the horizon (UTC, exclusive).
        config: the resolved twin config.
        readings: rows for the lake's ``readings`` table (its input schema).
        production: rows for ``production``.
        states: rows for ``states``; per asset they tile [start, end) without gaps.
        events: rows for ``events`` (safety events that devices report).
        truth: the ground truth (never written to the lake).
        wip: parts still in the line at the end: part_id, line, location.
        released: parts that entered the line(s).
        ideal_cycle_s: ideal cycle time per asset, as simulated.
        technician_waits: each wait of a stop for a technician (``[twin.staffing]``):
            line, asset, job (``repair``, ``changeover``, ``tool``), start, end, wait_s.
            Empty with unlimited staff. The wait is also inside the stop's ``states`` row.
        pm_stops: each preventive-maintenance stop: line, asset, start, end.
    """

    site: str
    seed: int
    start: dt.datetime
    end: dt.datetime
    config: TwinConfig
    readings: pa.Table
    production: pa.Table
    states: pa.Table
    events: pa.Table
    truth: Truth
    wip: pa.Table
    released: int
    ideal_cycle_s: dict[str, float] = field(default_factory=dict)
    technician_waits: pa.Table = field(default_factory=lambda: WAIT_SCHEMA.empty_table())
    pm_stops: pa.Table = field(default_factory=lambda: PM_SCHEMA.empty_table())

    @property
    def horizon_s(self) -> float:
        """Simulated seconds."""
        return (self.end - self.start).total_seconds()

    @property
    def run_id(self) -> str:
        """A stable name for this run: same seed, start and horizon give the same id."""
        return f"seed{self.seed}-{self.start:%Y%m%dT%H%M%SZ}-{int(self.horizon_s)}s"

    def lake_tables(self) -> dict[str, pa.Table]:
        """The tables the lake holds, by lake table name."""
        return {
            "readings": self.readings,
            "production": self.production,
            "states": self.states,
            "events": self.events,
        }
