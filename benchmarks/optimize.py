"""Bayesian optimisation against random search and Optuna's default sampler (TPE).

For the same evaluation budget, the best value found (median over seeds) on Branin,
Hartmann-6 and one twin study, side by side. Target (issue 11): reach random search's
200-evaluation result in <= 50 evaluations, and match or beat the default sampler.

Methods, per seed:

- ``random``: Optuna's RandomSampler; its 50- and 200-evaluation results come from one
  200-evaluation run (the first 50 are a 50-evaluation random search);
- ``tpe``: ``optuna.create_study(sampler=TPESampler(seed=seed))`` — Optuna's default
  sampler with its defaults;
- ``bo``: ``factoryax.optimize.Study`` with ``sampler = "gp"`` (Sobol initial design, then
  Optuna's GPSampler), one point at a time;
- ``bo-q4``: the same asked in batches of 4 (what runs 4 simulations in parallel), with
  the batch evaluated one after another here so the CPU is not taken from others.

The twin study maximises ``profit_per_h`` of the example line over three buffer sizes and
the CNC tool-change interval (8 simulated hours from a Monday 08:00, twin seed fixed, so
each point has one deterministic value). Values are printed as "lower is better"
(the twin's profit is negated).

Usage::

    nice .venv/bin/python benchmarks/optimize.py [--seeds 5] [--twin-seeds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from threadpoolctl import threadpool_limits

from factoryax.optimize import (
    BRANIN,
    HARTMANN6,
    CallableTarget,
    IntParam,
    Metrics,
    ObjectiveSpec,
    Point,
    SearchSpace,
    Study,
    StudyConfig,
    Target,
    TwinEconomics,
    TwinTarget,
)
from factoryax.twin import example_plant


@dataclass(frozen=True)
class Problem:
    """A minimisation problem: a space, a target and the metric (negated if maximised)."""

    name: str
    space: SearchSpace
    target: Target
    metric: str
    sign: float  # +1 minimise, -1 maximise: value reported = sign * metric
    optimum: float | None


def _twin_problem() -> Problem:
    space = SearchSpace(
        parameters=(
            IntParam(name="cnc_buffer", low=1, high=60, unit="parts"),
            IntParam(name="wash_buffer", low=1, high=60, unit="parts"),
            IntParam(name="inspect_buffer", low=1, high=60, unit="parts"),
            IntParam(name="tool_life", low=300, high=1500, step=50, unit="parts"),
        )
    )
    target = TwinTarget(
        example_plant(),
        {
            "cnc_buffer": "stations.cnc-01.buffer",
            "wash_buffer": "stations.wash-01.buffer",
            "inspect_buffer": "stations.inspect-01.buffer",
            "tool_life": "stations.cnc-01.tool_life_parts",
        },
        start=dt.datetime(2026, 11, 23, 8),  # noqa: DTZ001  # plant-local, read by the twin
        horizon_h=8,
        seed=1,
        economics=TwinEconomics(buffer_slot_cost_per_h=0.2, rework_cost=1.0),
    )
    return Problem("twin profit/h", space, target, "profit_per_h", -1.0, None)


class _Counted:
    """Records every value a method sees, in order, so best-so-far curves can be read."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.values: list[float] = []

    def evaluate(self, point: Point) -> Metrics:
        metrics = self.problem.target.evaluate(point)
        value = self.problem.sign * metrics[self.problem.metric]
        self.values.append(value)
        return {"value": value}


def _optuna_run(problem: Problem, sampler: optuna.samplers.BaseSampler, n: int) -> list[float]:
    counted = _Counted(problem)
    dists = problem.space.distributions()
    study = optuna.create_study(sampler=sampler)
    for _ in range(n):
        trial = study.ask(dists)
        study.tell(trial, counted.evaluate(dict(trial.params))["value"])
    return counted.values


def _bo_run(problem: Problem, seed: int, n: int, batch: int) -> list[float]:
    counted = _Counted(problem)
    config = StudyConfig(
        name="bench",
        seed=seed,
        trials=n,
        batch=batch,
        workers=1,
        space=problem.space,
        objectives=(ObjectiveSpec(metric="value"),),
    )
    Study(config).run(counted)
    return counted.values


def _best(values: list[float], n: int) -> float:
    return min(values[:n])


def _evals_to_reach(values: list[float], level: float) -> int | None:
    best = float("inf")
    for i, v in enumerate(values, start=1):
        best = min(best, v)
        if best <= level:
            return i
    return None


