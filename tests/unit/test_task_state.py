"""The task state machine: every cell of the action table, the order of refusals, separation of duties.

The expected table below is written out by hand, not derived from ``TRANSITIONS``: removing, adding or
widening any cell of the machine's table makes one of these cases fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.identity import Actor
from engine.task_state import TRANSITIONS, Action, Role, TaskState, can, offered, separation_refusal

HOLDER = Actor("market1", frozenset({"market_dept"}))
MEMBER = Actor("market2", frozenset({"market_dept"}))
SUPERVISOR = Actor("market_lead", supervises=frozenset({"market_dept"}))
OUTSIDER = Actor("health1", frozenset({"health_dept"}))
ADMIN = Actor("admin", is_admin=True)
ACTORS = {"holder": HOLDER, "member": MEMBER, "supervisor": SUPERVISOR, "outsider": OUTSIDER, "admin": ADMIN}


@dataclass
class FakeTask:
    state: str
    assignee: str | None = None
    completed_by: str | None = None
    id: str = "t1"
    element_id: str = "review"
    name: str = "审核"
    group: str = "market_dept"
    version: int = 3
    properties: dict[str, Any] = field(default_factory=dict)


def task_in(state: str) -> FakeTask:
    """A task in ``state``; claimed and completed ones are held / finished by HOLDER."""
    return FakeTask(state, assignee="market1" if state in ("claimed", "completed") else None,
                    completed_by="market1" if state == "completed" else None)


# state -> who -> the actions allowed (everything else refused)
EXPECTED: dict[str, dict[str, set[str]]] = {
    "open": {
        "holder": {"claim", "complete", "send_back", "delegate"},  # no one holds an open task: a member
        "member": {"claim", "complete", "send_back", "delegate"},
        "supervisor": {"claim", "complete", "send_back", "reassign"},
        "outsider": set(), "admin": set(),
    },
    "claimed": {
        "holder": {"claim", "unclaim", "complete", "send_back", "delegate"},
        "member": set(),
        "supervisor": {"reassign"},
        "outsider": set(), "admin": set(),
    },
    "completed": {who: set() for who in ACTORS},
    "cancelled": {who: set() for who in ACTORS},
}


def allowed_now(state: str, who: str) -> set[str]:
    return {a for a, ok in offered(ACTORS[who], task_in(state), earlier={}).items() if ok}


def disagreements() -> list[str]:
    """Every (state, who) whose allowed actions differ from EXPECTED: empty when the machine is right."""
    return [f"{state}/{who}: {sorted(allowed_now(state, who))} != {sorted(EXPECTED[state][who])}"
            for state in EXPECTED for who in ACTORS if allowed_now(state, who) != EXPECTED[state][who]]


@pytest.mark.parametrize("state", list(EXPECTED))
@pytest.mark.parametrize("who", list(ACTORS))
def test_each_cell_of_the_action_table(state, who):
    # Given a task in ``state`` and an actor in relation ``who`` to it
    # When every action is asked, Then exactly the table's actions are allowed
    assert allowed_now(state, who) == EXPECTED[state][who]


def test_removing_narrowing_or_widening_any_cell_fails_the_contract(monkeypatch):
    """Mutation proof: each single change to the machine's table is noticed by the expectations above."""
    assert disagreements() == []
    mutants = []
    for key, (next_state, who) in TRANSITIONS.items():
        mutants.append((f"remove {key}", key, None))
        mutants += [(f"narrow {key} by {r}", key, (next_state, who - {r})) for r in who]
        # (an open task has no holder: widening an open cell by the holder changes nothing, so it is left out)
        mutants += [(f"widen {key} by {r}", key, (next_state, who | {r})) for r in Role
                    if r not in who and not (r == Role.HOLDER and key[0] == TaskState.OPEN)]
    survived = []
    for name, key, cell in mutants:
        # Given the table with this one cell removed, narrowed or widened
        with monkeypatch.context() as m:
            if cell is None:
                m.delitem(TRANSITIONS, key)
            else:
                m.setitem(TRANSITIONS, key, cell)
            # Then the expectations disagree with it
            if not disagreements():
                survived.append(name)
    assert survived == [], "table mutations no test notices"
    assert disagreements() == []  # and the table is whole again


