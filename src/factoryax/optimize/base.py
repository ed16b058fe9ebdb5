"""The port every evaluation goes through, and the error an evaluation raises.

A :class:`Target` turns one point of the search space into named metrics (throughput,
defect rate, cost …). Objectives and constraints of a study are chosen among those
metrics, so the same target serves a single-objective, a constrained and a
multi-objective study alike.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from factoryax.core import FactoryAXError
from factoryax.optimize.space import Point

__all__ = ["EvaluationError", "Metrics", "Target"]

Metrics = dict[str, float]
"""Named results of one evaluation."""


class EvaluationError(FactoryAXError, RuntimeError):
    """One evaluation failed (a command exited non-zero, printed no JSON, a model raised).

    The study records the trial as failed with this message and carries on.

    Attributes:
        point: the parameters that were being evaluated.
    """

    def __init__(self, message: str, *, point: Point | None = None) -> None:
        self.point = point
        super().__init__(message)


@runtime_checkable
class Target(Protocol):
    """Something that can be evaluated at a point: a simulation, a model, a function.

    Implementations must be picklable (module-level classes holding plain data) so that
    a batch can be evaluated in worker processes.
    """

    def evaluate(self, point: Point) -> Metrics:
        """Runs one evaluation and returns its metrics (finite floats by name)."""
        ...
