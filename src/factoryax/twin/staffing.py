"""Technicians per shift: a crew that repairs, maintains, changes over and changes tools.

The crew is one ``simpy.PriorityResource`` sized for the largest shift. A shift with
fewer technicians is modelled by *absences*: at the shift's start a high-priority
process takes the missing places (as soon as the outgoing technicians finish the job in
hand) and gives them back at the next shift's start. Stations ask with a lower priority,
so with fewer people a stop queues for a technician, and the wait is part of the stop.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from factoryax.twin.calendar import Schedule
from factoryax.twin.config import StaffingConfig

__all__ = ["Crew"]

_ABSENCE, _JOB = 0, 1


class Crew:
    """The technicians of the whole plant over the simulated horizon.

    Examples:
        >>> import datetime as dt
        >>> import numpy as np
        >>> from zoneinfo import ZoneInfo
        >>> env = simpy.Environment()
        >>> sched = Schedule(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 100.0,
        ...     np.array([0.0]), np.array([100.0]), np.array([0.0, 50.0]), ("day", "night"),
        ...     ZoneInfo("UTC"))
        >>> crew = Crew(env, StaffingConfig(technicians={"day": 3, "night": 1}), sched)
        >>> env.run(until=60)
        >>> crew.size, crew.resource.count
        (3, 2)
    """

    def __init__(self, env: simpy.Environment, config: StaffingConfig, schedule: Schedule):
        self.env = env
        counts = [config.for_shift(name) for name in schedule.shift_names]
        self.size = max(counts)
        self.resource = simpy.PriorityResource(env, capacity=self.size)
        ends = [*schedule.shift_starts[1:].tolist(), schedule.horizon_s]
        for start, end, count in zip(schedule.shift_starts.tolist(), ends, counts, strict=True):
            if count < self.size and end > start:
                env.process(self._absent(float(start), float(end), self.size - count))

    def request(self) -> simpy.resources.resource.PriorityRequest:
        """A station's request for one technician."""
        return self.resource.request(priority=_JOB)

    def _absent(self, start: float, end: float, missing: int) -> Generator[Any, Any, None]:
        yield self.env.timeout(start - self.env.now)
        held = [self.resource.request(priority=_ABSENCE) for _ in range(missing)]
        yield self.env.timeout(end - start)
        for req in held:
            if req.triggered:
                self.resource.release(req)
            else:
                req.cancel()
