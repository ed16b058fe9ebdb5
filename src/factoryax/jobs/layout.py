"""Which files of the lake are committed: what a batch engine may read.

The lake (``factoryax.lake``) is Hive-partitioned Parquet::

    <root>/<table>/site=<site>/date=<YYYY-MM-DD>/part-<ingest_id>-<n>.parquet

and it changes only in two ways that a reader can observe:

- **appends** write ``.tmp-<pid>-<name>.tmp``, fsync it and rename it to ``part-….parquet``;
- **compaction** first writes ``.compact-<target>.txt`` (the merged file's name, then the
  names of the files it replaces), then renames ``part-compact-….parquet`` in, deletes the
  replaced files and finally the manifest.

A committed snapshot is therefore: every ``part-*.parquet`` in a partition folder, except
that while a manifest names a merged file that is *present*, the files it replaces are
left out (the merged file holds their rows); when the merged file is absent, the manifest
is ignored (the compaction has not committed). Hidden names (``.tmp-…``, ``.compact-…``)
are never data. A partition is listed twice and the two listings must agree, so a
compaction finishing during the listing cannot produce a mixed view; a file that
disappears after listing is handled by the engines, which list again and retry.

The same rules hold for the same folder tree on S3-compatible storage (see
``docs/scale-out.md``): ``root`` may be any URI that ``pyarrow.fs`` understands.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs

from factoryax.core import LakeError

__all__ = ["Snapshot", "committed_files", "filesystem_for"]

_COMPACT_PREFIX = ".compact-"
_ATTEMPTS = 5


class Snapshot(tuple[str, ...]):
    """Committed data files of one table, as paths the filesystem understands (sorted)."""


def filesystem_for(root: str | Path) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding ``root`` and the path inside it.

    Examples:
        >>> fs, path = filesystem_for("/tmp/lake")
        >>> type(fs).__name__, path
        ('LocalFileSystem', '/tmp/lake')
    """
    text = str(root)
    if "://" in text:
        fs, path = pafs.FileSystem.from_uri(text)
        return fs, path.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(text).absolute())


def committed_files(root: str | Path, table: str) -> Snapshot:
    """The committed ``part-*.parquet`` files of ``table`` under the lake ``root``.

    Raises:
        LakeError: the folder kept changing over five listings (a writer busier than
            any reader can follow); retry later.

    Examples:
        >>> import tempfile
        >>> committed_files(tempfile.mkdtemp(), "readings")
        ()
    """
    fs, base = filesystem_for(root)
    previous: tuple[str, ...] | None = None
    for _ in range(_ATTEMPTS):
        try:
            current = _list_committed(fs, f"{base}/{table}")
        except FileNotFoundError:
            previous = None  # a manifest vanished while being read: list again
            continue
        if current == previous:
            return Snapshot(current)
        previous = current
    raise LakeError(
        f"table {table!r} under {str(root)!r} changed during {_ATTEMPTS} listings in a row; "
        "a compaction or retention run is rewriting it: retry when it has finished"
    )


def _list_committed(fs: pafs.FileSystem, table_dir: str) -> tuple[str, ...]:
    selector = pafs.FileSelector(table_dir, recursive=True, allow_not_found=True)
    by_folder: dict[str, list[str]] = {}
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        folder, _, name = info.path.rpartition("/")
        rel = folder[len(table_dir) :].lstrip("/").split("/")
        if len(rel) != 2 or not rel[0].startswith("site=") or not rel[1].startswith("date="):
            continue  # not a partition folder: never data
        by_folder.setdefault(folder, []).append(name)
    out: list[str] = []
    for folder, names in sorted(by_folder.items()):
        present = set(names)
        replaced: set[str] = set()
        for name in names:
            if name.startswith(_COMPACT_PREFIX) and name.endswith(".txt"):
                with fs.open_input_stream(f"{folder}/{name}") as fh:
                    lines = fh.read().decode("utf-8", errors="replace").splitlines()
                if lines and lines[0] in present:  # committed: the merged file is in place
                    replaced.update(lines[1:])
        out.extend(
            f"{folder}/{n}"
            for n in sorted(present)
            if n.startswith("part-") and n.endswith(".parquet") and n not in replaced
        )
    return tuple(out)
