"""``study.toml``: a study file parsed into a :class:`StudyConfig` and a target.

The caller reads the file (``tomllib``) and passes the table here, with the folder the
file lives in (relative paths in it are read from there). Every problem names the key,
the value and the fix.

Example file::

    [study]
    name = "line1-buffers"
    seed = 7
    sampler = "gp"          # gp | tpe | random | qmc
    trials = 40
    batch = 4               # 4 simulations in parallel

    [[parameters]]
    name = "cnc_buffer"
    kind = "int"            # float | int | categorical
    low = 2
    high = 60
    unit = "parts"

    [[objectives]]
    metric = "profit_per_h"
    direction = "maximize"

    [[constraints]]
    metric = "defect_rate"
    max = 0.03

    [target]
    kind = "twin"           # twin | command | python | classifier | function | table
    start = "2026-11-23T08:00"
    horizon_h = 24
    map = { cnc_buffer = "stations.cnc-01.buffer" }

Examples:
    >>> spec = parse_study({"study": {"name": "s", "trials": 5},
    ...     "parameters": [{"name": "x1", "kind": "float", "low": -5, "high": 10},
    ...                    {"name": "x2", "kind": "float", "low": 0, "high": 15}],
    ...     "objectives": [{"metric": "value"}],
    ...     "target": {"kind": "function", "name": "branin"}})
    >>> spec.config.name, type(spec.target).__name__
    ('s', 'CallableTarget')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from factoryax.core import ConfigError, PlantModel
from factoryax.optimize.base import Target
from factoryax.optimize.functions import BRANIN, HARTMANN6
from factoryax.optimize.space import Point, SearchSpace
from factoryax.optimize.study import StudyConfig
from factoryax.optimize.targets import (
    CallableTarget,
    ClassifierTarget,
    CommandTarget,
    load_callable,
)
from factoryax.optimize.twin import TwinEconomics, TwinTarget

__all__ = ["StudySpec", "parse_study", "read_rows"]

_FUNCTIONS = {"branin": BRANIN, "hartmann6": HARTMANN6}
_KINDS = ("twin", "command", "python", "classifier", "function", "table")


@dataclass(frozen=True)
class StudySpec:
    """A parsed study file.

    Attributes:
        config: the study definition.
        target: what evaluates points; ``None`` for a ``table`` study, which only
            suggests the next runs from ``table`` (past runs).
        table: the past-runs file (CSV or Parquet) of a ``table`` study, or rows to add
            before the first suggestion of any study (``[study] seed_table``).
    """

    config: StudyConfig
    target: Target | None
    table: Path | None = None


def parse_study(
    data: Mapping[str, Any],
    *,
    base: Path | None = None,
    plant: Callable[[], PlantModel] | None = None,
    where: str = "study.toml",
) -> StudySpec:
    """Validates a study table and builds its target.

    Args:
        data: the parsed TOML.
        base: folder relative paths are read from (default: the current one).
        plant: gives the workspace's plant model (only twin targets call it).
        where: the file name used in error messages.
    """
    base = base or Path.cwd()
    unknown = sorted(set(data) - {"study", "parameters", "objectives", "constraints", "target"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown table(s) {unknown!r}; use [study], [[parameters]], "
            "[[objectives]], [[constraints]] and [target]"
        )
    study = dict(data.get("study") or {})
    table_path = study.pop("seed_table", None)
    try:
        config = StudyConfig.model_validate(
            {
                **study,
                "space": {"parameters": data.get("parameters") or ()},
                "objectives": data.get("objectives") or (),
                "constraints": data.get("constraints") or (),
            }
        )
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where)) from None
    target_raw = dict(data.get("target") or {})
    kind = target_raw.pop("kind", None)
    if kind not in _KINDS:
        raise ConfigError(f"{where}: [target] kind = {kind!r}; use one of {list(_KINDS)!r}")
    table = _path(base, table_path) if table_path is not None else None
    if kind == "table":
        path = target_raw.pop("path", None)
        if path is None:
            raise ConfigError(f"{where}: [target] kind = 'table' needs `path` (CSV or Parquet)")
        _no_extra(target_raw, where)
        return StudySpec(config, None, _path(base, path))
    target = _target(kind, target_raw, config.space, base, plant, where)
    return StudySpec(config, target, table)


def _target(
    kind: str,
    raw: dict[str, Any],
    space: SearchSpace,
    base: Path,
    plant: Callable[[], PlantModel] | None,
    where: str,
) -> Target:
    metric = str(raw.pop("metric", "value"))
    if kind == "function":
        name = raw.pop("name", None)
        if name not in _FUNCTIONS:
            raise ConfigError(
                f"{where}: [target] name = {name!r}; use one of {sorted(_FUNCTIONS)!r}"
            )
        _no_extra(raw, where)
        return CallableTarget(_FUNCTIONS[name].fn, metric=metric)
    if kind == "python":
        fn = load_callable(str(raw.pop("callable", "")))
        _no_extra(raw, where)
        return CallableTarget(_wrap(fn), metric=metric)
    if kind == "command":
        command = raw.pop("command", None)
        if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
            raise ConfigError(
                f"{where}: [target] command = {command!r}; give a list of strings, e.g. "
                '["python", "solver.py", "--speed", "{speed}"]'
            )
        timeout_s = float(raw.pop("timeout_s", 3600.0))
        cwd = raw.pop("cwd", None)
        _no_extra(raw, where)
        return CommandTarget(
            command,
            timeout_s=timeout_s,
            cwd=_path(base, cwd) if cwd is not None else base,
            metric=metric,
        )
    if kind == "classifier":
        model_path = raw.pop("model", None)
        if model_path is None:
            raise ConfigError(f"{where}: [target] kind = 'classifier' needs `model` (a .joblib)")
        import joblib  # type: ignore[import-untyped]  # no stubs

        # joblib files are pickles: load only models you trained yourself.
        model = joblib.load(_path(base, model_path))
        target = ClassifierTarget(
            model,
            features=raw.pop("features", None),
            fixed=raw.pop("fixed", None),
            positive=raw.pop("positive", None),
            columns=raw.pop("columns", None),
            metric=str(raw.pop("metric_name", "defect_prob")) if metric == "value" else metric,
        )
        _no_extra(raw, where)
        return target
    # twin
    if plant is None:
        raise ConfigError(f"{where}: a twin target needs a workspace (plant.toml)")
    mapping = raw.pop("map", None)
    if not isinstance(mapping, dict) or not mapping:
        raise ConfigError(
            f"{where}: [target] map = {mapping!r}; map each parameter to a twin knob, e.g. "
            'map = { cnc_buffer = "stations.cnc-01.buffer" }'
        )
    unmapped = sorted(set(space.names) - set(mapping))
    if unmapped or set(mapping) - set(space.names):
        raise ConfigError(
            f"{where}: [target] map must map exactly the parameters {space.names!r}; "
            f"unmapped {unmapped!r}, unknown {sorted(set(mapping) - set(space.names))!r}"
        )
    start_raw = raw.pop("start", None)
    try:
        start = (
            dt.datetime.fromisoformat(str(start_raw))
            if start_raw is not None
            else dt.datetime(2026, 11, 23, 8)  # noqa: DTZ001  # plant-local, read by the twin
        )
    except ValueError:
        raise ConfigError(
            f"{where}: [target] start = {start_raw!r}; write it as 2026-11-23T08:00"
        ) from None
    economics = raw.pop("economics", None)
    try:
        econ = TwinEconomics.model_validate(economics or {})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where, "target.economics")) from None
    twin = TwinTarget(
        plant(),
        {str(k): str(v) for k, v in mapping.items()},
        start=start,
        horizon_h=float(raw.pop("horizon_h", 24.0)),
        replications=int(raw.pop("replications", 1)),
        seed=int(raw.pop("seed", 1)),
        sample_s=float(raw.pop("sample_s", 3600.0)),
        economics=econ,
    )
    _no_extra(raw, where)
    mid = space.from_unit([[0.5] * len(space)])[0]
    twin.check(mid)
    return twin


class _wrap:  # a picklable adapter, named like the function it wraps
    """Calls a user function with the point as keyword arguments if it wants them."""

    def __init__(self, fn: Callable[..., object]) -> None:
        self.fn = fn

    def __call__(self, point: Point) -> object:
        import inspect

        params = inspect.signature(self.fn).parameters
        if len(params) == 1 and next(iter(params)) not in point:
            return self.fn(point)
        return self.fn(**point)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV or Parquet table of past runs (column names as in the study).

    Raises:
        ConfigError: the file is missing or its suffix is neither .csv nor .parquet.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not path.is_file():
        raise ConfigError(f"table of past runs {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = pacsv.read_csv(path)
    elif suffix == ".parquet":
        table = pq.read_table(path)
    else:
        raise ConfigError(f"table {str(path)!r}: use a .csv or .parquet file, got {suffix!r}")
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _no_extra(raw: Mapping[str, Any], where: str) -> None:
    if raw:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(raw)!r} in [target]; see docs/optimize.md"
        )


def _path(base: Path, value: object) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path


def _describe(exc: ValidationError, where: str, prefix: str = "") -> str:
    problems = []
    for err in exc.errors():
        if err["type"] == "too_short" and err.get("input"):
            continue  # the items themselves failed; those errors say why
        loc = [str(p) for p in err["loc"]]
        if prefix:
            loc = [prefix, *loc]
        elif loc and loc[0] == "space":
            loc = loc[1:]
        elif loc and loc[0] not in {"objectives", "constraints"}:
            loc = ["study", *loc]
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against docs/optimize.md"
        problems.append(f"{'.'.join(loc)}: {message} (got {err.get('input')!r})")
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{where}: {len(problems)} problem(s)\n{lines}"
