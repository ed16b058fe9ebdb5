"""The twin's port to the outside world: where live mode sends what it simulates."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Publisher"]


class Publisher(Protocol):
    """Sends one message to a topic; adapters carry the technology in their name."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Queues or sends one message."""
        ...

    def close(self) -> None:
        """Delivers what is queued (as far as the transport promises) and disconnects."""
        ...
