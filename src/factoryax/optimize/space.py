"""Declared parameters (continuous, integer, categorical) with bounds and units.

A :class:`SearchSpace` is the one description every part of ``optimize`` shares: designs
map the unit hypercube onto it, surrogates encode points of it as features, studies turn
it into Optuna distributions.

Examples:
    >>> space = SearchSpace(parameters=(
    ...     FloatParam(name="speed", low=1.0, high=3.0, unit="m/s"),
    ...     IntParam(name="buffer", low=2, high=10, unit="parts"),
    ...     CategoricalParam(name="coolant", choices=("oil", "emulsion")),
    ... ))
    >>> space.from_unit([[0.0, 0.999, 0.6]])
    [{'speed': 1.0, 'buffer': 10, 'coolant': 'emulsion'}]
    >>> space.encode([{"speed": 2.0, "buffer": 6, "coolant": "oil"}]).tolist()
    [[0.5, 0.5, 1.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
import optuna
from pydantic import BaseModel, ConfigDict, Field, model_validator

from factoryax.core import ConfigError

__all__ = [
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "Param",
    "Point",
    "SearchSpace",
    "Value",
]

Value = float | int | str
"""A parameter value: a float, an integer or a category label."""
Point = dict[str, Value]
"""One setting of every parameter, by name."""

_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


class _Param(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME, max_length=80)
    unit: str = ""
    """Unit shown in reports (``"parts"``, ``"s"``, ``"mm"``); not used in computation."""
    description: str = ""


class FloatParam(_Param):
    """A continuous parameter in ``[low, high]`` (log scale if ``log``)."""

    kind: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> FloatParam:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(
                f"parameter {self.name!r}: needs finite low < high, got "
                f"low={self.low!r}, high={self.high!r}"
            )
        if self.log and self.low <= 0:
            raise ValueError(f"parameter {self.name!r}: log scale needs low > 0, got {self.low!r}")
        return self


class IntParam(_Param):
    """An integer parameter in ``[low, high]`` (both included), on a grid of ``step``."""

    kind: Literal["int"] = "int"
    low: int
    high: int
    step: int = Field(1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> IntParam:
        if self.low >= self.high:
            raise ValueError(
                f"parameter {self.name!r}: needs low < high, got low={self.low!r}, "
                f"high={self.high!r}"
            )
        if (self.high - self.low) % self.step:
            raise ValueError(
                f"parameter {self.name!r}: high - low must be a multiple of step "
                f"{self.step!r}, got {self.low!r}..{self.high!r}"
            )
        if self.log and (self.low <= 0 or self.step != 1):
            raise ValueError(f"parameter {self.name!r}: log scale needs low > 0 and step = 1")
        return self


class CategoricalParam(_Param):
    """One of a fixed set of labels (or numbers), no order assumed."""

    kind: Literal["categorical"] = "categorical"
    choices: tuple[Value, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique(self) -> CategoricalParam:
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"parameter {self.name!r}: choices repeat: {self.choices!r}")
        return self


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="kind")]
"""Any parameter; ``kind`` (float, int, categorical) tells which."""


class SearchSpace(BaseModel):
    """An ordered set of parameters with distinct names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parameters: tuple[Param, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> SearchSpace:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names must be distinct, got {names!r}")
        return self

    @property
    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return [p.name for p in self.parameters]

    def __len__(self) -> int:
        return len(self.parameters)

    def param(self, name: str) -> FloatParam | IntParam | CategoricalParam:
        """The parameter called ``name``; a ``ConfigError`` lists the known names."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise ConfigError(f"no parameter {name!r} in the search space; use one of {self.names!r}")

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """The space as Optuna distributions (for ``study.ask`` and ``add_trial``)."""
        out: dict[str, optuna.distributions.BaseDistribution] = {}
        for p in self.parameters:
            if isinstance(p, FloatParam):
                out[p.name] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
            elif isinstance(p, IntParam):
                out[p.name] = optuna.distributions.IntDistribution(
                    p.low, p.high, log=p.log, step=p.step
                )
            else:
                out[p.name] = optuna.distributions.CategoricalDistribution(p.choices)
        return out

    def from_unit(self, unit: npt.ArrayLike) -> list[Point]:
        """Maps rows of ``[0, 1)^d`` onto the space (designs are drawn in the unit cube).

        Integers and categories split the interval into equal cells, so a uniform design
        gives every level the same share.
        """
        u = np.atleast_2d(np.asarray(unit, dtype=float))
        if u.shape[1] != len(self):
            raise ConfigError(
                f"unit design has {u.shape[1]} columns but the space has {len(self)} "
                f"parameters ({self.names!r})"
            )
        u = np.clip(u, 0.0, np.nextafter(1.0, 0.0))
        points: list[Point] = [{} for _ in range(u.shape[0])]
        for j, p in enumerate(self.parameters):
            col = u[:, j]
            for i, x in enumerate(col):
                points[i][p.name] = _from_unit(p, float(x))
        return points

    def to_unit(self, points: Sequence[Mapping[str, Value]]) -> npt.NDArray[np.float64]:
        """Points as ``[0, 1]`` coordinates (categories: the centre of their cell)."""
        out = np.empty((len(points), len(self)))
        for i, point in enumerate(points):
            for j, p in enumerate(self.parameters):
                out[i, j] = _to_unit(p, self.check_value(p.name, point))
        return out

    def encode(self, points: Sequence[Mapping[str, Value]]) -> npt.NDArray[np.float64]:
        """Feature matrix for surrogates: numbers scaled to [0, 1], categories one-hot."""
        cols: list[npt.NDArray[np.float64]] = []
        for p in self.parameters:
            values = [self.check_value(p.name, point) for point in points]
            if isinstance(p, CategoricalParam):
                for choice in p.choices:
                    cols.append(np.array([float(v == choice) for v in values]))
            else:
                cols.append(np.array([_to_unit(p, v) for v in values]))
        return np.column_stack(cols) if cols else np.empty((len(points), 0))

    def feature_names(self) -> list[str]:
        """Names of :meth:`encode`'s columns (``name=choice`` for one-hot columns)."""
        out: list[str] = []
        for p in self.parameters:
            if isinstance(p, CategoricalParam):
                out.extend(f"{p.name}={c}" for c in p.choices)
            else:
                out.append(p.name)
        return out

    def check_value(self, name: str, point: Mapping[str, Value]) -> Value:
        """The point's value of ``name``, checked against the parameter's domain."""
        p = self.param(name)
        if name not in point:
            raise ConfigError(f"point {dict(point)!r} lacks parameter {name!r}")
        value = point[name]
        if isinstance(p, CategoricalParam):
            if value not in p.choices:
                raise ConfigError(
                    f"parameter {name!r}: {value!r} is not one of its choices {p.choices!r}"
                )
            return value
        if isinstance(value, str) or not math.isfinite(float(value)):
            raise ConfigError(f"parameter {name!r}: expected a number, got {value!r}")
        if not p.low - 1e-9 <= float(value) <= p.high + 1e-9:
            raise ConfigError(
                f"parameter {name!r}: {value!r} is outside [{p.low!r}, {p.high!r}] {p.unit}"
            )
        return value


def _from_unit(p: FloatParam | IntParam | CategoricalParam, x: float) -> Value:
    if isinstance(p, CategoricalParam):
        return p.choices[int(x * len(p.choices))]
    if isinstance(p, FloatParam):
        if p.log:
            return float(math.exp(math.log(p.low) + x * (math.log(p.high) - math.log(p.low))))
        return float(p.low + x * (p.high - p.low))
    if p.log:
        edges = math.log(p.low - 0.5), math.log(p.high + 0.5)
        v = round(math.exp(edges[0] + x * (edges[1] - edges[0])))
        return int(min(max(v, p.low), p.high))
    levels = (p.high - p.low) // p.step + 1
    return int(p.low + int(x * levels) * p.step)


def _to_unit(p: FloatParam | IntParam | CategoricalParam, value: Value) -> float:
    if isinstance(p, CategoricalParam):
        return (p.choices.index(value) + 0.5) / len(p.choices)
    v = float(value)
    if p.log:
        return (math.log(v) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
    return (v - p.low) / (p.high - p.low)
