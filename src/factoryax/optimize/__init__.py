"""CAE + AI: designs of experiments, surrogates and Bayesian optimisation.

Finds good settings of a line or a process in as few simulations or trial lots as
possible: declare parameters (continuous, integer, categorical, with bounds and units),
pick what to optimise among a target's metrics, add constraints, and let a study suggest
batches of points to evaluate in parallel.

Contract:

- a :class:`Target` (the twin, a Python callable, a command line printing JSON, a trained
  classifier's defect probability) maps a point to named metrics; past runs from a
  table seed a study (:meth:`Study.add_table`) instead;
- a :class:`Study` is reproducible: the same config (seed included) and the same
  evaluation results give the same trials; its config, seed and library versions are
  stored with the trials in SQLite, and reopening it resumes it;
- surrogates (Gaussian process with uncertainty, gradient boosting) are cross-validated
  and give variance-based sensitivity indices (Sobol, via ``scipy.stats.sobol_indices``);
- nothing here changes the twin: its knobs are set per evaluation by overrides.

Examples:
    >>> from factoryax.optimize import BRANIN, CallableTarget, ObjectiveSpec, Study
    >>> from factoryax.optimize import StudyConfig
    >>> study = Study(StudyConfig(name="b", seed=1, trials=10, space=BRANIN.space,
    ...                           objectives=(ObjectiveSpec(metric="value"),)))
    >>> study.run(CallableTarget(BRANIN.fn)).n_trials
    10
"""

from __future__ import annotations

from factoryax.optimize.base import EvaluationError, Metrics, Target
from factoryax.optimize.design import (
    fractional_factorial,
    full_factorial,
    latin_hypercube,
    random_design,
    sobol,
)
from factoryax.optimize.functions import BRANIN, HARTMANN6, TestFunction, branin, hartmann6
from factoryax.optimize.space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    Point,
    SearchSpace,
    Value,
)
from factoryax.optimize.study import (
    ConstraintSpec,
    ObjectiveSpec,
    RejectedRow,
    Study,
    StudyConfig,
    StudyResult,
    TrialRecord,
    library_versions,
    pareto_front,
)
from factoryax.optimize.targets import (
    CallableTarget,
    ClassifierTarget,
    CommandTarget,
    load_callable,
)
from factoryax.optimize.twin import TWIN_METRICS, TwinEconomics, TwinTarget, apply_overrides

__all__ = [
    "BRANIN",
    "HARTMANN6",
    "TWIN_METRICS",
    "CallableTarget",
    "CategoricalParam",
    "ClassifierTarget",
    "CommandTarget",
    "ConstraintSpec",
    "EvaluationError",
    "FloatParam",
    "IntParam",
    "Metrics",
    "ObjectiveSpec",
    "Point",
    "RejectedRow",
    "SearchSpace",
    "Study",
    "StudyConfig",
    "StudyResult",
    "Target",
    "TestFunction",
    "TrialRecord",
    "TwinEconomics",
    "TwinTarget",
    "Value",
    "apply_overrides",
    "branin",
    "fractional_factorial",
    "full_factorial",
    "hartmann6",
    "latin_hypercube",
    "library_versions",
    "load_callable",
    "pareto_front",
    "random_design",
    "sobol",
]
