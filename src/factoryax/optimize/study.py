"""A study: a search space, objectives, constraints, a sampler and every trial, on disk.

Built on Optuna (see docs/optimize.md for why not BoTorch). The default sampler is
Optuna's ``GPSampler``: a Gaussian process (Matérn 5/2, ARD) with log expected
improvement, log expected hypervolume improvement for several objectives, a feasibility
probability for constraints and, when trials are still running, q-batch acquisition
(sequential greedy), which is what lets a batch of simulations run in parallel.

A study starts with a space-filling design (scrambled Sobol by default) and then asks
the sampler. Trials, their metrics, the seed, the config and the library versions live
in SQLite (``<workspace>/optimize/studies.db``), so a study can be stopped and resumed:
opening it again with the same config continues where it stopped; a different config
under the same name is refused.

Examples:
    >>> from factoryax.optimize.functions import BRANIN
    >>> from factoryax.optimize.targets import CallableTarget
    >>> config = StudyConfig(name="doc", seed=3, trials=12, initial=6, space=BRANIN.space,
    ...                      objectives=(ObjectiveSpec(metric="value"),))
    >>> study = Study(config)
    >>> result = study.run(CallableTarget(BRANIN.fn))
    >>> len(study.records()), result.best is not None
    (12, True)
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import math
import multiprocessing
import pickle
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
from optuna.trial import FrozenTrial, Trial, TrialState
from pydantic import BaseModel, ConfigDict, Field, model_validator
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs

from factoryax.core import ConfigError
from factoryax.optimize.base import EvaluationError, Metrics, Target
from factoryax.optimize.design import DesignKind, design
from factoryax.optimize.space import Point, SearchSpace, Value

__all__ = [
    "ConstraintSpec",
    "ObjectiveSpec",
    "RejectedRow",
    "Study",
    "StudyConfig",
    "StudyResult",
    "TrialRecord",
    "library_versions",
    "pareto_front",
]

SamplerKind = Literal["gp", "tpe", "random", "qmc"]


class ObjectiveSpec(BaseModel):
    """A metric to minimise or maximise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(min_length=1)
    direction: Literal["minimize", "maximize"] = "minimize"


