"""A small simulated plant served by a real uvicorn server on loopback, built once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import uvicorn

from factoryax.api import ApiConfig, ApiContext, Role, create_app, store_alarm_events
from factoryax.cli.demo import LiveFeed, demo_rules
from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.core import utc_now
from factoryax.ledger import Ledger
from factoryax.safety import Alarm
from factoryax.share import issue_certificate
from factoryax.twin import simulate, write_to_lake


@dataclass
class Served:
    """A running server: its base URL, workspace, context and one token per role."""

    url: str
    ws: Workspace
    ctx: ApiContext
    tokens: dict[str, str]
    feed: LiveFeed | None

    def headers(self, role: str) -> dict[str, str]:
        """The Authorization header of ``role``'s token."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _before(table: pa.Table, column: str, now: dt.datetime) -> pa.Table:
    return table.filter(pc.less(table[column], pa.scalar(now, table[column].type)))


def raise_alarm(ctx: ApiContext, rule: str, asset: str = "press-01") -> None:
    """Stores a fresh unacknowledged alarm the way the safety engine would."""
    alarm = Alarm(rule, severity=3, message=f"{rule} test alarm", line="line-1", asset=asset)
    store_alarm_events(ctx, alarm.set_condition(True, utc_now(), why="test condition"))


def build(root: Path, *, live: bool) -> Served:
    """Workspace with 3 h of twin data up to now (plus 1 h ahead for the live feed), a
    ledger with a key, detector rows, an alarm, tokens of every role; served on loopback."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace.find(root)
    now = utc_now().replace(microsecond=0)
    run = simulate(
        ws.plant,
        start=now - dt.timedelta(hours=3),
        horizon=dt.timedelta(hours=4),
        seed=3,
        sample_s=5,
    )
    past = dataclasses.replace(
        run,
        readings=_before(run.readings, "ts", now),
        production=_before(run.production, "ts", now),
        states=_before(run.states, "start", now),
        events=_before(run.events, "ts", now),
    )
    write_to_lake(past, ws.plant, ws.lake)
    # what factoryax.detect writes: anomaly scores and an explained anomaly
    ts = [now - dt.timedelta(minutes=m) for m in range(60, 0, -1)]
    ws.lake.append(
        "readings",
        pa.table(
            {
                "site": ["changwon-1"] * 60,
                "ts": ts,
                "line": ["line-1"] * 60,
                "asset": ["press-01"] * 60,
                "signal": ["anomaly_score"] * 60,
                "value": [0.2 + 0.02 * i for i in range(60)],
            }
        ),
    )
    ws.lake.append(
        "readings",
        pa.table(
            {
                "site": ["changwon-1"],
                "ts": [now - dt.timedelta(minutes=1)],
                "asset": ["press-01"],
                "signal": ["rul_h"],
                "value": [41.5],
            }
        ),
    )
    ws.lake.append(
        "events",
        pa.table(
            {
                "site": ["changwon-1"],
                "ts": [now - dt.timedelta(minutes=2)],
                "event_id": ["detect-test-1"],
                "kind": ["detect.anomaly"],
                "asset": ["press-01"],
                "severity": pa.array([2], pa.int16()),
                "message": ["vibration pattern"],
                "payload": [
                    json.dumps(
                        {"score": 1.4, "contributions": {"vibration_rms": 0.7, "oil_temp": 0.3}}
                    )
                ],
            }
        ),
    )
    with Ledger.for_workspace(ws.root, ws.plant.site.id) as ledger:
        ledger.keys.generate(ledger.origin)
        lot = (
            ws.lake.query("SELECT lot FROM production GROUP BY lot ORDER BY max(ts) LIMIT 1")
            .column("lot")[0]
            .as_py()
        )
        issue_certificate(ledger, ws.lake, ws.plant, lot, out_dir=ws.root / "certificates")
        ledger.checkpoint()
    app = create_app(ws, ApiConfig(max_body_bytes=64 * 1024, live_interval_s=0.5, cache_ttl_s=0))
    ctx: ApiContext = app.state.ctx
    tokens = {r.value: ctx.tokens.issue(f"{r.value} user", r) for r in Role}
    tokens["elsewhere"] = ctx.tokens.issue("other site", Role.ADMIN, sites=("busan-2",))
    raise_alarm(ctx, "test-press-hot")
    feed = None
    if live:
        engine = demo_rules(ws)
        ctx.engine = engine
        feed = LiveFeed(ctx, run, engine, [], now, period_s=1.0)
        feed.start()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:  # pragma: no cover - environment failure
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    served = Served(f"http://127.0.0.1:{port}", ws, ctx, tokens, feed)
    served._server = server  # type: ignore[attr-defined]
    served._thread = thread  # type: ignore[attr-defined]
    return served


def stop(served: Served) -> None:
    """Stops the feed and the server."""
    if served.feed is not None:
        served.feed.stop()
    served._server.should_exit = True  # type: ignore[attr-defined]
    served._thread.join(timeout=10)  # type: ignore[attr-defined]
    served.ctx.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API test plant (no live feed), built once."""
    s = build(tmp_path_factory.mktemp("api-plant"), live=False)
    yield s
    stop(s)
