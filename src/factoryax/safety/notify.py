"""Notifications for alarm events: a :class:`Notifier` port, webhook and SMTP adapters,
and a :class:`Dispatcher` that rate-limits per rule and finds alarms to escalate.

Contract:

- a notifier never raises into the engine: every send returns a :class:`Delivery` saying
  whether it got through, after how many attempts and why not;
- webhook bodies are canonical JSON signed with HMAC-SHA256 over the exact bytes sent
  (``X-FactoryAX-Signature: sha256=<hex>``) and carry ``Idempotency-Key: <event_id>`` so a
  retried POST can be deduplicated by the receiver;
- connection errors, timeouts and 5xx answers are retried with exponential backoff up to
  ``max_attempts``; a 4xx answer is not retried (the request itself is wrong);
- rate limiting counts the events' own timestamps, never the wall clock; the highest
  priority (``never_drop``, default ``urgent``) is never dropped;
- backoff sleeps go through an injectable ``sleep`` callable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from time import sleep as _time_sleep
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from factoryax.safety.alarms import AlarmEvent, AlarmState
from factoryax.safety.rules import PRIORITY_SEVERITY

__all__ = [
    "Delivery",
    "Dispatcher",
    "Notifier",
    "NotifyConfig",
    "SmtpConfig",
    "SmtpNotifier",
    "WebhookConfig",
    "WebhookNotifier",
    "build_notifiers",
    "email_message",
    "event_body",
    "sign",
]

Sleep = Callable[[float], None]
Priority = Literal["low", "medium", "high", "urgent"]
_PRIORITY_OF: dict[int, str] = {v: k for k, v in PRIORITY_SEVERITY.items()}
_UNACK = (AlarmState.UNACK, AlarmState.RTN_UNACK)


# -- configuration ----------------------------------------------------------------------------
class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookConfig(_Frozen):
    """One webhook target: ``[safety.notify.webhook]`` (or ``.escalation_webhook``)."""

    url: str
    secret: SecretStr
    """Shared HMAC-SHA256 key; the receiver recomputes the signature over the raw body."""
    max_attempts: int = Field(5, ge=1)
    backoff_s: float = Field(0.5, ge=0)
    """First retry waits this long, then doubles each attempt up to ``backoff_max_s``."""
    backoff_max_s: float = Field(30.0, ge=0)
    timeout_s: float = Field(5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        return url


class SmtpConfig(_Frozen):
    """One e-mail target: ``[safety.notify.smtp]`` (or ``.escalation_smtp``)."""

    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str
    recipients: tuple[str, ...] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    max_attempts: int = Field(3, ge=1)
    backoff_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    timeout_s: float = Field(10.0, gt=0)


class NotifyConfig(_Frozen):
    """The validated ``[safety.notify]`` table.

    Examples:
        >>> cfg = NotifyConfig.model_validate({"rate_limit": 3, "escalate_after_s": 600})
        >>> cfg.rate_limit, cfg.rate_window_s, cfg.never_drop
        (3, 600.0, 'urgent')
    """

    kinds: tuple[str, ...] = ("alarm.active",)
    """Which event kinds are sent (acknowledgements are always tracked for escalation)."""
    rate_limit: int = Field(5, ge=1)
    """At most this many notifications per rule within ``rate_window_s``."""
    rate_window_s: float = Field(600.0, gt=0)
    never_drop: Priority = "urgent"
    """Events of this priority or higher are sent even past the rate limit."""
    escalate_after_s: float = Field(900.0, ge=0)
    """An alarm still unacknowledged this long is escalated once (0 turns it off)."""
    webhook: WebhookConfig | None = None
    smtp: SmtpConfig | None = None
    escalation_webhook: WebhookConfig | None = None
    escalation_smtp: SmtpConfig | None = None


# -- the port -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    """What became of one notification."""

    notifier: str
    event_id: str
    ok: bool
    attempts: int
    status: int | None = None
    """The HTTP status (webhook) or SMTP reply code of the last attempt, when there was one."""
    error: str | None = None
    escalation: bool = False


@runtime_checkable
class Notifier(Protocol):
    """Sends one alarm event somewhere; never raises, returns a :class:`Delivery`."""

    name: str

    def send(self, event: AlarmEvent, *, escalation: bool = False) -> Delivery:
        """Delivers ``event`` (``escalation``: it is an escalation of an unacked alarm)."""
        ...


def event_body(event: AlarmEvent, *, escalation: bool = False) -> bytes:
    """The canonical JSON body of ``event`` (sorted keys, no spaces, UTF-8).

    Examples:
        >>> import datetime as dt
        >>> from factoryax.safety.alarms import Alarm
        >>> t = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        >>> [e] = Alarm("hot", severity=3, message="oil hot").set_condition(True, t)
        >>> json.loads(event_body(e))["priority"]
        'high'
    """
    doc = {
        "ts": event.ts.isoformat(),
        "event_id": event.event_id,
        "kind": event.kind,
        "rule": event.rule,
        "line": event.line,
        "asset": event.asset,
        "severity": event.severity,
        "priority": _PRIORITY_OF.get(event.severity, str(event.severity)),
        "message": event.message,
        "from": event.from_state.value,
        "to": event.to_state.value,
        "who": event.who,
        "why": event.why,
        "escalation": escalation,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes, secret: str) -> str:
    """The ``X-FactoryAX-Signature`` value: ``sha256=`` and the hex HMAC of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return float(min(cap, base * 2 ** (attempt - 1)))