def run_problem(problem: Problem, seeds: int, budget: int, big: int) -> dict[str, list[float]]:
    """Runs every method for every seed; prints progress; returns per-seed best values."""
    methods: dict[str, Callable[[int], list[float]]] = {
        "random": lambda s: _optuna_run(problem, optuna.samplers.RandomSampler(seed=s), big),
        "tpe": lambda s: _optuna_run(problem, optuna.samplers.TPESampler(seed=s), budget),
        "bo": lambda s: _bo_run(problem, s, budget, 1),
        "bo-q4": lambda s: _bo_run(problem, s, budget, 4),
    }
    curves: dict[str, list[list[float]]] = {m: [] for m in methods}
    for seed in range(seeds):
        for name, fn in methods.items():
            start = time.perf_counter()
            curves[name].append(fn(seed))
            took = time.perf_counter() - start
            print(f"  {problem.name} seed {seed} {name:<6} {took:6.1f} s", flush=True)
    out = {
        f"random@{budget}": [_best(c, budget) for c in curves["random"]],
        f"random@{big}": [_best(c, big) for c in curves["random"]],
        f"tpe@{budget}": [_best(c, budget) for c in curves["tpe"]],
        f"bo@{budget}": [_best(c, budget) for c in curves["bo"]],
        f"bo-q4@{budget}": [_best(c, budget) for c in curves["bo-q4"]],
    }
    level = statistics.median(out[f"random@{big}"])
    reach = [_evals_to_reach(c, level) for c in curves["bo"]]
    out["reach"] = [float(r) if r is not None else float("nan") for r in reach]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds for Branin and Hartmann-6")
    parser.add_argument("--twin-seeds", type=int, default=3, help="seeds for the twin study")
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--random-budget", type=int, default=200)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)

    problems = [
        (
            Problem(
                "branin", BRANIN.space, CallableTarget(BRANIN.fn), "value", 1.0, BRANIN.optimum
            ),
            args.seeds,
        ),
        (
            Problem(
                "hartmann6",
                HARTMANN6.space,
                CallableTarget(HARTMANN6.fn),
                "value",
                1.0,
                HARTMANN6.optimum,
            ),
            args.seeds,
        ),
        (_twin_problem(), args.twin_seeds),
    ]
    results = {}
    start = time.perf_counter()
    with threadpool_limits(1):  # fair to every method, and kind to the shared machine
        for problem, seeds in problems:
            results[problem.name] = (
                run_problem(problem, seeds, args.budget, args.random_budget),
                seeds,
                problem.optimum,
            )
    total = time.perf_counter() - start

    big = f"random@{args.random_budget}"
    n = args.budget
    cols = [f"random@{n}", big, f"tpe@{n}", f"bo@{n}", f"bo-q4@{n}"]
    print()
    print(f"best value found, median over seeds (lower is better; budget {args.budget})")
    print(
        f"{'problem':<15} {'seeds':>5} {'optimum':>9} "
        + " ".join(f"{c:>11}" for c in cols)
        + f" {'bo evals to ' + big:>24}"
    )
    verdicts = []
    for name, (res, seeds, optimum) in results.items():
        med = {c: statistics.median(res[c]) for c in cols}
        reach = sorted(res["reach"])
        reached = [r for r in reach if r == r]  # drop NaN (never reached)
        reach_txt = (
            f"{statistics.median(reach):.0f} ({len(reached)}/{len(reach)} seeds)"
            if len(reached) * 2 > len(reach)
            else f">{args.budget} ({len(reached)}/{len(reach)} seeds)"
        )
        opt = f"{optimum:9.4f}" if optimum is not None else f"{'?':>9}"
        print(
            f"{name:<15} {seeds:>5} {opt} "
            + " ".join(f"{med[c]:11.4f}" for c in cols)
            + f" {reach_txt:>24}"
        )
        bo, tpe = med[f"bo@{n}"], med[f"tpe@{n}"]
        verdicts.append(
            f"{name}: bo@{n} {'<=' if bo <= med[big] else '>'} {big} (bo's gap to the optimum "
            f"/ random's: {_gap_ratio(bo, med[big], optimum)}); bo@{n} "
            f"{'<=' if bo <= tpe else '>'} tpe@{n} (gap ratio {_gap_ratio(bo, tpe, optimum)})"
        )
    print()
    for v in verdicts:
        print(v)
    print(f"total wall time {total:.0f} s")


def _gap_ratio(bo: float, ref: float, optimum: float | None) -> str:
    if optimum is None:
        return "n/a"
    gap_ref = ref - optimum
    return f"{(bo - optimum) / gap_ref:.3f}" if gap_ref > 0 else "n/a"


if __name__ == "__main__":
    main()
