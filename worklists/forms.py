"""A user task's form: its JSON Schema (BPMN property ``formSchema``), validation, send-back rule, defaults.

``formSchema`` is either the schema itself (a value starting with ``{``) or a path such as
``forms/handle.json``: looked up first among the files deployed with the definition, then under the
designers' ``bpmn/`` directory. Conventions are in bpmn/CONVENTIONS.md, section 4.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Invalid, Problem
from engine.models import Task

SEND_BACK = "send_back"


def _bad_schema(element_id: str, message: str) -> Invalid:
    return Invalid(f"the form of step {element_id} is broken: {message}",
                   [Problem(message, element_id=element_id, field="formSchema")])


@lru_cache(maxsize=256)
def _parse(text: str, element_id: str) -> dict[str, Any]:
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_schema(element_id, f"not JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise _bad_schema(element_id, "not a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise _bad_schema(element_id, f"not a valid JSON Schema ({exc.message})") from None
    return schema


def load_schema(properties: dict[str, str] | None, element_id: str, files: dict[str, str] | None,
                bpmn_dir: Path) -> dict[str, Any] | None:
    """The task's schema, or None when the step declares no form. Raises Invalid for a broken one."""
    raw = ((properties or {}).get("formSchema") or "").strip()
    if not raw:
        return None
    if raw.startswith("{"):
        return _parse(raw, element_id)
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts:
        raise _bad_schema(element_id, f"'{raw}' must be a path inside bpmn/")
    files = files or {}
    for name in (raw, path.name):
        if name in files:
            return _parse(files[name], element_id)
    target = bpmn_dir / raw
    if not target.is_file():
        raise _bad_schema(element_id, f"'{raw}' not found in the bundle or under bpmn/")
    return _parse(target.read_text(encoding="utf-8"), element_id)


def _choices(spec: dict[str, Any]) -> list[Any]:
    if "enum" in spec:
        return list(spec["enum"])
    return [c.get("const") for c in spec.get("oneOf", []) if isinstance(c, dict) and "const" in c]


def send_back_rule(properties: dict[str, str] | None, schema: dict[str, Any] | None) -> tuple[str, str] | None:
    """``(field, value)`` a completion sets to send the case back, or None if the step cannot.

    The step declares it with the property ``sendBack`` = ``field=value`` (e.g. ``outcome=send_back``),
    or its form offers ``send_back`` as a choice of one field.
    """
    declared = ((properties or {}).get("sendBack") or "").strip()
    if declared:
        name, sep, value = declared.partition("=")
        if sep and name.strip() and value.strip():
            return name.strip(), value.strip()
        return None
    for name, spec in ((schema or {}).get("properties") or {}).items():
        if isinstance(spec, dict) and SEND_BACK in _choices(spec):
            return name, SEND_BACK
    return None


def validate(schema: dict[str, Any] | None, data: dict[str, Any], *, partial: bool = False) -> None:
    """Check completion data against the schema; raises Invalid with one problem per field.

    ``partial`` ignores missing required fields (a send back carries only the reason).
    """
    if schema is None:
        return
    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path)):
        path = [str(p) for p in error.path]
        if error.validator == "required":
            if partial:
                continue
            missing = [p for p in error.validator_value if isinstance(error.instance, dict)
                       and p not in error.instance]
            for name in missing:
                problems.append(Problem("required", field=".".join([*path, name])))
            continue
        problems.append(Problem(error.message, field=".".join(path) or "data"))
    if problems:
        fields = ", ".join(sorted({p.field or "" for p in problems}))
        raise Invalid(f"the form data is not valid: {fields}", problems)


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
        titles = {c.get("const"): c.get("title", c.get("const")) for c in spec.get("oneOf", [])
                  if isinstance(c, dict) and "const" in c}
        choices = [(v, titles.get(v, v)) for v in _choices(spec) if v != hide_value]
        item_choices = _choices(spec.get("items") or {}) if kind == "array" else []
        if choices:
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
                    "widget": widget, "type": kind, "choices": choices,
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
