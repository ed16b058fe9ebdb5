"""Downtime: losses by reason, rolled up the reason tree, as a Pareto; micro-stops.

Built from the same elements as the KPIs (one query serves both), so the Pareto adds up
to exactly the time the availability and effectiveness figures lose. Time without any
state record is its own bar (``unrecorded``): a loss nobody explained is still a loss.

Examples:
    >>> from factoryax.twin import example_plant
    >>> tree = ReasonTree.from_plant(example_plant())
    >>> bars = pareto([LossItem("TOOL", Bucket.DOWN, 60.0, 1),
    ...                LossItem("BREAKDOWN", Bucket.DOWN, 30.0, 1),
    ...                LossItem("MINOR", Bucket.MINOR, 30.0, 4)], tree, depth=1)
    >>> [(b.code, b.seconds, round(b.cumulative, 2)) for b in bars]
    [('BREAKDOWN', 90.0, 0.75), ('MINOR', 30.0, 1.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from factoryax.analytics.kpi import KpiTable
from factoryax.analytics.reasons import Bucket, Lang, ReasonTree

__all__ = ["LossItem", "MicroStops", "ParetoBar", "loss_items", "micro_stops", "pareto"]

LOSS_BUCKETS = (
    Bucket.DOWN,
    Bucket.SETUP,
    Bucket.DELAY,
    Bucket.UNRECORDED,
    Bucket.MINOR,
    Bucket.MICRO,
    Bucket.QUALITY,
)
"""Buckets that are losses (running and planned downtime are not)."""

_BUCKET_NAMES: dict[Bucket, tuple[str, str]] = {
    Bucket.DOWN: ("down, no reason", "정지(사유 없음)"),
    Bucket.SETUP: ("setup, no reason", "셋업(사유 없음)"),
    Bucket.DELAY: ("idle, no reason", "대기(사유 없음)"),
    Bucket.UNRECORDED: ("no record", "기록 없음"),
    Bucket.MINOR: ("minor stop", "순간 정지"),
    Bucket.MICRO: ("micro-stop (unexplained)", "미세 정지(사유 없음)"),
    Bucket.QUALITY: ("quality stop", "품질 정지"),
}


@dataclass(frozen=True)
class LossItem:
    """Loss time of one reason (or, without a reason, one bucket).

    Attributes:
        code: the reason code; None when the rows carried no reason.
        bucket: the loss bucket the time was charged to.
        seconds: lost seconds inside planned busy time.
        stops: recorded stop rows (pieces) behind the time.
        asset: the asset, when the items are per asset.
    """

    code: str | None
    bucket: Bucket
    seconds: float
    stops: int
    asset: str | None = None


@dataclass(frozen=True)
class ParetoBar:
    """One bar of a loss Pareto: a reason (or bucket) with its share and running share.

    ``loss`` is the OEE factor the time was charged to (``availability``,
    ``performance`` or ``quality``), from the leaf reasons; ``mixed`` when a rolled-up
    reason gathers leaves charged to different factors.
    """

    code: str
    label: str
    loss: str
    seconds: float
    stops: int
    share: float
    cumulative: float


@dataclass(frozen=True)
class MicroStops:
    """Short stops: coded minor stops plus unexplained micro-stops."""

    count: int
    seconds: float

    @property
    def mean_s(self) -> float | None:
        """Mean length of a short stop in seconds."""
        return self.seconds / self.count if self.count else None


def loss_items(table: KpiTable, *, per_asset: bool = False) -> list[LossItem]:
    """Loss items of a KPI table (summed over assets unless ``per_asset``)."""
    sums: dict[tuple[str | None, str | None, Bucket], list[float]] = {}
    t = table.elements.time.to_pydict() if table.elements is not None else {}
    for asset, bucket, code, seconds, pieces in zip(
        t.get("asset", []),
        t.get("bucket", []),
        t.get("reason_code", []),
        t.get("seconds", []),
        t.get("pieces", []),
        strict=True,
    ):
        b = Bucket(bucket)
        if b not in LOSS_BUCKETS or (seconds <= 0 and pieces == 0):
            continue
        key = (asset if per_asset else None, code, b)
        slot = sums.setdefault(key, [0.0, 0.0])
        slot[0] += seconds
        slot[1] += pieces
    gaps: dict[str | None, float] = {}
    for row in table.rows_by_asset():
        name = row.key.get("asset") if per_asset else None
        gaps[name] = gaps.get(name, 0.0) + row.unrecorded_s
    items = [
        LossItem(code, bucket, v[0], int(v[1]), asset) for (asset, code, bucket), v in sums.items()
    ]
    items.extend(
        LossItem(None, Bucket.UNRECORDED, s, 0, asset) for asset, s in gaps.items() if s >= 1.0
    )
    return sorted(items, key=lambda i: (-i.seconds, i.code or "", i.asset or ""))


def pareto(
    items: Iterable[LossItem],
    tree: ReasonTree,
    *,
    depth: int | None = None,
    lang: Lang = "en",
) -> list[ParetoBar]:
    """Bars of lost time, largest first, with running shares (the 80/20 view).

    Args:
        items: loss items (from :func:`loss_items`).
        tree: the reason tree, for names and roll-up.
        depth: roll reasons up to this tree depth (1 = root reasons); None keeps leaves.
        lang: language of the labels.
    """
    merged: dict[str, list[float]] = {}
    labels: dict[str, str] = {}
    losses: dict[str, set[str]] = {}
    for item in items:
        if item.code is not None:
            path = tree.path(item.code)
            code = path[min(depth, len(path)) - 1] if depth else item.code
            label = tree.name(code, lang)
            reason = tree.get(item.code)
            loss = reason.loss.value if reason is not None else _loss_of(item.bucket)
        else:
            code = f"({item.bucket.value})"
            en, ko = _BUCKET_NAMES[item.bucket]
            label = ko if lang == "ko" else en
            loss = _loss_of(item.bucket)
        slot = merged.setdefault(code, [0.0, 0.0])
        slot[0] += item.seconds
        slot[1] += item.stops
        labels[code] = label
        losses.setdefault(code, set()).add(loss)
    meta = {
        code: (labels[code], next(iter(kinds)) if len(kinds) == 1 else "mixed")
        for code, kinds in losses.items()
    }
    total = sum(v[0] for v in merged.values())
    bars: list[ParetoBar] = []
    running = 0.0
    for code, (seconds, stops) in sorted(merged.items(), key=lambda kv: (-kv[1][0], kv[0])):
        running += seconds
        share = seconds / total if total else 0.0
        cumulative = running / total if total else 0.0
        label, loss = meta[code]
        bars.append(ParetoBar(code, label, loss, seconds, int(stops), share, cumulative))
    return bars


def micro_stops(items: Sequence[LossItem]) -> MicroStops:
    """Count and time of short stops (coded minor stops and unexplained micro-stops)."""
    short = [i for i in items if i.bucket in (Bucket.MINOR, Bucket.MICRO)]
    return MicroStops(sum(i.stops for i in short), sum(i.seconds for i in short))


def _loss_of(bucket: Bucket) -> str:
    if bucket in (Bucket.MINOR, Bucket.MICRO):
        return "performance"
    if bucket == Bucket.QUALITY:
        return "quality"
    return "availability"
