"""/metrics: what operators watch, and who may read it."""

from __future__ import annotations

from tests.conftest import Api, deploy_reference


def _scrape(app, **kw):
    return app.test_client().get("/metrics", **kw)


def test_metrics_show_requests_state_changes_the_outbox_and_the_sla(sqlite_app):
    # Given a case started through the API
    deploy_reference(sqlite_app)
    r = Api(sqlite_app, "window1").post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}})
    assert r.status_code == 201
    # When Prometheus scrapes from this host
    response = _scrape(sqlite_app)
    body = response.get_data(as_text=True)
    # Then it sees the request's latency by route, the state changes, the outbox and the SLA figures
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    assert 'onewindow_request_duration_seconds_count{method="POST",route="/api/cases",status="2xx"}' in body
    assert 'onewindow_state_changes_total{kind="case_started"}' in body
    assert "onewindow_outbox_events " in body and "onewindow_outbox_oldest_seconds " in body
    assert 'onewindow_alerts_raised_total{level="red"} 0.0' in body
    assert "onewindow_sla_step_clocks_running_for_ended_tasks 0.0" in body
    assert "onewindow_database_up 1.0" in body


def test_only_this_host_or_the_token_may_read_metrics(sqlite_app):
    remote = {"environ_base": {"REMOTE_ADDR": "203.0.113.5"}}
    # Without a token: this host yes, another host or a proxied request no
    assert _scrape(sqlite_app).status_code == 200
    assert _scrape(sqlite_app, **remote).status_code == 403
    assert _scrape(sqlite_app, headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 403
    # With ONEWINDOW_METRICS_TOKEN: whoever sends it, and nobody else, this host included
    sqlite_app.config["ONEWINDOW"].metrics_token = "scrape-secret"
    assert _scrape(sqlite_app, headers={"Authorization": "Bearer scrape-secret"}, **remote).status_code == 200
    assert _scrape(sqlite_app, headers={"Authorization": "Bearer wrong"}, **remote).status_code == 403
    assert _scrape(sqlite_app).status_code == 403
    # And the health checks need nothing
    assert sqlite_app.test_client().get("/healthz", **remote).status_code == 200
    assert sqlite_app.test_client().get("/readyz", **remote).get_json() == {"status": "ready"}


def test_a_step_clock_left_running_for_an_ended_task_shows(sqlite_app, monkeypatch):
    from sqlalchemy import select

    from engine import broker, events
    from engine.models import CaseEvent, Task

    deploy_reference(sqlite_app)
    window = Api(sqlite_app, "window1")
    r = window.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}})
    no = r.get_json()["case_no"]
    broker.drain()  # the intake step's clock runs
    db = sqlite_app.extensions["onewindow.db"]
    with db.read() as s:
        task = s.scalar(select(Task.id).where(Task.case_no == no, Task.element_id == "intake"))
    # Given the intake step completed while the broker was down (its events wait in the outbox)
    monkeypatch.setattr(events, "send", lambda event_id: False)
    assert window.post(f"/api/tasks/{task}/complete", json={"data": {"decision": "accept"}}).status_code == 200
    # Then the scrape shows one step clock running for an ended task
    assert "onewindow_sla_step_clocks_running_for_ended_tasks 1.0" in _scrape(sqlite_app).get_data(as_text=True)
    # And once the outbox's message is handled, none
    with db.read() as s:
        newest = s.scalar(select(CaseEvent.id).where(CaseEvent.domain.is_(True)).order_by(CaseEvent.id.desc()).limit(1))
    events.handle_through(db, newest)
    assert "onewindow_sla_step_clocks_running_for_ended_tasks 0.0" in _scrape(sqlite_app).get_data(as_text=True)
