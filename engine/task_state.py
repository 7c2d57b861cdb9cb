"""A task's life as one explicit state machine: its states, the actions, one transition table, one ``can``.

    open --claim--> claimed --unclaim--> open
    open | claimed --complete | send back--> completed
    open | claimed --delegate | reassign--> claimed          (the engine cancels tasks it drops)

Each cell of :data:`TRANSITIONS` says where an action leads from a state and who, relative to the
task, may take it there: its **holder** (claimed by them, and they still work in its group), a
**member** of its group or a **supervisor** of it. :func:`can` is the only place that decides; the
engine asks it under the case lock before every change, the worklists ask it for the actions a page
and the task API offer. It answers in the order the API promises: 403 not yours to touch (or barred by
separation of duties), 409 someone else holds or finished it (naming them) or the task changed since
the caller saw it (optimistic ``version``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from engine import policy
from engine.errors import Conflict, Forbidden
from engine.identity import Actor


class TaskState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    COMPLETE = "complete"
    SEND_BACK = "send_back"
    DELEGATE = "delegate"
    REASSIGN = "reassign"


class Role(StrEnum):
    HOLDER = "holder"
    MEMBER = "member"
    SUPERVISOR = "supervisor"


_S, _A, _R = TaskState, Action, Role
_WORKERS = frozenset({_R.MEMBER, _R.SUPERVISOR})

# (state, action) -> (the state it leads to, who may take it). A pair not here is refused with 409.
TRANSITIONS: dict[tuple[TaskState, Action], tuple[TaskState, frozenset[Role]]] = {
    (_S.OPEN, _A.CLAIM): (_S.CLAIMED, _WORKERS),
    (_S.CLAIMED, _A.CLAIM): (_S.CLAIMED, frozenset({_R.HOLDER})),  # a double click is not an error
    (_S.CLAIMED, _A.UNCLAIM): (_S.OPEN, frozenset({_R.HOLDER})),
    (_S.OPEN, _A.COMPLETE): (_S.COMPLETED, _WORKERS),
    (_S.CLAIMED, _A.COMPLETE): (_S.COMPLETED, frozenset({_R.HOLDER})),
    (_S.OPEN, _A.SEND_BACK): (_S.COMPLETED, _WORKERS),
    (_S.CLAIMED, _A.SEND_BACK): (_S.COMPLETED, frozenset({_R.HOLDER})),
    (_S.OPEN, _A.DELEGATE): (_S.CLAIMED, frozenset({_R.MEMBER})),
    (_S.CLAIMED, _A.DELEGATE): (_S.CLAIMED, frozenset({_R.HOLDER})),
    (_S.OPEN, _A.REASSIGN): (_S.CLAIMED, frozenset({_R.SUPERVISOR})),
    (_S.CLAIMED, _A.REASSIGN): (_S.CLAIMED, frozenset({_R.SUPERVISOR})),
}

# Acting on the step itself; handing it to someone else is checked on the one it goes to instead.
_SEPARATED_ACTIONS = frozenset({_A.CLAIM, _A.COMPLETE, _A.SEND_BACK})
SEPARATE_FROM = "separateFrom"  # user task property: earlier step ids whose actors may not act here

# element id of an earlier step -> (its name, everyone who completed it in this case)
EarlierSteps = Mapping[str, tuple[str, frozenset[str]]]


class TaskLike(Protocol):
    id: str
    element_id: str
    name: str
    group: str
    state: str
    assignee: str | None
    completed_by: str | None
    version: int
    properties: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """Allowed (and the state it leads to), or refused with an HTTP status, why, and who holds the task."""

    allowed: bool
    next_state: TaskState | None = None
    status: int = 200
    message: str = ""
    holder: str | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def check(self) -> TaskState:
        """The next state; raises Forbidden (403) or Conflict (409) when refused."""
        if self.allowed and self.next_state is not None:
            return self.next_state
        if self.status == 409:
            raise Conflict(self.message, holder=self.holder)
        raise Forbidden(self.message)


def roles_of(actor: Actor, task: TaskLike) -> frozenset[Role]:
    roles = set()
    further = getattr(task, "candidates", None) or {}  # engine.cases.candidates_of
    if task.group in actor.groups or actor.username in further.get("users", ()) \
            or actor.groups & set(further.get("groups", ())):
        roles.add(_R.MEMBER)
    if policy.supervises(actor, task.group):
        roles.add(_R.SUPERVISOR)
    if roles and task.state == _S.CLAIMED and task.assignee == actor.username:
        roles.add(_R.HOLDER)
    return frozenset(roles)


def separated_from(task: TaskLike) -> frozenset[str]:
    """The earlier steps named by the task's ``separateFrom`` property."""
    return policy.names((task.properties or {}).get(SEPARATE_FROM))


