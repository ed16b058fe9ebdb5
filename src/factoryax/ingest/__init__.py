"""Sources into the lake: files (CSV, Parquet, JSON Lines; wide or long) and in-memory rows.

Every record read ends in exactly one place: the lake, the duplicates count, or the
``quarantine`` table with its position and the reason.
"""

from __future__ import annotations

from factoryax.ingest.layout import Layout, WideColumn, plan_layout
from factoryax.ingest.pipeline import IngestReport, ingest_file
from factoryax.ingest.readers import FileFormat, detect_encoding, detect_format
from factoryax.ingest.rows import PRODUCTION_RESULTS, STATES, ingest_rows
from factoryax.ingest.units import canonical_unit, conversion

__all__ = [
    "PRODUCTION_RESULTS",
    "STATES",
    "FileFormat",
    "IngestReport",
    "Layout",
    "WideColumn",
    "canonical_unit",
    "conversion",
    "detect_encoding",
    "detect_format",
    "ingest_file",
    "ingest_rows",
    "plan_layout",
]