def test_the_table_leads_where_the_life_cycle_says():
    # Given the machine's transitions, Then each allowed action leads to the documented state
    assert {(s.value, a.value): n.value for (s, a), (n, _who) in TRANSITIONS.items()} == {
        ("open", "claim"): "claimed", ("claimed", "claim"): "claimed", ("claimed", "unclaim"): "open",
        ("open", "complete"): "completed", ("claimed", "complete"): "completed",
        ("open", "send_back"): "completed", ("claimed", "send_back"): "completed",
        ("open", "delegate"): "claimed", ("claimed", "delegate"): "claimed",
        ("open", "reassign"): "claimed", ("claimed", "reassign"): "claimed",
    }


@pytest.mark.parametrize(("who", "state", "action", "status", "holder"), [
    ("outsider", "open", "claim", 403, None),  # not their group
    ("admin", "open", "complete", 403, None),  # an administrator is not a caseworker
    ("member", "claimed", "complete", 409, "market1"),  # someone else holds it: name them
    ("member", "claimed", "unclaim", 409, "market1"),
    ("member", "completed", "complete", 409, "market1"),  # finished: name who finished it
    ("member", "cancelled", "claim", 409, None),
    ("holder", "open", "unclaim", 409, None),  # nothing to give back
    ("supervisor", "open", "delegate", 403, None),  # delegation is a member's, reassignment the supervisor's
    ("member", "open", "reassign", 403, None),
])
def test_refusals_carry_the_status_and_the_holder(who, state, action, status, holder):
    decision = can(ACTORS[who], task_in(state), Action(action), earlier={})
    assert (decision.allowed, decision.status, decision.holder) == (False, status, holder)


@pytest.mark.parametrize("action", [Action.CLAIM, Action.COMPLETE, Action.UNCLAIM, Action.SEND_BACK])
def test_a_stale_version_is_refused_with_409(action):
    # Given a task at version 3 that its holder may act on
    task = task_in("claimed")
    # When the holder acts with the version 2 they saw earlier: 409; with 3: allowed
    stale = can(HOLDER, task, action, earlier={}, version=2)
    assert (stale.allowed, stale.status) == (False, 409) and "version" in stale.message
    assert can(HOLDER, task, action, earlier={}, version=3).allowed


def test_separation_of_duties_bars_whoever_acted_on_a_named_step():
    # Given 审批 (approve) separated from 承办 and 审核, where market1 handled and market2 reviewed
    task = FakeTask("open", element_id="approve", name="批准", properties={"separateFrom": "handle, review"})
    earlier = {"handle": ("承办", frozenset({"market1"})), "review": ("审核", frozenset({"market2"}))}
    lead = Actor("market1", frozenset({"market_dept"}), supervises=frozenset({"market_dept"}), is_admin=True)
    # When each of them tries to claim or complete it: 403 with a zh-CN reason naming the step
    for actor, step in ((HOLDER, "承办"), (MEMBER, "审核"), (lead, "承办")):
        for action in (Action.CLAIM, Action.COMPLETE, Action.SEND_BACK):
            decision = can(actor, task, action, earlier=earlier)
            assert (decision.allowed, decision.status) == (False, 403)
            assert "审批分离" in decision.message and f"「{step}」" in decision.message
    # Then a third person may, and the rule names nobody for them
    market3 = Actor("market3", frozenset({"market_dept"}))
    assert can(market3, task, Action.COMPLETE, earlier=earlier).allowed
    assert separation_refusal("market3", task, earlier) is None


def test_a_step_without_separate_from_bars_nobody():
    task = FakeTask("open")
    earlier = {"handle": ("承办", frozenset({"market2"}))}
    assert can(MEMBER, task, Action.CLAIM, earlier=earlier).allowed


def test_check_raises_what_the_decision_says():
    from engine.errors import Conflict, Forbidden

    with pytest.raises(Forbidden):
        can(OUTSIDER, task_in("open"), Action.CLAIM, earlier={}).check()
    with pytest.raises(Conflict) as caught:
        can(MEMBER, task_in("claimed"), Action.CLAIM, earlier={}).check()
    assert caught.value.holder == "market1"
    assert can(MEMBER, task_in("open"), Action.CLAIM, earlier={}).check() == TaskState.CLAIMED
