"""ISO 22400-2 KPIs per asset, line or site over shifts, days and weeks.

Time elements (seconds) and quantities are summed first and every KPI is a ratio of sums,
so a line's or a week's figure weights each shift by its time, never averages ratios.
The formulas, with the ISO 22400-2 element names, are in ``docs/analytics.md``; in short:

- POT planned operation time (shifts, breaks included); PBT planned busy time
  = POT − breaks − planned downtime recorded in ``states`` (``excluded``);
- APT operating time = running + stops charged to performance or quality;
- AUST setup, ADOT down, ADET delay (starved, blocked, unexplained), plus time with no
  record at all (``unrecorded``): the availability losses; APT + losses = PBT;
- availability A = APT / PBT; effectiveness P = Σ(ideal cycle × PQ) / APT (capped at 1,
  flagged); quality ratio Q = GQ / PQ; OEE = A × P × Q.

The KPI formulas themselves live on :class:`~factoryax.analytics.iso22400.KpiRow`.

Examples:
    >>> from factoryax.twin import example_plant
    >>> import tempfile, pathlib
    >>> lake = Lake(pathlib.Path(tempfile.mkdtemp()))
    >>> table = compute_kpis(lake, example_plant(), Period.parse("2026-11-23"))
    >>> [r.key["asset"] for r in table.rows][:2], table.rows[0].availability
    (['cnc-01', 'inspect-01'], 0.0)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from factoryax.analytics.calendar import CalendarException, Period, elapsed
from factoryax.analytics.elements import Elements, load_elements
from factoryax.analytics.iso22400 import KpiRow
from factoryax.analytics.notices import Notice, kpi_notices, running_notice
from factoryax.analytics.reasons import Bucket, ReasonTree
from factoryax.core import ConfigError, PlantModel, utc_now
from factoryax.lake import Lake

__all__ = ["GroupKey", "KpiConfig", "KpiRow", "KpiTable", "compute_kpis", "group_rows"]

GroupKey = Literal["site", "line", "asset", "day", "week", "shift", "shift_instance"]
_KEYS: tuple[GroupKey, ...] = ("site", "line", "asset", "day", "week", "shift", "shift_instance")


class KpiConfig(BaseModel):
    """How losses are counted; every field has a stated default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    micro_stop_s: float = Field(0.0, ge=0)
    """Unexplained idle shorter than this is a micro-stop (performance loss); 0 = off."""
    failure_reasons: tuple[str, ...] | None = None
    """Reason codes (with their subtrees) whose down time counts as failures for MTBF,
    MTTF and MTTR; None counts every unplanned down stop."""


@dataclass(frozen=True)
class KpiTable:
    """KPI rows for one period, with what a reader needs to trust them.

    Attributes:
        period: the period computed.
        by: the grouping keys of ``rows``.
        rows: one row per group, sorted by key.
        notices: plain-language caveats (parts outside shifts, capped performance, …).
        base: the finest rows (asset × shift instance) that ``rows`` were summed from.
        elements: the query results behind ``base`` (loss time per reason, counts).
    """

    period: Period
    by: tuple[GroupKey, ...]
    rows: tuple[KpiRow, ...]
    notices: tuple[Notice, ...] = ()
    base: tuple[KpiRow, ...] = field(default=(), repr=False)
    elements: Elements | None = field(default=None, repr=False)

    @property
    def sql(self) -> tuple[str, ...]:
        """The queries behind the numbers (for tracing a figure to its source)."""
        return self.elements.sql if self.elements is not None else ()

    def total(self) -> KpiRow:
        """All rows summed into one (the key is empty)."""
        return sum(self.rows, KpiRow(key={}))

    def regroup(self, by: Sequence[GroupKey]) -> list[KpiRow]:
        """The same figures grouped another way, without querying again."""
        return group_rows(self.base, tuple(by))

    def rows_by_asset(self) -> list[KpiRow]:
        """One row per asset."""
        return self.regroup(("asset",))


def compute_kpis(
    lake: Lake,
    plant: PlantModel,
    period: Period,
    *,
    by: Sequence[GroupKey] = ("asset",),
    assets: Sequence[str] | None = None,
    config: KpiConfig | None = None,
    exceptions: Sequence[CalendarException] = (),
    until: dt.datetime | None = None,
) -> KpiTable:
    """Computes the KPIs of ``period`` from the lake, grouped by ``by``.

    Args:
        lake: the lake holding ``states`` and ``production``.
        plant: the plant model (calendar, reason tree, ideal cycle times).
        period: the production days (and shift) to cover.
        by: grouping keys, e.g. ``("asset", "shift_instance")``; ``()`` gives one row.
        assets: asset ids (default: every asset of the plant).
        config: loss-counting options.
        exceptions: calendar exceptions for the period.
        until: planned time after this instant is not counted (default: now), so a
            period still running (today, this week) gives its KPIs so far, with a notice.

    Raises:
        ConfigError: the plant has no shift calendar, a key or asset is unknown.
        QueryError: the lake could not be queried.
    """
    config = config or KpiConfig()
    unknown = [k for k in by if k not in _KEYS]
    if unknown:
        raise ConfigError(f"unknown KPI grouping {unknown!r}; use some of {list(_KEYS)!r}")
    declared = [a.id for _, a in plant.iter_assets()]
    chosen = list(assets) if assets is not None else declared
    missing = [a for a in chosen if a not in declared]
    if missing:
        raise ConfigError(f"unknown asset(s) {missing!r}; the plant declares {declared!r}")
    tree = ReasonTree.from_plant(plant)
    failure = None
    if config.failure_reasons is not None:
        undeclared = [c for c in config.failure_reasons if c not in tree.reasons]
        if undeclared:
            raise ConfigError(
                f"failure_reasons {undeclared!r} are not declared downtime reasons; "
                f"declared: {sorted(tree.reasons)!r}"
            )
        failure = frozenset().union(*(tree.descendants(c) for c in config.failure_reasons))
    planned = period.instances(plant.calendar, plant.site.timezone, exceptions)
    cut = until if until is not None else utc_now()
    instances = elapsed(planned, cut)
    elements = load_elements(
        lake,
        instances,
        chosen,
        tree,
        micro_stop_s=config.micro_stop_s,
        failure_reasons=failure,
    )
    base = base_rows(elements, plant, chosen, failure)
    rows = group_rows(base, tuple(by))
    notices = _notices(elements, rows, plant, chosen, period, bool(planned))
    if planned and instances != planned:
        notices.append(running_notice(period.label, cut.astimezone(plant.site.timezone)))
    return KpiTable(period, tuple(by), tuple(rows), tuple(notices), tuple(base), elements)


