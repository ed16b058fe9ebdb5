"""Readers: a file in, raw Arrow chunks out, in constant memory.

Each reader yields :class:`RawChunk` objects: the columns as the file holds them (CSV
columns are read as text so that one odd cell cannot fail a whole block), a ``_pos``
column with the record's line (CSV, JSON Lines) or row (Parquet) number, and the records
that could not be parsed at all, with their position and reason.

CSV line numbers assume one record per line (no line breaks inside quoted fields).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from factoryax.core import IngestError, MappingError

__all__ = ["FileFormat", "RawChunk", "Reject", "detect_encoding", "detect_format", "read_file"]

FileFormat = Literal["csv", "parquet", "jsonl"]

_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class Reject:
    """A record that could not be parsed into columns at all."""

    position: int
    reason: str
    raw: str


@dataclass
class RawChunk:
    """Parsed records of one block of a file, plus the ones that would not parse."""

    table: pa.Table
    bytes_done: int
    rejects: list[Reject] = field(default_factory=list)


def detect_format(path: Path) -> FileFormat:
    """The file format from the name's suffix."""
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise IngestError(
            f"{str(path)!r}: cannot tell the format from suffix {path.suffix!r}; "
            f"use one of {', '.join(sorted(_SUFFIXES))} or pass --format csv|parquet|jsonl",
            source=str(path),
        ) from None


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """``'utf-8'`` when the start of the file decodes as UTF-8, else ``'cp949'``.

    cp949 (a superset of EUC-KR) is what Korean Windows tools and many PLC/HMI exports
    write. A file that is neither is an error that asks for ``--encoding``.
    """
    with open(path, "rb") as fh:
        sample = fh.read(sample_bytes)
    for encoding in ("utf-8", "cp949"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise IngestError(
        f"{str(path)!r}: the text is neither UTF-8 nor cp949/EUC-KR; "
        "pass --encoding with the file's encoding (e.g. --encoding euc-kr)",
        source=str(path),
    )


def read_file(
    path: Path,
    fmt: FileFormat,
    *,
    encoding: str | None = None,
    block_bytes: int = _BLOCK_BYTES,
) -> Iterator[RawChunk]:
    """Yields the file's records in chunks; see the module docstring.

    Raises:
        IngestError: the file cannot be opened or read past the point reached.
    """
    if not path.is_file():
        raise IngestError(f"{str(path)!r}: no such file", source=str(path))
    if fmt == "csv":
        yield from _read_csv(path, encoding or detect_encoding(path), block_bytes)
    elif fmt == "parquet":
        yield from _read_parquet(path)
    else:
        yield from _read_jsonl(path, encoding or detect_encoding(path), block_bytes)


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes handed out, for progress bars."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]  # RawIOBase types its argument as Buffer
        data = self._fh.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


def _read_csv(path: Path, encoding: str, block_bytes: int) -> Iterator[RawChunk]:
    with open(path, "rb") as fh:
        first = fh.readline()
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        header = first.decode(codec).rstrip("\r\n")
    except UnicodeDecodeError:
        raise IngestError(
            f"{str(path)!r}: the header line is not {encoding}; pass --encoding",
            source=str(path),
        ) from None
    if not header.strip():
        raise IngestError(f"{str(path)!r}: the file is empty or has no header", source=str(path))
    delimiter = max(",;\t|", key=header.count)
    names = next(csv.reader([header], delimiter=delimiter))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MappingError(
            f"{str(path)!r}: column name(s) {repeated!r} appear more than once in the header; "
            "rename them so each column is unique",
            source=str(path),
        )
    invalid: list[Reject] = []
    blank: list[int] = []

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        if row.actual_columns == 1 and not row.text.strip():
            blank.append(int(row.number or 0))  # a blank line: not data, not an error
            return "skip"
        invalid.append(
            Reject(
                position=int(row.number or 0),
                reason=(
                    f"expected {row.expected_columns} fields, found {row.actual_columns} "
                    "(truncated or malformed line)"
                ),
                raw=row.text,
            )
        )
        return "skip"

    with open(path, "rb") as raw_fh:
        counter = _CountingReader(raw_fh)
        try:
            reader = pa_csv.open_csv(
                io.BufferedReader(counter, buffer_size=1 << 20),
                read_options=pa_csv.ReadOptions(
                    encoding=codec, block_size=block_bytes, use_threads=False
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=delimiter, invalid_row_handler=on_invalid, ignore_empty_lines=False
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise _read_error(path, encoding, exc) from None
        last_line = 1  # the header
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise _read_error(path, encoding, exc) from None
            rejects = sorted(invalid, key=lambda r: r.position)
            skipped = sorted([r.position for r in rejects] + blank)
            invalid.clear()
            blank.clear()
            # Data rows fill the line numbers that blank and malformed lines leave free.
            lines = np.arange(batch.num_rows, dtype=np.int64) + last_line + 1
            for number in skipped:
                if batch.num_rows and number <= lines[-1]:
                    lines[lines >= number] += 1
            if batch.num_rows:
                last_line = int(lines[-1])
            table = pa.Table.from_batches([batch]).append_column("_pos", pa.array(lines))
            yield RawChunk(_drop_blank_rows(table), counter.count, rejects)
        if invalid:
            yield RawChunk(pa.table({"_pos": pa.array([], pa.int64())}), counter.count, invalid)


def _drop_blank_rows(table: pa.Table) -> pa.Table:
    """Removes the all-empty rows that blank lines become (their numbers stay used)."""
    data = [c for c in table.column_names if c != "_pos"]
    if not data or table.num_rows == 0:
        return table
    blank = pc.is_null(table.column(data[0]))
    for name in data[1:]:
        blank = pc.and_(blank, pc.is_null(table.column(name)))
    return table.filter(pc.invert(blank)) if pc.any(blank).as_py() else table


def _read_error(path: Path, encoding: str, exc: Exception) -> IngestError:
    text = str(exc)
    hint = ""
    if "UTF8" in text or "utf-8" in text.lower() or isinstance(exc, UnicodeDecodeError):
        hint = f"; the file is not valid {encoding}: pass --encoding cp949 (or the right one)"
    return IngestError(f"{str(path)!r}: cannot read on: {text}{hint}", source=str(path))


def _read_parquet(path: Path) -> Iterator[RawChunk]:
    try:
        schema = pq.read_schema(path)
        # Names (assets, signals) come back dictionary-encoded, as Parquet stores them:
        # no per-row string is materialised, and validation looks each name up once.
        texts = [f.name for f in schema if pa.types.is_string(f.type)]
        pf = pq.ParquetFile(path, read_dictionary=texts)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(
            f"{str(path)!r}: not a readable Parquet file ({exc}); "
            "it may be truncated — copy it again from the source",
            source=str(path),
        ) from None
    size = path.stat().st_size
    total = max(pf.metadata.num_rows, 1)
    done = 0
    try:
        for batch in pf.iter_batches(batch_size=256_000):
            pos = pa.array(np.arange(done + 1, done + 1 + batch.num_rows, dtype=np.int64))
            done += batch.num_rows
            table = pa.Table.from_batches([batch]).append_column("_pos", pos)
            yield RawChunk(table, size * done // total)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(
            f"{str(path)!r}: cannot read past row {done}: {exc}", source=str(path)
        ) from None


def _read_jsonl(path: Path, encoding: str, block_bytes: int) -> Iterator[RawChunk]:
    line_no = 0
    done = 0
    with open(path, "rb") as fh:
        carry = b""
        while True:
            block = fh.read(block_bytes)
            data = carry + block
            if not block:
                carry = b""
            else:
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
            done += len(block)
            if data:
                text = (
                    data if encoding.lower().replace("-", "") == "utf8" else _recode(data, encoding)
                )
                n_lines = text.count(b"\n") + (0 if text.endswith(b"\n") else 1)
                yield _parse_json_block(text, line_no, done)
                line_no += n_lines
            if not block:
                break


def _recode(data: bytes, encoding: str) -> bytes:
    return data.decode(encoding, errors="replace").encode("utf-8")


def _parse_json_block(data: bytes, first_line: int, done: int) -> RawChunk:
    """Parses whole lines; falls back to line-by-line when the fast parser objects."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if all(line.strip() for line in lines):
        try:
            # Fields that are text in the first lines stay text: Arrow's JSON reader turns ISO
            # times with an offset into *naive UTC*, indistinguishable from naive plant time.
            # Should it still infer a timestamp (a field first seen later), the block is
            # parsed line by line instead, where every value stays as written.
            text_keys: dict[str, None] = {}
            for line in lines[:100]:
                obj = json.loads(line)
                text_keys.update({k: None for k, v in obj.items() if isinstance(v, str)})
            options = pa_json.ParseOptions(
                explicit_schema=pa.schema([(k, pa.string()) for k in text_keys]),
                unexpected_field_behavior="infer",
            )
            table = pa_json.read_json(io.BytesIO(data), parse_options=options)
            if not any(pa.types.is_timestamp(f.type) for f in table.schema):
                pos = np.arange(first_line + 1, first_line + 1 + table.num_rows, dtype=np.int64)
                return RawChunk(table.append_column("_pos", pa.array(pos)), done)
        except (pa.ArrowInvalid, json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            pass  # some line is not a JSON object, or not UTF-8: line by line below
    records: list[dict[str, object]] = []
    rejects: list[Reject] = []
    for i, line in enumerate(lines, start=first_line + 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = f"not valid JSON ({exc}); each line must be one JSON object"
            rejects.append(Reject(i, reason, line.decode("utf-8", "replace")))
            continue
        if not isinstance(obj, dict):
            reason = f"a JSON {type(obj).__name__} where an object {{...}} was expected"
            rejects.append(Reject(i, reason, line.decode("utf-8", "replace")))
            continue
        records.append({k: _as_text(v) for k, v in obj.items()} | {"_pos": i})
    keys = list(dict.fromkeys(k for r in records for k in r))
    table = pa.table(
        {k: [r.get(k) for r in records] for k in keys} or {"_pos": pa.array([], pa.int64())}
    )
    return RawChunk(table, done, rejects)


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
