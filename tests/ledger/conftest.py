"""Fixtures of the ledger tests: a fresh ledger with a signing key, the shared vectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryax.ledger import Ledger

ORIGIN = "example.com/factoryax-test"
VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "testvectors" / "merkle"
"""The Merkle test vectors, in the ``shared`` folder beside the checkout (CI has it)."""


def vectors_dir() -> Path:
    """The vectors folder, or skips the calling test with the reason."""
    if not VECTORS.is_dir():
        pytest.skip(f"test vectors not found at {VECTORS} (CI provides ../shared)")
    return VECTORS


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger in a temporary folder, with one signing key."""
    led = Ledger.open(tmp_path / "ledger", origin=ORIGIN)
    led.keys.generate(ORIGIN)
    yield led
    led.close()
