"""The authorization policy's pure rules: who reads a case, who sees personal data, who starts, who delivers."""

from __future__ import annotations

import pytest

from engine import policy
from engine.identity import SYSTEM, Actor
from engine.policy import CaseFacts

CASE = CaseFacts("OW1", groups=frozenset({"front_desk", "market_dept"}), people=frozenset({"window1", "market1"}),
                 started_as="front_desk")
FOLLOW_UP = CaseFacts("OW2", groups=frozenset({"market_dept"}), people=frozenset({"system"}), started_as="system")

WINDOW = Actor("window2", frozenset({"front_desk"}))
MARKET = Actor("market2", frozenset({"market_dept"}))
HEALTH = Actor("health1", frozenset({"health_dept"}))
LEAD = Actor("market_lead", supervises=frozenset({"market_dept"}))
HEALTH_LEAD = Actor("health_lead", supervises=frozenset({"health_dept"}))
DIRECTOR = Actor("director", roles=frozenset({policy.OFFICE_SUPERVISOR}))
ADMIN = Actor("admin", is_admin=True)
PORTAL = Actor("portal", roles=frozenset({policy.INTEGRATION}))
MOVED = Actor("market1", frozenset({"housing_dept"}))  # held a task of the case, then changed department


@pytest.mark.parametrize(("actor", "reads", "personal"), [
    (WINDOW, True, True),  # the front desk registered it
    (MARKET, True, True),  # a task of their group
    (LEAD, True, True),  # a group they supervise
    (MOVED, True, True),  # they held one of its tasks
    (DIRECTOR, True, False),  # office-wide oversight reads, but sees personal data masked
    (ADMIN, True, True),
    (HEALTH, False, False),  # another department
    (HEALTH_LEAD, False, False),
    (PORTAL, False, False),  # an integration that did not start it
    (None, False, False),
])
def test_who_reads_a_case_and_who_sees_it_whole(actor, reads, personal):
    assert policy.may_read_case(actor, CASE) is reads
    assert policy.may_see_personal(actor, CASE) is personal


def test_the_group_a_case_was_started_under_reads_it_even_before_any_task_of_theirs():
    started_by_portal = CaseFacts("OW3", groups=frozenset({"market_dept"}), people=frozenset({"portal"}),
                                  started_as="integration")
    other_portal = Actor("portal2", roles=frozenset({policy.INTEGRATION}))
    assert policy.may_read_case(other_portal, started_by_portal)
    assert not policy.may_see_personal(other_portal, started_by_portal)
    assert not policy.may_read_case(WINDOW, FOLLOW_UP)  # the system started it: not the window's


def test_starters_come_from_either_property_and_groups_count_for_members_only():
    props = {"candidateStarterGroups": "front_desk", "startableBy": " integration , "}
    allowed = policy.starters(props)
    assert allowed == {"front_desk", "integration"}
    assert policy.starting_as(WINDOW, allowed) == "front_desk"
    assert policy.starting_as(PORTAL, allowed) == "integration"
    assert policy.starting_as(Actor("lead", supervises=frozenset({"front_desk"})), allowed) is None
    assert policy.starting_as(ADMIN, allowed) is None
    # a process that names nobody is started by the system only
    assert policy.starters({"promisedWorkingDays": "5"}) == frozenset()
    assert policy.starting_as(WINDOW, frozenset()) is None
    assert policy.starting_as(SYSTEM, frozenset()) == policy.SYSTEM_ROLE


def test_a_message_is_delivered_only_by_those_it_names():
    assert policy.may_deliver(WINDOW, ["front_desk"])
    assert not policy.may_deliver(MARKET, ["front_desk"])
    assert not policy.may_deliver(ADMIN, ["front_desk"])
    assert not policy.may_deliver(WINDOW, [])  # named by nobody: the system's only
    assert policy.may_deliver(SYSTEM, [])
    assert policy.may_deliver(PORTAL, ["front_desk", "integration"])


def test_front_desk_is_membership_not_supervision():
    assert policy.is_front_desk(WINDOW)
    assert not policy.is_front_desk(Actor("director", supervises=frozenset({"front_desk"})))
    assert not policy.is_front_desk(ADMIN)


def test_supervision_scope():
    assert policy.supervision_scope(ADMIN) is None and policy.supervision_scope(DIRECTOR) is None
    assert policy.supervision_scope(LEAD) == {"market_dept"}
    assert policy.supervision_scope(MARKET) == {"market_dept"}
