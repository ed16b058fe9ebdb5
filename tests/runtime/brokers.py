"""Real servers for streaming tests: a Mosquitto started on a free loopback port.

Not a fake: the broker is the system's ``/usr/sbin/mosquitto`` with a config file in the
test's temporary folder (persistence on, so a restart keeps sessions and queues).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    """Waits until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class Mosquitto:
    """A broker process on ``port`` with its own config, log and persistence folder."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 1\n"
            # nothing lost while a persistent client is away: no cap on its queue
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            f"log_dest file {folder}/mosquitto.log\n"
            # as root, mosquitto would switch to user `mosquitto`, which cannot write the
            # test's private temporary folder: the persistence file (sessions and queues
            # surviving a restart) would silently not be saved
            + ("user root\n" if os.geteuid() == 0 else ""),
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port)
        return self

    def stop(self) -> None:
        """Stops gracefully (SIGTERM: the broker saves sessions and queues)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
