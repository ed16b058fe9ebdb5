"""A live plant (the twin feeding the lake in-process) served for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Served, build, stop

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="package")
def live_plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A served plant whose twin keeps releasing rows into the lake each second."""
    s = build(tmp_path_factory.mktemp("web-plant"), live=True)
    yield s
    stop(s)


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser).

    Package-scoped: Playwright's sync API keeps an event loop running in this thread
    until it exits, and later tests (the MCP client) need ``asyncio.run``.
    """
    if not CHROMIUM.is_file():
        pytest.skip("/usr/bin/chromium is missing; run scripts/system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()
