"""Fixtures of the runtime tests: a real Mosquitto, a workspace whose plant has sources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.brokers import Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free loopback port (persistence on, unlimited queues)."""
    with Mosquitto(tmp_path / "broker") as b:
        yield b
