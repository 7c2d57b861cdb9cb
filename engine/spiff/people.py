"""Who may work a human task: its groups, its users and its assignee, from any modeler's fields.

The parser has put every dialect's fields into the task's properties (``assignee``,
``candidateUsers``, ``candidateGroups``; ``engine.spiff.documents.people_sources``) and compiled an
expression to ``=`` + Python (``engine.spiff.dialects``). A literal is a name or a comma-separated
list (``market_dept``, ``alice, bob``); an expression may give a name, a list or a comma-separated
string. Without candidate groups, the task's lane (its id) is its group.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from engine.spiff.feel_runtime import people, variables

FIELDS = ("assignee", "candidateUsers", "candidateGroups")
NAME = re.compile(r"^[^\s,]{1,64}$")


@dataclass(frozen=True)
class People:
    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    assignee: str | None = None

    @property
    def anyone(self) -> bool:
        return bool(self.groups or self.users or self.assignee)


def literal_names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def resolve(properties: dict[str, str], lane: str | None, evaluate) -> People:
    """The task's people now: ``evaluate(python)`` runs a compiled expression over the task's data."""
    found: dict[str, list[str]] = {}
    for field in FIELDS:
        text = (properties.get(field) or "").strip()
        if text.startswith("="):
            found[field] = people(evaluate(text[1:]))
        elif text:
            found[field] = literal_names(text)
    groups = found.get("candidateGroups") or ([lane] if lane else [])
    assignees = found.get("assignee") or []
    if len(assignees) > 1:
        raise ValueError(f"assignee names {len(assignees)} users ({', '.join(assignees)}); name one, or use "
                         "candidateUsers")
    for name in [*groups, *found.get("candidateUsers", []), *assignees]:
        if not NAME.match(name):
            raise ValueError(f"{name!r} is not a user or group name (no spaces or commas, at most 64 characters)")
    return People(tuple(dict.fromkeys(groups)), tuple(dict.fromkeys(found.get("candidateUsers", []))),
                  assignees[0] if assignees else None)


# ---- lint ----------------------------------------------------------------------------------------


def sample_context(process_properties: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    """The process's ``sampleData`` property (a JSON object): the data lint tries expressions on."""
    raw = (process_properties.get("sampleData") or "").strip()
    if not raw:
        return None, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return None, f"sampleData is not JSON ({exc.msg})"
    if not isinstance(value, dict):
        return None, "sampleData must be a JSON object of variables"
    return value, None


def check(field: str, value: str, sample: dict[str, Any] | None) -> str | None:
    """What is wrong with one people field, tried on the sample data; None if it names someone."""
    text = value.strip()
    if not text.startswith("="):
        bad = [n for n in literal_names(text) if not NAME.match(n)]
        return f"{field} {bad[0]!r} is not a user or group name" if bad else None
    python = text[1:]
    if not python.strip():
        return None  # the compile problem is already reported
    from engine.spiff.script_engine import RestrictedEnvironment  # the sandbox, only when lint needs it

    try:
        reads = ", ".join(variables(python)) or "nothing"
    except SyntaxError:
        reads = "nothing"
    try:
        names = people(RestrictedEnvironment().evaluate(python, dict(sample or {})))
    except Exception as exc:  # whatever the expression raises on the sample is the designer's to see
        return f"{field} expression (reads {reads}) fails on the sample data: {type(exc).__name__}: {exc}"
    if names or sample is None:
        return None
    return (f"{field} expression (reads {reads}) names nobody with the process's sampleData; fix: give "
            "sampleData the values a case has when the task opens")
