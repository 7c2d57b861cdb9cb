"""After the load: wait until the event pipeline is quiet, then ask the database what a supervisor
and an auditor would: was every event handled by every subscriber, was anything handled twice, does a
step clock still run for a finished task, and is a red alert raised for a step finished on time.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

CHECKS = {
    "events not delivered (delivered_at null)":
        "SELECT count(*) FROM case_events WHERE domain AND delivered_at IS NULL",
    "events some subscriber never recorded": """
        SELECT count(*) FROM case_events e JOIN subscribers s ON s.kind = e.kind
        LEFT JOIN event_deliveries d ON d.event_id = e.id AND d.handler = s.handler
        WHERE e.domain AND d.event_id IS NULL""",
    "events recorded twice by one subscriber": """
        SELECT count(*) FROM (SELECT 1 FROM event_deliveries GROUP BY event_id, handler HAVING count(*) > 1) x""",
    "clocks started or stopped twice (a handler ran twice)": """
        SELECT count(*) FROM (SELECT 1 FROM sla_clock_entries WHERE kind IN ('started', 'stopped')
                              GROUP BY clock_id, kind HAVING count(*) > 1) x""",
    "alerts raised twice for one case, step, level and rule": """
        SELECT count(*) FROM (SELECT 1 FROM sla_alerts GROUP BY case_id, step, level, rule_id HAVING count(*) > 1) x""",
    "alert deliveries made twice (alert, channel, recipient)": """
        SELECT count(*) FROM (SELECT 1 FROM sla_alert_deliveries GROUP BY alert_id, channel, recipient
                              HAVING count(*) > 1) x""",
    "tasks with no step clock (a creation lost)": """
        SELECT count(*) FROM tasks t LEFT JOIN sla_clocks c ON c.case_id = t.case_id AND c.step = t.id
        WHERE c.id IS NULL""",
    "step clocks running for finished tasks": """
        SELECT count(*) FROM sla_clocks c JOIN tasks t ON t.id = c.step
        WHERE c.state IN ('running', 'paused') AND t.state IN ('completed', 'cancelled')""",
    "case clocks running for ended cases": """
        SELECT count(*) FROM sla_clocks c JOIN cases k ON k.id = c.case_id
        WHERE c.step = '' AND c.state IN ('running', 'paused') AND k.status <> 'running'""",
    "red alerts for steps finished on time": """
        SELECT count(*) FROM sla_alerts a JOIN sla_clocks c ON c.case_id = a.case_id AND c.step = a.step
        WHERE a.level = 'red' AND c.state = 'stopped' AND c.stopped_on <= c.due_date""",
    "alerts raised after their step had finished": """
        SELECT count(*) FROM sla_alerts a JOIN tasks t ON t.id = a.step
        WHERE t.completed_at IS NOT NULL AND a.raised_at > t.completed_at""",
    "applications registered twice (same applicant and item)": """
        SELECT count(*) FROM (SELECT 1 FROM intake_applications GROUP BY applicant_id, service_code
                              HAVING count(*) > 1) x""",
}
FIGURES = {
    "cases": "SELECT count(*) FROM cases",
    "cases ended": "SELECT count(*) FROM cases WHERE status <> 'running'",
    "tasks": "SELECT count(*) FROM tasks",
    "domain events": "SELECT count(*) FROM case_events WHERE domain",
    "deliveries recorded": "SELECT count(*) FROM event_deliveries",
    "step clocks": "SELECT count(*) FROM sla_clocks WHERE step <> ''",
    "alerts (yellow / red)": "SELECT count(*) FILTER (WHERE level = 'yellow') || ' / ' || "
                             "count(*) FILTER (WHERE level = 'red') FROM sla_alerts",
    "flagged cases": "SELECT count(*) FROM cases WHERE flagged IS NOT NULL",
}


def _subscribers_cte() -> str:
    from engine import events

    pairs = [(kind, name) for kind, handlers in events._subscribers.items() for name, _h in handlers]
    values = ", ".join(f"('{k}', '{n}')" for k, n in pairs)
    return f"WITH subscribers(kind, handler) AS (VALUES {values}) "


def quiesce(url: str, seconds: float = 180.0) -> float:
    """Wait until no domain event waits for delivery (the outbox re-sends what the broker lost);
    returns how long that took."""
    engine = sa.create_engine(url)
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            with engine.connect() as c:
                if not c.execute(sa.text(CHECKS["events not delivered (delivered_at null)"])).scalar():
                    break
            time.sleep(1)
    finally:
        engine.dispose()
    return time.monotonic() - start


def audit(url: str, title: str) -> dict[str, int]:
    """Print every check (each should be 0) and a few totals; return the checks."""
    engine = sa.create_engine(url)
    found = {}
    try:
        with engine.connect() as c:
            cte = _subscribers_cte()
            for name, sql in CHECKS.items():
                found[name] = int(c.execute(sa.text((cte if "subscribers" in sql else "") + sql)).scalar() or 0)
            figures = {name: c.execute(sa.text(sql)).scalar() for name, sql in FIGURES.items()}
    finally:
        engine.dispose()
    print(f"\n== audit {title}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    for name, n in found.items():
        print(f"   {'ok  ' if n == 0 else 'FAIL'} {name}: {n}")
    return found
