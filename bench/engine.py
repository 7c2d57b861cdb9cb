"""Engine throughput: raw SpiffWorkflow in memory vs onewindow persisted on SQLite and PostgreSQL.

    python bench/engine.py [--cases 20] [--rounds 5] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Walks the reference process (intake -> handle -> review -> approve -> issue_result: five user-task
completions per case). Prints completions per second for raw SpiffWorkflow (in memory, same spec,
SpiffWorkflow's default script engine), for onewindow per completion (load, lock, run, save,
commit) on SQLite and PostgreSQL, the ratios, and bytes of stored state per case next to what
SpiffWorkflow's own serializer writes (definition included).

Only completions are timed, for every contender (starting a case is not one). The contenders take
turns in each round and the ratio printed is the median over rounds, so a burst of other work on
the machine falls on the baseline as much as on onewindow.

A last contender, on PostgreSQL, does a completion's database work alone: the same store calls
(lock the case and read its tasks, write the task rows, the case's state, three history rows,
commit) with no SpiffWorkflow at all. It shows what the database part costs on this machine, and
so the best ratio any engine that persists every completion durably could reach here.

Scripts (``--scripts`` prints only this part, no database needed): the cost of one script task and
one condition under SpiffWorkflow's default script engine (``exec`` in process, no limits), under
onewindow's sandbox run in process (what plain conditions get), and in a worker process of the
pool under the OS limits (everything that is not plain code): microseconds per call, best of rounds.
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
    ("handle", {"outcome": "submit", "opinion": "材料齐全，建议准予许可"}),
    ("review", {"outcome": "pass", "opinion": "同意"}),
    ("approve", {"outcome": "approved", "opinion": "准予许可"}),
    ("issue_result", {"delivery": "pickup", "certificate_no": "JY0001"}),
]
FILES = {
    "one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
    "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes(),
    **{f"forms/{p.name}": p.read_bytes() for p in sorted((ROOT / "bpmn/forms").glob("*.json"))},
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


class Raw:
    """Raw SpiffWorkflow in memory; with ``persist_whole_json`` it also round-trips its whole JSON
    (definition included) around every step, as a naive store would. Only the completions are
    timed, as for onewindow (starting a case is not a completion)."""

    def __init__(self, persist_whole_json: bool):
        self.workflow_cls, self.task_state, self.parsed, self.serializer = _spiff()
        self.persist = persist_whole_json
        self.size = 0

    def run(self, cases: int) -> list[float]:
        latencies = []
        for _ in range(cases):
            wf = self.workflow_cls(self.parsed.spec, self.parsed.subprocess_specs)
            wf.get_tasks(state=self.task_state.READY)[0].data.update({"category": "food"})
            wf.do_engine_steps()
            state = self.serializer.serialize_json(wf) if self.persist else None
            for element, data in STEPS:
                t0 = time.perf_counter()
                if self.persist:
                    wf = self.serializer.deserialize_json(state)
                _step(wf, self.task_state, element, data)
                if self.persist:
                    state = self.serializer.serialize_json(wf)
                latencies.append(time.perf_counter() - t0)
            assert wf.is_completed()
            self.size = len(self.serializer.serialize_json(wf).encode())
        return latencies


class OneWindow:
    """onewindow on one database: per completion, one unit of work (load, lock, run, save, commit)."""

    def __init__(self, url: str):
        from engine import definitions
        from engine.db import Database
        from engine.identity import Actor
        from onewindow import migrate

        self.db = Database(url)
        migrate.upgrade(self.db.url, self.db.engine)
        with self.db.unit_of_work() as uow:
            definitions.deploy(uow.session, FILES, actor="bench")
        self.desk = Actor("window1", frozenset({"front_desk", "market_dept"}))
        # 承办, 审核 and 批准 are separated (separateFrom): three people of the department
        self.staff = {"handle": Actor("market1", frozenset({"market_dept"})),
                      "review": Actor("market2", frozenset({"market_dept"})),
                      "approve": Actor("market3", frozenset({"market_dept"}))}
        self.sizes: list[int] = []
        self.per_step: list[tuple[str, int]] = []

    def run(self, cases: int) -> list[float]:
        from sqlalchemy import select

        from engine import cases as case_service
        from engine.models import Case, Task

        db = self.db
        with db.unit_of_work() as uow:
            case_nos = [case_service.start_case(uow, "one_window", {"category": "food"}, self.desk).case_no
                        for _ in range(cases)]
        latencies: list[float] = []
        for no in case_nos:
            for element, data in STEPS:
                with db.read() as s:
                    task_id = s.scalar(select(Task.id).where(Task.case_no == no, Task.element_id == element,
                                                             Task.state == "open"))
                t0 = time.perf_counter()
                with db.unit_of_work() as uow:
                    case_service.complete(uow, task_id, data, self.staff.get(element, self.desk))
                latencies.append(time.perf_counter() - t0)
                if not self.sizes:
                    with db.read() as s:
                        state = s.scalar(select(Case.state).where(Case.case_no == no))
                        self.per_step.append((element, len(state.encode())))
            with db.read() as s:
                case = s.scalar(select(Case).where(Case.case_no == no))
                assert case.status == "completed", case.status
                self.sizes.append(len(case.state.encode()))
        return latencies


class StoreOnly(OneWindow):
    """A completion's database work without the engine: lock, read, write what a step writes, commit."""

    def run(self, cases: int) -> list[float]:
        import uuid as uuid_mod

        from sqlalchemy import select

        from engine import cases as case_service
        from engine import clock, events, store
        from engine.models import Case, Task

        db = self.db
        with db.unit_of_work() as uow:
            started = [case_service.start_case(uow, "one_window", {"category": "food"}, self.desk)
                       for _ in range(cases)]
            todo = [(c.case_no, c.state, c.version) for c in started]
        latencies: list[float] = []
        for no, state, version in todo:
            with db.read() as s:
                task_id = s.scalar(select(Task.id).where(Task.case_no == no, Task.state == "open"))
            for element, data in STEPS:
                t0 = time.perf_counter()
                with db.unit_of_work() as uow:
                    case, rows = store.lock_case_of_task(uow, task_id)
                    task, now = rows[task_id], clock.now()
                    batch = events.Batch(uow, case.id)
                    new_id = str(uuid_mod.uuid4())
                    for kind in (events.TASK_COMPLETED, events.ELEMENT_COMPLETED, events.TASK_CREATED):
                        batch.add(kind, actor="window1", element_id=element, task_id=task_id, data={"data": data})
                    row = {c.name: None for c in Task.__table__.columns}
                    row.update(id=new_id, case_id=case.id, case_no=no, process_id=case.process_id,
                               element_id=element, name=element, group="front_desk", state="open",
                               properties={}, created_at=now, version=1)
                    batch.written(store.write(
                        uow, case, {"state": state, "updated_at": now},
                        task_updates=[(task, {"state": "completed", "completed_at": now,
                                              "completed_by": "window1", "data": data})],
                        new_tasks=[row], events=batch.rows))
                latencies.append(time.perf_counter() - t0)
                task_id = new_id
            with db.read() as s:
                assert s.scalar(select(Case.version).where(Case.case_no == no)) == version + len(STEPS)
        return latencies


