"""Tokens, roles and site scope: who may call what.

A token is ``fax_<id>_<secret>``. Only the scrypt hash of the secret (with a per-token
salt, stdlib :func:`hashlib.scrypt`) is stored, in ``<workspace>/api/api.sqlite``; the id
finds the row, :func:`hmac.compare_digest` checks the hash. A lost token cannot be read
back from the store; issue a new one and revoke the old.

Roles (each includes the one before it, except ``partner``)::

    viewer < operator < engineer < admin       quality: viewer + certificates/bundles
    partner: evidence bundles and verification only, never plant data
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from factoryax.core import ConfigError, FactoryAXError, utc_now

__all__ = ["AuthError", "Principal", "Role", "TokenInfo", "TokenStore"]


class AuthError(FactoryAXError, PermissionError):
    """A request without a valid token (401) or without the role or site it needs (403)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class Role(StrEnum):
    """What a token may do (see the module docstring)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ENGINEER = "engineer"
    QUALITY = "quality"
    ADMIN = "admin"
    PARTNER = "partner"


_IMPLIES: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.OPERATOR: frozenset({Role.VIEWER, Role.OPERATOR}),
    Role.ENGINEER: frozenset({Role.VIEWER, Role.OPERATOR, Role.ENGINEER}),
    Role.QUALITY: frozenset({Role.VIEWER, Role.QUALITY}),
    Role.ADMIN: frozenset(set(Role) - {Role.PARTNER}),
    Role.PARTNER: frozenset({Role.PARTNER}),
}

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_DUMMY_SALT = secrets.token_bytes(16)
"""Salt hashed against when a token id is unknown (equal work for known and unknown ids)."""


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid token.

    Examples:
        >>> p = Principal("t1", "kim", Role.ENGINEER, ("*",))
        >>> p.has(Role.OPERATOR), p.has(Role.ADMIN), p.sees_site("changwon-1")
        (True, False, True)
    """

    token_id: str
    name: str
    role: Role
    sites: tuple[str, ...]

    def has(self, role: Role) -> bool:
        """Whether this caller's role includes ``role``."""
        return role in _IMPLIES[self.role]

    def sees_site(self, site: str) -> bool:
        """Whether the token's site scope covers ``site`` (``*`` covers every site)."""
        return "*" in self.sites or site in self.sites


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret."""

    token_id: str
    name: str
    role: Role
    sites: tuple[str, ...]
    created_at: dt.datetime
    revoked: bool


class TokenStore:
    """Hashed API tokens in SQLite (thread-safe; one connection guarded by a lock).

    Examples:
        >>> import tempfile
        >>> store = TokenStore(Path(tempfile.mkdtemp()) / "api.sqlite")
        >>> token = store.issue("kim", Role.OPERATOR, sites=("changwon-1",))
        >>> store.authenticate(token).role.value
        'operator'
        >>> token.split("_")[2] in Path(store.path).read_bytes().decode("latin-1")
        False
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "role TEXT NOT NULL, sites TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL, "
            "created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)"
        )
        self._db.commit()
        self._cache: dict[str, tuple[bytes, Principal]] = {}

    def close(self) -> None:
        """Closes the database."""
        with self._lock:
            self._db.close()

    def issue(self, name: str, role: Role | str, *, sites: tuple[str, ...] = ("*",)) -> str:
        """Creates a token and returns it; this is the only time its secret is visible.

        Raises:
            ConfigError: an unknown role, an empty name or an empty site scope.
        """
        try:
            role = Role(role)
        except ValueError:
            raise ConfigError(
                f"token role {role!r} is unknown; use one of {[r.value for r in Role]}"
            ) from None
        if not name.strip():
            raise ConfigError("token name is empty; give the person or system it is for")
        if not sites or any(not s.strip() for s in sites):
            raise ConfigError(f"token sites {sites!r}: give site ids, or '*' for every site")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24).replace("_", "-")
        salt = secrets.token_bytes(16)
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    token_id,
                    name,
                    role.value,
                    json.dumps(list(sites)),
                    salt,
                    _hash(secret, salt),
                    utc_now().isoformat(),
                ),
            )
            self._db.commit()
        return f"fax_{token_id}_{secret}"

    def authenticate(self, token: str) -> Principal:
        """The principal of ``token``.

        Raises:
            AuthError: malformed, unknown, revoked or wrong token (one message for all but
                the malformed case, so a caller cannot probe which ids exist).
        """
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != "fax" or not token_id or not secret:
            raise AuthError(
                "malformed token: expected 'fax_<id>_<secret>' as `Authorization: Bearer …`"
            )
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            # Read on every call, cache hit or not: a revoke by another process (the
            # `factoryax token revoke` command) must take effect at once. An indexed
            # lookup is cheap; the scrypt hash is what the cache saves.
            row = self._db.execute(
                "SELECT name, role, sites, salt, hash FROM tokens WHERE id = ? AND revoked = 0",
                (token_id,),
            ).fetchone()
        cached = self._cache.get(token_id)
        if row is not None and cached is not None and hmac.compare_digest(cached[0], digest):
            return cached[1]
        # Unknown ids cost one scrypt too, so timing does not tell which ids exist.
        salt, stored = (row[3], row[4]) if row is not None else (_DUMMY_SALT, b"")
        if not hmac.compare_digest(_hash(secret, salt), stored) or row is None:
            raise AuthError("invalid or revoked token; ask an admin for a new one")
        principal = Principal(token_id, row[0], Role(row[1]), tuple(json.loads(row[2])))
        with self._lock:
            still = self._db.execute(
                "SELECT 1 FROM tokens WHERE id = ? AND revoked = 0", (token_id,)
            ).fetchone()
            if still is None:  # revoked while we hashed
                raise AuthError("invalid or revoked token; ask an admin for a new one")
            self._cache[token_id] = (digest, principal)
        return principal

    def revoke(self, token_id: str) -> bool:
        """Revokes a token; returns whether it existed and was active."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE tokens SET revoked = 1 WHERE id = ? AND revoked = 0", (token_id,)
            )
            self._db.commit()
        self._cache.pop(token_id, None)
        return cur.rowcount > 0

    def list(self) -> list[TokenInfo]:
        """Every token (secrets are never stored, so none are shown)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, role, sites, created_at, revoked FROM tokens ORDER BY created_at"
            ).fetchall()
        return [
            TokenInfo(
                r[0],
                r[1],
                Role(r[2]),
                tuple(json.loads(r[3])),
                dt.datetime.fromisoformat(r[4]),
                bool(r[5]),
            )
            for r in rows
        ]
