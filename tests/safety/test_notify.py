"""Tests of factoryax.safety.notify: webhook and SMTP on loopback, rate limits, escalation."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from factoryax.safety import (
    Alarm,
    AlarmEvent,
    Dispatcher,
    NotifyConfig,
    SmtpNotifier,
    WebhookNotifier,
)
from factoryax.safety.notify import Delivery, SmtpConfig, WebhookConfig

T0 = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
SECRET = "s3cret-key"  # noqa: S105 - a test key


def at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def raise_alarm(rule: str = "oil-hot", severity: int = 3, t: float = 0.0) -> AlarmEvent:
    alarm = Alarm(rule, severity=severity, message="유압유 과열 oil hot", asset="press-01")
    [event] = alarm.set_condition(True, at(t), why="oil_temp 95 > 90")
    return event


class _Hook:
    """A loopback HTTP server answering each POST with the next scripted status."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[Message, bytes]] = []
        self.done = threading.Event()
        self.expect = len(statuses)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((self.headers, body))
                code = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if len(hook.requests) >= hook.expect:
                    hook.done.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alarms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def webhook(url: str, sleeps: list[float], attempts: int = 4) -> WebhookNotifier:
    cfg = WebhookConfig(url=url, secret=SECRET, max_attempts=attempts, backoff_s=0.5)  # type: ignore[arg-type]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return WebhookNotifier(cfg, sleep=sleeps.append, opener=opener)


def test_webhook_signed_and_idempotent() -> None:
    """A webhook POST carries the event as JSON, a valid HMAC signature and the event id."""
    event = raise_alarm()
    sleeps: list[float] = []
    with _Hook([200]) as hook:
        result = webhook(hook.url, sleeps).send(event)
        assert hook.done.wait(5)
    assert result.ok and result.attempts == 1 and result.status == 200
    headers, body = hook.requests[0]
    want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-FactoryAX-Signature"], want)
    assert headers["Idempotency-Key"] == event.event_id
    doc = json.loads(body)
    assert (doc["rule"], doc["priority"], doc["event_id"]) == ("oil-hot", "high", event.event_id)
    assert doc["message"] == "유압유 과열 oil hot" and sleeps == []


def test_webhook_retries_after_503() -> None:
    """A 503 is retried after a backoff with the same body and idempotency key."""
    event = raise_alarm()
    sleeps: list[float] = []
    with _Hook([503, 200]) as hook:
        result = webhook(hook.url, sleeps).send(event)
        assert hook.done.wait(5)
    assert result.ok and result.attempts == 2
    assert sleeps == [0.5]
    (h1, b1), (h2, b2) = hook.requests
    assert b1 == b2 and h1["Idempotency-Key"] == h2["Idempotency-Key"] == event.event_id


def test_webhook_gives_up_without_raising() -> None:
    """After N failed attempts the webhook returns a failed Delivery with doubling backoffs."""
    sleeps: list[float] = []
    with _Hook([500, 502, 503, 504]) as hook:
        result = webhook(hook.url, sleeps, attempts=4).send(raise_alarm())
        assert hook.done.wait(5)
    assert not result.ok and result.attempts == 4 and result.status == 504
    assert len(hook.requests) == 4 and sleeps == [0.5, 1.0, 2.0]


def test_webhook_4xx_not_retried() -> None:
    """A 4xx answer is a failed delivery at once; retrying would not help."""
    sleeps: list[float] = []
    with _Hook([400]) as hook:
        result = webhook(hook.url, sleeps).send(raise_alarm())
        assert hook.done.wait(5)
    assert not result.ok and result.attempts == 1 and result.status == 400 and sleeps == []


def test_webhook_connection_refused_without_raising() -> None:
    """A closed port is retried and then reported, never raised."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    result = webhook(f"http://127.0.0.1:{port}/", sleeps, attempts=3).send(raise_alarm())
    assert not result.ok and result.attempts == 3 and result.error and len(sleeps) == 2


def test_webhook_config_rejects_non_http() -> None:
    """Only http(s) URLs are accepted (urllib would also open file:// URLs)."""
    with pytest.raises(ValueError, match="http"):
        WebhookConfig.model_validate({"url": "file:///etc/passwd", "secret": "x"})


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[Any], threading.Event]]:
    aiosmtpd = pytest.importorskip(
        "aiosmtpd.controller", reason="aiosmtpd not installed (pip install aiosmtpd)"
    )
    received: list[Any] = []
    got = threading.Event()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            got.set()
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received, got
    finally:
        controller.stop()


