"""A write-ahead buffer on disk for sources that cannot redeliver (OPC UA).

A sample counts as accepted once it is in the buffer: appended to the current segment
file, flushed and fsynced. The runtime commits a sequence number once the batch holding
it is durable in the lake; the committed number is written to ``committed`` by an atomic
rename, and segments wholly below it are deleted. After a crash, everything above the
committed number is replayed; what had already reached the lake is skipped there as a
duplicate, so a restart loses and doubles nothing.

Record format, one per line (tab-separated, text so a person can read a buffer)::

    <seq> <ts µs since epoch, UTC> <asset> <signal> <value or empty for null>

Examples:
    >>> import tempfile, datetime as dt
    >>> wal = WriteAheadBuffer(Path(tempfile.mkdtemp()))
    >>> t = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    >>> wal.append([(t, "press-01", "oil_temp", 41.5), (t, "press-01", "power", None)])
    2
    >>> [r[1:4] for r in wal.pending()]
    [('press-01', 'oil_temp', 41.5), ('press-01', 'power', None)]
    >>> wal.commit(2); wal.pending()
    []
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["WalRecord", "WriteAheadBuffer"]

WalRecord = tuple[dt.datetime, str, str, float | None]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class WriteAheadBuffer:
    """Segmented, fsynced append-only buffer with a committed watermark.

    Args:
        folder: where segments live (created if missing); one buffer per source.
        segment_bytes: a new segment starts once the current one is this large.
    """

    def __init__(self, folder: Path, *, segment_bytes: int = 8 << 20) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self.committed_ = self._read_committed()
        self.last_seq_ = self.committed_
        segments = self._segments()
        if segments:
            _truncate_torn_tail(segments[-1])
        for seg in segments:
            for seq, *_ in _read(seg):
                self.last_seq_ = max(self.last_seq_, seq)

    # ----------------------------------------------------------------- writing

    def append(self, records: Sequence[WalRecord]) -> int:
        """Appends records durably (fsync); returns the sequence number of the last one."""
        if not records:
            return self.last_seq_
        with self._lock:
            lines = []
            seq = self.last_seq_
            for ts, asset, signal, value in records:
                seq += 1
                us = (ts - _EPOCH) // dt.timedelta(microseconds=1)
                text = "" if value is None else repr(float(value))
                lines.append(f"{seq}\t{us}\t{_clean(asset)}\t{_clean(signal)}\t{text}\n")
            path = self._segment_for(self.last_seq_ + 1)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("".join(lines))
                fh.flush()
                os.fsync(fh.fileno())
            self.last_seq_ = seq
            return seq

    def commit(self, seq: int) -> None:
        """Marks everything up to ``seq`` durable downstream; drops finished segments."""
        with self._lock:
            if seq <= self.committed_:
                return
            tmp = self.folder / ".committed.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(str(seq))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.folder / "committed")
            self.committed_ = seq
            segments = self._segments()
            for seg, nxt in itertools.pairwise(segments):
                if _first_seq(nxt) - 1 <= seq:  # every record of `seg` is committed
                    seg.unlink()
            _fsync_dir(self.folder)

    # ----------------------------------------------------------------- reading

    def pending(self) -> list[tuple[int, str, str, float | None, dt.datetime]]:
        """Records above the committed watermark, oldest first, as
        ``(seq, asset, signal, value, ts)``; used to replay after a restart."""
        out = []
        with self._lock:
            for seg in self._segments():
                for seq, us, asset, signal, value in _read(seg):
                    if seq > self.committed_:
                        ts = _EPOCH + dt.timedelta(microseconds=us)
                        out.append((seq, asset, signal, value, ts))
        return [(s, a, g, v, t) for s, a, g, v, t in out]

    @property
    def backlog(self) -> int:
        """Records appended but not yet committed."""
        return self.last_seq_ - self.committed_

    # ----------------------------------------------------------------- files

    def _segments(self) -> list[Path]:
        return sorted(self.folder.glob("seg-*.wal"))

    def _segment_for(self, first_seq: int) -> Path:
        segments = self._segments()
        if segments and segments[-1].stat().st_size < self.segment_bytes:
            return segments[-1]
        path = self.folder / f"seg-{first_seq:020d}.wal"
        path.touch()
        _fsync_dir(self.folder)
        return path

    def _read_committed(self) -> int:
        try:
            return int((self.folder / "committed").read_text(encoding="utf-8").strip() or 0)
        except FileNotFoundError:
            return 0


def _first_seq(path: Path) -> int:
    return int(path.stem.removeprefix("seg-"))


def _read(path: Path) -> list[tuple[int, int, str, str, float | None]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # a torn last line from a crash mid-write was never acknowledged
            seq, us, asset, signal, value = line[:-1].split("\t")
            out.append((int(seq), int(us), asset, signal, float(value) if value else None))
    return out


def _truncate_torn_tail(path: Path) -> None:
    """Cuts a partial last line (a crash mid-append) so new records start on a new line."""
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            os.fsync(fh.fileno())


def _clean(name: str) -> str:
    return name.replace("\t", " ").replace("\n", " ")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
