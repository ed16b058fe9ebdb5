"""The ISO 22400-2 KPI formulas over one group's summed time elements and quantities.

A :class:`KpiRow` holds sums (seconds, counts); every KPI is a property computed from them,
so adding rows (:meth:`KpiRow.__add__`) and then reading a KPI weights each part by its
time, as ISO 22400-2 aggregates. Ratios that must lie in [0, 1] are clipped there (any
clipping of effectiveness is flagged by :attr:`KpiRow.performance_capped`).

Examples:
    >>> row = KpiRow(key={"asset": "a"}, pot_s=3600, pbt_s=3600, run_s=3000,
    ...              down_s=600, pq=225, ok=220, ideal_s=2700.0)
    >>> round(row.availability, 4), round(row.effectiveness, 4), round(row.oee, 4)
    (0.8333, 0.9, 0.7333)
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["KpiRow"]


@dataclass(frozen=True)
class KpiRow:
    """The summed time elements and quantities of one group, with its KPIs as properties.

    Times are seconds. ``ideal_s`` is Σ ideal cycle time × PQ over the group's assets
    (None when an asset declares no ``ideal_cycle_time_s``).
    """

    key: dict[str, str]
    pot_s: float = 0.0
    pbt_s: float = 0.0
    run_s: float = 0.0
    minor_s: float = 0.0
    micro_s: float = 0.0
    quality_s: float = 0.0
    setup_s: float = 0.0
    down_s: float = 0.0
    delay_s: float = 0.0
    unrecorded_s: float = 0.0
    excluded_s: float = 0.0
    break_s: float = 0.0
    failure_s: float = 0.0
    failures: int = 0
    pq: int = 0
    ok: int = 0
    rework: int = 0
    scrap: int = 0
    ng: int = 0
    first_pass_parts: int = 0
    first_pass_good: int = 0
    ideal_s: float | None = 0.0

    def __add__(self, other: KpiRow) -> KpiRow:
        """Element-wise sum (keys of ``self`` kept); ideal time is None if either is."""
        sums: dict[str, object] = {}
        for f in fields(self):
            if f.name == "key":
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            sums[f.name] = None if a is None or b is None else a + b
        return replace(self, **sums)  # type: ignore[arg-type]  # names come from fields()

    @property
    def apt_s(self) -> float:
        """Operating time (APT): running plus stops charged to performance or quality."""
        return self.run_s + self.minor_s + self.micro_s + self.quality_s

    @property
    def availability(self) -> float | None:
        """Availability A = APT / PBT, within [0, 1]; None without planned busy time."""
        return _clip(self.apt_s / self.pbt_s) if self.pbt_s > 0 else None

    @property
    def effectiveness(self) -> float | None:
        """Effectiveness (performance) P = Σ ideal cycle × PQ / APT, capped at 1."""
        if self.ideal_s is None or self.apt_s <= 0:
            return None
        return _clip(self.ideal_s / self.apt_s)

    @property
    def performance_capped(self) -> bool:
        """True when Σ ideal × PQ exceeded APT (ideal cycle too slow, or miscounted parts)."""
        return self.ideal_s is not None and self.apt_s > 0 and self.ideal_s > self.apt_s * 1.0001

    @property
    def quality_ratio(self) -> float | None:
        """Quality ratio Q = GQ / PQ (good rows over produced rows)."""
        return self.ok / self.pq if self.pq else None

    @property
    def oee(self) -> float | None:
        """OEE index = A × P × Q."""
        return _product(self.availability, self.effectiveness, self.quality_ratio)

    @property
    def aubt_s(self) -> float:
        """Actual unit busy time AUBT = APT + AUST + ADOT (delays and gaps excluded)."""
        return self.apt_s + self.setup_s + self.down_s

    @property
    def utilization_efficiency(self) -> float | None:
        """Utilisation efficiency UE = APT / AUBT."""
        return _clip(self.apt_s / self.aubt_s) if self.aubt_s > 0 else None

    @property
    def nee(self) -> float | None:
        """NEE index = UE × P × Q (losses while not busy are left out)."""
        return _product(self.utilization_efficiency, self.effectiveness, self.quality_ratio)

    @property
    def fpy(self) -> float | None:
        """First pass yield = parts good at their first pass / parts first processed."""
        return self.first_pass_good / self.first_pass_parts if self.first_pass_parts else None

    @property
    def scrap_ratio(self) -> float | None:
        """Scrap ratio = (scrap + ng) / PQ."""
        return (self.scrap + self.ng) / self.pq if self.pq else None

    @property
    def rework_ratio(self) -> float | None:
        """Rework ratio = rework / PQ."""
        return self.rework / self.pq if self.pq else None

    @property
    def defect_rate(self) -> float | None:
        """Defect rate (불량률) = (PQ − GQ) / PQ."""
        return (self.pq - self.ok) / self.pq if self.pq else None

    @property
    def throughput_per_h(self) -> float | None:
        """Throughput rate = PQ per hour of planned busy time."""
        return self.pq / (self.pbt_s / 3600) if self.pbt_s > 0 else None

    @property
    def productivity_per_h(self) -> float | None:
        """Productivity (생산성) = good quantity per hour of planned busy time."""
        return self.ok / (self.pbt_s / 3600) if self.pbt_s > 0 else None

    @property
    def setup_ratio(self) -> float | None:
        """Setup ratio = AUST / PBT."""
        return _clip(self.setup_s / self.pbt_s) if self.pbt_s > 0 else None

    @property
    def equipment_load_ratio(self) -> float | None:
        """Equipment load ratio = PBT / POT (loading time over planned operation time)."""
        return _clip(self.pbt_s / self.pot_s) if self.pot_s > 0 else None

    @property
    def mttr_s(self) -> float | None:
        """Mean time to restoration = failure down time / failures."""
        return self.failure_s / self.failures if self.failures else None

    @property
    def mttf_s(self) -> float | None:
        """Mean operating time to failure = APT / failures."""
        return self.apt_s / self.failures if self.failures else None

    @property
    def mtbf_s(self) -> float | None:
        """Mean time between failures = (APT + failure down time) / failures = MTTF + MTTR."""
        return (self.apt_s + self.failure_s) / self.failures if self.failures else None


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _product(*values: float | None) -> float | None:
    out = 1.0
    for v in values:
        if v is None:
            return None
        out *= v
    return out
