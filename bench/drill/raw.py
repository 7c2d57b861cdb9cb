"""Raw SpiffWorkflow's whole-case rate in memory, the baseline of acceptance 5: the reference process
started and walked through its five user tasks (intake, handle, review, approve, issue_result) with
SpiffWorkflow's own engine and nothing else (bench/engine.py's contender, whole cases here)."""

from __future__ import annotations

import time

from bench.engine import STEPS, _spiff, _step


def whole_cases_per_second(seconds: float = 5.0) -> float:
    workflow_cls, task_state, parsed, _serializer = _spiff()

    def one() -> None:
        wf = workflow_cls(parsed.spec, parsed.subprocess_specs)
        wf.get_tasks(state=task_state.READY)[0].data.update({"category": "food"})
        wf.do_engine_steps()
        for element, data in STEPS:
            _step(wf, task_state, element, data)
        assert wf.is_completed()

    for _ in range(5):  # warm up
        one()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        one()
        n += 1
    return n / (time.perf_counter() - start)
