"""The one authorization policy: may this actor do this (to this case, task or page)?

Every route declares one of these rules (``engine.access``) and every service asks the same functions,
so a rule lives here once. The functions are pure: the facts they judge (which groups a case's tasks
went to, who started it, which process properties name starters) are read by the caller from the
engine's tables (``engine.involvement``) and passed in. What a task may go through next is
``engine.task_state``; it asks :func:`works_in` and :func:`supervises` from here.

Refusals: a case the actor is not involved in answers 404, never 403, so a guessed (sequential) case
number does not even tell that the case exists; a case they may read but may not act on answers 403.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # identity validates role names against ROLES below
    from engine.applicants import OnlineApplicant
    from engine.identity import Actor

FRONT_DESK = "front_desk"  # the group of the unified window (综合窗口)

# Roles a user may hold beyond groups, supervised groups and the administrator flag.
INTEGRATION = "integration"  # another system calling the API (starts cases, delivers messages)
OFFICE_SUPERVISOR = "office_supervisor"  # reads every case of the office (the director, 电子监察)
DESIGNER = "designer"  # process designers: lint, deploy and read the deployed definitions
ROLES = (INTEGRATION, OFFICE_SUPERVISOR, DESIGNER)
# The system itself (timers, the applicant's rating starting a follow-up): held by no user.
SYSTEM_ROLE = "system"
# An applicant signed in through the identity service (统一身份认证, engine.applicants): held by no user
# either. An applicant is never an Actor, so no rule above (staff, system) ever lets one through.
APPLICANT = "applicant"

# Process properties naming who may start a case; Camunda 7 writes the first as an attribute.
STARTER_PROPERTIES = ("candidateStarterGroups", "startableBy")
# The message property (on the bpmn:message or the element receiving it) naming who may deliver it.
DELIVERABLE_BY = "deliverableBy"


@dataclass(frozen=True)
class CaseFacts:
    """What the policy needs to know about one case, read from the engine's tables."""

    case_no: str
    groups: frozenset[str]  # every group a task of the case was queued to, now or before
    people: frozenset[str]  # who started it, holds one of its tasks or finished one
    started_as: str | None  # the group or role it was started under (e.g. front_desk)


def names(value: str | None) -> frozenset[str]:
    """A comma list from a BPMN property as a set of names."""
    return frozenset(n.strip() for n in (value or "").split(",") if n.strip())


# --- who the actor is ------------------------------------------------------------------------------


def is_system(actor: Actor) -> bool:
    return SYSTEM_ROLE in actor.roles


def is_admin(actor: Actor) -> bool:
    return actor.is_admin


def is_front_desk(actor: Actor) -> bool:
    """The window's own work (registering, lookups by ID number, acceptance, issuance): its members."""
    return FRONT_DESK in actor.groups


def works_in(actor: Actor, group: str | None) -> bool:
    """A member of the group, or its supervisor: may take and finish the group's tasks."""
    return group is not None and (group in actor.groups or group in actor.supervises)


def supervises(actor: Actor, group: str | None) -> bool:
    return group is not None and group in actor.supervises


def queue_groups(actor: Actor) -> frozenset[str]:
    """The groups whose open tasks the actor may claim (their queue)."""
    return actor.groups | actor.supervises


def team_groups(actor: Actor) -> frozenset[str]:
    """The groups whose open and claimed tasks the actor oversees (their team view)."""
    return actor.supervises


def oversees(actor: Actor) -> bool:
    """May read the office's figures (the director's dashboard): an administrator, an office-wide
    supervisor, or the supervisor of a department (who sees his departments' figures)."""
    return actor.is_admin or OFFICE_SUPERVISOR in actor.roles or bool(actor.supervises)


def supervision_scope(actor: Actor) -> frozenset[str] | None:
    """The departments whose warnings and compliance figures the actor sees; None: every department."""
    if actor.is_admin or OFFICE_SUPERVISOR in actor.roles:
        return None
    return actor.groups | actor.supervises


# --- cases -----------------------------------------------------------------------------------------


