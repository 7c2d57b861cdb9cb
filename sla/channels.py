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
        except Exception:  # the row stays pending; `onewindow sla resend` or the next sweep sends it
            log.exception("could not hand delivery %s to the broker", delivery_id)


def _load(delivery_id: int) -> tuple[str, dict[str, Any]] | None:
    """(recipient, alert as a dict) of a delivery still to make, else None."""
    with runtime.database().read() as s:
        row = s.get(AlertDelivery, delivery_id)
        if row is None or row.state in ("sent", "dead"):
            return None
        return row.recipient, alert_dict(s.get(Alert, row.alert_id))


def _record(delivery_id: int, *, error: str | None = None, state: str | None = None) -> None:
    with runtime.database().unit_of_work() as uow:
        row = uow.session.get(AlertDelivery, delivery_id)
        if row is None:
            return
        row.attempts += 1
        row.last_error = error
        if state:
            row.state = state
        if state == "sent":
            row.sent_at = engine_clock.now()


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
    loaded = _load(delivery_id)
    if loaded is None:
        return
    recipient, alert = loaded
    try:
        smtp_send(recipient, f"[onewindow] {alert['level']} {alert['case_no']}",
                  f"{alert['message']}\n\nrule {alert['rule']} v{alert['rule_version']}\n")
    except Exception as exc:
        _record(delivery_id, error=f"{type(exc).__name__}: {exc}")
        raise
    _record(delivery_id, state="sent")


@actor(max_retries=5, min_backoff=1_000, max_backoff=300_000, on_retry_exhausted="sla_webhook_dead",
       throws=(WebhookRefused,))
def send_webhook(delivery_id: int) -> None:
    loaded = _load(delivery_id)
    if loaded is None:
        return
    recipient, alert = loaded
    rt = runtime.current
    body = json.dumps({"type": "sla.alert", "alert": alert}, ensure_ascii=False, sort_keys=True).encode()
    request = urllib.request.Request(recipient, data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: sign(rt.webhook_secret or "", body),
        "X-Onewindow-Delivery": str(delivery_id)})
    try:
        with urllib.request.urlopen(request, timeout=rt.webhook_timeout_s) as response:  # noqa: S310 - configured URL
            if response.status >= 300:
                raise WebhookFailed(f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response's socket
        error = f"HTTP Error {exc.code}: {exc.reason}"
        if 400 <= exc.code < 500 and exc.code not in RETRYABLE_4XX:
            _record(delivery_id, error=f"{error} (refused: not retried)", state="dead")
            raise WebhookRefused(error) from None
        _record(delivery_id, error=error)
        raise WebhookFailed(error) from None
    except Exception as exc:
        _record(delivery_id, error=f"{type(exc).__name__}: {exc}")
        raise
    _record(delivery_id, state="sent")


@actor(actor_name="sla_webhook_dead", max_retries=3)
def webhook_dead(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """The last try of a webhook or an email failed: dead-letter the delivery (its row says so)."""
    delivery_id = (message.get("args") or [None])[0]
    with runtime.database().unit_of_work() as uow:
        row = uow.session.get(AlertDelivery, delivery_id)
        if row is not None and row.state != "sent":
            row.state = "dead"
            row.last_error = f"{row.last_error or ''} (dead after {retry_info.get('retries', 0) + 1} tries)".strip()
