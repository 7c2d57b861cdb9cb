"""Delivery channels as Dramatiq actors: email over SMTP and a signed webhook.

Actors take a delivery id, are idempotent (a ``sent`` row is not sent again) and are sent only after
the commit that created the row. Both are retried with backoff by Dramatiq's Retries middleware;
when the last try fails, ``on_retry_exhausted`` marks the row ``dead`` with its last error
(dead-lettered). A webhook the receiver refuses (4xx but 408/429) is dead
at once: ``throws=`` tells Dramatiq not to retry it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from engine import clock as engine_clock
from engine.broker import actor
from sla import runtime
from sla.alerts import alert_dict
from sla.models import Alert, AlertDelivery

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Onewindow-Signature"


class WebhookFailed(Exception):
    """The receiver did not accept the alert (Dramatiq retries, then dead-letters)."""


class WebhookRefused(WebhookFailed):
    """The receiver refused the alert itself (HTTP 4xx other than 408/429): trying again cannot help,
    so the delivery is dead at once (``throws=``: Dramatiq does not retry it)."""


RETRYABLE_4XX = {408, 429}


def sign(secret: str, body: bytes) -> str:
    """The webhook signature: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_all(delivery_ids: list[int]) -> None:
    rt = runtime.current
    with runtime.database().read() as s:
        stmt = select(AlertDelivery.id, AlertDelivery.channel).where(AlertDelivery.id.in_(delivery_ids))
        rows = s.execute(stmt).all()
    for delivery_id, channel in rows:
        try:
            if channel == "email":
                send_email.send(delivery_id)
            elif channel == "webhook":
                send_webhook.send_with_options(
                    args=(delivery_id,), max_retries=rt.webhook_max_retries,
                    min_backoff=rt.webhook_min_backoff_ms, max_backoff=rt.webhook_max_backoff_ms)
        except Exception:  # the rows stay pending; `onewindow sla resend` or the next sweep sends them
            log.exception("could not hand delivery %s to the broker; leaving the rest to the sweep", delivery_id)
            return  # a broker down or frozen costs the caller one timeout, not one per delivery


class _Attempt:
    """One try at a delivery: its recipient and alert, and how the try went (written to its row)."""

    def __init__(self, row: AlertDelivery, alert: dict[str, Any]):
        self.recipient, self.alert = row.recipient, alert
        self.error: str | None = None
        self.state: str | None = None
        self.failure: Exception | None = None

    def sent(self) -> None:
        self.state = "sent"

    def failed(self, exc: Exception, error: str, *, dead: bool = False) -> None:
        self.error, self.failure = error, exc  # raised once the row is written: Dramatiq retries (or not)
        if dead:
            self.state = "dead"

    def write(self, row: AlertDelivery) -> None:
        row.attempts += 1
        row.last_error = self.error
        if self.state:
            row.state = self.state
        if self.state == "sent":
            row.sent_at = engine_clock.now()


@contextmanager
def _attempt(delivery_id: int) -> Iterator[_Attempt | None]:
    """The delivery still to make (None if it is sent, dead, gone or being sent right now); what the
    try did is written to its row before its failure is raised.

    On PostgreSQL the row stays locked for as long as the try lasts, so a second message for the same
    delivery (the sweep re-sends one that waited long in the queue) skips it rather than sending it
    twice. SQLite would lock the whole database for that long: there (one process, one worker thread)
    the row is read, the try made, and the result written in a short transaction of its own.
    """
    db = runtime.database()
    attempt = None
    if db.engine.dialect.name == "postgresql":
        with db.unit_of_work() as uow:
            row = uow.session.scalar(select(AlertDelivery).where(AlertDelivery.id == delivery_id)
                                     .with_for_update(skip_locked=True))
            if row is not None and row.state not in ("sent", "dead"):
                attempt = _Attempt(row, alert_dict(uow.session.get(Alert, row.alert_id)))
            yield attempt
            if attempt is not None:
                attempt.write(row)
    else:
        with db.read() as s:
            row = s.get(AlertDelivery, delivery_id)
            if row is not None and row.state not in ("sent", "dead"):
                attempt = _Attempt(row, alert_dict(s.get(Alert, row.alert_id)))
        yield attempt
        if attempt is not None:
            with db.unit_of_work() as uow:
                row = uow.session.get(AlertDelivery, delivery_id)
                if row is not None:
                    attempt.write(row)
    if attempt is not None and attempt.failure is not None:
        raise attempt.failure


def smtp_send(to: str, subject: str, body: str) -> None:
    url = urlparse(runtime.current.smtp_url or "")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = runtime.current.smtp_sender, to, subject
    msg.set_content(body)
    with smtplib.SMTP(url.hostname or "127.0.0.1", url.port or 25, timeout=10) as smtp:
        if url.username:
            smtp.login(url.username, url.password or "")
        smtp.send_message(msg)


@actor(max_retries=3, min_backoff=1_000, max_backoff=60_000, on_retry_exhausted="sla_webhook_dead")
def send_email(delivery_id: int) -> None:
    with _attempt(delivery_id) as attempt:
        if attempt is None:
            return
        alert = attempt.alert
        try:
            smtp_send(attempt.recipient, f"[onewindow] {alert['level']} {alert['case_no']}",
                      f"{alert['message']}\n\nrule {alert['rule']} v{alert['rule_version']}\n")
        except Exception as exc:
            attempt.failed(exc, f"{type(exc).__name__}: {exc}")
        else:
            attempt.sent()


@actor(max_retries=5, min_backoff=1_000, max_backoff=300_000, on_retry_exhausted="sla_webhook_dead",
       throws=(WebhookRefused,))
def send_webhook(delivery_id: int) -> None:
    with _attempt(delivery_id) as attempt:
        if attempt is None:
            return
        rt = runtime.current
        body = json.dumps({"type": "sla.alert", "alert": attempt.alert}, ensure_ascii=False, sort_keys=True).encode()
        request = urllib.request.Request(attempt.recipient, data=body, method="POST", headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: sign(rt.webhook_secret or "", body),
            "X-Onewindow-Delivery": str(delivery_id)})
        try:
            with urllib.request.urlopen(request, timeout=rt.webhook_timeout_s) as response:  # noqa: S310
                if response.status >= 300:
                    raise WebhookFailed(f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            error = f"HTTP Error {exc.code}: {exc.reason}"
            if 400 <= exc.code < 500 and exc.code not in RETRYABLE_4XX:
                attempt.failed(WebhookRefused(error), f"{error} (refused: not retried)", dead=True)
            else:
                attempt.failed(WebhookFailed(error), error)
        except Exception as exc:
            attempt.failed(exc, f"{type(exc).__name__}: {exc}")
        else:
            attempt.sent()


@actor(actor_name="sla_webhook_dead", max_retries=3)
def webhook_dead(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """The last try of a webhook or an email failed: dead-letter the delivery (its row says so)."""
    delivery_id = (message.get("args") or [None])[0]
    with runtime.database().unit_of_work() as uow:
        row = uow.session.get(AlertDelivery, delivery_id)
        if row is not None and row.state != "sent":
            row.state = "dead"
            row.last_error = f"{row.last_error or ''} (dead after {retry_info.get('retries', 0) + 1} tries)".strip()
