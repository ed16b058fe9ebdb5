"""Public test helpers: a scripted OpenAI-compatible LLM server on loopback, tiny plants.

:class:`ScriptedLLM` serves ``POST /v1/chat/completions`` on 127.0.0.1 from a script of
steps (tool calls, final text, malformed JSON, an HTTP error, a delay), and records every
request it got, so tests drive the LLM planner end to end without a model.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["ScriptedLLM", "Step", "tiny_workspace"]


@dataclass
class Step:
    """One scripted reply.

    Attributes:
        tool_calls: ``[(name, arguments_json_text)]`` to return as tool calls.
        content: final text.
        status: HTTP status (500 for a server error).
        raw: a raw body instead of JSON (malformed responses).
        delay_s: sleep before replying (timeouts).
    """

    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    content: str | None = None
    status: int = 200
    raw: str | None = None
    delay_s: float = 0.0


class ScriptedLLM:
    """An OpenAI-compatible chat-completions server that replies from ``steps`` in order.

    Use as a context manager; :attr:`base_url` goes into the agent's LLM config. When the
    script runs out it answers HTTP 500.
    """

    def __init__(self, steps: list[Step]) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    step = outer.steps.pop(0) if outer.steps else Step(status=500)
                if step.delay_s:
                    time.sleep(step.delay_s)
                if step.raw is not None:
                    data = step.raw.encode()
                else:
                    message: dict[str, Any] = {"role": "assistant", "content": step.content}
                    if step.tool_calls:
                        message["tool_calls"] = [
                            {
                                "id": f"call_{i}",
                                "type": "function",
                                "function": {"name": n, "arguments": a},
                            }
                            for i, (n, a) in enumerate(step.tool_calls)
                        ]
                    data = json.dumps(
                        {
                            "id": "scripted",
                            "model": body.get("model", "scripted"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": message,
                                    "finish_reason": "tool_calls" if step.tool_calls else "stop",
                                }
                            ],
                            "usage": {"prompt_tokens": 100, "completion_tokens": 20},
                        }
                    ).encode()
                try:
                    self.send_response(step.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def tiny_workspace(
    root: Path, *, day: dt.date, hours: float = 24.0, sample_s: float = 60.0
) -> Path:
    """Creates a workspace with the example plant and ``hours`` of twin data from ``day``.

    Returns the workspace folder (``root``); the ground truth stays beside the lake.
    """
    from factoryax.config import PLANT_FILE, Workspace
    from factoryax.twin import simulate, write_to_lake

    text = (Path(__file__).parent / "templates" / "plant.toml").read_text("utf-8")
    root.mkdir(parents=True, exist_ok=True)
    (root / PLANT_FILE).write_text(text, encoding="utf-8")
    ws = Workspace.find(root)
    run = simulate(ws.plant, start=day, horizon=dt.timedelta(hours=hours), sample_s=sample_s)
    write_to_lake(run, ws.plant, ws.lake)
    return root