# -- adapters -----------------------------------------------------------------------------------
class WebhookNotifier:
    """POSTs the event as signed JSON; retries connection errors and 5xx with backoff.

    Args:
        config: the target.
        sleep: called with each backoff in seconds (tests pass a recorder).
        opener: the urllib opener (default honours the environment's proxy settings).
    """

    def __init__(
        self,
        config: WebhookConfig,
        *,
        sleep: Sleep = _time_sleep,
        opener: urllib.request.OpenerDirector | None = None,
        name: str = "webhook",
    ) -> None:
        self.config = config
        self.name = name
        self._sleep = sleep
        self._opener = opener or urllib.request.build_opener()

    def send(self, event: AlarmEvent, *, escalation: bool = False) -> Delivery:
        """POSTs ``event``; returns how it went, never raises."""
        cfg = self.config
        body = event_body(event, escalation=escalation)
        key = event.event_id + (":escalation" if escalation else "")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-FactoryAX-Signature": sign(body, cfg.secret.get_secret_value()),
            "Idempotency-Key": key,
            "User-Agent": "factoryax-safety",
        }
        status: int | None = None
        error: str | None = None
        for attempt in range(1, cfg.max_attempts + 1):
            retry = False
            try:
                req = urllib.request.Request(cfg.url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked in WebhookConfig
                with self._opener.open(req, timeout=cfg.timeout_s) as resp:
                    status = int(resp.status)
                    resp.read()
                return Delivery(self.name, event.event_id, True, attempt, status, None, escalation)
            except urllib.error.HTTPError as err:
                status, error = err.code, f"HTTP {err.code} {err.reason}"
                retry = err.code >= 500
                err.close()
            except (urllib.error.URLError, OSError) as err:  # refused, reset, DNS, timeout
                status, error = None, f"{type(err).__name__}: {err}"
                retry = True
            except Exception as err:  # never raise into the engine
                status, error = None, f"{type(err).__name__}: {err}"
            if not retry:
                return Delivery(
                    self.name, event.event_id, False, attempt, status, error, escalation
                )
            if attempt < cfg.max_attempts:
                self._sleep(_backoff(attempt, cfg.backoff_s, cfg.backoff_max_s))
        return Delivery(
            self.name, event.event_id, False, cfg.max_attempts, status, error, escalation
        )


_BODY = """\
[FactoryAX 안전 알람 / Safety alarm]{esc_ko}

규칙 / Rule: {rule}
우선순위 / Priority: {priority} (severity {severity})
상태 / State: {from_state} -> {to_state} ({kind})
시각 / Time (UTC): {ts}
라인 / Line: {line}
설비 / Asset: {asset}
내용 / Message: {message}
사유 / Why: {why}
이벤트 / Event ID: {event_id}

{ack_ko}
{ack_en}
"""


def email_message(
    event: AlarmEvent, sender: str, recipients: Sequence[str], *, escalation: bool = False
) -> EmailMessage:
    """The plain-text e-mail for ``event``: subject with priority and rule, Korean + English."""
    priority = _PRIORITY_OF.get(event.severity, str(event.severity)).upper()
    prefix = "[ESCALATION 미확인 알람] " if escalation else ""
    msg = EmailMessage()
    msg["Subject"] = f"{prefix}[FactoryAX {priority}] {event.rule}: {event.message or event.kind}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    domain = sender.rpartition("@")[2] or "factoryax.local"
    msg["Message-ID"] = f"<{event.event_id}{'.esc' if escalation else ''}@{domain}>"
    msg["X-FactoryAX-Event-Id"] = event.event_id
    msg.set_content(
        _BODY.format(
            esc_ko=" — 에스컬레이션: 아직 확인되지 않음 / escalation: still unacknowledged"
            if escalation
            else "",
            rule=event.rule,
            priority=priority,
            severity=event.severity,
            from_state=event.from_state.value,
            to_state=event.to_state.value,
            kind=event.kind,
            ts=event.ts.astimezone(dt.UTC).isoformat(),
            line=event.line or "-",
            asset=event.asset or "-",
            message=event.message or "-",
            why=event.why or "-",
            event_id=event.event_id,
            ack_ko="HMI에서 알람을 확인(ack)하십시오.",
            ack_en="Please acknowledge the alarm at the HMI.",
        )
    )
    return msg


class SmtpNotifier:
    """Sends the event as a plain-text e-mail (Korean and English) with stdlib smtplib.

    Connection errors and 4xx (transient) SMTP replies are retried with backoff; 5xx
    replies (rejected sender or recipients) are not.
    """

    def __init__(
        self, config: SmtpConfig, *, sleep: Sleep = _time_sleep, name: str = "smtp"
    ) -> None:
        self.config = config
        self.name = name
        self._sleep = sleep

    def _deliver(self, msg: EmailMessage) -> None:
        cfg = self.config
        with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username is not None and cfg.password is not None:
                smtp.login(cfg.username, cfg.password.get_secret_value())
            smtp.send_message(msg, from_addr=cfg.sender, to_addrs=list(cfg.recipients))

    def send(self, event: AlarmEvent, *, escalation: bool = False) -> Delivery:
        """E-mails ``event``; returns how it went, never raises."""
        cfg = self.config
        error: str | None = None
        code: int | None = None
        for attempt in range(1, cfg.max_attempts + 1):
            retry = False
            try:
                msg = email_message(event, cfg.sender, cfg.recipients, escalation=escalation)
                self._deliver(msg)
                return Delivery(self.name, event.event_id, True, attempt, 250, None, escalation)
            except smtplib.SMTPRecipientsRefused as err:
                code, error = None, f"recipients refused: {sorted(err.recipients)}"
            except smtplib.SMTPResponseException as err:
                code, error = err.smtp_code, f"SMTP {err.smtp_code} {err.smtp_error!r}"
                retry = 400 <= err.smtp_code < 500
            except (smtplib.SMTPServerDisconnected, OSError) as err:
                code, error = None, f"{type(err).__name__}: {err}"
                retry = True
            except Exception as err:  # never raise into the engine
                code, error = None, f"{type(err).__name__}: {err}"
            if not retry:
                return Delivery(self.name, event.event_id, False, attempt, code, error, escalation)
            if attempt < cfg.max_attempts:
                self._sleep(_backoff(attempt, cfg.backoff_s, cfg.backoff_max_s))
        return Delivery(self.name, event.event_id, False, cfg.max_attempts, code, error, escalation)


def build_notifiers(
    config: NotifyConfig, *, sleep: Sleep = _time_sleep
) -> tuple[list[Notifier], list[Notifier]]:
    """The primary and escalation notifiers the config declares."""
    primary: list[Notifier] = []
    second: list[Notifier] = []
    if config.webhook is not None:
        primary.append(WebhookNotifier(config.webhook, sleep=sleep))
    if config.smtp is not None:
        primary.append(SmtpNotifier(config.smtp, sleep=sleep))
    if config.escalation_webhook is not None:
        second.append(
            WebhookNotifier(config.escalation_webhook, sleep=sleep, name="escalation-webhook")
        )
    if config.escalation_smtp is not None:
        second.append(SmtpNotifier(config.escalation_smtp, sleep=sleep, name="escalation-smtp"))
    return primary, second


# -- dispatch -----------------------------------------------------------------------------------
@dataclass
class Dispatcher:
    """Routes alarm events to notifiers, rate-limited per rule, and tracks unacked alarms.

    Args:
        config: the ``[safety.notify]`` table.
        notifiers: where admitted events go.
        escalation: where :meth:`escalate` sends alarms still unacknowledged.

    Examples:
        >>> import datetime as dt
        >>> from factoryax.safety.alarms import Alarm
        >>> t = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        >>> d = Dispatcher(NotifyConfig(escalate_after_s=60))
        >>> d.admit(Alarm("hot", severity=3, message="").set_condition(True, t)[0])
        True
        >>> [e.rule for e in d.due_escalations(t + dt.timedelta(seconds=60))]
        ['hot']
    """

    config: NotifyConfig
    notifiers: Sequence[Notifier] = ()
    escalation: Sequence[Notifier] = ()
    deliveries_: list[Delivery] = field(default_factory=list)
    dropped_: list[AlarmEvent] = field(default_factory=list)
    _sent: dict[str, deque[dt.datetime]] = field(default_factory=dict)
    _unacked: dict[str, AlarmEvent] = field(default_factory=dict)
    _escalated: set[str] = field(default_factory=set)

    def _track(self, event: AlarmEvent) -> None:
        """Keeps the event that started each alarm's current unacknowledged episode."""
        if event.to_state in _UNACK:
            self._unacked.setdefault(event.rule, event)
        else:
            gone = self._unacked.pop(event.rule, None)
            if gone is not None:
                self._escalated.discard(gone.event_id)

    def admit(self, event: AlarmEvent) -> bool:
        """Tracks ``event``; True when it should be sent (its kind, within the rate limit).

        A dropped event is appended to ``dropped_``.
        """
        self._track(event)
        if event.kind not in self.config.kinds:
            return False
        window = dt.timedelta(seconds=self.config.rate_window_s)
        sent = self._sent.setdefault(event.rule, deque())
        while sent and sent[0] <= event.ts - window:
            sent.popleft()
        keep = event.severity >= PRIORITY_SEVERITY[self.config.never_drop]
        if len(sent) >= self.config.rate_limit and not keep:
            self.dropped_.append(event)
            return False
        sent.append(event.ts)
        return True

    def submit(self, event: AlarmEvent) -> list[Delivery]:
        """Admits ``event`` and, if admitted, sends it to every notifier; never raises."""
        if not self.admit(event):
            return []
        out = [_safe_send(n, event, escalation=False) for n in self.notifiers]
        self.deliveries_.extend(out)
        return out

    def due_escalations(self, now: dt.datetime) -> list[AlarmEvent]:
        """Alarms unacknowledged for at least ``escalate_after_s`` at ``now``, each once.

        Returns the event that raised each alarm, oldest first, and marks it escalated; a
        later acknowledgement and a new activation make the alarm eligible again.
        """
        after = self.config.escalate_after_s
        if after <= 0:
            return []
        limit = now - dt.timedelta(seconds=after)
        due = sorted(
            (
                e
                for e in self._unacked.values()
                if e.ts <= limit and e.event_id not in self._escalated
            ),
            key=lambda e: (e.ts, e.rule),
        )
        self._escalated.update(e.event_id for e in due)
        return due

    def escalate(self, now: dt.datetime) -> list[Delivery]:
        """Sends :meth:`due_escalations` to the escalation notifiers; never raises."""
        out = [
            _safe_send(n, e, escalation=True)
            for e in self.due_escalations(now)
            for n in self.escalation
        ]
        self.deliveries_.extend(out)
        return out


def _safe_send(notifier: Notifier, event: AlarmEvent, *, escalation: bool) -> Delivery:
    """Calls a notifier, turning an exception from a third-party adapter into a Delivery."""
    try:
        return notifier.send(event, escalation=escalation)
    except Exception as err:  # never raise into the engine
        name = getattr(notifier, "name", type(notifier).__name__)
        return Delivery(
            str(name), event.event_id, False, 1, None, f"{type(err).__name__}: {err}", escalation
        )
