"""Scripts run in worker processes under limits the kernel enforces (setrlimit), which the in-code
checks cannot: a single C-level call that runs for seconds, a C-level allocation of hundreds of MB.
A worker that dies is replaced; what crosses back from a worker is plain data only."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from engine.spiff import script_engine, script_pool
from engine.spiff.script_engine import RestrictedEnvironment, ScriptTimeout, ScriptTooLarge
from engine.spiff.script_pool import Limits, new_pool

LONG_CALL = "x = pow(3, (1 << 20000) - 1, (1 << 20000) + 1)"  # one C call of many seconds
BIG_REPLACE = "s = 'a' * 30000\nt = s.replace('a', s)"  # 900 MB built in one C call


@pytest.fixture
def pool():
    own = new_pool(Limits(time_seconds=1.0, memory_mb=256, workers=1))
    yield own
    own.close()


def test_a_single_c_call_is_stopped_by_the_cpu_time_limit(pool, monkeypatch):
    # Given the wall-clock watchdog out of the way, so only the kernel's CPU-time limit is left
    monkeypatch.setattr(script_pool, "GRACE_SECONDS", 60)
    # When a script makes one C-level call of many CPU seconds, under a 1 s limit
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="CPU time limit"):
        pool.run("exec", LONG_CALL, {}, {}, 1.0)
    # Then the kernel ended it after 1.5 to 2.5 s of CPU time (SIGXCPU), not after the call's own seconds
    assert time.monotonic() - started < 10
    # ... and the next script runs on a new worker
    assert pool.run("eval", "len(items) + 1", {"items": [1, 2]}, {}, 1.0) == 3


def test_the_watchdog_kills_a_worker_that_overruns_its_time(pool):
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="killed after 2 s"):
        pool.run("exec", LONG_CALL, {}, {}, 1.0)
    assert time.monotonic() - started < 6
    assert pool.run("eval", "1 + 1", {}, {}, 1.0) == 2


def test_a_c_level_allocation_past_the_memory_limit_is_refused(pool):
    # When one C call would build 900 MB under a 256 MB limit
    with pytest.raises(ScriptTooLarge, match="memory limit of 256 MB"):
        pool.run("exec", BIG_REPLACE, {}, {}, 1.0)
    # Then the worker that ran out is replaced and the next script runs
    data = pool.run("exec", "total = fee * 2", {"fee": 21}, {}, 1.0)
    assert data == {"fee": 21, "total": 42}


def test_workers_run_with_their_limits_and_no_settings(pool, monkeypatch):
    # Given a secret in this process's environment
    monkeypatch.setenv("ONEWINDOW_SECRET_KEY", "do-not-leak")
    assert pool.run("eval", "1 + 1", {}, {}, 1.0) == 2  # the worker has set itself up
    (worker,) = pool._idle
    # Then the worker holds none of the environment, and the kernel holds its limits
    proc = Path(f"/proc/{worker.proc.pid}")
    assert b"ONEWINDOW" not in (proc / "environ").read_bytes()
    limits = (proc / "limits").read_text()
    assert any(line.startswith("Max address space") and str(256 * 1024 * 1024) in line
               for line in limits.splitlines())
    assert any(line.startswith("Max core file size") and " 0 " in line for line in limits.splitlines())


def test_a_worker_killed_from_outside_is_replaced(pool):
    # Given an idle worker that someone kills
    pool.start()
    (worker,) = pool._idle
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    # When the next script comes, Then it runs on a new worker
    assert pool.run("eval", "a if b else c", {"a": 1, "b": False, "c": 2}, {}, 1.0) == 2
    assert pool._idle[0].proc.pid != worker.proc.pid


def test_the_environment_sends_all_but_plain_code_to_the_workers(monkeypatch):
    # Given the process's pool counted
    sent = []
    real = script_pool.ScriptPool.run
    monkeypatch.setattr(script_pool.ScriptPool, "run", lambda self, *a, **k: sent.append(a[1]) or real(self, *a, **k))
    env = RestrictedEnvironment()
    # When plain conditions and plain assignments run, and code with a call, a loop or arithmetic
    assert env.evaluate('decision == "accept" and not joint', {"decision": "accept", "joint": False}) is True
    assert env.evaluate("outcome in ('approved', 'refused')", {"outcome": "approved"}) is True
    data = {"a": {"k": [1, 2]}}
    env.execute("b = a['k'][1]\nlabel = 'ok'", data)
    assert env.evaluate("len(items) > 1", {"items": [1, 2]}) is True
    env.execute("total = fee * 2", data | {"fee": 1})
    env.execute("for i in items:\n    pass", {"items": []})
    # Then only the last three went to a worker
    assert data["b"] == 2 and data["label"] == "ok"
    assert sent == ["len(items) > 1", "total = fee * 2", "for i in items:\n    pass"]
    assert script_engine.pool().limits == script_engine.limits()


TIMER_THEN_BIG = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
                  targetNamespace="t">
  <bpmn:process id="timer_then_big" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait_an_hour"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="big"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>x = 'a' * 10**9</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_an_hour"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait_an_hour" targetRef="big"/>
    <bpmn:sequenceFlow id="f3" sourceRef="big" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_timer_whose_script_hits_a_limit_leaves_the_case_waiting_and_flagged(sqlite_app):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from engine import cases, clock, definitions, scheduler
    from engine.identity import SYSTEM
    from engine.models import CaseEvent, Timer

    # Given a case waiting on a timer, with a script after it that builds a value past the size cap
    db = sqlite_app.extensions["onewindow.db"]
    t0 = datetime(2026, 3, 2, 2, tzinfo=UTC)
    with db.unit_of_work() as uow, clock.frozen(t0):
        definitions.deploy(uow.session, {"timer_then_big.bpmn": TIMER_THEN_BIG.encode()}, actor="test")
        case_id = cases.start_case(uow, "timer_then_big", {}, SYSTEM).id
    # When the tick fires the timer
    report = scheduler.tick(db, t0 + timedelta(hours=2))
    # Then the firing is refused (the timer still waits, to be fired again) and the case is flagged
    assert report.timers_fired == [] and "limit" in report.errors[0]
    with db.read() as s:
        case = s.get(cases.Case, case_id)
        assert case.status == "running" and "[big]" in case.flagged and "limit" in case.flagged
        assert s.scalar(select(Timer.element_id).where(Timer.case_id == case_id)) == "wait_an_hour"
        assert list(s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                              .order_by(CaseEvent.id)))[-1] == "case_flagged"
    # And the next tick fails the same way without flagging it twice
    scheduler.tick(db, t0 + timedelta(hours=3))
    with db.read() as s:
        kinds = list(s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)))
        assert kinds.count("case_flagged") == 1
