"""Walk a deployed process through the HTTP API as the office's people do.

One :class:`Office` per test app: deploy a bundle (as an administrator), start a case, find its open
tasks, complete each as a named user with form data, deliver messages, move time with the tick.
Every call goes through the real routes, so a walk is the engine end to end.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import clock
from tests.conftest import Api


class Office:
    def __init__(self, app):
        self.app = app
        self._people: dict[str, Api] = {}
        self.admin = self.as_user("admin")

    def as_user(self, username: str) -> Api:
        if username not in self._people:
            # signed in by the wall clock: a token issued inside a test's frozen past would expire
            with clock.frozen(datetime.now(UTC)):
                self._people[username] = Api(self.app, username)
        return self._people[username]

    def deploy(self, paths: list[Path], process_id: str | None = None):
        files = [(io.BytesIO(p.read_bytes()), p.name) for p in paths]  # the main BPMN file first
        url = "/api/definitions" + (f"?process_id={process_id}" if process_id else "")
        return self.admin.client.post(url, data={"file": files}, headers=self.admin.headers,
                                      content_type="multipart/form-data")

    def start(self, process_id: str, data: dict | None = None, user: str = "window1") -> str:
        r = self.as_user(user).post("/api/cases", json={"process_id": process_id, "data": data or {}})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["case_no"]

    def start_as_system(self, process_id: str, data: dict | None = None) -> str:
        """A process that names no starter (plain bpmn.io has nowhere to name one) is started by the
        system only (engine.policy): as an integration would have the engine do it."""
        from engine import cases
        from engine.identity import SYSTEM

        with self.app.extensions["onewindow.db"].unit_of_work() as uow:
            return cases.start_case(uow, process_id, data or {}, SYSTEM).case_no

    def case(self, case_no: str) -> dict[str, Any]:
        r = self.admin.get(f"/api/cases/{case_no}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def open_tasks(self, case_no: str) -> dict[str, dict]:
        return {t["element_id"]: t for t in self.case(case_no)["open_tasks"]}

    def complete(self, case_no: str, element_id: str, user: str, data: dict | None = None):
        tasks = self.open_tasks(case_no)
        assert element_id in tasks, (element_id, sorted(tasks))
        return self.as_user(user).post(f"/api/tasks/{tasks[element_id]['id']}/complete", json={"data": data or {}})

    def message(self, case_no: str, name: str, payload: dict | None = None, user: str = "window1"):
        return self.as_user(user).post(f"/api/cases/{case_no}/messages/{name}", json={"payload": payload or {}})

    def tick(self, at: datetime):
        runner = self.app.test_cli_runner()
        result = runner.invoke(args=["tick", "--now", at.isoformat()])
        assert result.exit_code == 0, result.output
        return result.output

    def timers(self, case_no: str) -> int:
        from sqlalchemy import func, select

        from engine.models import Case, Timer

        db = self.app.extensions["onewindow.db"]
        with db.read() as s:
            case_id = s.scalar(select(Case.id).where(Case.case_no == case_no))
            return int(s.scalar(select(func.count()).select_from(Timer).where(Timer.case_id == case_id)))


def at(text: str) -> datetime:
    return clock.parse_instant(text)
