"""Downtime reason trees and how a recorded state is charged to a loss (ISO 22400-2).

Every row of the ``states`` table is put in one :class:`Bucket` by its state and by the
declared reason's ``category`` (planned/unplanned) and ``loss``
(availability/performance/quality/none). The rules, in order:

1. ``running`` is production (``run``), whatever the reason says.
2. A reason with ``loss = "none"`` takes the time out of planned busy time (``excluded``):
   planned downtime such as preventive maintenance, or a stop not charged to the asset.
3. ``loss = "performance"`` (minor stops) and ``loss = "quality"`` stops count as
   operating time; their loss shows in effectiveness or quality, not availability.
4. A *planned* reason charged to availability (a changeover) is setup time (AUST).
5. An *unplanned* availability reason is down time (ADOT) when the asset was down or in a
   planned stop, setup when it was in setup, and delay (ADET: starved, blocked) when idle.
6. Without a declared reason the state decides: ``planned_stop`` → ``excluded``,
   ``setup`` → setup, ``down`` → down, ``idle`` → delay, except unexplained idle shorter
   than ``micro_stop_s``, which is a micro-stop (a performance loss).

When recorded intervals overlap, the bucket with the higher :data:`PRIORITY` owns the
overlap (a planned stop beats a breakdown beats setup beats delay beats minor stops beats
running), so no second is counted twice and availability stays within [0, 1].

Examples:
    >>> from factoryax.twin import example_plant
    >>> tree = ReasonTree.from_plant(example_plant())
    >>> tree.path("TOOL"), tree.name("TOOL", "ko")
    (('BREAKDOWN', 'TOOL'), '공구 교체/파손')
    >>> classify(tree, "idle", "STARVED", 30.0), classify(tree, "idle", None, 30.0, 60.0)
    (<Bucket.DELAY: 'delay'>, <Bucket.MICRO: 'micro'>)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from factoryax.core import DowntimeReason, LossKind, PlantModel

__all__ = ["OPERATING", "PRIORITY", "Bucket", "Lang", "ReasonTree", "classify", "classify_sql"]

Lang = Literal["ko", "en"]


class Bucket(StrEnum):
    """Where a second of recorded state time goes in the ISO 22400-2 time model."""

    RUN = "run"
    MINOR = "minor"
    MICRO = "micro"
    QUALITY = "quality"
    DELAY = "delay"
    SETUP = "setup"
    DOWN = "down"
    EXCLUDED = "excluded"
    UNRECORDED = "unrecorded"
    """Planned busy time with no state row at all: charged to availability."""


PRIORITY: Mapping[Bucket, int] = {
    Bucket.EXCLUDED: 7,
    Bucket.DOWN: 6,
    Bucket.SETUP: 5,
    Bucket.DELAY: 4,
    Bucket.QUALITY: 3,
    Bucket.MINOR: 2,
    Bucket.MICRO: 2,
    Bucket.RUN: 1,
}
"""Which bucket owns time where recorded intervals overlap (higher wins)."""

OPERATING = frozenset({Bucket.RUN, Bucket.MINOR, Bucket.MICRO, Bucket.QUALITY})
"""Buckets counted as operating time (APT): losses there are not availability losses."""


@dataclass(frozen=True)
class ReasonTree:
    """The plant's downtime reasons as a tree (``parent`` links), with display names."""

    reasons: Mapping[str, DowntimeReason]

    @classmethod
    def from_plant(cls, plant: PlantModel) -> ReasonTree:
        """The tree declared under ``[[downtime_reasons]]``."""
        return cls({r.code: r for r in plant.downtime_reasons})

    def get(self, code: str | None) -> DowntimeReason | None:
        """The declared reason, or None for no code or an undeclared one."""
        return self.reasons.get(code) if code is not None else None

    def path(self, code: str) -> tuple[str, ...]:
        """Codes from the root down to ``code`` (just ``code`` when undeclared)."""
        out = [code]
        seen = {code}
        parent = self.reasons[code].parent if code in self.reasons else None
        while parent is not None and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.reasons[parent].parent if parent in self.reasons else None
        return tuple(reversed(out))

    def descendants(self, code: str) -> frozenset[str]:
        """``code`` and every code below it."""
        return frozenset(c for c in self.reasons if code in self.path(c)) | {code}

    def name(self, code: str | None, lang: Lang = "en") -> str:
        """A reason's display name in ``lang`` (the code itself when undeclared)."""
        if code is None:
            return "사유 없음" if lang == "ko" else "no reason"
        reason = self.reasons.get(code)
        if reason is None:
            return code
        return (reason.name_ko or reason.name) if lang == "ko" else reason.name

    def rollup(self, values: Mapping[str, float], depth: int = 1) -> dict[str, float]:
        """Sums values per ancestor ``depth`` levels down (1 = per root reason).

        Examples:
            >>> from factoryax.twin import example_plant
            >>> ReasonTree.from_plant(example_plant()).rollup({"TOOL": 5.0, "BREAKDOWN": 2.0})
            {'BREAKDOWN': 7.0}
        """
        out: dict[str, float] = {}
        for code, value in values.items():
            path = self.path(code)
            key = path[min(depth, len(path)) - 1]
            out[key] = out.get(key, 0.0) + value
        return out

    def codes(self, *, loss: LossKind, category: str | None = None) -> list[str]:
        """Declared codes with this loss (and category, when given), sorted."""
        return sorted(
            r.code
            for r in self.reasons.values()
            if r.loss == loss and (category is None or r.category == category)
        )


