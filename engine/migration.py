"""Move running cases to another deployed version of their process (``onewindow migrate``, the API).

Each case is its own transaction: a case that cannot move (it waits on an element the new version
lacks and no map names a counterpart), or whose move fails, stays exactly as it was while the others
go on. A case that moves keeps its task ids, so its task rows, timers, message waits and step clocks
follow it: the open task rows take the new element's id, name, form and candidates, finished rows of a
renamed element take the new id (separation of duties still sees who did the step), and the history
gets ``case_migrated`` (from and to version, the map, who, each task's move) for the subscribers
(the SLA clocks re-key their steps and pauses). A dry run reads and reports, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm.attributes import set_committed_value

from engine import cases, events, policy, store
from engine.db import Database, UnitOfWork
from engine.errors import Forbidden, Invalid, NotFound, OneWindowError, Problem
from engine.identity import Actor
from engine.models import Case, ProcessDefinition, Task, TaskCandidate
from engine.spiff import migration, runtime
from engine.spiff.runtime import StepResult

CASE_MIGRATED = events.CASE_MIGRATED
MIGRATED, WOULD_MIGRATE, REFUSED, FAILED = "migrated", "would migrate", "refused", "failed"


@dataclass
class CaseResult:
    case_no: str
    from_version: int
    outcome: str  # migrated | would migrate | refused | failed
    blocked: list[migration.Blocked] = field(default_factory=list)
    moves: list[migration.Move] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"case_no": self.case_no, "from_version": self.from_version, "outcome": self.outcome,
                "blocked": [{"element_id": b.element_id, "reason": b.reason} for b in self.blocked],
                "moves": [{"task_id": m.task_id, "from": m.from_element, "to": m.to_element} for m in self.moves],
                **({"error": self.error} if self.error else {})}


@dataclass
class Report:
    process_id: str
    to_version: int
    dry_run: bool
    mapping: dict[str, str]
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def refused(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome in (REFUSED, FAILED)]

    def as_dict(self) -> dict[str, Any]:
        return {"process_id": self.process_id, "to_version": self.to_version, "dry_run": self.dry_run,
                "map": self.mapping, "cases": [c.as_dict() for c in self.cases],
                "counts": {k: sum(c.outcome == k for c in self.cases)
                           for k in (MIGRATED, WOULD_MIGRATE, REFUSED, FAILED)}}


def parse_map(items: Iterable[str], field_name: str = "map") -> dict[str, str]:
    """``old=new`` pairs as a dict; raises Invalid naming each malformed one."""
    mapping: dict[str, str] = {}
    problems = []
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            problems.append(Problem(f"{item!r} is not OLD_ID=NEW_ID", field=field_name))
        elif old.strip() in mapping:
            problems.append(Problem(f"{old.strip()!r} is mapped twice", field=field_name))
        else:
            mapping[old.strip()] = new.strip()
    if problems:
        raise Invalid("the element map is malformed", problems)
    return mapping


def migrate_process(db: Database, process_id: str, to_version: int, mapping: dict[str, str], actor: Actor, *,
                    dry_run: bool = False, case_no: str | None = None) -> Report:
    """Move the running cases of ``process_id`` (or the one ``case_no``) to version ``to_version``.

    Raises Forbidden (not an administrator), NotFound (no such version or case), Invalid (a map naming
    elements that do not exist, a case of another process or not running) before any case moves.
    """
    if not policy.may_migrate(actor):
        raise Forbidden("only administrators may migrate running cases")
    with db.read() as s:
        target = s.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == process_id,
                                                          ProcessDefinition.version == to_version))
        if target is None:
            raise NotFound(f"process '{process_id}' has no version {to_version}")
        rows = _cases(s, process_id, case_no)
        _check_map(s, target, {definition_id for _id, _no, definition_id, _v in rows}, mapping)
    report = Report(process_id, to_version, dry_run, mapping)
    for case_id, number, definition_id, version in rows:
        if definition_id == target.id:
            continue
        try:
            if dry_run:
                with db.read() as s:
                    result = _try(s, s.get(Case, case_id), target.id, mapping)[0]
            else:
                with db.unit_of_work() as uow:
                    result = migrate_case(uow, case_id, target.id, mapping, actor)
        except (OneWindowError, runtime.ScriptFailed) as exc:
            result = CaseResult(number, version, FAILED, error=str(exc))
        report.cases.append(result)
    return report


def _cases(session, process_id: str, case_no: str | None) -> list[tuple[int, str, int, int]]:
    stmt = (select(Case.id, Case.case_no, Case.definition_id, ProcessDefinition.version, Case.process_id,
                   Case.status).join(ProcessDefinition, ProcessDefinition.id == Case.definition_id))
    if case_no is not None:
        found = session.execute(stmt.where(Case.case_no == case_no)).first()
        if found is None:
            raise NotFound(f"no case {case_no}")
        if found.process_id != process_id:
            raise Invalid(f"case {case_no} runs process '{found.process_id}'",
                          [Problem(f"not a case of '{process_id}'", field="case_no")])
        if found.status != "running":
            raise Invalid(f"case {case_no} is {found.status}", [Problem("only running cases move", field="case_no")])
        return [tuple(found[:4])]
    return [tuple(r[:4]) for r in session.execute(
        stmt.where(Case.process_id == process_id, Case.status == "running").order_by(Case.id))]


def _check_map(session, target: ProcessDefinition, sources: set[int], mapping: dict[str, str]) -> None:
    """Each old id must be an element of a version the cases run on (with no case to move, of any other
    version), each new id an element of the target version."""
    if not mapping:
        return
    sources = (sources - {target.id}) or set(session.scalars(select(ProcessDefinition.id).where(
        ProcessDefinition.process_id == target.process_id, ProcessDefinition.id != target.id)))
    old = [cases.loaded_spec(session, definition_id) for definition_id in sorted(sources)]
    problems = [Problem(message, field="map")
                for message in migration.check_map(old, cases.loaded_spec(session, target.id), mapping)]
    if problems:
        raise Invalid("the element map names elements that do not exist", problems)


def _try(session, case: Case, target_id: int,
         mapping: dict[str, str]) -> tuple[CaseResult, Any, migration.Outcome]:
    """Migrate the case's workflow in memory: the result, the workflow on the new version (None when
    refused) and what the migration found."""
    version = case.definition.version
    wf = cases.load_workflow(case)
    new = cases.loaded_spec(session, target_id)
    found = migration.migrate(wf, new, mapping)
    if found.blocked:
        return CaseResult(case.case_no, version, REFUSED, blocked=found.blocked), None, found
    # written and read back: Spiff's event manager and the delta-encoded data are rebuilt as stored
    moved = runtime.restore(runtime.dump(wf), new, runtime.SERIALIZER_VERSION)
    return CaseResult(case.case_no, version, WOULD_MIGRATE, moves=found.moves), moved, found


def migrate_case(uow: UnitOfWork, case_id: int, target_id: int, mapping: dict[str, str], actor: Actor) -> CaseResult:
    """Move one case (locked) to definition ``target_id``; nothing is written when it is refused."""
    case = store.lock_case(uow, case_id)
    if case is None:
        raise NotFound("no such case")
    if case.status != "running":  # it ended between the listing and the lock
        return CaseResult(case.case_no, case.definition.version, REFUSED, error=f"the case is {case.status}")
    target = uow.session.get(ProcessDefinition, target_id)
    result, wf, found = _try(uow.session, case, target_id, mapping)
    if wf is None:
        return result
    result.outcome = MIGRATED
    open_rows = store.open_tasks(uow, case.id)
    views = {v.id: v for v in runtime.ready_user_tasks(wf)}
    updates = [(row, _row_values(row, views[row.id])) for row in open_rows.values() if row.id in views]
    updates = [(row, values) for row, values in updates if values]
    _rename_finished(uow, case.id, found.renamed)
    _replace_candidates(uow, [row.id for row, values in updates if "candidates" in values], views)
    waited = dict((case.summary or {}).get("waiting", {}))
    waits = {waited[tid]: eid for tid, eid, _p in runtime.waiting_elements(wf) if tid in waited and waited[tid] != eid}
    batch = events.Batch(uow, case.id)
    batch.add(CASE_MIGRATED, actor=actor.username, data={
        "from_version": result.from_version, "to_version": target.version, "map": mapping,
        **migration.describe(found), "waits": waits,  # still waiting, at a renamed element
        "groups": {row.id: values.get("group", row.group) for row, values in updates},
        # the step limits the open steps have in the new version (a step that had none may have one now)
        "step_limits": {tid: v.properties["dueWorkingDays"] for tid, v in views.items()
                        if tid in open_rows and v.properties.get("dueWorkingDays")}})
    set_committed_value(case, "definition", target)
    cases.save_step(uow, case, wf, StepResult(), actor, batch, open_rows=open_rows, task_updates=updates,
                    case_values={"definition_id": target.id})
    return result


def _row_values(row: Task, view: runtime.UserTaskView) -> dict[str, Any]:
    """What an open task row takes from its element in the new version."""
    values: dict[str, Any] = {"element_id": view.element_id, "name": view.name, "properties": view.properties,
                              "group": view.candidate_group or "",
                              "candidates": cases.candidates_of(view.people) or None}
    if view.people.assignee:
        values.update(assignee=view.people.assignee, state="claimed")
    elif row.assignee and values["group"] != row.group:  # the step moved to another department
        values.update(assignee=None, state="open")
    return {k: v for k, v in values.items() if getattr(row, k) != v}


def _rename_finished(uow: UnitOfWork, case_id: int, renamed: dict[str, str]) -> None:
    table = Task.__table__
    for old, new in renamed.items():
        uow.session.execute(update(table).where(table.c.case_id == case_id, table.c.element_id == old,
                                                table.c.state.in_(("completed", "cancelled")))
                            .values(element_id=new))


def _replace_candidates(uow: UnitOfWork, task_ids: list[str], views: dict[str, runtime.UserTaskView]) -> None:
    if not task_ids:
        return
    uow.session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(task_ids)))
    uow.session.add_all([c for task_id in task_ids for c in cases.candidate_rows(task_id, views[task_id].people)])
    uow.session.flush()
