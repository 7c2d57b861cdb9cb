"""Long-lived cases: step cost and stored state over 1,000 passes of a loop, onewindow vs raw SpiffWorkflow.

    python bench/long_lived.py [--loop correction|send_back] [--passes 1000]

A pass is one round of the loop: ``correction`` = intake decides "correction", then the applicant's
``materials_resubmitted`` message; ``send_back`` = review passes, approve sends back. Columns:

- raw SpiffWorkflow, in memory, its full serializer (``serialize_json``, definition included) after
  every pass: what a naive store would write. It fails on the way; where and how is printed.
- onewindow runtime in memory: the same steps through ``engine.spiff.runtime`` with compaction and the
  instance-only state round-tripped (dump + load) around every step.
- onewindow through ``engine.cases`` on SQLite: lock, load, run, compact, store, history, commit.

Step cost is the wall time of one pass (two steps); the figure at pass N is the median of the ten
passes ending at N (one pass alone is noise), and pass 1 is shown alone as well.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILES = {
    "one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
    "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes(),
    **{f"forms/{p.name}": p.read_bytes() for p in sorted((ROOT / "bpmn/forms").glob("*.json"))},
}
CHECKPOINTS = (1, 10, 100, 1000)
LOOPS = {
    "correction": [("intake", {"decision": "correction", "missing": ["lease"]}),
                   ("message", "materials_resubmitted")],
    "send_back": [("review", {"outcome": "pass", "opinion": "同意"}),
                  ("approve", {"outcome": "send_back", "opinion": "请复核"})],
}
PRELUDE = {"correction": [], "send_back": [("intake", {"decision": "accept"}),
                                           ("handle", {"outcome": "submit", "opinion": "同意"})]}


class Series:
    """Pass number -> (seconds, state bytes); ``failure`` says where and how a run stopped."""

    def __init__(self, name: str):
        self.name, self.passes, self.failure = name, {}, None

    def cost_ms(self, n: int) -> float | None:
        window = [self.passes[i][0] for i in range(max(1, n - 9), n + 1) if i in self.passes]
        return statistics.median(window) * 1000 if len(window) == min(n, 10) else None

    def size(self, n: int) -> int | None:
        return self.passes[n][1] if n in self.passes else None


def raw_spiff(loop: str, passes: int) -> Series:
    from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
    from SpiffWorkflow.util.task import TaskState

    from engine.spiff.parser import parse_definition
    from engine.spiff.prune import waiting_anywhere

    series = Series("raw SpiffWorkflow (memory, full JSON)")
    parsed = parse_definition(FILES)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs)
    wf.get_tasks(state=TaskState.READY)[0].data.update({"category": "food"})
    wf.do_engine_steps()

    def step(element, data) -> None:
        if element == "message":
            wf.send_event(BpmnEvent(MessageEventDefinition(data), {}))
        else:
            ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == element]
            if not ready:
                raise LookupError(f"no ready '{element}' found by the task iterator")
            ready[0].data.update(data)
            ready[0].run()
        wf.do_engine_steps()

    for element, data in PRELUDE[loop]:
        step(element, data)
    for n in range(1, passes + 1):
        began = time.perf_counter()
        try:
            for element, data in LOOPS[loop]:
                step(element, data)
            state = serializer.serialize_json(wf)
            if wf.is_completed() and waiting_anywhere(wf):
                raise AssertionError("is_completed() is True while tasks still wait (iterator depth limit)")
        except (Exception, RecursionError) as exc:  # noqa: BLE001 - the failure is the figure
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "SpiffWorkflow" in f.filename]
            where = ""
            if frames:
                loop = max({f.name for f in frames}, key=[f.name for f in frames].count)
                where = (f" entering Spiff at {Path(frames[0].filename).name}:{frames[0].lineno} {frames[0].name},"
                         f" {len(frames)} Spiff frames deep (mostly {loop})")
            series.failure = f"pass {n}: {exc.__class__.__name__}{where}: {str(exc)[:90]}"
            return series
        series.passes[n] = (time.perf_counter() - began, len(state.encode()))
    return series


def runtime_in_memory(loop: str, passes: int) -> Series:
    from engine.spiff import runtime
    from engine.spiff.parser import parse_definition

    series = Series("onewindow runtime (memory, compacted)")
    parsed = parse_definition(FILES)
    loaded = runtime.LoadedSpec(parsed.spec, parsed.subprocess_specs)
    box = {"wf": runtime.new_workflow(loaded, {"category": "food"})}
    runtime.start(box["wf"])

    def step(element, data) -> int:
        wf = box["wf"]
        if element == "message":
            runtime.deliver_message(wf, data, {})
        else:
            task = next(t for t in runtime.ready_user_tasks(wf) if t.element_id == element)
            runtime.complete_user_task(wf, task.id, data)
        runtime.compact(wf)
        state = runtime.dump(wf)
        box["wf"] = runtime.load(state, loaded, runtime.SERIALIZER_VERSION)
        return len(state.encode())

    for element, data in PRELUDE[loop]:
        step(element, data)
    for n in range(1, passes + 1):
        began = time.perf_counter()
        size = 0
        for element, data in LOOPS[loop]:
            size = step(element, data)
        series.passes[n] = (time.perf_counter() - began, size)
    return series


def cases_on_sqlite(loop: str, passes: int, url: str) -> Series:
    from sqlalchemy import select

    from engine import cases, definitions
    from engine.db import Database
    from engine.identity import Actor
    from engine.models import Case, Task
    from onewindow import migrate

    series = Series("onewindow engine.cases (SQLite, persisted)")
    db = Database(url)
    migrate.upgrade(db.url, db.engine)
    with db.unit_of_work() as uow:
        definitions.deploy(uow.session, FILES, actor="bench")
    staff = Actor("bench", frozenset({"front_desk", "market_dept"}))
    # 承办, 审核 and 批准 are separated (separateFrom): each by its own person
    separated = {"review": Actor("bench_review", frozenset({"market_dept"})),
                 "approve": Actor("bench_approve", frozenset({"market_dept"}))}
    with db.unit_of_work() as uow:
        case = cases.start_case(uow, "one_window", {"category": "food"}, staff)
        no, case_id = case.case_no, case.id

    def step(element, data) -> None:
        if element == "message":
            with db.unit_of_work() as uow:
                cases.deliver_message(uow, no, data, {}, staff)
            return
        with db.read() as s:
            task_id = s.scalar(select(Task.id).where(Task.case_id == case_id, Task.element_id == element,
                                                     Task.state == "open"))
        with db.unit_of_work() as uow:
            cases.complete(uow, task_id, data, separated.get(element, staff))

    for element, data in PRELUDE[loop]:
        step(element, data)
    for n in range(1, passes + 1):
        began = time.perf_counter()
        for element, data in LOOPS[loop]:
            step(element, data)
        spent = time.perf_counter() - began
        with db.read() as s:
            series.passes[n] = (spent, len(s.scalar(select(Case.state).where(Case.id == case_id)).encode()))
    db.dispose()
    return series


def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} {unit}" if unit == "ms" else f"{value:,} B"


def report(all_series: list[Series], passes: int) -> None:
    points = [p for p in CHECKPOINTS if p <= passes]
    width = max(len(s.name) for s in all_series)
    header = " " * width + "".join(f"  {'pass ' + str(p):>20}" for p in points)
    print("step cost (median of the 10 passes ending at N; one pass = two steps)")
    print(header)
    for s in all_series:
        print(f"{s.name:<{width}}" + "".join(f"  {_fmt(s.cost_ms(p), 'ms'):>20}" for p in points))
    print("\nstored state bytes after pass N")
    print(header)
    for s in all_series:
        print(f"{s.name:<{width}}" + "".join(f"  {_fmt(s.size(p), 'B'):>20}" for p in points))
    print()
    for s in all_series:
        last = max(s.passes) if s.passes else 0
        line = f"{s.name}: {last} passes"
        if s.failure:
            line += f"; FAILED at {s.failure}"
        elif last >= 2:
            first_pass = s.passes[1][0] * 1000
            line += (f"; pass 1 alone {first_pass:.2f} ms, pass {last} alone {s.passes[last][0] * 1000:.2f} ms; "
                     f"cost ratio {s.cost_ms(last) / s.cost_ms(10):.2f}x (passes {last - 9}-{last} vs 1-10), "
                     f"state ratio {s.size(last) / s.size(1):.2f}x (pass {last} vs 1)")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=sorted(LOOPS), default="correction")
    parser.add_argument("--passes", type=int, default=1000)
    args = parser.parse_args()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    print(f"reference process, loop '{args.loop}', {args.passes} passes\n")
    series = [raw_spiff(args.loop, args.passes), runtime_in_memory(args.loop, args.passes)]
    with tempfile.TemporaryDirectory() as tmp:
        series.append(cases_on_sqlite(args.loop, args.passes, f"sqlite:///{tmp}/long_lived.db"))
    report(series, args.passes)


if __name__ == "__main__":
    main()
