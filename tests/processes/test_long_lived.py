"""Long-lived cases in memory: compacted state behaves exactly like SpiffWorkflow's full tree, and stays small.

Each scenario is driven twice through ``engine.spiff.runtime`` with a store/restore round trip after
every step (as the case store does): once raw, once compacted after each step. Both runs must take the
same path (same elements completed, same tasks ready, same data, same end). Then the same loops are
run far past where raw SpiffWorkflow breaks, and the compacted state must stay the size of one pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.spiff import prune, runtime
from engine.spiff.parser import parse_definition

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "long_lived"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _reference() -> runtime.LoadedSpec:
    parsed = parse_definition({
        "one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
        "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes(),
    })
    return runtime.LoadedSpec(parsed.spec, parsed.subprocess_specs)


def _fixture(name: str, process_id: str | None = None) -> runtime.LoadedSpec:
    parsed = parse_definition({name: (FIXTURES / name).read_bytes()}, process_id)
    return runtime.LoadedSpec(parsed.spec, parsed.subprocess_specs)


class Run:
    """One case in memory, stored and restored after every step; ``log`` is what each step did."""

    def __init__(self, loaded: runtime.LoadedSpec, data: dict, *, compact: bool):
        self.loaded, self.compact, self.log = loaded, compact, []
        with clock.frozen(T0):
            self.wf = runtime.new_workflow(loaded, data)
            self._after(runtime.start(self.wf))

    def _after(self, result: runtime.StepResult) -> None:
        self.log.append(([e for _t, e, _p in result.completed_elements], [e for e, _d in result.fired_timers],
                         self.ready(), sorted(runtime.waiting_messages(self.wf))))
        if self.compact:
            runtime.compact(self.wf)
        self.state = runtime.dump(self.wf)
        self.wf = runtime.load(self.state, self.loaded, runtime.SERIALIZER_VERSION)

    def ready(self) -> list[str]:
        return sorted(t.element_id for t in runtime.ready_user_tasks(self.wf))

    def complete(self, element_id: str, **data) -> None:
        tasks = [t for t in runtime.ready_user_tasks(self.wf) if t.element_id == element_id]
        assert len(tasks) == 1, (element_id, self.ready())
        self._after(runtime.complete_user_task(self.wf, tasks[0].id, data))

    def message(self, name: str, **payload) -> None:
        self._after(runtime.deliver_message(self.wf, name, payload))

    def tick(self, at: datetime) -> None:
        with clock.frozen(at):
            self._after(runtime.fire_timers(self.wf))

    @property
    def shape(self) -> prune.Shape:
        return prune.shape(self.wf)

    def outcome(self) -> tuple:
        return runtime.is_complete(self.wf), runtime.data_of(self.wf), self.log


def _both(loaded: runtime.LoadedSpec, data: dict, script) -> tuple[Run, Run]:
    raw, compacted = Run(loaded, data, compact=False), Run(loaded, data, compact=True)
    script(raw)
    script(compacted)
    return raw, compacted


# -- the compacted case takes exactly the raw case's path ------------------------------------------

def _joint_case_with_loops(run: Run) -> None:
    for n in range(5):
        run.complete("intake", decision="correction", missing=[f"m{n}"])
        run.message("materials_resubmitted", round=n)
    run.complete("intake", decision="accept")
    assert run.ready() == ["co_review", "handle"]
    for n in range(3):
        run.complete("handle", outcome="request_materials", opinion=f"need {n}")
        run.message("materials_supplemented", round=n)
    run.complete("handle", outcome="submit")
    for n in range(5):
        run.complete("review", outcome="pass", opinion=f"pass {n}")
        run.complete("approve", outcome="send_back", opinion=f"back {n}")
    run.complete("co_review", outcome="agree", co_opinion="ok")  # the co-department's token waits at the join
    for n in range(3):
        run.complete("review", outcome="send_back", opinion=f"again {n}")
        run.complete("handle", outcome="submit")
    run.complete("review", outcome="pass")
    run.complete("approve", outcome="approved", result="approved", opinion="granted")
    run.complete("issue_result", delivery="pickup", certificate_no="C-9")


def test_joint_case_with_every_loop_takes_the_raw_path():
    raw, compacted = _both(_reference(), {"category": "catering"}, _joint_case_with_loops)
    assert compacted.outcome() == raw.outcome()
    done, data, _log = compacted.outcome()
    assert done and data["co_opinion"] == "ok" and data["result"] == "approved" and data["missing"] == ["m4"]
    assert compacted.shape.tasks < raw.shape.tasks


def _parallel_rounds(run: Run) -> None:
    for n in range(6):
        run.complete("prepare", round=n)
        first, second = ("check_a", "check_b") if n % 2 else ("check_b", "check_a")
        run.complete(first, **{first: n})
        assert run.ready() == [second]  # the join waits for the other branch
        run.complete(second, **{second: n})
        run.complete("decide", decision="again" if n < 5 else "done")


def test_parallel_join_in_a_loop_waits_for_both_branches_every_round():
    # Given a parallel review that is sent round again five times, the branches finishing in turn
    run = Run(_fixture("parallel_loop.bpmn"), {}, compact=True)
    # When every round is worked (the helper checks the join waits for the second branch each time)
    _parallel_rounds(run)
    # Then the case ends with the last round's data (Spiff merges the branch that arrived last over
    # the others, so check_b, the last to arrive, carries this round's value)
    done, data, _log = run.outcome()
    assert done and data["check_b"] == 5 and data["round"] == 5


def test_raw_spiff_fires_a_looped_join_early_where_compaction_does_not():
    # Raw SpiffWorkflow keeps round one's cancelled join token for check_b; in round two it counts it
    # as the second input and fires the join when only check_a has arrived. Compaction drops the
    # tokens the join's firing consumed, so the join waits as BPMN says.
    def two_rounds(run: Run) -> list[str]:
        run.complete("prepare", round=0)
        run.complete("check_b")
        run.complete("check_a")
        run.complete("decide", decision="again")
        run.complete("prepare", round=1)
        run.complete("check_a")
        return run.ready()

    assert two_rounds(Run(_fixture("parallel_loop.bpmn"), {}, compact=False)) == ["check_b", "decide"]
    assert two_rounds(Run(_fixture("parallel_loop.bpmn"), {}, compact=True)) == ["check_b"]


def test_call_activity_in_a_loop_takes_the_raw_path():
    def script(run: Run) -> None:
        for n in range(5):
            run.complete("visit", notes=f"visit {n}", passed=False)
            run.message("lab_report", round=n)
        run.complete("visit", notes="final", passed=True)
        run.message("lab_report", round=5)

    raw, compacted = _both(_fixture("call_loop.bpmn", "call_loop"), {"passed": False}, script)
    assert compacted.outcome() == raw.outcome()
    assert compacted.outcome()[0] and compacted.outcome()[1]["notes"] == "final"
    assert len(raw.wf.subprocesses) == 6 and len(compacted.wf.subprocesses) == 0


def _reminders(days: int):
    def script(run: Run) -> None:
        for day in range(1, days + 1):
            run.tick(T0 + timedelta(days=day))
        with clock.frozen(T0 + timedelta(days=days, hours=3)):
            run.complete("await_hearing", heard=True)
            run.complete("decide", decision="granted")
    return script


def test_daily_reminder_takes_the_raw_path():
    raw, compacted = _both(_fixture("daily_reminder.bpmn"), {}, _reminders(20))
    assert compacted.outcome() == raw.outcome()
    done, data, log = compacted.outcome()
    assert done and data["reminders"] == 20 and sum(len(fired) for _c, fired, _r, _m in log) == 20


# -- far past where raw SpiffWorkflow breaks, the state stays the size of one pass ---------------------

def test_a_thousand_corrections_keep_the_state_of_one():
    run = Run(_reference(), {"category": "food"}, compact=True)
    sizes = {}
    for n in range(1, 1001):
        run.complete("intake", decision="correction", missing=[n])
        run.message("materials_resubmitted", round=n)
        sizes[n] = (len(run.state), run.shape)
    assert sizes[1000][0] <= 2 * sizes[1][0]
    assert sizes[1000][1].tasks == sizes[1][1].tasks and sizes[1000][1].depth == sizes[1][1].depth
    assert run.ready() == ["intake"] and not runtime.is_complete(run.wf)
    run.complete("intake", decision="reject", reason="not our remit")
    assert runtime.is_complete(run.wf) and runtime.data_of(run.wf)["missing"] == [1000]


def test_a_deep_state_stored_without_compaction_runs_on_after_loading():
    # Given a case stored raw after 200 corrections (raw Spiff raises RecursionError some 40 passes on)
    run = Run(_reference(), {"category": "food"}, compact=False)
    for n in range(200):
        run.complete("intake", decision="correction", round=n)
        run.message("materials_resubmitted", round=n)
    assert run.shape.depth > 700
    # When the case store loads it (engine.cases compacts on load) and it goes round a hundred more times
    run.compact = True
    run.wf = runtime.load(run.state, run.loaded, runtime.SERIALIZER_VERSION)
    runtime.compact(run.wf)
    assert run.shape.depth < 10
    for n in range(200, 300):
        run.complete("intake", decision="correction", round=n)
        run.message("materials_resubmitted", round=n)
    # Then it still waits at the desk with the last round's data
    assert run.ready() == ["intake"] and runtime.data_of(run.wf)["round"] == 299


def test_three_hundred_parallel_rounds_and_call_activities_stay_bounded():
    parallel = Run(_fixture("parallel_loop.bpmn"), {}, compact=True)
    calls = Run(_fixture("call_loop.bpmn", "call_loop"), {"passed": False}, compact=True)
    first = {}
    for n in range(300):
        parallel.complete("prepare", round=n)
        parallel.complete("check_b" if n % 2 else "check_a")
        parallel.complete("check_a" if n % 2 else "check_b")
        parallel.complete("decide", decision="again")
        calls.complete("visit", passed=False)
        calls.message("lab_report", round=n)
        if n == 0:
            first = {"parallel": len(parallel.state), "calls": len(calls.state)}
    assert len(parallel.state) <= 2 * first["parallel"] and len(calls.state) <= 2 * first["calls"]
    assert len(calls.wf.subprocesses) == 1  # only the live inspection
    assert parallel.ready() == ["prepare"] and calls.ready() == ["visit"]


def test_four_hundred_daily_reminders_keep_the_state_of_one():
    run = Run(_fixture("daily_reminder.bpmn"), {}, compact=True)
    run.tick(T0 + timedelta(days=1))
    one = len(run.state)
    for day in range(2, 401):
        run.tick(T0 + timedelta(days=day))
    assert len(run.state) <= 2 * one
    assert runtime.data_of(run.wf)["data_objects"]["reminder_count"] == 400
    assert [t.due_at for t in runtime.waiting_timers(run.wf)] == [T0 + timedelta(days=401)]


# -- the guard --------------------------------------------------------------------------------------

def test_complete_only_when_nothing_waits_anywhere():
    # Given a case whose Spiff flag says complete while the desk's task is still ready
    run = Run(_reference(), {"category": "food"}, compact=True)
    run.wf.completed = True
    # Then the runtime does not call it complete, and says why an administrator must look
    assert not runtime.is_complete(run.wf)
    assert "intake" in (runtime.state_problem(run.wf, run.state) or "")
    assert [t.task_spec.bpmn_id for t in prune.waiting_anywhere(run.wf)
            if t.state == TaskState.READY] == ["intake"]


def test_an_uncompacted_long_state_is_reported_too_deep(monkeypatch):
    monkeypatch.setattr(prune.LIMITS, "max_depth", 100)
    run = Run(_reference(), {"category": "food"}, compact=False)
    for n in range(30):
        run.complete("intake", decision="correction")
        run.message("materials_resubmitted", round=n)
    assert "deep" in (runtime.state_problem(run.wf, run.state) or "")
    runtime.compact(run.wf)
    assert runtime.state_problem(run.wf, runtime.dump(run.wf)) is None


@pytest.mark.parametrize("limit", [1_000])
def test_a_state_over_the_byte_limit_is_reported(monkeypatch, limit):
    monkeypatch.setattr(prune.LIMITS, "max_bytes", limit)
    run = Run(_reference(), {"category": "food"}, compact=True)
    assert "bytes" in (runtime.state_problem(run.wf, run.state) or "")
