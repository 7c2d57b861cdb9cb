"""What several SLA tests do first: a food case at the front desk, accepted, its events settled."""

from __future__ import annotations

from sqlalchemy import select

from engine import broker
from engine.models import Task
from tests.conftest import Api


def start_and_accept(app, window: Api, applicant_name: str) -> str:
    """Start a `one_window` food case as ``window``, accept its intake step; returns the case number."""
    r = window.post("/api/cases", json={"process_id": "one_window",
                                        "data": {"category": "food", "applicant_name": applicant_name}})
    assert r.status_code == 201, r.get_json()
    no = r.get_json()["case_no"]
    broker.drain()
    with app.extensions["onewindow.db"].read() as s:
        task = s.scalar(select(Task.id).where(Task.case_no == no, Task.element_id == "intake"))
    assert window.post(f"/api/tasks/{task}/complete", json={"data": {"decision": "accept"}}).status_code == 200
    return no