def _handles(actor: Actor, case: CaseFacts) -> bool:
    mine = actor.groups | actor.supervises
    return bool(case.groups & mine) or actor.username in case.people or case.started_as in mine


def may_read_case(actor: Actor | None, case: CaseFacts) -> bool:
    """Involved: a task of their groups now or before, a group they supervise, the group that
    registered it (the front desk), someone who held a task of it, an office-wide supervisor, an admin."""
    if actor is None:
        return False
    if actor.is_admin or OFFICE_SUPERVISOR in actor.roles or is_system(actor):
        return True
    return _handles(actor, case) or (case.started_as is not None and case.started_as in actor.roles)


def may_see_personal(actor: Actor | None, case: CaseFacts) -> bool:
    """ID and phone numbers whole: those who handle the case (and admins); office-wide oversight and
    integrations see them masked. Every whole view is meant to be audited by the caller."""
    if actor is None:
        return False
    return actor.is_admin or _handles(actor, case)


# --- applicants (统一身份认证) ---------------------------------------------------------------------


def applicant_owns(applicant: OnlineApplicant | None, holder: str | None) -> bool:
    """A case, file or certificate is the applicant's when it is held under the number they act under
    now: their own citizen ID number, or the credit code of the organisation they act for (一号申请).
    Whatever is not theirs is answered 404, as for staff not involved in a case."""
    return applicant is not None and bool(holder) and holder == applicant.key


def starters(process_properties: Mapping[str, str] | None) -> frozenset[str]:
    """The groups and roles a process names as its starters (none: only the system starts it)."""
    props = process_properties or {}
    return frozenset().union(*(names(props.get(p)) for p in STARTER_PROPERTIES))


def starting_as(actor: Actor, allowed: Iterable[str]) -> str | None:
    """Under which of the allowed groups or roles the actor starts a case; None if under none.

    Groups count for their members only (a supervisor does not register at the window). The system
    starts any process.
    """
    if is_system(actor):
        return SYSTEM_ROLE
    for name in sorted(allowed):
        if name in actor.groups or name in actor.roles:
            return name
    return None


def may_deliver(actor: Actor, allowed: Iterable[str]) -> bool:
    """May the actor deliver a message whose ``deliverableBy`` names ``allowed`` (none: the system only)."""
    if is_system(actor):
        return True
    wanted = frozenset(allowed)
    return bool(wanted & (actor.groups | actor.roles))


# --- administration, clocks, alerts -------------------------------------------------------------


def may_administer(actor: Actor) -> bool:
    """Cancel cases, list and clear flagged cases."""
    return actor.is_admin


def may_design(actor: Actor) -> bool:
    """Lint and deploy definitions, read every deployed version with its files, lint results and diagram:
    the designers, and administrators. Cases stay out of it: a designer reads only the cases they are
    involved in, like anyone else."""
    return actor.is_admin or DESIGNER in actor.roles


def may_migrate(actor: Actor) -> bool:
    """Move running cases to another version of their process: it changes every running case, so
    administrators only (a designer deploys the version, an administrator decides the cases move)."""
    return actor.is_admin


def may_pause_clock(actor: Actor, group: str | None) -> bool:
    """Start or end a special procedure on a case clock: the department handling it, or an admin."""
    return actor.is_admin or works_in(actor, group)


def may_extend(actor: Actor, group: str | None) -> bool:
    """Extend a case's time limit: a supervisor of the department handling it."""
    return supervises(actor, group)


def sees_every_alert(actor: Actor) -> bool:
    return actor.is_admin


def alert_groups(actor: Actor) -> frozenset[str]:
    """The groups whose every alert the actor sees beside those addressed to them: a supervisor sees
    each yellow and red step of the departments they supervise, whoever the chain told."""
    return actor.supervises


def may_acknowledge_alert(actor: Actor, *, addressed_to_actor: bool, group: str | None) -> bool:
    """An alert in one's own inbox, or one raised on a group one supervises (or an admin)."""
    return addressed_to_actor or actor.is_admin or supervises(actor, group)