def classify(
    tree: ReasonTree,
    state: str,
    reason: str | None,
    duration_s: float,
    micro_stop_s: float = 0.0,
) -> Bucket:
    """The bucket of one recorded interval (the rules in the module docstring).

    This is the reference the SQL of :func:`classify_sql` must agree with.
    """
    if state == "running":
        return Bucket.RUN
    declared = tree.get(reason)
    if declared is not None:
        if declared.loss == LossKind.NONE:
            return Bucket.EXCLUDED
        if declared.loss == LossKind.PERFORMANCE:
            return Bucket.MINOR
        if declared.loss == LossKind.QUALITY:
            return Bucket.QUALITY
        if declared.category == "planned" or state == "setup":
            return Bucket.SETUP
        return Bucket.DELAY if state == "idle" else Bucket.DOWN
    if state == "planned_stop":
        return Bucket.EXCLUDED
    if state == "setup":
        return Bucket.SETUP
    if state == "down":
        return Bucket.DOWN
    if reason is None and duration_s < micro_stop_s:
        return Bucket.MICRO
    return Bucket.DELAY


def classify_sql(tree: ReasonTree, micro_stop_s: float, duration_sql: str) -> str:
    """A SQL ``CASE`` over ``state`` and ``reason_code`` that mirrors :func:`classify`.

    Args:
        tree: the reason tree; its codes are written into the SQL as literals.
        micro_stop_s: unexplained idle shorter than this is a micro-stop.
        duration_sql: SQL for the interval's recorded length in seconds.
    """

    def among(codes: list[str]) -> str:
        if not codes:
            return "FALSE"
        quoted = ", ".join("'" + c.replace("'", "''") + "'" for c in codes)
        return f"reason_code IN ({quoted})"

    none = among(tree.codes(loss=LossKind.NONE))
    perf = among(tree.codes(loss=LossKind.PERFORMANCE))
    qual = among(tree.codes(loss=LossKind.QUALITY))
    planned = among(tree.codes(loss=LossKind.AVAILABILITY, category="planned"))
    unplanned = among(tree.codes(loss=LossKind.AVAILABILITY, category="unplanned"))
    micro = float(micro_stop_s)
    return f"""CASE
        WHEN state = 'running' THEN 'run'
        WHEN {none} THEN 'excluded'
        WHEN {perf} THEN 'minor'
        WHEN {qual} THEN 'quality'
        WHEN {planned} THEN 'setup'
        WHEN {unplanned} THEN CASE state WHEN 'setup' THEN 'setup'
                                         WHEN 'idle' THEN 'delay' ELSE 'down' END
        WHEN state = 'planned_stop' THEN 'excluded'
        WHEN state = 'setup' THEN 'setup'
        WHEN state = 'down' THEN 'down'
        WHEN reason_code IS NULL AND {duration_sql} < {micro!r} THEN 'micro'
        ELSE 'delay' END"""
