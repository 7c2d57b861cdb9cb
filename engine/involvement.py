"""Who is involved in a case, read from the engine's own tables: the facts ``engine.policy`` judges.

Feature packages hold more about a case (intake's application says which desk registered it), but the
engine must not import them; what the policy needs is already here: the case row (who started it and
under which group or role) and its task rows (every group a step went to, who held or finished one).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import Case, Task
from engine.policy import CaseFacts
from engine.task_state import EarlierSteps


def case_facts(session: Session, case_id: int) -> CaseFacts:
    """The facts of one case. Raises NotFound."""
    row = session.execute(select(Case.case_no, Case.created_by, Case.started_as)
                          .where(Case.id == case_id)).first()
    if row is None:
        raise NotFound("no such case")
    case_no, created_by, started_as = row
    groups: set[str] = set()
    people: set[str] = {created_by} if created_by else set()
    for group, assignee, completed_by, candidates in session.execute(
            select(Task.group, Task.assignee, Task.completed_by, Task.candidates).where(Task.case_id == case_id)):
        groups.add(group)
        people.update(p for p in (assignee, completed_by) if p)
        groups.update((candidates or {}).get("groups", []))  # a step offered to them too
        people.update((candidates or {}).get("users", []))
    return CaseFacts(case_no or "", frozenset(groups), frozenset(people), started_as)


def case_facts_by_no(session: Session, case_no: str) -> tuple[int, CaseFacts]:
    """The case's id and facts by its number. Raises NotFound."""
    case_id = session.scalar(select(Case.id).where(Case.case_no == case_no))
    if case_id is None:
        raise NotFound(f"no case {case_no}")
    return case_id, case_facts(session, case_id)


def task_case_facts(session: Session, task_id: str) -> CaseFacts:
    """The facts of the case a task belongs to. Raises NotFound."""
    case_id = session.scalar(select(Task.case_id).where(Task.id == task_id))
    if case_id is None:
        raise NotFound(f"no task {task_id}")
    return case_facts(session, case_id)


def earlier_actors(session: Session, case_id: int, element_ids: frozenset[str]) -> EarlierSteps:
    """For each of ``element_ids``: its name and everyone who completed it in this case (any round)."""
    if not element_ids:
        return {}
    found: dict[str, tuple[str, set[str]]] = {}
    for element_id, name, completed_by in session.execute(
            select(Task.element_id, Task.name, Task.completed_by)
            .where(Task.case_id == case_id, Task.element_id.in_(sorted(element_ids)), Task.state == "completed")):
        entry = found.setdefault(element_id, (name, set()))
        if completed_by:
            entry[1].add(completed_by)
    return {eid: (name, frozenset(people)) for eid, (name, people) in found.items()}
