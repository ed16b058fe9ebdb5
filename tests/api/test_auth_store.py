"""Token store edge cases: revocation seen across processes, and no cached comeback."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryax.api import AuthError, Role, TokenStore


def test_a_revoke_from_another_store_takes_effect_at_once(tmp_path: Path) -> None:
    """The server's cache must not keep a token alive that `factoryax token revoke` (a
    second process, here a second store on the same file) has revoked."""
    server = TokenStore(tmp_path / "api.sqlite")
    token = server.issue("kim", Role.OPERATOR)
    token_id = token.split("_")[1]
    assert server.authenticate(token).name == "kim"  # now cached
    cli = TokenStore(tmp_path / "api.sqlite")
    assert cli.revoke(token_id)
    with pytest.raises(AuthError, match="revoked"):
        server.authenticate(token)


def test_unknown_ids_and_wrong_secrets_get_the_same_answer(tmp_path: Path) -> None:
    """Both fail with one message, so a caller cannot tell which token ids exist."""
    store = TokenStore(tmp_path / "api.sqlite")
    token = store.issue("lee", Role.VIEWER)
    _, token_id, secret = token.split("_", 2)
    messages = []
    for bad in (f"fax_{token_id}_{secret}x", f"fax_nosuchid_{secret}"):
        with pytest.raises(AuthError) as err:
            store.authenticate(bad)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_a_write_that_raises_is_still_audited(tmp_path: Path) -> None:
    """An unhandled error inside a write leaves an audit row with status 500."""
    import asyncio

    from factoryax.api import ApiContext
    from factoryax.api.app import _LimitAndAudit
    from factoryax.cli.main import example_plant_toml
    from factoryax.config import Workspace

    (tmp_path / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ctx = ApiContext(Workspace(tmp_path))
    token = ctx.tokens.issue("park", Role.OPERATOR)

    async def broken(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("disk on fire")

    async def call() -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/alarms/x/ack",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 5000),
        }
        sent = iter([{"type": "http.request", "body": b"{}", "more_body": False}])

        async def receive() -> dict[str, object]:
            return next(sent)

        async def send(message: object) -> None:
            return None

        await _LimitAndAudit(broken, ctx)(scope, receive, send)

    with pytest.raises(RuntimeError, match="disk on fire"):
        asyncio.run(call())
    [row] = [r for r in ctx.audit.recent() if r.path == "/api/alarms/x/ack"]
    assert (row.status, row.role) == (500, "operator")
    ctx.close()


def test_a_korean_lot_name_downloads_under_its_own_name() -> None:
    """The bundle's Content-Disposition is Latin-1 encodable (HTTP headers must be) and
    carries the Korean name in RFC 5987 form."""
    from urllib.parse import unquote

    from factoryax.api.routers.ledger import _attachment

    header = _attachment("로트-1.bundle.json")["Content-Disposition"]
    header.encode("latin-1")
    assert 'filename="__-1.bundle.json"' in header
    assert unquote(header.split("filename*=UTF-8''")[1]) == "로트-1.bundle.json"