def separation_refusal(username: str, task: TaskLike, earlier: EarlierSteps) -> str | None:
    """Why ``username`` may not act on this step (审批分离), or None."""
    done = [name or element_id for element_id, (name, people) in sorted(earlier.items())
            if element_id in separated_from(task) and username in people]
    if not done:
        return None
    steps = "、".join(f"「{n}」" for n in done)
    return (f"审批分离：{username} 已办理本案{steps}环节，不能再办理「{task.name or task.element_id}」"
            f" / separation of duties: {username} already acted on {', '.join(done)} of this case")


def _refused(status: int, message: str, holder: str | None = None) -> Decision:
    return Decision(False, status=status, message=message, holder=holder)


def _not_yours(task: TaskLike, action: Action) -> Decision:
    if action == _A.REASSIGN:
        return _refused(403, f"only a supervisor of {task.group} may reassign this task")
    if action == _A.DELEGATE:
        return _refused(403, "only the holder, or a member of the group while it is open, may delegate this task")
    return _refused(403, f"task {task.id} belongs to group '{task.group}'")


def _ever(action: Action) -> frozenset[Role]:
    """Who may take this action in some state (a holder is a member or supervisor first)."""
    who = frozenset().union(*(roles for (_s, a), (_n, roles) in TRANSITIONS.items() if a == action))
    return who | _WORKERS if _R.HOLDER in who else who


def can(actor: Actor, task: TaskLike, action: Action, *, earlier: EarlierSteps,
        version: int | None = None) -> Decision:
    """May ``actor`` take ``action`` on ``task`` now?

    ``earlier``: the case's earlier steps named by the task's ``separateFrom`` and who completed them
    (``engine.involvement.earlier_actors``); ``version``: the task version the caller last saw, if any.
    """
    roles = roles_of(actor, task)
    if not roles & _ever(action):
        return _not_yours(task, action)
    if action in _SEPARATED_ACTIONS:
        barred = separation_refusal(actor.username, task, earlier)
        if barred:
            return _refused(403, barred)
    state = TaskState(task.state)
    cell = TRANSITIONS.get((state, action))
    if cell is None:
        if state == _S.COMPLETED:
            return _refused(409, f"the task was already completed by {task.completed_by}", task.completed_by)
        if state == _S.CANCELLED:
            return _refused(409, "the task was cancelled")
        return _refused(409, f"the task is not {_S.CLAIMED}")
    next_state, who = cell
    if not roles & who:
        if state == _S.CLAIMED and task.assignee != actor.username:
            return _refused(409, f"the task is claimed by {task.assignee}", task.assignee)
        return _not_yours(task, action)
    if version is not None and version != task.version:
        return _refused(409, f"the task changed meanwhile (version {task.version}, you had {version})",
                        task.assignee)
    return Decision(True, next_state)


def offered(actor: Actor, task: TaskLike, *, earlier: EarlierSteps) -> dict[str, bool]:
    """Every action and whether ``actor`` may take it now (what a page or the task API offers)."""
    return {a.value: can(actor, task, a, earlier=earlier).allowed for a in Action}
