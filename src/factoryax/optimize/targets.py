"""Targets to optimise: a Python callable, a command line, a defect classifier.

The twin has its own module (:mod:`factoryax.optimize.twin`). A user's table of past runs
is not a target (it cannot be asked for a new point); it seeds a study instead
(:func:`factoryax.optimize.study.Study.add_table`) or trains a surrogate.

Examples:
    >>> target = CallableTarget(lambda p: {"y": p["x"] ** 2})
    >>> target.evaluate({"x": 3.0})
    {'y': 9.0}
    >>> import sys
    >>> cmd = CommandTarget((sys.executable, "-c",
    ...     "import json,sys; p=json.load(sys.stdin); print(json.dumps({'y': p['x'] + 1}))"))
    >>> cmd.evaluate({"x": 2.0})
    {'y': 3.0}
"""

from __future__ import annotations

import importlib
import json
import math
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from factoryax.core import ConfigError
from factoryax.optimize.base import EvaluationError, Metrics
from factoryax.optimize.space import Point, Value

__all__ = [
    "CallableTarget",
    "ClassifierTarget",
    "CommandTarget",
    "load_callable",
    "to_metrics",
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def to_metrics(raw: object, *, default: str = "value", where: str = "target") -> Metrics:
    """A number (named ``default``) or a mapping of numbers, checked finite."""
    if isinstance(raw, bool):
        raise EvaluationError(f"{where} returned a bool {raw!r}; return a number or a mapping")
    if isinstance(raw, int | float | np.floating | np.integer):
        raw = {default: raw}
    if not isinstance(raw, Mapping):
        raise EvaluationError(
            f"{where} returned {raw!r}; expected a number or a mapping of metric name to number"
        )
    out: Metrics = {}
    for key, value in raw.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise EvaluationError(f"{where}: metric {key!r} = {value!r} is not a number") from None
        if not math.isfinite(number):
            raise EvaluationError(f"{where}: metric {key!r} = {value!r} is not finite")
        out[str(key)] = number
    return out


def load_callable(spec: str) -> Callable[..., object]:
    """``"package.module:function"`` imported and returned.

    Raises:
        ConfigError: the spec is malformed, the module cannot be imported or has no such
            callable.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"callable {spec!r}: write it as 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"callable {spec!r}: cannot import {module_name!r} ({exc}); put the module on "
            "PYTHONPATH or install it"
        ) from None
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)  # type: ignore[assignment]  # walks module attributes
        if fn is None:
            raise ConfigError(f"callable {spec!r}: {module_name!r} has no attribute {attr!r}")
    if not callable(fn):
        raise ConfigError(f"callable {spec!r} is not callable")
    return fn


class CallableTarget:
    """A Python function of the point returning a number or a mapping of metrics.

    Args:
        fn: called as ``fn(point)``; a number is reported as metric ``metric``.
        metric: the name of a scalar result.
    """

    def __init__(self, fn: Callable[[Point], object], *, metric: str = "value") -> None:
        self.fn = fn
        self.metric = metric

    def evaluate(self, point: Point) -> Metrics:
        """Calls the function; its exceptions become :class:`EvaluationError`."""
        try:
            raw = self.fn(dict(point))
        except Exception as exc:
            raise EvaluationError(
                f"callable target failed at {point!r}: {type(exc).__name__}: {exc}", point=point
            ) from exc
        return to_metrics(raw, default=self.metric, where="callable target")


class CommandTarget:
    """A command line (a CAE solver wrapper) that prints its metrics as JSON.

    The point goes to the command as JSON on stdin, and ``{name}`` in any argument is
    replaced by the value of parameter ``name`` (other braces are left alone). The last
    non-empty line of stdout must be a JSON number or object of numbers. The command
    runs without a shell.

    Args:
        argv: the program and its arguments.
        timeout_s: how long one evaluation may take.
        cwd: working folder (default: the current one).
        metric: the name of a scalar result.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float = 3600.0,
        cwd: Path | None = None,
        metric: str = "value",
    ) -> None:
        if not argv:
            raise ConfigError("command target: `command` is empty; give the program and its args")
        self.argv = tuple(argv)
        self.timeout_s = timeout_s
        self.cwd = cwd
        self.metric = metric

    def evaluate(self, point: Point) -> Metrics:
        """Runs the command once; a failure names the exit code and stderr's tail."""
        args = [
            _PLACEHOLDER.sub(
                lambda m: str(point[m.group(1)]) if m.group(1) in point else m.group(0), a
            )
            for a in self.argv
        ]
        try:
            done = subprocess.run(  # noqa: S603  # the user's own command, no shell
                args,
                input=json.dumps(point),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                cwd=self.cwd,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EvaluationError(
                f"command {args!r} ran past timeout_s={self.timeout_s!r}", point=point
            ) from None
        except OSError as exc:
            raise EvaluationError(f"command {args!r} could not start: {exc}", point=point) from None
        if done.returncode != 0:
            raise EvaluationError(
                f"command {args!r} exited {done.returncode}: {done.stderr.strip()[-500:]!r}",
                point=point,
            )
        lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
        if not lines:
            raise EvaluationError(f"command {args!r} printed nothing; print a JSON object last")
        try:
            raw = json.loads(lines[-1])
        except json.JSONDecodeError:
            raise EvaluationError(
                f"command {args!r}: last line {lines[-1][:200]!r} is not JSON; print e.g. "
                '{"cycle_time_s": 41.2} as the last line',
                point=point,
            ) from None
        return to_metrics(raw, default=self.metric, where=f"command {args[0]!r}")


class ClassifierTarget:
    """Defect probability of a trained classifier at the point's process parameters.

    Any scikit-learn-style estimator with ``predict_proba`` works. Its input row is
    ``fixed`` updated by the point, in the order of ``features``; when the model was
    fitted on a DataFrame (it has ``feature_names_in_``) it gets a one-row DataFrame.

    Args:
        model: the fitted classifier.
        features: the model's input columns in order (default: ``feature_names_in_``).
        fixed: values of inputs that are not optimised (material, ambient …).
        positive: the class label meaning "defect" (default: the last class).
        metric: name of the reported probability.
        columns: parameter name → model input name, where they differ (model inputs
            such as ``"Torque [Nm]"`` are not valid parameter names).
    """

    def __init__(
        self,
        model: Any,
        *,
        features: Sequence[str] | None = None,
        fixed: Mapping[str, Value] | None = None,
        positive: object = None,
        metric: str = "defect_prob",
        columns: Mapping[str, str] | None = None,
    ) -> None:
        if not callable(getattr(model, "predict_proba", None)):
            raise ConfigError(
                f"classifier target: {type(model).__name__} has no predict_proba; use a "
                "probabilistic classifier (e.g. sklearn's HistGradientBoostingClassifier)"
            )
        names = getattr(model, "feature_names_in_", None)
        if features is None and names is None:
            raise ConfigError(
                "classifier target: the model does not record its feature names; pass "
                "`features` (the input columns in training order)"
            )
        self.model = model
        chosen: Sequence[str] = (
            features
            if features is not None
            else [str(n) for n in (names if names is not None else ())]
        )
        self.features = tuple(str(f) for f in chosen)
        self.fixed = dict(fixed or {})
        self.metric = metric
        self.columns = dict(columns or {})
        classes = list(getattr(model, "classes_", []))
        if positive is None:
            self.index = len(classes) - 1 if classes else 1
        elif positive in classes:
            self.index = classes.index(positive)
        else:
            raise ConfigError(
                f"classifier target: positive class {positive!r} is not one of {classes!r}"
            )
        self._frame = names is not None

    def evaluate(self, point: Point) -> Metrics:
        """``{metric: P(defect)}``; unknown or missing inputs are named in the error."""
        inputs = {self.columns.get(k, k): v for k, v in point.items()}
        row = {**self.fixed, **inputs}
        missing = [f for f in self.features if f not in row]
        if missing:
            raise ConfigError(
                f"classifier target: no value for model input(s) {missing!r}; declare them "
                "as parameters or give them under `fixed`"
            )
        extra = sorted(set(inputs) - set(self.features))
        if extra:
            raise ConfigError(
                f"classifier target: parameter(s) {extra!r} are not model inputs "
                f"{list(self.features)!r}"
            )
        x: object
        if self._frame:
            import pandas as pd  # type: ignore[import-untyped]  # only for DataFrame models

            x = pd.DataFrame([{f: row[f] for f in self.features}], columns=list(self.features))
        else:
            x = np.array([[float(row[f]) for f in self.features]])
        try:
            proba = np.asarray(self.model.predict_proba(x), dtype=float)
        except Exception as exc:
            raise EvaluationError(
                f"classifier target: predict_proba failed at {point!r}: {exc}", point=point
            ) from exc
        return {self.metric: float(proba[0, self.index])}
