"""Engine throughput: raw SpiffWorkflow in memory vs onewindow persisted on SQLite and PostgreSQL.

    python bench/engine.py [--cases 40] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Walks the reference process (intake -> handle -> review -> approve -> issue_result: five user-task
completions per case). Prints completions per second for raw SpiffWorkflow (in memory, same spec,
SpiffWorkflow's default script engine), for onewindow per completion (load, lock, run, save,
commit) on SQLite and PostgreSQL, the ratios, and bytes of stored state per case next to what
SpiffWorkflow's own serializer writes (definition included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = [
    ("intake", {"decision": "accept"}),
    ("handle", {"outcome": "submit"}),
    ("review", {"outcome": "pass"}),
    ("approve", {"outcome": "approved", "result": "approved"}),
    ("issue_result", {"delivery": "pickup", "certificate_no": "JY0001"}),
]
FILES = {
    "one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
    "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes(),
}


def _spiff():
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    from engine.spiff.parser import parse_definition

    parsed = parse_definition(FILES)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return BpmnWorkflow, TaskState, parsed, serializer


def _step(wf, task_state, element: str, data: dict) -> None:
    task = next(t for t in wf.get_tasks(state=task_state.READY, manual=True) if t.task_spec.bpmn_id == element)
    task.data.update(data)
    task.run()
    wf.do_engine_steps()


def raw_spiff(cases: int, persist_whole_json: bool) -> tuple[float, int]:
    """Raw SpiffWorkflow in memory; with ``persist_whole_json`` it also round-trips its whole JSON
    (definition included) around every step, as a naive store would."""
    workflow_cls, task_state, parsed, serializer = _spiff()
    done, size = 0, 0
    started = time.perf_counter()
    for _ in range(cases):
        wf = workflow_cls(parsed.spec, parsed.subprocess_specs)
        wf.get_tasks(state=task_state.READY)[0].data.update({"category": "food"})
        wf.do_engine_steps()
        state = serializer.serialize_json(wf) if persist_whole_json else None
        for element, data in STEPS:
            if persist_whole_json:
                wf = serializer.deserialize_json(state)
            _step(wf, task_state, element, data)
            if persist_whole_json:
                state = serializer.serialize_json(wf)
            done += 1
        assert wf.is_completed()
        size = len(serializer.serialize_json(wf).encode())
    return done / (time.perf_counter() - started), size


def onewindow(url: str, cases: int) -> tuple[float, list[int], list[float], list[tuple[str, int]]]:
    from sqlalchemy import select

    from engine import cases as case_service
    from engine import definitions
    from engine.db import Database
    from engine.identity import Actor
    from engine.models import Case, Task
    from onewindow import migrate

    db = Database(url)
    migrate.upgrade(db.url, db.engine)
    with db.unit_of_work() as uow:
        definitions.deploy(uow.session, FILES, actor="bench")
    desk = Actor("window1", frozenset({"front_desk", "market_dept"}))
    with db.unit_of_work() as uow:
        case_nos = [case_service.start_case(uow, "one_window", {"category": "food"}, desk).case_no
                    for _ in range(cases)]
    latencies: list[float] = []
    sizes: list[int] = []
    per_step: list[tuple[str, int]] = []
    for i, no in enumerate(case_nos):
        for element, data in STEPS:
            with db.read() as s:
                task_id = s.scalar(select(Task.id).where(Task.case_no == no, Task.element_id == element,
                                                         Task.state == "open"))
            t0 = time.perf_counter()
            with db.unit_of_work() as uow:
                case_service.complete(uow, task_id, data, desk)
            latencies.append(time.perf_counter() - t0)
            if i == 0:
                with db.read() as s:
                    per_step.append((element, len(s.scalar(select(Case.state).where(Case.case_no == no)).encode())))
        with db.read() as s:
            case = s.scalar(select(Case).where(Case.case_no == no))
            assert case.status == "completed", case.status
            sizes.append(len(case.state.encode()))
    db.dispose()
    return len(latencies) / sum(latencies), sizes, latencies, per_step


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="an admin URL; a scratch database is created and dropped")
    args = parser.parse_args()

    import sqlalchemy as sa

    print(f"reference process, {args.cases} cases x {len(STEPS)} user-task completions\n")
    raw_rate, full_bytes = raw_spiff(args.cases, persist_whole_json=False)
    naive_rate, _ = raw_spiff(args.cases, persist_whole_json=True)
    print(f"raw SpiffWorkflow, in memory:                       {raw_rate:8.1f} completions/s")
    print(f"raw SpiffWorkflow + whole JSON round trip per step:  {naive_rate:8.1f} completions/s"
          f"  ({naive_rate / raw_rate:.3f} of raw, no database)")

    with tempfile.TemporaryDirectory() as tmp:
        sq_rate, sq_sizes, sq_lat, per_step = onewindow(f"sqlite:///{tmp}/bench.db", args.cases)
    print(f"onewindow on SQLite, load+lock+run+save+commit:     {sq_rate:8.1f} completions/s"
          f"  ({sq_rate / raw_rate:.3f} of raw; p50 {pct(sq_lat, .5):.1f} ms, p95 {pct(sq_lat, .95):.1f} ms)")

    name = f"ow_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        pg_rate, _pg_sizes, pg_lat, _ = onewindow(args.pg.rsplit("/", 1)[0] + "/" + name, args.cases)
        print(f"onewindow on PostgreSQL, same:                      {pg_rate:8.1f} completions/s"
              f"  ({pg_rate / raw_rate:.3f} of raw; p50 {pct(pg_lat, .5):.1f} ms, p95 {pct(pg_lat, .95):.1f} ms)")
        print(f"  goal: PostgreSQL at least 0.25 of raw -> {'met' if pg_rate / raw_rate >= 0.25 else 'NOT met'}")
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL unavailable: {exc.__class__.__name__}")
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    mean_size = statistics.mean(sq_sizes)
    print("\nstored state per case (bytes):")
    print(f"  onewindow, finished case:          {mean_size:8.0f}")
    print(f"  SpiffWorkflow whole JSON, same:    {full_bytes:8d}  ({full_bytes / mean_size:.1f}x, definition included)")
    print("  onewindow after each step:         " + ", ".join(f"{e}={b}" for e, b in per_step))
    print("  copies of the definition per case: 0 (its spec is stored once per deployed version)")


if __name__ == "__main__":
    main()
