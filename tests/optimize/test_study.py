"""Studies: known optima found, constraints, Pareto fronts, batches, storage and resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from factoryax.core import ConfigError
from factoryax.optimize import (
    BRANIN,
    HARTMANN6,
    CallableTarget,
    ConstraintSpec,
    ObjectiveSpec,
    Point,
    Study,
    StudyConfig,
    TrialRecord,
    branin,
    library_versions,
    pareto_front,
)

VALUE = (ObjectiveSpec(metric="value"),)


def _branin_config(**kw: object) -> StudyConfig:
    base: dict[str, object] = {
        "name": "branin",
        "seed": 11,
        "trials": 30,
        "space": BRANIN.space,
        "objectives": VALUE,
    }
    return StudyConfig.model_validate({**base, **kw})


def test_branin_optimum_is_found_within_25_evaluations() -> None:
    """GP-based BO gets within 0.02 of Branin's known minimum 0.397887 in 25 evaluations."""
    result = Study(_branin_config(trials=25)).run(CallableTarget(BRANIN.fn))
    assert result.best is not None and result.best.values is not None
    assert result.best.values[0] - BRANIN.optimum < 0.02
    assert result.n_trials == 25


def test_hartmann6_optimum_is_approached_within_40_evaluations() -> None:
    """In 6-D, 40 evaluations reach below -3.0 (known minimum -3.32237)."""
    config = StudyConfig(name="h6", seed=4, trials=40, space=HARTMANN6.space, objectives=VALUE)
    result = Study(config).run(CallableTarget(HARTMANN6.fn))
    assert result.best is not None and result.best.values is not None
    assert HARTMANN6.optimum <= result.best.values[0] < -3.0


def test_constraint_steers_to_the_feasible_optimum() -> None:
    """With x1 <= 0 only the minimum at (-pi, 12.275) remains; the best trial is feasible."""
    config = _branin_config(
        name="constrained", trials=25, constraints=(ConstraintSpec(metric="x1", max=0.0),)
    )
    result = Study(config).run(CallableTarget(lambda p: {"value": branin(p), "x1": p["x1"]}))
    best = result.best
    assert best is not None and best.feasible and best.values is not None
    assert float(best.params["x1"]) <= 0.0
    assert best.values[0] < 0.45
    assert abs(float(best.params["x1"]) + math.pi) < 0.3


def test_pareto_front_is_non_dominated_and_dominates_the_rest() -> None:
    """Two objectives: front members do not dominate each other; every other trial is dominated."""
    config = StudyConfig(
        name="mo",
        seed=2,
        trials=14,
        batch=2,
        space=BRANIN.space,
        objectives=(ObjectiveSpec(metric="f"), ObjectiveSpec(metric="g", direction="maximize")),
    )
    study = Study(config)
    result = study.run(CallableTarget(lambda p: {"f": branin(p), "g": p["x2"]}))
    front = result.pareto
    assert len(front) >= 2 and result.best is None

    def dominates(a: TrialRecord, b: TrialRecord) -> bool:
        assert a.values is not None and b.values is not None
        fa, ga = a.values
        fb, gb = b.values
        return fa <= fb and ga >= gb and (fa < fb or ga > gb)

    numbers = {r.number for r in front}
    for a in front:
        assert not any(dominates(b, a) for b in front)
    rest = [r for r in study.records() if r.number not in numbers]
    assert rest and all(any(dominates(a, r) for a in front) for r in rest)


def test_pareto_front_helper_on_known_points() -> None:
    """(1,5) (2,2) (5,1) are the front of those plus (3,3) and (6,6) when both are minimised."""
    pts = [(1, 5), (2, 2), (3, 3), (5, 1), (6, 6)]
    recs = [
        TrialRecord(i, "COMPLETE", {}, {}, (float(a), float(b)), True, "test")
        for i, (a, b) in enumerate(pts)
    ]
    infeasible = TrialRecord(9, "COMPLETE", {}, {}, (0.0, 0.0), False, "test")
    front = pareto_front([*recs, infeasible], ["minimize", "minimize"])
    assert [r.values for r in front] == [(1.0, 5.0), (2.0, 2.0), (5.0, 1.0)]


def test_same_seed_gives_the_same_trials_and_another_seed_does_not() -> None:
    """Reproducible studies: identical configs propose identical points."""

    def params(seed: int) -> list[Point]:
        config = _branin_config(name="rep", seed=seed, trials=9, batch=3, initial=6)
        study = Study(config)
        study.run(CallableTarget(BRANIN.fn))
        return [r.params for r in study.records()]

    first = params(5)
    assert first == params(5)
    assert first != params(6)