def test_smtp_sends_bilingual_mail(smtp_server: tuple[int, list[Any], threading.Event]) -> None:
    """An e-mail reaches a loopback SMTP server with priority and rule in the subject."""
    port, received, got = smtp_server
    cfg = SmtpConfig(
        host="127.0.0.1",
        port=port,
        sender="alarms@plant.example",
        recipients=("shift@plant.example",),
    )
    event = raise_alarm()
    result = SmtpNotifier(cfg, sleep=lambda s: None).send(event)
    assert got.wait(5)
    assert result.ok and result.attempts == 1
    envelope = received[0]
    assert envelope.rcpt_tos == ["shift@plant.example"]
    msg = message_from_bytes(envelope.content, policy=policy.default)
    assert "HIGH" in msg["Subject"] and "oil-hot" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    assert "우선순위 / Priority: HIGH" in text and event.event_id in text
    assert "확인(ack)" in text and "Please acknowledge" in text


def test_smtp_unreachable_without_raising() -> None:
    """An unreachable SMTP server gives a failed Delivery after its attempts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    cfg = SmtpConfig(
        host="127.0.0.1",
        port=port,
        sender="a@b.example",
        recipients=("c@d.example",),
        max_attempts=2,
        timeout_s=2,
    )
    result = SmtpNotifier(cfg, sleep=sleeps.append).send(raise_alarm())
    assert not result.ok and result.attempts == 2 and sleeps == [1.0]


def test_rate_limit_keeps_highest_priority() -> None:
    """Past K per window a rule's events are dropped, except urgent ones; the window slides."""
    d = Dispatcher(NotifyConfig(rate_limit=2, rate_window_s=60, kinds=("alarm.active",)))
    high = [raise_alarm(severity=3, t=t) for t in (0, 10, 20)]
    urgent = raise_alarm(severity=4, t=30)
    other_rule = raise_alarm(rule="vib", severity=1, t=30)
    later = raise_alarm(severity=3, t=71)  # urgent ones count: 30 is still in the window
    got = [d.admit(e) for e in [*high, urgent, other_rule, later]]
    assert got == [True, True, False, True, True, True]
    assert d.dropped_ == [high[2]]


def test_submit_records_and_never_raises() -> None:
    """A notifier that raises becomes a failed Delivery; sent deliveries are recorded."""

    class Boom:
        name = "boom"

        def send(self, event: AlarmEvent, *, escalation: bool = False) -> Delivery:
            raise RuntimeError("adapter bug")

    d = Dispatcher(NotifyConfig(), notifiers=[Boom()])
    [delivery] = d.submit(raise_alarm())
    assert not delivery.ok and "adapter bug" in (delivery.error or "")
    assert d.deliveries_ == [delivery]


def test_escalation_after_timeout() -> None:
    """An alarm unacked past escalate_after_s is escalated once; an acked one is not."""
    sent: list[tuple[str, bool]] = []

    class Pager:
        name = "pager"

        def send(self, event: AlarmEvent, *, escalation: bool = False) -> Delivery:
            sent.append((event.rule, escalation))
            return Delivery(self.name, event.event_id, True, 1, escalation=escalation)

    d = Dispatcher(NotifyConfig(escalate_after_s=300), escalation=[Pager()])
    hot = Alarm("oil-hot", severity=3, message="oil hot")
    vib = Alarm("vib", severity=2, message="vibration")
    for e in [*hot.set_condition(True, at(0)), *vib.set_condition(True, at(10))]:
        d.submit(e)
    for e in vib.acknowledge(at(100), who="kim"):
        d.submit(e)
    assert d.due_escalations(at(299)) == []
    assert [r.ok for r in d.escalate(at(300))] == [True]
    assert sent == [("oil-hot", True)]
    assert d.escalate(at(900)) == []  # once per episode
    for e in hot.set_condition(False, at(901)):  # rtn while unacked: still unacknowledged
        d.submit(e)
    assert d.due_escalations(at(1000)) == []
