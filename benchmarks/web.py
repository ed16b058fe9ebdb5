"""Web benchmark: first render of the overview and of an asset page holding a week of 1 Hz
data, and API p95 latency under 50 concurrent clients — each beside a static-file baseline
served by the same server in the same run.

The plant: the twin's example line simulated for ``--days`` (default 7) at 1 Hz up to now
(about 12 M readings), ingested into a fresh lake, served by uvicorn on loopback in its own
process (one worker, as ``factoryax serve`` runs).
Render times come from headless Debian Chromium (Playwright, /usr/bin/chromium): from
navigation to the page's ``data-rendered`` mark (overview: tiles and OEE gauges; asset
page: 5 signal charts of 604,800 raw points each, LTTB-downsampled server-side, plus the
anomaly chart). The baseline is loading a static file (``/static/app.css``) in the same
browser. The load generator is httpx (asyncio) with ``--clients`` concurrent clients, each
making ``--requests`` calls in a row to ``/api/overview`` (cached KPIs) and, separately,
``/api/readings`` (one signal, 24 h, 1,500 points), against ``/static/app.css``.

Usage: python benchmarks/web.py [--days 7] [--clients 50] [--requests 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc

from factoryax.api import API_DIR, Role, TokenStore
from factoryax.cli.main import example_plant_toml
from factoryax.config import Workspace
from factoryax.core import utc_now
from factoryax.twin import simulate, write_to_lake

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def build(root: Path, days: float) -> Workspace:
    (root / "plant.toml").write_text(example_plant_toml(), encoding="utf-8")
    ws = Workspace.find(root)
    now = utc_now().replace(microsecond=0)
    t0 = time.perf_counter()
    run = simulate(
        ws.plant,
        start=now - dt.timedelta(days=days),
        horizon=dt.timedelta(days=days),
        seed=1,
        sample_s=1.0,
    )
    started = pc.less(run.states["start"], pa.scalar(now, run.states["start"].type))
    run = dataclasses.replace(run, states=run.states.filter(started))
    write_to_lake(run, ws.plant, ws.lake)
    for table in ("readings", "production", "states", "events"):
        ws.lake.compact(table)
    rows = {s.table: s.rows for s in ws.lake.status()}["readings"]
    print(
        f"plant: {days:g} day(s) at 1 Hz, {rows:,} readings, built in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return ws


def serve(ws: Workspace) -> tuple[str, subprocess.Popen[bytes], str]:
    """Starts uvicorn in its own process (the load generator must not share its GIL)."""
    store = TokenStore(ws.root / API_DIR / "api.sqlite")
    token = store.issue("bench", Role.ADMIN)
    store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import sys, uvicorn; from factoryax.api import create_app; "
        "from factoryax.config import Workspace; "
        "app = create_app(Workspace.find(sys.argv[1])); "
        "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', "
        "access_log=False, timeout_keep_alive=120)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(ws.root), str(port)], stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/api/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return url, proc, token


def renders(url: str, token: str, repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=LAUNCH_ARGS
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(300_000)
        page.goto(url + "/")
        page.fill("#token", token)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#page[data-rendered='1']")

        def timed_load(target: str, ready: str | None) -> float:
            page.goto("about:blank")
            t0 = time.perf_counter()
            page.goto(url + target)
            if ready:
                page.wait_for_selector(ready)
            return time.perf_counter() - t0

        results: dict[str, list[float]] = {"static": [], "overview": [], "asset": []}
        for _ in range(repeat):
            results["static"].append(timed_load("/static/app.css", None))
            results["overview"].append(
                timed_load("/#/overview", "#page[data-page='overview'][data-rendered='1']")
            )
            results["asset"].append(
                timed_load("/#/asset/press-01", "#page[data-page='asset'][data-rendered='1']")
            )
        points = page.eval_on_selector("#chart-vibration_rms", "c => c.dataset.points")
        browser.close()
    base = statistics.median(results["static"])
    print(f"\nfirst render (median of {repeat}, headless Chromium):")
    print(f"  static file baseline     {base * 1000:8.1f} ms")
    for name in ("overview", "asset"):
        m = statistics.median(results[name])
        print(f"  {name:<24} {m * 1000:8.1f} ms   ratio {m / base:6.1f}x")
    print(f"  asset page: each signal chart drew {points} points (LTTB) of a week of raw rows")


async def load(url: str, token: str, path: str, clients: int, requests: int) -> list[float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, timeout=300, limits=limits, headers={"Authorization": f"Bearer {token}"}
    ) as c:

        async def one() -> None:
            for _ in range(requests):
                t0 = time.perf_counter()
                r = await c.get(path)
                r.raise_for_status()
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one() for _ in range(clients)))
    return latencies


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def api_load(url: str, token: str, clients: int, requests: int) -> None:
    paths = {
        "static /static/app.css": "/static/app.css",
        "GET /api/overview": "/api/overview",
        "GET /api/readings (24 h)": "/api/readings?asset=cnc-01&signal=spindle_current&hours=24",
    }
    asyncio.run(load(url, token, "/api/overview", 4, 2))  # warm caches
    print(f"\nAPI latency, {clients} concurrent clients x {requests} requests each:")
    base = None
    for name, path in paths.items():
        t0 = time.perf_counter()
        lat = asyncio.run(load(url, token, path, clients, requests))
        wall = time.perf_counter() - t0
        q = p95(lat)
        base = base or q
        print(
            f"  {name:<26} p50 {statistics.median(lat) * 1000:8.1f} ms  p95 {q * 1000:8.1f} ms"
            f"  {len(lat) / wall:7.1f} req/s   p95 ratio {q / base:6.1f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-render", action="store_true", help="Only the API load test.")
    ap.add_argument("--dir", type=Path, default=None, help="Workspace folder (default: temp).")
    args = ap.parse_args()
    if not Path("/usr/bin/chromium").is_file():
        sys.exit("needs /usr/bin/chromium (scripts/system-deps.sh)")
    root = args.dir or Path(tempfile.mkdtemp(prefix="fax-web-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        ws = build(root, args.days)
        url, proc, token = serve(ws)
        try:
            if not args.skip_render:
                renders(url, token, args.repeat)
            api_load(url, token, args.clients, args.requests)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
