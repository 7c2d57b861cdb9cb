"""Acceptance 4: email reaches a real local SMTP server; the webhook reaches a local receiver with a
valid HMAC signature; a failing receiver is retried with backoff and then dead-lettered."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time as systime
from datetime import date, datetime, time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from engine import broker, clock, office
from engine.models import User
from engine.scheduler import tick
from sla import channels
from sla.channels import SIGNATURE_HEADER
from sla.models import Alert, AlertDelivery
from tests import conftest
from tests.conftest import Api, deploy_reference
from tests.integration.sla_helpers import start_and_accept as accept_food_case

SECRET = "hook-secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


def receiver(status: int):
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            seen.append({"valid": hmac.compare_digest(expected, self.headers.get(SIGNATURE_HEADER, "")),
                         "body": json.loads(body)})
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, seen, f"http://127.0.0.1:{server.server_port}/alerts"


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10), office.zone)


def start_and_accept(app) -> str:
    window = Api(app, "window1")
    with clock.frozen(at("2026-03-02")):
        no = accept_food_case(app, window, "李四 13812345678")
    broker.drain()
    return no


def deliveries(app, channel: str) -> list[AlertDelivery]:
    with app.extensions["onewindow.db"].read() as s:
        rows = list(s.scalars(select(AlertDelivery).where(AlertDelivery.channel == channel)
                              .order_by(AlertDelivery.id)))
        for r in rows:
            s.expunge(r)
        return rows


def settle() -> None:
    """Drain the in-process broker without failing on dead-lettered messages (they are the point here)."""
    stub = broker.get_broker()
    for queue in [q for q in list(stub.queues) if not q.endswith(".DQ")]:
        stub.join(queue, timeout=10_000, fail_fast=False)


def forget_dead_letters() -> None:
    for dead in broker.get_broker().dead_letters_by_queue.values():
        dead.clear()


def wait_until(predicate, seconds: float = 20.0) -> None:
    deadline = systime.monotonic() + seconds
    while not predicate():
        settle()
        if systime.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        systime.sleep(0.05)


@pytest.fixture
def office_app(sqlite_app):
    conftest._tokens.clear()  # tokens cached by another test's frozen clock may be expired here
    deploy_reference(sqlite_app)
    with sqlite_app.extensions["onewindow.db"].unit_of_work() as uow:
        uow.session.execute(update(User).where(User.username == "market_lead").values(email="lead@example.gov.cn"))
        uow.session.execute(update(User).where(User.username == "director").values(email="director@example.gov.cn"))
    return sqlite_app


def test_email_and_signed_webhook(office_app, smtp):
    inbox, smtp_url = smtp
    server, seen, url = receiver(204)
    rt = office_app.extensions["sla.runtime"]
    rt.smtp_url, rt.webhook_url, rt.webhook_secret = smtp_url, url, SECRET
    try:
        # Given a case accepted on 2026-03-02, when the tick runs on 2026-04-15 (case and step overdue)
        no = start_and_accept(office_app)
        tick(office_app.extensions["onewindow.db"], at("2026-04-15"))
        wait_until(lambda: all(d.state == "sent" for d in deliveries(office_app, "email") + deliveries(
            office_app, "webhook")) and len(inbox.messages) >= 6)
    finally:
        server.shutdown()
        server.server_close()
    # Then the supervisor and the director got email, once for the step's red and once for the case's
    # (the director supervises the department: director-red-3 tells him nothing new), personal data masked
    alerts_mail = [(tos, body) for _f, tos, body in inbox.messages if "Subject: [onewindow] red" in body]
    recipients = sorted(r for tos, _b in alerts_mail for r in tos)
    assert recipients == ["director@example.gov.cn"] * 2 + ["lead@example.gov.cn"] * 2
    assert all("13812345678" not in body and no in body for _t, body in alerts_mail)
    # (and the daily digest, the tick being past 08:00, to both supervisors with an address)
    assert len(inbox.messages) == len(alerts_mail) + 2
    # And every red alert reached the webhook once, signed (a receiving system hears every rule)
    with office_app.extensions["onewindow.db"].read() as s:
        red = s.scalar(select(Alert.id).where(Alert.level == "red").limit(1))
    assert red is not None
    assert len(seen) == 4 and all(hit["valid"] for hit in seen)
    assert {hit["body"]["alert"]["case_no"] for hit in seen} == {no}
    assert all(d.attempts == 1 for d in deliveries(office_app, "webhook"))


def test_failing_webhook_is_retried_then_dead_lettered(office_app):
    server, seen, url = receiver(500)
    rt = office_app.extensions["sla.runtime"]
    rt.webhook_url, rt.webhook_secret = url, SECRET
    rt.webhook_max_retries, rt.webhook_min_backoff_ms, rt.webhook_max_backoff_ms = 2, 20, 50
    try:
        start_and_accept(office_app)
        tick(office_app.extensions["onewindow.db"], at("2026-04-15"))
        wait_until(lambda: (rows := deliveries(office_app, "webhook")) and all(d.state == "dead" for d in rows))
    finally:
        server.shutdown()
        server.server_close()
        settle()
        forget_dead_letters()
    rows = deliveries(office_app, "webhook")
    # Then each delivery was tried 1 + 2 times, every try signed, and the row says dead with the error
    assert len(rows) == 4
    assert all(d.attempts == 3 and "HTTP Error 500" in (d.last_error or "") for d in rows)
    assert len(seen) == 4 * 3 and all(hit["valid"] for hit in seen)


def test_deliveries_stranded_by_a_stopped_process_are_sent_by_a_later_tick(office_app, monkeypatch):
    from sla import channels

    server, seen, url = receiver(204)
    rt = office_app.extensions["sla.runtime"]
    rt.webhook_url, rt.webhook_secret = url, SECRET
    try:
        start_and_accept(office_app)
        # Given a tick whose process stops before handing the deliveries to the broker
        monkeypatch.setattr(channels, "send_all", lambda ids: None)
        tick(office_app.extensions["onewindow.db"], at("2026-04-15"))
        monkeypatch.undo()
        assert [d.state for d in deliveries(office_app, "webhook")] == ["pending"] * 4
        # When a later tick runs, they are sent
        report = tick(office_app.extensions["onewindow.db"], at("2026-04-15").replace(minute=5))
        assert report.hooks["sla.sweep"]["resent"] == 4
        wait_until(lambda: all(d.state == "sent" for d in deliveries(office_app, "webhook")))
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 4


def test_a_webhook_the_receiver_refuses_is_dead_at_once(office_app):
    # Given a receiver that answers 422 (it will never accept this body)
    server, seen, url = receiver(422)
    rt = office_app.extensions["sla.runtime"]
    rt.webhook_url, rt.webhook_secret = url, SECRET
    rt.webhook_max_retries, rt.webhook_min_backoff_ms, rt.webhook_max_backoff_ms = 3, 20, 50
    try:
        # When an alert is delivered to it
        start_and_accept(office_app)
        tick(office_app.extensions["onewindow.db"], at("2026-04-15"))
        wait_until(lambda: (rows := deliveries(office_app, "webhook")) and all(d.state == "dead" for d in rows))
    finally:
        server.shutdown()
        server.server_close()
        settle()
        forget_dead_letters()
    # Then each delivery was tried once, not retried, and says why
    rows = deliveries(office_app, "webhook")
    assert rows and all(d.attempts == 1 and "refused" in (d.last_error or "") for d in rows)
    assert len(seen) == len(rows)


def test_two_messages_for_one_webhook_delivery_at_once_send_it_once(pg_app):
    # Given alerts on PostgreSQL whose webhook deliveries are pending, and a slow receiver
    conftest._tokens.clear()
    deploy_reference(pg_app)
    seen: list[dict] = []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            systime.sleep(0.3)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rt = pg_app.extensions["sla.runtime"]
    rt.webhook_url, rt.webhook_secret = f"http://127.0.0.1:{server.server_port}/alerts", SECRET
    try:
        start_and_accept(pg_app)
        broker.stop_in_process_worker()  # the deliveries' own messages stay queued, unsent
        tick(pg_app.extensions["onewindow.db"], at("2026-04-15"))
        broker.get_broker().flush_all()
        broker.start_in_process_worker()
        pending = [d.id for d in deliveries(pg_app, "webhook")]
        assert pending
        # When two workers take a message for each delivery at the same instant
        threads = [threading.Thread(target=channels.send_webhook, args=(i,)) for i in pending for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.shutdown()
        server.server_close()
    # Then each was sent once and says so
    assert len(seen) == len(pending)
    assert all(d.state == "sent" and d.attempts == 1 for d in deliveries(pg_app, "webhook"))