SCRIPT_DATA = {"fee": 20, "items": list(range(10)), "decision": "accept",
               **{f"field{i}": f"value {i}" for i in range(20)}}
SCRIPTS = [
    ("script task", "exec", "total = fee * 2 + len(items)\nlabel = 'fee ' + str(total)"),
    ("condition with a call", "eval", "len(items) > 3 and fee >= 10"),
    ("plain condition", "eval", 'decision == "accept"'),
]


def script_costs(rounds: int, calls: int = 2000) -> None:
    """Microseconds per script or condition: SpiffWorkflow's default engine, the sandbox in process,
    and onewindow as it runs them (plain code in process, the rest in a pooled worker)."""
    from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment

    from engine.spiff import sandbox
    from engine.spiff.script_engine import RestrictedEnvironment, pool

    raw, ours = TaskDataEnvironment(), RestrictedEnvironment()
    pool().start()
    contenders = {
        "SpiffWorkflow default (exec, no limits)": lambda mode, src, data: (
            raw.evaluate(src, data) if mode == "eval" else raw.execute(src, data)),
        "onewindow sandbox in process": lambda mode, src, data: (
            sandbox.evaluate(src, data, None, 1.0) if mode == "eval" else sandbox.execute(src, data, None, 1.0)),
        "onewindow as run (worker unless plain)": lambda mode, src, data: (
            ours.evaluate(src, data) if mode == "eval" else ours.execute(src, data)),
    }
    print(f"\nscripts: microseconds per call, best of {rounds} rounds x {calls} calls, task data of "
          f"{len(SCRIPT_DATA)} fields")
    for label, mode, source in SCRIPTS:
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, run in contenders.items():  # turns within a round, as above
                t0 = time.perf_counter()
                for _ in range(calls):
                    run(mode, source, dict(SCRIPT_DATA))
                best[name] = min(best.get(name, 1e9), (time.perf_counter() - t0) / calls * 1e6)
        base = best["SpiffWorkflow default (exec, no limits)"]
        print(f"  {label}: {source!r}")
        for name, micros in best.items():
            print(f"    {name:42s}{micros:9.1f} us  ({micros / base:.1f}x SpiffWorkflow's)")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def rate(latencies: list[float]) -> float:
    return len(latencies) / sum(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20, help="cases per contender and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="an admin URL; a scratch database is created and dropped")
    parser.add_argument("--scripts", action="store_true", help="only the scripts' costs (no database)")
    args = parser.parse_args()
    if args.scripts:
        script_costs(args.rounds)
        return

    import sqlalchemy as sa

    print(f"reference process: {args.rounds} rounds x {args.cases} cases x {len(STEPS)} user-task "
          "completions per contender;\ncontenders take turns within each round, so a busy moment of "
          "the machine falls on all of them; ratios are the median of the rounds' ratios.\n")
    name = f"ow_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    tmp = tempfile.TemporaryDirectory()
    try:
        contenders = {
            "raw": Raw(persist_whole_json=False),
            "naive": Raw(persist_whole_json=True),
            "sqlite": OneWindow(f"sqlite:///{tmp.name}/bench.db"),
            "pg": OneWindow(args.pg.rsplit("/", 1)[0] + "/" + name),
        }
        contenders["store"] = StoreOnly(args.pg.rsplit("/", 1)[0] + "/" + name)
        for contender in contenders.values():  # warm up: spec caches, prepared statements, pools
            contender.run(2)
        lat: dict[str, list[float]] = {k: [] for k in contenders}
        rounds: list[dict[str, float]] = []
        for _ in range(args.rounds):
            this = {}
            for key, contender in contenders.items():
                got = contender.run(args.cases)
                lat[key] += got
                this[key] = rate(got)
            rounds.append(this)
        for key in ("sqlite", "pg", "store"):
            contenders[key].db.dispose()
    finally:
        tmp.cleanup()
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def line(label: str, key: str) -> str:
        ratio = statistics.median(r[key] / r["raw"] for r in rounds)
        return (f"{label:52s}{rate(lat[key]):8.1f} completions/s  ({ratio:.3f} of raw; "
                f"p50 {pct(lat[key], .5):.2f} ms, p95 {pct(lat[key], .95):.2f} ms)")

    pg_ratio = statistics.median(r["pg"] / r["raw"] for r in rounds)
    print(f"{'raw SpiffWorkflow, in memory:':52s}{rate(lat['raw']):8.1f} completions/s  "
          f"(p50 {pct(lat['raw'], .5):.2f} ms)")
    print(line("raw SpiffWorkflow + whole JSON round trip per step:", "naive") + "  no database")
    print(line("onewindow on SQLite, load+lock+run+save+commit:", "sqlite"))
    print(line("onewindow on PostgreSQL, same:", "pg"))
    print("  PostgreSQL / raw per round: " + ", ".join(f"{r['pg'] / r['raw']:.3f}" for r in rounds))
    print(f"  goal: PostgreSQL at least 0.25 of raw -> {'met' if pg_ratio >= 0.25 else 'NOT met'}")
    raw_s, store_s = 1 / rate(lat["raw"]), 1 / rate(lat["store"])
    label = "PostgreSQL, a completion's database work alone:"
    print(f"{label:52s}{rate(lat['store']):8.1f} completions/s  "
          f"(p50 {pct(lat['store'], .5):.2f} ms; no SpiffWorkflow)")
    print(f"  best ratio possible with that database work: raw / (raw + database) = {raw_s / (raw_s + store_s):.3f}"
          " of raw, with no engine work between the database calls at all")

    sqlite = contenders["sqlite"]
    mean_size = statistics.mean(sqlite.sizes)
    full_bytes = contenders["raw"].size
    print("\nstored state per case (bytes):")
    print(f"  onewindow, finished case:          {mean_size:8.0f}")
    print(f"  SpiffWorkflow whole JSON, same:    {full_bytes:8d}  ({full_bytes / mean_size:.1f}x, definition included)")
    print("  onewindow after each step:         " + ", ".join(f"{e}={b}" for e, b in sqlite.per_step))
    print("  copies of the definition per case: 0 (its spec is stored once per deployed version)")
    script_costs(args.rounds)


if __name__ == "__main__":
    main()
