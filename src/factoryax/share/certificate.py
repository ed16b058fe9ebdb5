"""Quality certificates (certificate of analysis / conformance) for a lot, from the lake.

Built only from recorded data: the lot's ``production`` rows (every station's result per
part), the measurements taken at inspection (``readings`` of the inspection asset at the
instants parts were inspected), and the machine ``states`` during the lot. Nothing is
typed in by hand, so the numbers a customer sees can be traced to rows.

What it states, per lot:

- quantities: parts started, inspected, shipped (final result ``ok``), first-pass ok,
  rework, scrap; first-pass yield (FPY) and final yield; defects by code;
- per measured characteristic: n, mean, standard deviation, min, max, spec limits,
  Cp/Cpk (process capability, NIST/SEMATECH e-Handbook §6.1.6), parts out of spec
  (all, and among shipped parts), and an individuals-chart check (limits mean ± 2.66·MR̄,
  NIST e-Handbook §6.3.2; Western Electric rule 1, Nelson rule 2: nine in a row);
- KPIs: mean cycle time and availability per station during the lot, throughput;
- the verdict: ``conforms`` when no shipped part was measured out of spec and, if the
  customer set one, every Cpk reaches ``min_cpk``.

Examples:
    >>> SpecLimits.parse("41.975:42.025")
    SpecLimits(lower=41.975, upper=42.025)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from factoryax.core import PlantModel, utc_now
from factoryax.lake import Lake
from factoryax.ledger import JsonValue, canonical_json, format_time
from factoryax.share.errors import LotNotFoundError
from factoryax.share.spc import Measurement, SpecLimits, measure, round_to

__all__ = [
    "CERTIFICATE_SCHEMA",
    "Certificate",
    "Measurement",
    "SpecLimits",
    "build_certificate",
    "specs_from_plant",
]

CERTIFICATE_SCHEMA: Final = "factoryax.certificate/1"
_Row = dict[str, Any]
"""A row from ``pa.Table.to_pylist()``: column name → Python value."""
_DIMENSION_WORDS = ("diameter", "bore", "length", "width", "thickness", "height", "dimension")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Certificate(_Model):
    """A lot's certificate: the JSON document that is rendered and committed."""

    schema_: Literal["factoryax.certificate/1"] = CERTIFICATE_SCHEMA
    certificate_id: str
    site: str
    site_name: str
    line: str
    lot: str
    product: str
    period_start: str
    period_end: str
    parts_started: int
    parts_inspected: int
    parts_shipped: int
    first_pass_ok: int
    rework: int
    scrap: int
    first_pass_yield: float
    final_yield: float
    defects: dict[str, int]
    measurements: tuple[Measurement, ...]
    kpis: dict[str, float]
    verdict: Literal["conforms", "does_not_conform"]
    reasons: tuple[str, ...]
    issued_at: str

    def document(self) -> dict[str, JsonValue]:
        """The certificate as a JSON object (``schema`` named as in the file)."""
        data = self.model_dump(mode="json")
        data["schema"] = data.pop("schema_")
        return data

    @classmethod
    def from_document(cls, data: Mapping[str, JsonValue]) -> Certificate:
        """Reads a certificate document back (validated)."""
        items = dict(data)
        items["schema_"] = items.pop("schema", CERTIFICATE_SCHEMA)
        return cls.model_validate(items)

    def sha256(self) -> str:
        """Hex SHA-256 of the canonical JSON document (RFC 8785)."""
        return hashlib.sha256(canonical_json(self.document())).hexdigest()

    def fields(self, pdf_sha256: str | None = None) -> dict[str, JsonValue]:
        """The ``quality_certificate`` record: one disclosable field per member, plus the
        document and PDF digests that tie the files to the ledger entry."""
        out = self.document()
        out["certificate_sha256"] = self.sha256()
        if pdf_sha256 is not None:
            out["pdf_sha256"] = pdf_sha256
        return out


