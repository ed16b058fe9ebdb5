"""The ledger's signing keys on disk: generation, restrictive permissions, rotation.

Layout of ``<ledger>/keys/`` (the folder is mode 0700)::

    <key id>.key     PRIVATE+KEY+… signer key, mode 0600, written with O_EXCL and fsynced
    <key id>.vkey    <name>+<id>+<base64> verifier key, to hand to partners
    signers          key IDs that sign new checkpoints, one per line, in signing order

Rotation without a flag day: :meth:`KeyRing.generate` with ``rotate=True`` adds a new key
*next to* the current one, so the following checkpoints carry both signatures (a signed
note may have several). Partners who trust the old key keep verifying while they add
the new one; :meth:`KeyRing.retire` then stops the old key signing. Retired verifier keys
stay, so old checkpoints still audit.

Examples:
    >>> import tempfile, pathlib
    >>> ring = KeyRing(pathlib.Path(tempfile.mkdtemp()) / "keys")
    >>> key = ring.generate("example.com/log")
    >>> [k.key_id for k in ring.signers()] == [key.key_id]
    True
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from factoryax.ledger.errors import KeyFileError
from factoryax.ledger.note import SignerKey, VerifierKey

__all__ = ["KeyRing"]

_SIGNERS = "signers"


def _write_new(path: Path, text: str, mode: int) -> None:
    """Creates ``path`` (never overwrites) with ``mode`` from the first byte, and fsyncs."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what we asked for
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    _write_new(tmp, text, 0o644)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class KeyRing:
    """The signing and verifier keys of one ledger, kept in a folder.

    Args:
        folder: the ``keys`` folder; created (0700) on first :meth:`generate`.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _ensure_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)

    def generate(self, name: str, *, rotate: bool = False) -> SignerKey:
        """Creates a signing key named ``name`` (the log origin) and makes it sign.

        Args:
            name: key name; by convention the log's origin.
            rotate: keep the current signers (co-signing) instead of refusing when a key
                already exists.

        Raises:
            KeyFileError: a signing key exists and ``rotate`` is false.
        """
        current = self._signer_ids()
        if current and not rotate:
            raise KeyFileError(
                f"{self.folder} already holds signing key(s) {', '.join(current)}; pass "
                "--rotate to add a new key (both sign until you retire the old one)"
            )
        self._ensure_folder()
        key = SignerKey.generate(name)
        hex_id = f"{key.key_id:08x}"
        _write_new(self.folder / f"{hex_id}.key", key.encode() + "\n", 0o600)
        _write_new(self.folder / f"{hex_id}.vkey", key.verifier.encode() + "\n", 0o644)
        _replace(self.folder / _SIGNERS, "".join(f"{i}\n" for i in [*current, hex_id]))
        return key

    def retire(self, key_id: str) -> None:
        """Stops key ``key_id`` (hex) from signing; its verifier key stays for audits.

        Raises:
            KeyFileError: it is not a signing key, or it is the last one.
        """
        current = self._signer_ids()
        wanted = key_id.lower()
        if wanted not in current:
            raise KeyFileError(f"key {key_id!r} is not signing; signers are {current}")
        if len(current) == 1:
            raise KeyFileError(
                f"key {key_id!r} is the only signing key; generate a new one with --rotate first"
            )
        _replace(self.folder / _SIGNERS, "".join(f"{i}\n" for i in current if i != wanted))

    def _signer_ids(self) -> list[str]:
        path = self.folder / _SIGNERS
        if not path.is_file():
            return []
        return [line.strip() for line in path.read_text("ascii").splitlines() if line.strip()]

    def signers(self) -> list[SignerKey]:
        """The keys that sign new checkpoints.

        Raises:
            KeyFileError: none exists, a file is group/other readable, or malformed.
        """
        ids = self._signer_ids()
        if not ids:
            raise KeyFileError(
                f"no signing key in {self.folder}; run `factoryax ledger keygen` first"
            )
        return [self._load_signer(i) for i in ids]

    def _load_signer(self, hex_id: str) -> SignerKey:
        path = self.folder / f"{hex_id}.key"
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise KeyFileError(f"signing key file {str(path)!r} is missing") from None
        if mode & 0o077:
            raise KeyFileError(
                f"signing key {str(path)!r} has mode {mode:04o}: others can read it; "
                f"run `chmod 600 {path}` (and rotate the key if it may have leaked)"
            )
        key = SignerKey.parse(path.read_text("ascii"))
        if f"{key.key_id:08x}" != hex_id:
            raise KeyFileError(f"{str(path)!r} holds key {key.key_id:08x}, not {hex_id}")
        return key

    def verifiers(self) -> list[VerifierKey]:
        """Every verifier key ever generated here (current and retired)."""
        if not self.folder.is_dir():
            return []
        return [VerifierKey.parse(p.read_text("ascii")) for p in sorted(self.folder.glob("*.vkey"))]