class ConstraintSpec(BaseModel):
    """A metric that must stay at or below ``max`` and/or at or above ``min``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(min_length=1)
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> ConstraintSpec:
        if self.max is None and self.min is None:
            raise ValueError(f"constraint on {self.metric!r} needs `max` or `min`")
        return self

    def violations(self, metrics: Mapping[str, float]) -> list[float]:
        """One value per bound; <= 0 means satisfied (Optuna's convention)."""
        value = metrics[self.metric]
        out = []
        if self.max is not None:
            out.append(value - self.max)
        if self.min is not None:
            out.append(self.min - value)
        return out


class StudyConfig(BaseModel):
    """Everything that defines a study apart from the target.

    Attributes:
        name: the study's name in storage.
        seed: seeds the initial design and the sampler (reproducible studies).
        sampler: ``gp`` (Bayesian optimisation), ``tpe`` (Optuna's default), ``random``,
            ``qmc`` (scrambled Sobol throughout, no model).
        trials: the evaluation budget (trials in storage, including resumed ones).
        batch: points suggested at a time and evaluated in parallel.
        workers: parallel evaluations (default: ``batch``).
        executor: ``process`` (CPU-bound Python targets), ``thread`` (command lines,
            which run in their own processes anyway, and cheap callables) or ``auto``:
            processes for targets that ask for them (the twin), threads otherwise.
        initial: space-filling points before the model is used (default ``max(2d, 6)``).
        initial_design: ``sobol``, ``lhs`` or ``random``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    seed: int = 0
    sampler: SamplerKind = "gp"
    trials: int = Field(50, ge=1)
    batch: int = Field(1, ge=1)
    workers: int | None = Field(None, ge=1)
    executor: Literal["auto", "process", "thread"] = "auto"
    initial: int | None = Field(None, ge=0)
    initial_design: Literal["sobol", "lhs", "random"] = "sobol"
    space: SearchSpace
    objectives: tuple[ObjectiveSpec, ...] = Field(min_length=1)
    constraints: tuple[ConstraintSpec, ...] = ()

    @property
    def n_initial(self) -> int:
        """Space-filling points before the sampler's model takes over."""
        if self.initial is not None:
            return self.initial
        return max(2 * len(self.space), 6)

    def fingerprint(self) -> str:
        """SHA-256 of what decides the trials (not the budget, batch or workers)."""
        data = self.model_dump(mode="json", exclude={"trials", "workers", "executor"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class TrialRecord:
    """One trial as stored: parameters, metrics, feasibility, how it came about."""

    number: int
    state: str
    params: Point
    metrics: Metrics
    values: tuple[float, ...] | None
    feasible: bool
    source: str
    error: str | None = None
    eval_s: float | None = None


@dataclass(frozen=True)
class RejectedRow:
    """A row of a past-runs table that could not be used, and why."""

    position: int
    reason: str
    raw: str
    """The row as JSON, so nothing handed in is lost."""

    def __str__(self) -> str:
        return f"row {self.position}: {self.reason}"


@dataclass
class StudyResult:
    """What a run produced: the best feasible trial (one objective) or the Pareto front."""

    name: str
    n_trials: int
    n_failed: int
    best: TrialRecord | None
    pareto: list[TrialRecord] = field(default_factory=list)


def library_versions() -> dict[str, str]:
    """Versions that decide a study's results, stored with it for reproducibility."""
    import scipy  # type: ignore[import-untyped]  # no stubs
    import sklearn  # type: ignore[import-untyped]  # no stubs
    import torch

    import factoryax

    return {
        "python": platform.python_version(),
        "factoryax": factoryax.__version__,
        "optuna": optuna.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
    }


def storage_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Study:
    """Creates or resumes a stored study and runs it against a target.

    Args:
        config: the study definition.
        storage: a SQLite file (created if missing); ``None`` keeps the study in memory.
            Resuming under other library versions is allowed and recorded in the
            study's ``resumed_with_versions`` attribute.
    """

    def __init__(self, config: StudyConfig, storage: Path | None = None) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.config = config
        self.storage = storage
        url = storage_url(storage) if storage is not None else None
        directions = [o.direction for o in config.objectives]
        existing = self._existing(url, config.name)
        if existing is not None:
            stored = existing.user_attrs.get("fingerprint")
            if stored != config.fingerprint():
                raise ConfigError(
                    f"study {config.name!r} in {str(storage)!r} was created with different "
                    "settings (space, objectives, constraints, seed or sampler); give the "
                    "study a new `name`, or restore the original settings to resume it"
                )
        self._n_at_open = existing.n_trials if existing is not None else 0
        self.optuna = optuna.create_study(
            study_name=config.name,
            storage=url,
            directions=directions,
            sampler=self._sampler(self._n_at_open),
            load_if_exists=True,
        )
        if existing is None:
            self.optuna.set_user_attr("fingerprint", config.fingerprint())
            self.optuna.set_user_attr("config", config.model_dump(mode="json"))
            self.optuna.set_user_attr("versions", library_versions())
            self.optuna.set_user_attr("seed", config.seed)
            self.optuna.set_user_attr("created_at", dt.datetime.now(dt.UTC).isoformat())
        elif existing.user_attrs.get("versions") != library_versions():
            self.optuna.set_user_attr("resumed_with_versions", library_versions())
        self._fail_interrupted()
        self._design = design(
            config.space,
            _design_kind(config.initial_design),
            max(config.n_initial, 1),
            seed=config.seed,
        )

    def _fail_interrupted(self) -> None:
        """Trials left running by a run that died are failed as ``interrupted``.

        One process runs a study at a time; they do not count towards the budget and
        the design points among them are asked again.
        """
        for t in self.optuna.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self._interrupt(Trial(self.optuna, t._trial_id))

    def _interrupt(self, trial: Trial) -> None:
        trial.set_user_attr("interrupted", True)
        trial.set_user_attr("error", "interrupted before its result was stored")
        self.optuna.tell(trial, state=TrialState.FAIL)

    def counted(self) -> int:
        """Trials that count towards the budget: all but interrupted ones."""
        return sum(not t.user_attrs.get("interrupted") for t in self.optuna.trials)

    def _design_index(self) -> int:
        return sum(
            str(t.user_attrs.get("source", "")).startswith("design")
            and not t.user_attrs.get("interrupted")
            for t in self.optuna.trials
        )

    @classmethod
    def load(cls, storage: Path, name: str) -> Study:
        """Reopens a stored study from its own stored config (for reports and resuming)."""
        url = storage_url(storage)
        summary = cls._existing(url, name)
        if summary is None:
            names = [s.study_name for s in optuna.get_all_study_summaries(url, False)]
            raise ConfigError(f"no study {name!r} in {str(storage)!r}; stored studies: {names!r}")
        config = StudyConfig.model_validate(summary.user_attrs["config"])
        return cls(config, storage)

    @staticmethod
    def names(storage: Path) -> list[str]:
        """Names of the studies stored in a SQLite file (empty if it does not exist)."""
        if not storage.is_file():
            return []
        return [s.study_name for s in optuna.get_all_study_summaries(storage_url(storage), False)]

    @property
    def attrs(self) -> dict[str, Any]:
        """What is stored about the study: config, fingerprint, seed, versions, created_at."""
        return dict(self.optuna.user_attrs)

    @staticmethod
    def _existing(url: str | None, name: str) -> optuna.study.StudySummary | None:
        if url is None:
            return None
        for summary in optuna.get_all_study_summaries(url, include_best_trial=False):
            if summary.study_name == name:
                return summary
        return None

    def _sampler(self, offset: int) -> optuna.samplers.BaseSampler:
        # Offsetting the seed by the trials already stored makes a resumed study draw
        # fresh random numbers while staying a deterministic function of its history.
        seed = self.config.seed + offset
        kind = self.config.sampler
        if kind == "gp":
            return optuna.samplers.GPSampler(
                seed=seed,
                n_startup_trials=self.config.n_initial,
                warn_independent_sampling=False,
            )
        if kind == "tpe":
            return optuna.samplers.TPESampler(seed=seed)
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.QMCSampler(qmc_type="sobol", seed=self.config.seed)

    # ------------------------------------------------------------------ ask / tell

    def ask(self, n: int) -> list[tuple[Trial, Point]]:
        """``n`` new points; the first ``initial`` trials of a study follow the design.

        Points asked together account for each other (the GP sampler treats the
        earlier ones as running trials), so they can be evaluated in parallel.
        """
        with threadpool_limits(1):
            # BLAS/OpenMP pools sized to the machine fight each other and every other
            # process over the cores; single-threaded the sampler ran ~5x faster here.
            return self._ask(n)

    def _ask(self, n: int) -> list[tuple[Trial, Point]]:
        distributions = self.config.space.distributions()
        out = []
        for _ in range(n):
            index = self._design_index()
            source: str = "model" if self.config.sampler in {"gp", "tpe"} else self.config.sampler
            if index < self.config.n_initial and self.config.sampler != "random":
                self.optuna.enqueue_trial(dict(self._design[index]), skip_if_exists=False)
                source = f"design:{self.config.initial_design}"
            trial = self.optuna.ask(distributions)
            trial.set_user_attr("source", source)
            point: Point = {name: trial.params[name] for name in self.config.space.names}
            out.append((trial, point))
        return out

    def tell(
        self,
        trial: Trial,
        outcome: Metrics | BaseException,
        *,
        eval_s: float | None = None,
    ) -> TrialRecord:
        """Stores an evaluation's metrics (or its failure) with the trial."""
        if eval_s is not None:
            trial.set_user_attr("eval_s", eval_s)
        if isinstance(outcome, BaseException):
            trial.set_user_attr("error", f"{type(outcome).__name__}: {outcome}"[:2000])
            self.optuna.tell(trial, state=TrialState.FAIL)
            return self._record(self.optuna.trials[trial.number])
        missing = [
            m
            for m in [o.metric for o in self.config.objectives]
            + [c.metric for c in self.config.constraints]
            if m not in outcome
        ]
        if missing:
            error = EvaluationError(
                f"the target reported no {missing!r}; it reported {sorted(outcome)!r}; "
                "choose objectives and constraints among those metrics"
            )
            return self.tell(trial, error, eval_s=None)
        trial.set_user_attr("metrics", dict(outcome))
        for c in self.config.constraints:
            for k, v in enumerate(c.violations(outcome)):
                trial.set_constraint(f"{c.metric}:{k}", v)
        values = [outcome[o.metric] for o in self.config.objectives]
        self.optuna.tell(trial, values)
        return self._record(self.optuna.trials[trial.number])

    def add_table(self, rows: Sequence[Mapping[str, object]]) -> list[RejectedRow]:
        """Stores past runs (parameters and metrics per row) as completed trials.

        The sampler then learns from them before suggesting anything. Rows that do not
        fit (a value out of bounds, a metric missing or not a number) are not stored;
        they are returned with their position, reason and raw content (the CLI puts
        them in the lake's quarantine).
        """
        distributions = self.config.space.distributions()
        needed = [o.metric for o in self.config.objectives] + [
            c.metric for c in self.config.constraints
        ]
        rejected = []
        for i, row in enumerate(rows):
            try:
                point: Point = {}
                for name in self.config.space.names:
                    raw = row.get(name)
                    point[name] = _coerce(self.config.space, name, raw)
                    self.config.space.check_value(name, point)
                metrics = {}
                for m in needed:
                    value = row.get(m)
                    if value is None or isinstance(value, str | bool):
                        raise ConfigError(f"metric {m!r} = {value!r} is not a number")
                    number = float(value)  # type: ignore[arg-type]  # checked just above
                    if not math.isfinite(number):
                        raise ConfigError(f"metric {m!r} = {value!r} is not finite")
                    metrics[m] = number
            except (ConfigError, TypeError, ValueError) as exc:
                raw = json.dumps({str(k): v for k, v in row.items()}, default=str)
                rejected.append(RejectedRow(i, str(exc), raw))
                continue
            constraints = {
                f"{c.metric}:{k}": v
                for c in self.config.constraints
                for k, v in enumerate(c.violations(metrics))
            }
            self.optuna.add_trial(
                optuna.trial.create_trial(
                    params=dict(point),
                    distributions=distributions,
                    values=[metrics[o.metric] for o in self.config.objectives],
                    user_attrs={"metrics": metrics, "source": "table"},
                    constraints=constraints or None,
                )
            )
        return rejected

    # ------------------------------------------------------------------ run

    def run(
        self,
        target: Target,
        *,
        trials: int | None = None,
        progress: Callable[[TrialRecord], None] | None = None,
    ) -> StudyResult:
        """Evaluates batches until the study holds ``trials`` (default: the config's).

        With ``workers > 1`` a batch is evaluated in parallel: in worker processes
        (fresh interpreters, ``spawn``; a script must guard its entry point with
        ``if __name__ == "__main__"``) when ``executor`` says so, otherwise, and for
        targets that cannot be pickled (a lambda), in threads. Failed evaluations are
        stored as failed trials (with the error) and count towards the budget;
        configuration errors stop the run (the batch's trials are marked interrupted).
        """
        budget = trials if trials is not None else self.config.trials
        workers = self.config.workers or self.config.batch
        pool: cf.Executor | None = None
        if workers > 1:
            pool = (
                cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
                if _wants_processes(self.config.executor, target)
                else cf.ThreadPoolExecutor(workers)
            )
        asked: list[tuple[Trial, Point]] = []
        try:
            while self.counted() < budget:
                n = min(self.config.batch, budget - self.counted())
                asked = self.ask(n)
                if pool is None:
                    outcomes = [_timed(target, point) for _, point in asked]
                else:
                    futures = [pool.submit(_timed, target, point) for _, point in asked]
                    outcomes = [f.result() for f in futures]
                config_error = next((o for o, _ in outcomes if isinstance(o, ConfigError)), None)
                if config_error is not None:
                    raise config_error
                for (trial, _), (outcome, seconds) in zip(asked, outcomes, strict=True):
                    record = self.tell(trial, outcome, eval_s=seconds)
                    if progress is not None:
                        progress(record)
                asked = []
        except BaseException:
            for trial, _ in asked:
                if self.optuna.trials[trial.number].state == TrialState.RUNNING:
                    self._interrupt(trial)
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return self.result()

    # ------------------------------------------------------------------ read

    def records(self) -> list[TrialRecord]:
        """Every trial in order."""
        return [self._record(t) for t in self.optuna.trials]

    def result(self) -> StudyResult:
        """Best feasible trial (one objective) or feasible Pareto front (several)."""
        records = self.records()
        done = [r for r in records if r.state == "COMPLETE"]
        front = pareto_front(done, [o.direction for o in self.config.objectives])
        best = None
        if len(self.config.objectives) == 1 and front:
            best = front[0]
        return StudyResult(
            name=self.config.name,
            n_trials=len(records),
            n_failed=sum(r.state == "FAIL" for r in records),
            best=best,
            pareto=front,
        )

    def _record(self, t: FrozenTrial) -> TrialRecord:
        metrics = dict(t.user_attrs.get("metrics", {}))
        return TrialRecord(
            number=t.number,
            state=t.state.name,
            params=dict(t.params),
            metrics=metrics,
            values=tuple(t.values) if t.values is not None else None,
            feasible=t.state == TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values()),
            source=str(t.user_attrs.get("source", "")),
            error=t.user_attrs.get("error"),
            eval_s=t.user_attrs.get("eval_s"),
        )


def pareto_front(records: Sequence[TrialRecord], directions: Sequence[str]) -> list[TrialRecord]:
    """Feasible, non-dominated trials, sorted by the first objective (best first)."""
    feasible = [r for r in records if r.feasible and r.values is not None]
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    front = []
    for r in feasible:
        a = sign * np.array(r.values)
        dominated = any(
            np.all(sign * np.array(o.values) <= a) and np.any(sign * np.array(o.values) < a)
            for o in feasible
            if o is not r
        )
        if not dominated:
            front.append(r)
    front.sort(key=lambda r: (float(sign[0] * r.values[0]), r.number))  # type: ignore[index]
    return front


def _timed(target: Target, point: Point) -> tuple[Metrics | BaseException, float]:
    """Evaluates in a worker; failures come back as values so the batch survives."""
    start = time.perf_counter()
    try:
        out: Metrics | BaseException = target.evaluate(point)
    except (EvaluationError, ConfigError) as exc:
        out = exc
    except Exception as exc:  # a target's own bug must not lose the rest of the batch
        out = EvaluationError(f"{type(exc).__name__}: {exc}", point=point)
    return out, time.perf_counter() - start


def _wants_processes(executor: str, target: Target) -> bool:
    if executor == "thread":
        return False
    if executor == "auto" and not getattr(target, "prefers_processes", False):
        return False
    return _picklable(target)


def _picklable(target: Target) -> bool:
    try:
        pickle.dumps(target)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _coerce(space: SearchSpace, name: str, raw: object) -> Value:
    from factoryax.optimize.space import CategoricalParam, IntParam

    p = space.param(name)
    if raw is None:
        raise ConfigError(f"parameter {name!r} is empty")
    if isinstance(p, CategoricalParam):
        for c in p.choices:
            if raw == c or str(raw) == str(c):
                return c
        raise ConfigError(f"parameter {name!r}: {raw!r} is not one of {p.choices!r}")
    if isinstance(raw, str | int | float):
        number = float(raw)
    else:
        raise ConfigError(f"parameter {name!r}: {raw!r} is not a number")
    if isinstance(p, IntParam):
        if number != round(number):
            raise ConfigError(f"parameter {name!r}: {raw!r} is not a whole number")
        return round(number)
    return number


def _design_kind(name: str) -> DesignKind:
    if name == "lhs":
        return "lhs"
    if name == "random":
        return "random"
    return "sobol"