def specs_from_plant(plant: PlantModel) -> dict[str, SpecLimits]:
    """Spec limits the plant model knows, keyed by signal id.

    Signals with ``lsl``/``usl`` in ``plant.toml`` win; otherwise the twin's
    ``[twin.quality]`` nominal ± tolerance applies to ``measurement_signal``, else to every
    signal named like a dimension (``bore_diameter``, ``length`` …).
    """
    declared = {
        s.id: SpecLimits(s.lsl, s.usl)
        for _, asset in plant.iter_assets()
        for s in asset.signals
        if s.has_spec
    }
    if declared:
        return declared
    quality = plant.twin.get("quality") if isinstance(plant.twin, dict) else None
    if not isinstance(quality, dict) or "nominal_mm" not in quality:
        return {}
    nominal = float(quality["nominal_mm"])
    tolerance = float(quality.get("tolerance_mm", 0.025))
    limits = SpecLimits(nominal - tolerance, nominal + tolerance)
    named = quality.get("measurement_signal")
    if isinstance(named, str):
        return {named: limits}
    return {
        s.id: limits
        for _, asset in plant.iter_assets()
        for s in asset.signals
        if any(w in s.id for w in _DIMENSION_WORDS)
    }


def build_certificate(
    lake: Lake,
    plant: PlantModel,
    lot: str,
    *,
    specs: Mapping[str, SpecLimits] | None = None,
    min_cpk: float | None = None,
    issued_at: dt.datetime | None = None,
) -> Certificate:
    """Builds the certificate of ``lot`` from the lake.

    Args:
        lake: the plant's lake.
        plant: the plant model (asset kinds, units, site).
        lot: the lot id as recorded in ``production.lot``.
        specs: characteristic (signal id) → spec limits; default :func:`specs_from_plant`.
        min_cpk: a Cpk every specified characteristic must reach (customer requirement).
        issued_at: the issue time (default now).

    Raises:
        LotNotFoundError: no production rows for ``lot``.
    """
    rows = lake.query(
        "SELECT ts, line, asset, product, part_id, result, defect_code, cycle_time_s "
        "FROM production WHERE lot = ? ORDER BY ts, asset",
        [lot],
    ).to_pylist()
    if not rows:
        known = lake.query("SELECT DISTINCT lot FROM production ORDER BY lot LIMIT 5")
        raise LotNotFoundError(lot, [str(x) for x in known.column("lot").to_pylist()])
    specs = specs_from_plant(plant) if specs is None else specs
    line_id = str(rows[0]["line"] or "")
    line = next((li for li in plant.lines if li.id == line_id), None)
    order = [a.id for a in line.assets] if line else []
    kinds = {a.id: a.kind for _, a in plant.iter_assets()}
    assets = sorted(
        {str(r["asset"]) for r in rows},
        key=lambda a: (a not in order, order.index(a) if a in order else 0, a),
    )
    # The line's inspection station, even when no part of the lot has reached it yet;
    # else the station that recorded defects, else the last one.
    inspection = next((a for a in order if kinds.get(a) == "inspection"), None) or next(
        (a for a in reversed(assets) if any(r["defect_code"] for r in rows if r["asset"] == a)),
        assets[-1],
    )
    at_inspection = [r for r in rows if r["asset"] == inspection]
    first: dict[str, str] = {}
    final: dict[str, str] = {}
    for r in at_inspection:
        first.setdefault(str(r["part_id"]), str(r["result"]))
        final[str(r["part_id"])] = str(r["result"])
    started = len({r["part_id"] for r in rows if r["asset"] == assets[0]})
    shipped = {p for p, res in final.items() if res == "ok"}
    defects = Counter(str(r["defect_code"]) for r in at_inspection if r["defect_code"])
    start, end = rows[0]["ts"], rows[-1]["ts"]
    measurements = _measurements(lake, plant, lot, inspection, at_inspection, shipped, specs)
    kpis = _kpis(lake, rows, assets, line_id, start, end, len(shipped))
    reasons = [] if final else ["no part of the lot has been inspected yet"]
    for m in measurements:
        if m.out_of_spec_shipped:
            reasons.append(f"{m.out_of_spec_shipped} shipped part(s) out of spec on {m.signal}")
        if min_cpk is not None and m.cpk is not None and m.cpk < min_cpk:
            reasons.append(f"Cpk of {m.signal} is {m.cpk} < required {min_cpk}")
    inspected = len(final)
    return Certificate(
        certificate_id=f"COA-{lot}",
        site=plant.site.id,
        site_name=plant.site.name or plant.site.id,
        line=line_id,
        lot=lot,
        product=str(rows[0]["product"] or ""),
        period_start=format_time(start),
        period_end=format_time(end),
        parts_started=started,
        parts_inspected=inspected,
        parts_shipped=len(shipped),
        first_pass_ok=sum(1 for res in first.values() if res == "ok"),
        rework=sum(1 for r in at_inspection if r["result"] == "rework"),
        scrap=sum(1 for res in final.values() if res == "scrap"),
        first_pass_yield=round_to(sum(1 for v in first.values() if v == "ok") / inspected, 4)
        if inspected
        else 0.0,
        final_yield=round_to(len(shipped) / started, 4) if started else 0.0,
        defects=dict(sorted(defects.items())),
        measurements=tuple(measurements),
        kpis=kpis,
        verdict="does_not_conform" if reasons else "conforms",
        reasons=tuple(reasons),
        issued_at=format_time(issued_at or utc_now()),
    )


