"""A step's form on the page: its fields as widgets, typed data from an HTML form, last time's data.

The form itself (the BPMN property ``formSchema``: what a step may write, its validation, its
send-back rule) is the engine's (engine/forms.py), so every entry point completes under the same
rules; this module only renders it. Conventions are in bpmn/CONVENTIONS.md, section 4.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.forms import choices
from engine.models import Task


def previous_data(session: Session, task: Task) -> dict[str, Any]:
    """What this step was completed with last time in this case (kept after a send back)."""
    row = session.scalar(
        select(Task).where(Task.case_id == task.case_id, Task.element_id == task.element_id,
                           Task.state == "completed", Task.id != task.id)
        .order_by(Task.completed_at.desc(), Task.id.desc()).limit(1)
    )
    return dict(row.data or {}) if row is not None else {}


def fields(schema: dict[str, Any] | None, *, hide_value: Any = None) -> list[dict[str, Any]]:
    """The schema's properties as widgets for the page (name, label, widget, choices, required)."""
    if schema is None:
        return []
    required = set(schema.get("required") or [])
    out = []
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        kind = spec.get("type", "string")
        options = [(v, t) for v, t in choices(spec) if v != hide_value]
        item_choices = [v for v, _t in choices(spec.get("items") or {})] if kind == "array" else []
        if options:
            widget = "select"
        elif kind == "boolean":
            widget = "checkbox"
        elif kind in ("integer", "number"):
            widget = "number"
        elif kind == "array":
            widget = "multi" if item_choices else "lines"
        elif spec.get("format") == "textarea" or spec.get("maxLength", 0) > 120:
            widget = "textarea"
        else:
            widget = "text"
        out.append({"name": name, "label": spec.get("title", name), "help": spec.get("description", ""),
                    "widget": widget, "type": kind, "choices": options,
                    "item_choices": [(v, v) for v in item_choices], "required": name in required})
    return out


def from_form(schema: dict[str, Any] | None, form: Any) -> dict[str, Any]:
    """Typed completion data from an HTML form (``form`` is a werkzeug MultiDict)."""
    data: dict[str, Any] = {}
    for f in fields(schema):
        name = f["name"]
        if f["widget"] == "checkbox":
            data[name] = form.get(name) in ("on", "true", "1")
        elif f["widget"] == "multi":
            data[name] = form.getlist(name)
        elif f["widget"] == "lines":
            lines = [ln.strip() for ln in form.get(name, "").splitlines() if ln.strip()]
            if lines:
                data[name] = lines
        else:
            raw = form.get(name, "").strip()
            if raw == "":
                continue
            if f["type"] == "integer":
                try:
                    data[name] = int(raw)
                except ValueError:
                    data[name] = raw  # the validator names the field
            elif f["type"] == "number":
                try:
                    data[name] = float(raw)
                except ValueError:
                    data[name] = raw
            else:
                data[name] = raw
    return data
