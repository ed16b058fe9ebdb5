"""Targets: command lines printing JSON, Python callables, trained defect classifiers."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from factoryax.core import ConfigError
from factoryax.optimize import (
    CallableTarget,
    ClassifierTarget,
    CommandTarget,
    ConstraintSpec,
    EvaluationError,
    FloatParam,
    ObjectiveSpec,
    SearchSpace,
    Study,
    StudyConfig,
    load_callable,
)

AI4I = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ai4i2020"

SOLVER = """
import json, sys
p = json.load(sys.stdin)
if p["speed"] < 0:
    print("negative speed", file=sys.stderr)
    sys.exit(3)
print("solver log line")
print(json.dumps({"cycle_s": 60 / p["speed"] + p["speed"], "arg": float(sys.argv[1])}))
"""


def _solver(tmp_path: Path) -> CommandTarget:
    script = tmp_path / "solver.py"
    script.write_text(SOLVER, encoding="utf-8")
    return CommandTarget((sys.executable, str(script), "{speed}"), timeout_s=60)


def test_command_gets_the_point_on_stdin_and_in_arguments(tmp_path: Path) -> None:
    """The last stdout line is read as JSON; {speed} in argv is filled in."""
    metrics = _solver(tmp_path).evaluate({"speed": 4.0})
    assert metrics == {"cycle_s": 19.0, "arg": 4.0}


def test_failing_command_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    """A non-zero exit becomes an EvaluationError quoting the exit code and stderr."""
    with pytest.raises(EvaluationError, match=r"exited 3: 'negative speed'"):
        _solver(tmp_path).evaluate({"speed": -1.0})


def test_command_printing_no_json_is_explained(tmp_path: Path) -> None:
    """Output that is not JSON names the line and shows what to print."""
    target = CommandTarget((sys.executable, "-c", "print('done')"))
    with pytest.raises(EvaluationError, match="is not JSON"):
        target.evaluate({"x": 1.0})


def test_command_study_finds_the_best_speed(tmp_path: Path) -> None:
    """A study over a command target minimises 60/v + v (optimum v = sqrt(60) ≈ 7.75)."""
    config = StudyConfig(
        name="cmd",
        seed=1,
        trials=12,
        batch=2,
        initial=6,
        space=SearchSpace(parameters=(FloatParam(name="speed", low=1, high=20, unit="m/min"),)),
        objectives=(ObjectiveSpec(metric="cycle_s"),),
    )
    result = Study(config).run(_solver(tmp_path))
    assert result.best is not None
    assert abs(float(result.best.params["speed"]) - 60**0.5) < 1.0


def test_callable_errors_become_evaluation_errors() -> None:
    """A raising function or a non-numeric result is an EvaluationError naming the cause."""

    def boom(_: object) -> float:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(EvaluationError, match="ZeroDivisionError"):
        CallableTarget(boom).evaluate({"x": 1.0})
    with pytest.raises(EvaluationError, match="not a number"):
        CallableTarget(lambda p: {"y": "high"}).evaluate({"x": 1.0})
    with pytest.raises(EvaluationError, match="not finite"):
        CallableTarget(lambda p: float("nan")).evaluate({"x": 1.0})


def test_load_callable_names_what_is_wrong() -> None:
    """Malformed specs, missing modules and missing attributes are ConfigErrors."""
    assert load_callable("factoryax.optimize.functions:branin")({"x1": 0.0, "x2": 0.0}) > 0
    with pytest.raises(ConfigError, match=r"package\.module:function"):
        load_callable("nocolon")
    with pytest.raises(ConfigError, match="cannot import"):
        load_callable("no_such_module_xyz:f")
    with pytest.raises(ConfigError, match="no attribute"):
        load_callable("factoryax.optimize.functions:nope")


def test_classifier_target_minimises_defect_probability() -> None:
    """Defects rise with temperature; the study picks a low temperature at fixed pressure."""
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(150, 250, 400), rng.uniform(1, 5, 400)])
    y = (x[:, 0] + rng.normal(0, 15, 400) > 215).astype(int)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    target = ClassifierTarget(model, features=["temp_c", "pressure_bar"], fixed={"pressure_bar": 3})
    assert target.evaluate({"temp_c": 160.0})["defect_prob"] < 0.05
    assert target.evaluate({"temp_c": 245.0})["defect_prob"] > 0.9
    config = StudyConfig(
        name="clf",
        seed=0,
        trials=10,
        initial=5,
        space=SearchSpace(parameters=(FloatParam(name="temp_c", low=150, high=250, unit="°C"),)),
        objectives=(ObjectiveSpec(metric="defect_prob"),),
    )
    best = Study(config).run(target).best
    assert best is not None and float(best.params["temp_c"]) < 190


def test_classifier_target_checks_its_inputs() -> None:
    """Unknown parameters, missing inputs and models without predict_proba are refused."""
    model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    with pytest.raises(ConfigError, match="no predict_proba"):
        ClassifierTarget(object(), features=["a"])
    with pytest.raises(ConfigError, match="pass `features`"):
        ClassifierTarget(model)
    target = ClassifierTarget(model, features=["a"])
    with pytest.raises(ConfigError, match=r"\['b'\] are not model inputs"):
        target.evaluate({"a": 1.0, "b": 2.0})
    with pytest.raises(ConfigError, match="positive class 7"):
        ClassifierTarget(model, features=["a"], positive=7)


class _WithPower:
    """Adds mechanical power (W) = speed·2π/60·torque, a throughput proxy to constrain."""

    def __init__(self, inner: ClassifierTarget) -> None:
        self.inner = inner

    def evaluate(self, point: dict[str, float | int | str]) -> dict[str, float]:
        metrics = self.inner.evaluate(point)
        metrics["power_w"] = float(point["rpm"]) * 2 * math.pi / 60 * float(point["torque"])
        return metrics


@pytest.mark.slow
@pytest.mark.skipif(not (AI4I / "ai4i2020.csv").is_file(), reason="AI4I data set not in ../shared")
def test_process_parameters_against_a_model_trained_on_ai4i() -> None:
    """AI4I 2020 failure model: at >= 6 kW, the study finds speed/torque with P(failure) < 1 %."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = pd.read_csv(AI4I / "ai4i2020.csv")
    features = [
        "Air temperature [K]",
        "Process temperature [K]",
        "Rotational speed [rpm]",
        "Torque [Nm]",
        "Tool wear [min]",
    ]
    with threadpool_limits(1):  # OpenMP threads fight the other processes on a shared box
        model = HistGradientBoostingClassifier(random_state=0, max_iter=100).fit(
            data[features], data["Machine failure"]
        )
    fixed = {f: float(data[f].median()) for f in features}
    fixed["Tool wear [min]"] = 200.0  # a worn tool: where settings matter most
    target = ClassifierTarget(
        model, fixed=fixed, columns={"rpm": "Rotational speed [rpm]", "torque": "Torque [Nm]"}
    )
    space = SearchSpace(
        parameters=(
            FloatParam(name="rpm", low=1200, high=2800, unit="rpm"),
            FloatParam(name="torque", low=10, high=70, unit="Nm"),
        )
    )
    config = StudyConfig(
        name="ai4i",
        seed=0,
        trials=15,
        initial=6,
        space=space,
        objectives=(ObjectiveSpec(metric="defect_prob"),),
        constraints=(ConstraintSpec(metric="power_w", min=6000.0),),
    )
    study = Study(config)
    best = study.run(_WithPower(target)).best
    assert best is not None and best.values is not None and best.feasible
    assert best.values[0] < 0.01 and best.metrics["power_w"] >= 6000.0
    assert max(r.metrics["defect_prob"] for r in study.records()) > 0.5  # risky settings exist