def _measurements(
    lake: Lake,
    plant: PlantModel,
    lot: str,
    inspection: str,
    at_inspection: list[_Row],
    shipped: set[str],
    specs: Mapping[str, SpecLimits],
) -> list[Measurement]:
    table = lake.query(
        "SELECT r.signal, r.value, p.part_id, p.result FROM production p "
        "JOIN readings r ON r.asset = p.asset AND r.ts = p.ts "
        "WHERE p.lot = ? AND p.asset = ? AND r.value IS NOT NULL ORDER BY r.signal, p.ts",
        [lot, inspection],
    ).to_pylist()
    by_signal: dict[str, list[tuple[float, bool]]] = {}
    for r in table:
        # A shipped part's own measurement is its last (the ok) inspection.
        ok_final = r["part_id"] in shipped and r["result"] == "ok"
        by_signal.setdefault(str(r["signal"]), []).append((float(r["value"]), ok_final))
    out = []
    for signal, pairs in sorted(by_signal.items()):
        if len(pairs) < 0.9 * len(at_inspection):  # sampled, not measured per part
            continue
        values = np.array([v for v, _ in pairs])
        if not np.all(np.isfinite(values)):
            values = values[np.isfinite(values)]
        mask = np.array([s for v, s in pairs if math.isfinite(v)])
        if len(values) == 0:
            continue
        found = plant.find_signal(inspection, signal)
        unit = found.unit if found is not None else ""
        out.append(measure(signal, inspection, unit, values, mask, specs.get(signal)))
    return out


def _kpis(
    lake: Lake,
    rows: list[_Row],
    assets: list[str],
    line: str,
    start: dt.datetime,
    end: dt.datetime,
    shipped: int,
) -> dict[str, float]:
    kpis: dict[str, float] = {}
    for asset in assets:
        times = [
            float(r["cycle_time_s"])
            for r in rows
            if r["asset"] == asset and r["cycle_time_s"] is not None
        ]
        if times:
            kpis[f"cycle_time_s.{asset}"] = round_to(sum(times) / len(times), 3)
    states = lake.query(
        'SELECT asset, state, sum(epoch(least("end", ?::TIMESTAMPTZ)) - '
        "epoch(greatest(start, ?::TIMESTAMPTZ))) AS seconds FROM states "
        'WHERE start < ?::TIMESTAMPTZ AND "end" > ?::TIMESTAMPTZ AND line = ? GROUP BY ALL',
        [end, start, end, start, line],
    ).to_pylist()
    for asset in assets:
        mine = {str(s["state"]): float(s["seconds"] or 0) for s in states if s["asset"] == asset}
        loading = sum(v for k, v in mine.items() if k != "planned_stop")
        if loading > 0:  # ISO 22400-2: availability = run time / planned busy time
            kpis[f"availability.{asset}"] = round_to(mine.get("running", 0.0) / loading, 4)
    hours = (end - start).total_seconds() / 3600
    if hours > 0:
        kpis["throughput_per_h"] = round_to(shipped / hours, 2)
    return kpis
