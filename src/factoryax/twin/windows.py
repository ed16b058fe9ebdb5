"""Stop windows and state timelines.

A *stop window* is wall-clock time in which a station may not work: a planned stop from
the calendar, or a safety stop (e-stop, guard door, person in a robot cell). A station's
*timeline* is its recorded activity with the windows laid on top: the disjoint intervals
that tile the horizon and become rows of the ``states`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["StopWindows", "Timeline", "build_timeline", "build_windows"]

FloatArray = npt.NDArray[np.float64]

_RUNNING, _IDLE = 0, 1


@dataclass(frozen=True)
class StopWindows:
    """Disjoint, sorted windows (seconds since start) with the state they put a station in."""

    starts: list[float]
    ends: list[float]
    states: list[int]
    reasons: list[str | None]


def build_windows(
    planned: tuple[FloatArray, FloatArray],
    planned_state: int,
    planned_reason: str,
    stops: Sequence[tuple[float, float, int, str]],
) -> StopWindows:
    """Planned stops plus safety stops, the latter clipped to planned production time.

    A safety stop that overlaps an earlier one on the same asset is dropped (the machine
    is already stopped); one that runs into a planned stop ends where the stop begins.
    """
    p_starts, p_ends = planned
    items: list[tuple[float, float, int, str | None]] = [
        (float(a), float(b), planned_state, planned_reason)
        for a, b in zip(p_starts, p_ends, strict=True)
    ]
    last_end = -np.inf
    for start, end, state, reason in sorted(stops):
        k = int(np.searchsorted(p_starts, start, side="right"))
        if k > 0 and p_ends[k - 1] > start:
            continue  # begins inside a planned stop
        if k < len(p_starts):
            end = min(end, float(p_starts[k]))
        if start < last_end or end <= start:
            continue
        items.append((start, end, state, reason))
        last_end = end
    items.sort()
    return StopWindows(
        [a for a, *_ in items],
        [b for _, b, *_ in items],
        [s for *_, s, _ in items],
        [r for *_, r in items],
    )


@dataclass(frozen=True)
class Timeline:
    """A station's disjoint state intervals covering the horizon.

    Attributes:
        start: interval starts (seconds since the simulation start).
        end: interval ends.
        state: state code per interval (index into ``line.STATES``).
        reason: downtime reason code per interval (None for running).
        op: cumulative operating (running) seconds at each interval's start.
    """

    start: FloatArray
    end: FloatArray
    state: npt.NDArray[np.int8]
    reason: list[str | None]
    op: FloatArray

    def locate(self, t: FloatArray) -> npt.NDArray[np.intp]:
        """Index of the interval holding each instant (clipped to the horizon)."""
        idx = np.searchsorted(self.start, t, side="right") - 1
        return np.clip(idx, 0, len(self.start) - 1)

    def op_at(self, t: FloatArray) -> FloatArray:
        """Cumulative operating seconds at each instant."""
        i = self.locate(t)
        running = self.state[i] == _RUNNING
        return np.asarray(self.op[i] + np.where(running, t - self.start[i], 0.0), dtype=np.float64)

    def wall_at_op(self, op: float) -> float | None:
        """The instant operating time reaches ``op``, or None if not within the horizon."""
        running = np.flatnonzero(self.state == _RUNNING)
        if not len(running):
            return None
        ops, starts, ends = self.op[running], self.start[running], self.end[running]
        k = int(np.searchsorted(ops, op, side="right")) - 1
        if k < 0:
            return float(starts[0]) if op <= ops[0] else None
        at = float(starts[k] + (op - ops[k]))
        return at if at <= ends[k] + 1e-6 else None


def build_timeline(
    records: Sequence[tuple[float, float, int, str | None, float]],
    windows: StopWindows,
    horizon_s: float,
) -> Timeline:
    """Lays the windows over a station's records, fills gaps and merges equal neighbours."""
    pieces: list[tuple[float, float, int, str | None]] = []
    w_starts, w_ends = windows.starts, windows.ends
    wi = 0
    for start, end, state, reason, _ in records:
        cursor = start
        while wi < len(w_ends) and w_ends[wi] <= cursor:
            wi += 1
        j = wi
        while cursor < end:
            if j < len(w_starts) and w_starts[j] < end:
                if w_starts[j] > cursor:
                    pieces.append((cursor, w_starts[j], state, reason))
                cursor = max(cursor, w_ends[j])
                j += 1
            else:
                pieces.append((cursor, end, state, reason))
                cursor = end
    pieces.extend(
        (a, min(b, horizon_s), s, r)
        for a, b, s, r in zip(w_starts, w_ends, windows.states, windows.reasons, strict=True)
        if a < horizon_s
    )
    pieces.sort(key=lambda p: p[0])
    starts: list[float] = []
    ends: list[float] = []
    states: list[int] = []
    reasons: list[str | None] = []
    cursor = 0.0
    for a, b, s, r in pieces:
        if b <= cursor:
            continue
        if a > cursor + 1e-9:  # an unrecorded gap: the station was idle
            starts.append(cursor)
            ends.append(a)
            states.append(_IDLE)
            reasons.append(None)
        a = max(a, cursor)
        if states and states[-1] == s and reasons[-1] == r and abs(ends[-1] - a) < 1e-9:
            ends[-1] = b
        else:
            starts.append(a)
            ends.append(b)
            states.append(s)
            reasons.append(r)
        cursor = b
    if cursor < horizon_s - 1e-9:
        starts.append(cursor)
        ends.append(horizon_s)
        states.append(_IDLE)
        reasons.append(None)
    begin = np.array(starts, dtype=np.float64)
    finish = np.array(ends, dtype=np.float64)
    codes = np.array(states, dtype=np.int8)
    durations = np.where(codes == _RUNNING, finish - begin, 0.0)
    op = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    return Timeline(begin, finish, codes, reasons, op)
