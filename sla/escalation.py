"""The escalation chain: office configuration, versioned, read from YAML.

Each rule names the level it reacts to, whom it notifies (``handler``, ``supervisors``, ``director``),
the channels, and optionally ``after_working_days``: the rule fires only when the clock is still red
after that many working days past its due date. Every alert records the rule id and the version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from engine.errors import Invalid, Problem

LEVELS = ("yellow", "red")
WHO = ("handler", "supervisors", "director")
CHANNELS = ("inbox", "email", "webhook")
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "bpmn" / "sla" / "escalation.yaml"


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    notify: str
    channels: tuple[str, ...]
    after_working_days: int = 0


@dataclass(frozen=True)
class Escalation:
    version: str
    rules: tuple[Rule, ...]
    warning_working_days: int = 1
    services: dict[str, int] = field(default_factory=dict)
    director: tuple[str, ...] = ()
    digest_hour: int = 8

    def threshold(self, service_code: str | None, explicit: int | None = None) -> int:
        """The yellow threshold: the case's own, else the service's, else the office's."""
        if explicit is not None:
            return explicit
        return self.services.get(service_code or "", self.warning_working_days)

    def step_threshold(self, explicit: int | None = None) -> int:
        """A step's yellow threshold: its own ``warningWorkingDays``, else the office's (never the
        service's: lint holds each step's limit against the office's threshold at deploy)."""
        return self.warning_working_days if explicit is None else explicit

    def rules_for(self, level: str, overdue_working_days: int) -> list[Rule]:
        """Rules that apply to a clock at ``level`` that is ``overdue_working_days`` past due."""
        return [r for r in self.rules if r.level == level
                and (r.after_working_days == 0 or overdue_working_days > r.after_working_days)]

    def next_red_steps(self) -> list[int]:
        return sorted({r.after_working_days for r in self.rules if r.level == "red" and r.after_working_days})


DEFAULT = Escalation(
    "builtin",
    (Rule("handler-yellow", "yellow", "handler", ("inbox",)),
     Rule("supervisor-red", "red", "supervisors", ("inbox",))),
)


def load_escalation(path: Path | str | None) -> Escalation:
    """Read the chain; raises Invalid listing every problem. A missing file gives the built-in chain."""
    if path is None or not Path(path).is_file():
        return DEFAULT
    raw = Path(path).read_bytes()
    data = yaml.safe_load(raw) or {}
    problems: list[Problem] = []
    file = str(path)
    if not isinstance(data, dict):
        raise Invalid("invalid escalation file", [Problem("expected a mapping", file=file)])
    version = str(data.get("version") or hashlib.sha256(raw).hexdigest()[:12])
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(data.get("rules") or []):
        where = f"rules[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem("expected a mapping", file=file, field=where))
            continue
        rid, level, who = str(item.get("id", "")), item.get("level"), item.get("notify")
        channels = tuple(item.get("channels") or ("inbox",))
        after = item.get("after_working_days", 0)
        if not rid or rid in seen:
            problems.append(Problem("a unique id is required", file=file, field=f"{where}.id"))
        seen.add(rid)
        if level not in LEVELS:
            problems.append(Problem(f"level must be one of {LEVELS}", file=file, field=f"{where}.level"))
        if who not in WHO:
            problems.append(Problem(f"notify must be one of {WHO}", file=file, field=f"{where}.notify"))
        if any(c not in CHANNELS for c in channels):
            problems.append(Problem(f"channels must be among {CHANNELS}", file=file, field=f"{where}.channels"))
        if not isinstance(after, int) or after < 0:
            problems.append(Problem("a whole number >= 0", file=file, field=f"{where}.after_working_days"))
        rules.append(Rule(rid, str(level), str(who), channels, int(after) if isinstance(after, int) else 0))
    threshold = data.get("warning_working_days", 1)
    services = {str(k): int(v.get("warning_working_days", threshold)) if isinstance(v, dict) else int(v)
                for k, v in (data.get("services") or {}).items()}
    director = data.get("director") or []
    if isinstance(director, str):
        director = [director]
    if problems:
        raise Invalid("invalid escalation file", problems)
    return Escalation(version, tuple(rules), int(threshold), services, tuple(director),
                      int(data.get("digest_hour", 8)))