def base_rows(
    elements: Elements,
    plant: PlantModel,
    assets: Sequence[str],
    failure_codes: frozenset[str] | None = None,
) -> list[KpiRow]:
    """One row per asset and shift instance, keyed by every :data:`GroupKey`."""
    rows: dict[tuple[str, int], KpiRow] = {}
    for asset in assets:
        line = plant.line_of(asset).id
        for k, inst in enumerate(elements.instances):
            year, week, _ = inst.day.isocalendar()
            key = {
                "site": plant.site.id,
                "line": line,
                "asset": asset,
                "day": inst.day.isoformat(),
                "week": f"{year}-W{week:02d}",
                "shift": inst.shift,
                "shift_instance": inst.key,
            }
            rows[(asset, k)] = KpiRow(
                key=key, pot_s=inst.pot_s, break_s=inst.pot_s - inst.busy_s, ideal_s=0.0
            )
    acc: dict[tuple[str, int], dict[str, float]] = {k: {} for k in rows}
    t = elements.time.to_pydict()
    for asset, inst_i, bucket, reason, seconds, failures in zip(
        t["asset"],
        t["inst"],
        t["bucket"],
        t["reason_code"],
        t["seconds"],
        t["failures"],
        strict=True,
    ):
        slot = acc.get((asset, inst_i))
        if slot is None:
            continue
        name = f"{bucket}_s"
        slot[name] = slot.get(name, 0.0) + seconds
        slot["failures"] = slot.get("failures", 0) + failures
        if bucket == Bucket.DOWN and (failure_codes is None or reason in failure_codes):
            slot["failure_s"] = slot.get("failure_s", 0.0) + seconds
    p = elements.parts.to_pydict()
    for i, (asset, inst_i) in enumerate(zip(p["asset"], p["inst"], strict=True)):
        slot = acc.get((asset, inst_i)) if inst_i is not None else None
        if slot is None:
            continue
        for col in ("pq", "ok", "rework", "scrap", "ng"):
            slot[col] = p[col][i]
        first = p["pq"][i] - p["flagged_rows"][i] + p["flagged_parts"][i]
        slot["first_pass_parts"] = first
        slot["first_pass_good"] = first - p["flagged_parts"][i]
    out = []
    for (asset, k), row in rows.items():
        slot = acc[(asset, k)]
        busy = elements.instances[k].busy_s
        covered = sum(v for n, v in slot.items() if n.endswith("_s") and n != "failure_s")
        ideal = plant.asset(asset).ideal_cycle_time_s
        excluded = slot.get("excluded_s", 0.0)
        values = {n: (int(v) if n in _INT_FIELDS else v) for n, v in slot.items()}
        out.append(
            replace(
                row,
                **values,  # type: ignore[arg-type]  # names are KpiRow fields by construction
                pbt_s=max(busy - excluded, 0.0),
                unrecorded_s=max(busy - covered, 0.0),
                ideal_s=None if ideal is None else ideal * int(slot.get("pq", 0)),
            )
        )
    return out


_INT_FIELDS = frozenset(
    {"failures", "pq", "ok", "rework", "scrap", "ng", "first_pass_parts", "first_pass_good"}
)


def group_rows(rows: Iterable[KpiRow], by: tuple[GroupKey, ...]) -> list[KpiRow]:
    """Sums rows that share the values of ``by``; keys keep only those names."""
    groups: dict[tuple[str, ...], KpiRow] = {}
    for row in rows:
        values = tuple(row.key[k] for k in by)
        keyed = replace(row, key=dict(zip(by, values, strict=True)))
        groups[values] = groups[values] + keyed if values in groups else keyed
    return [groups[k] for k in sorted(groups)]


def _notices(
    elements: Elements,
    rows: Sequence[KpiRow],
    plant: PlantModel,
    assets: Sequence[str],
    period: Period,
    planned: bool,
) -> list[Notice]:
    p = elements.parts.to_pydict()
    return kpi_notices(
        period_label=period.label,
        planned=planned,
        off_shift={
            a: n for a, i, n in zip(p["asset"], p["inst"], p["pq"], strict=True) if i is None
        },
        capped=sorted({", ".join(r.key.values()) for r in rows if r.performance_capped}),
        no_ideal=[a for a in assets if plant.asset(a).ideal_cycle_time_s is None],
        unrecorded_s=sum(r.unrecorded_s for r in rows),
    )
