"""Two OS processes on one task, and a process killed just before commit (real PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PASSWORD, ROOT, Api, deploy_reference

SCRIPT = Path(__file__).parent / "scripts" / "complete_task.py"


def _run(url: str, task_id: str, barrier: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), url, task_id, "window1", PASSWORD, str(barrier), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )


def _start_case(app) -> tuple[Api, str, str]:
    deploy_reference(app)
    api = Api(app, "window1")
    no = api.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}}).get_json()[
        "case_no"]
    task = api.get(f"/api/cases/{no}").get_json()["open_tasks"][0]
    return api, no, task["id"]


def test_two_processes_complete_the_same_task_exactly_one_wins(pg_app, tmp_path):
    # Given one open intake task
    api, no, task_id = _start_case(pg_app)
    url = pg_app.extensions["onewindow.db"].url
    # When two processes complete it at the same moment
    procs = [_run(url, task_id, tmp_path / "barrier") for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    # Then exactly one succeeds and the other gets 409
    assert sorted(r["status"] for r in results) == [200, 409], results
    view = api.get(f"/api/cases/{no}").get_json()
    completions = [e for e in view["history"] if e["what"] == "task_completed" and e["task_id"] == task_id]
    assert len(completions) == 1
    assert [t["element_id"] for t in view["open_tasks"]] == ["handle"]


def _snapshot(app, no: str) -> tuple:
    from sqlalchemy import func, select

    from engine.models import Case, CaseEvent, Task

    with app.extensions["onewindow.db"].read() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        events = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
        tasks = sorted((t.element_id, t.state) for t in s.scalars(select(Task).where(Task.case_id == case.id)))
        return case.version, case.state, events, tasks


def test_kill_between_state_computed_and_commit_leaves_case_untouched(pg_app, tmp_path):
    api, no, task_id = _start_case(pg_app)
    url = pg_app.extensions["onewindow.db"].url
    before = _snapshot(pg_app, no)
    # When the completing process dies right before COMMIT
    p = _run(url, task_id, tmp_path / "barrier", "crash")
    p.communicate(timeout=120)
    assert p.returncode == 137
    # Then the case is exactly as it was
    assert _snapshot(pg_app, no) == before
    # And the retried completion succeeds once
    r = api.post(f"/api/tasks/{task_id}/complete", json={"data": {"decision": "accept"}})
    assert r.status_code == 200, r.get_json()
    r = api.post(f"/api/tasks/{task_id}/complete", json={"data": {"decision": "accept"}})
    assert r.status_code == 409
    view = api.get(f"/api/cases/{no}").get_json()
    assert len([e for e in view["history"] if e["what"] == "task_completed"]) == 1


def test_kill_before_commit_on_sqlite_too(sqlite_app, tmp_path):
    api, no, task_id = _start_case(sqlite_app)
    url = sqlite_app.extensions["onewindow.db"].url
    before = _snapshot(sqlite_app, no)
    p = _run(url, task_id, tmp_path / "barrier", "crash")
    p.communicate(timeout=120)
    assert p.returncode == 137
    assert _snapshot(sqlite_app, no) == before
    r = api.post(f"/api/tasks/{task_id}/complete", json={"data": {"decision": "accept"}})
    assert r.status_code == 200, r.get_json()