def test_batches_are_distinct_points_and_evaluated_in_parallel() -> None:
    """A batch of 4 from the model has 4 different points (q-batch, not 4 copies)."""
    config = _branin_config(name="batch", trials=16, batch=4, initial=8, executor="thread")
    study = Study(config)
    study.run(CallableTarget(BRANIN.fn))
    records = study.records()
    for start in (8, 12):
        batch = {tuple(sorted(r.params.items())) for r in records[start : start + 4]}
        assert len(batch) == 4
    assert [r.source for r in records[:8]] == ["design:sobol"] * 8
    assert {r.source for r in records[8:]} == {"model"}


def test_study_is_stored_and_resumed_with_versions(tmp_path: Path) -> None:
    """Stop after 8, reopen, continue to 14: the first 8 are unchanged, versions are stored."""
    db = tmp_path / "studies.db"
    short = _branin_config(name="resume", trials=8, initial=6)
    first = Study(short, db)
    first.run(CallableTarget(BRANIN.fn))
    before = first.records()
    again = Study.load(db, "resume")
    assert again.attrs["versions"] == library_versions()
    assert again.attrs["seed"] == 11
    again.run(CallableTarget(BRANIN.fn), trials=14)
    after = Study(short, db).records()
    assert len(after) == 14
    assert [r.params for r in after[:8]] == [r.params for r in before]
    assert Study.names(db) == ["resume"]


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    """Same name, different seed: a clear error instead of a silently mixed study."""
    db = tmp_path / "studies.db"
    Study(_branin_config(name="s", trials=2), db).run(CallableTarget(BRANIN.fn))
    with pytest.raises(ConfigError, match="different settings"):
        Study(_branin_config(name="s", seed=99), db)


def test_interrupted_trials_are_failed_and_do_not_use_the_budget(tmp_path: Path) -> None:
    """Trials asked but never told (a crash) are failed on reopening and asked again."""
    db = tmp_path / "studies.db"
    config = _branin_config(name="crash", trials=6, initial=4)
    study = Study(config, db)
    asked = study.ask(3)  # the process 'dies' before telling
    reopened = Study(config, db)
    states = [r.state for r in reopened.records()]
    assert states == ["FAIL"] * 3
    assert reopened.counted() == 0
    reopened.run(CallableTarget(BRANIN.fn))
    records = reopened.records()
    assert sum(r.state == "COMPLETE" for r in records) == 6
    redo = [r.params for r in records if r.state == "COMPLETE"][:3]
    assert redo == [p for _, p in asked]


def test_failing_evaluations_are_recorded_and_the_study_goes_on() -> None:
    """A target that raises, or lacks a metric, fails that trial with the reason; others run."""

    def flaky(p: Point) -> dict[str, float]:
        if float(p["x1"]) > 5:
            raise RuntimeError("solver diverged")
        if float(p["x2"]) > 13:
            return {"other": 1.0}
        return {"value": branin(p)}

    study = Study(_branin_config(name="flaky", trials=12, initial=8))
    result = study.run(CallableTarget(flaky))
    failed = [r for r in study.records() if r.state == "FAIL"]
    assert result.n_trials == 12 and failed and result.n_failed == len(failed)
    reasons = {r.error or "" for r in failed}
    assert any("solver diverged" in e for e in reasons)
    assert all("solver diverged" in e or "reported no ['value']" in e for e in reasons)


def test_past_runs_seed_the_study_and_bad_rows_are_rejected_with_reasons() -> None:
    """Rows of a table become completed trials; out-of-bounds or non-numeric rows do not."""
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    for x1, x2 in zip(rng.uniform(-5, 10, 10), rng.uniform(0, 15, 10), strict=True):
        rows.append({"x1": x1, "x2": x2, "value": branin({"x1": x1, "x2": x2})})
    rows.append({"x1": 50.0, "x2": 1.0, "value": 3.0})
    rows.append({"x1": 1.0, "x2": 1.0, "value": "n/a"})
    study = Study(_branin_config(name="table", trials=16))
    rejected = study.add_table(rows)
    assert len(rejected) == 2
    assert str(rejected[0]).startswith("row 10:") and "outside" in rejected[0].reason
    assert str(rejected[1]).startswith("row 11:") and "not a number" in rejected[1].reason
    assert json.loads(rejected[1].raw) == {"x1": 1.0, "x2": 1.0, "value": "n/a"}
    assert study.counted() == 10
    study.run(CallableTarget(BRANIN.fn))
    records = study.records()
    assert [r.source for r in records[:10]] == ["table"] * 10
    assert len(records) == 16
