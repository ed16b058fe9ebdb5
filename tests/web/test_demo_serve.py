"""`factoryax demo` (a quarter day, on a free port) reaches a served dashboard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_demo_serves_the_dashboard_with_a_login_token(tmp_path: Path) -> None:
    """The demo prints a token, serves the page and the API, and keeps the twin live."""
    port = _free_port()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "factoryax",
            "demo",
            "-w",
            str(tmp_path / "demo"),
            "--days",
            "0.25",
            "--sample-s",
            "10",
            "--port",
            str(port),
            "--live-hours",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        output: list[str] = []
        token = None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("fax_"):
                token = line.strip()
                break
        assert token, "".join(output)
        text = "".join(output)
        assert f"http://127.0.0.1:{port}/" in text
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/api/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        page = httpx.get(url + "/", timeout=30)
        assert page.status_code == 200 and "/static/app.js" in page.text
        assert httpx.get(url + "/static/app.js", timeout=30).status_code == 200
        hdr = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url + "/api/me", headers=hdr, timeout=30).json()["role"] == "admin"
        overview = httpx.get(url + "/api/overview", headers=hdr, timeout=60).json()
        assert len(overview["states"]) == 5
        certs = httpx.get(url + "/api/certificates", headers=hdr, timeout=60).json()
        assert certs, "the demo issues certificates for the latest lots"
        first = httpx.get(url + "/api/health", headers=hdr, timeout=60).json()
        rows = {t["table"]: t["rows"] for t in first["lake"]}["readings"]
        grown = rows
        for _ in range(200):  # the live twin adds rows as the wall clock passes
            time.sleep(0.25)
            health = httpx.get(url + "/api/health", headers=hdr, timeout=60).json()
            grown = {t["table"]: t["rows"] for t in health["lake"]}["readings"]
            if grown > rows:
                break
        assert grown > rows
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
