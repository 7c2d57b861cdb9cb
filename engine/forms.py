"""A user task's form: the data contract of one step (BPMN property ``formSchema``, a JSON Schema).

The fields a form declares (its ``properties``) are the only fields a completion of that step may
write; the process property ``protectedFields`` names case fields no form may write at all (the
routing fields a decision table, a script or the engine owns). Every completion passes here
(``engine.cases.complete``), whichever entry point it came through. Forms are deployed with their
process (``engine.definitions.deploy`` bundles them), so a running case keeps the forms of the version
it started on. The conventions are in bpmn/CONVENTIONS.md, section 4.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.orm import Session

from engine.errors import Forbidden, Invalid, Problem
from engine.models import ProcessDefinition

SEND_BACK = "send_back"
RESULT = "result"  # the case's decision (准予/不予), written only from the step marked caseDecision
OPINION = "opinion"  # the default opinion field (审批意见); property opinionField names another
OUTCOME = "outcome"  # the default decision field; property decisionField names another
# A step of a definition deployed before forms were required: "同意" with a comment, nothing more.
_NO_FORM_FIELDS = frozenset({OUTCOME, "comment"})


def bad_schema(element_id: str, message: str) -> Invalid:
    return Invalid(f"the form of step {element_id} is broken: {message}",
                   [Problem(message, element_id=element_id, field="formSchema")])


@lru_cache(maxsize=256)
def parse_schema(text: str, element_id: str) -> dict[str, Any]:
    """A form's JSON text as a checked JSON Schema object; raises Invalid saying what is wrong."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_schema(element_id, f"not JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise bad_schema(element_id, "not a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise bad_schema(element_id, f"not a valid JSON Schema ({exc.message})") from None
    if not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        raise bad_schema(element_id, "it declares no fields: list what the step writes under \"properties\"")
    return schema


def schema_text(raw: str, element_id: str, files: dict[str, str] | dict[str, bytes]) -> str:
    """The JSON text a ``formSchema`` value stands for: the value itself, or the bundled file it names."""
    raw = raw.strip()
    if raw.startswith("{"):
        return raw
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts:
        raise bad_schema(element_id, f"'{raw}' must be a path inside bpmn/, such as forms/handle.json")
    for name in (raw, path.name):
        if name in files:
            content = files[name]
            return content.decode("utf-8") if isinstance(content, bytes) else content
    raise bad_schema(element_id, f"'{raw}' is not in the bundle: give the form file with the process (onewindow "
                                 f"lint/deploy also look in the BPMN file's folder and its parent, bpmn/) or "
                                 f"write the schema inline")


def property_list(value: str | None) -> frozenset[str]:
    return frozenset(n.strip() for n in (value or "").split(",") if n.strip())


def choices(spec: Any) -> list[tuple[Any, str]]:
    """A field's choices as (value, title): ``oneOf`` consts with titles, or ``enum``."""
    if not isinstance(spec, dict):
        return []
    if "enum" in spec:
        return [(v, str(v)) for v in spec["enum"]]
    return [(c["const"], str(c.get("title", c["const"]))) for c in spec.get("oneOf", [])
            if isinstance(c, dict) and "const" in c]


@dataclass(frozen=True)
class StepForm:
    """What one step may write, and which of its fields are its opinion and its decision."""

    element_id: str
    schema: dict[str, Any] | None
    protected: frozenset[str] = frozenset()
    properties: dict[str, str] = field(default_factory=dict, compare=False)

    @cached_property
    def declared(self) -> frozenset[str]:
        if self.schema is None:
            return _NO_FORM_FIELDS
        return frozenset((self.schema.get("properties") or {}).keys())

    def _named(self, prop: str, default: str) -> str | None:
        name = (self.properties.get(prop) or "").strip() or default
        return name if name in self.declared else None

    @cached_property
    def opinion_field(self) -> str | None:
        """The field holding the step's opinion (审批意见): kept as a record, not as case data."""
        return self._named("opinionField", OPINION if self.schema is not None else "comment")

    @cached_property
    def decision_field(self) -> str | None:
        return self._named("decisionField", OUTCOME)

    @cached_property
    def case_decision(self) -> str | None:
        """The field whose value (other than the send-back value) is the case's decision ``result``."""
        name = (self.properties.get("caseDecision") or "").strip()
        return name if name in self.declared else None

    @cached_property
    def send_back(self) -> tuple[str, str] | None:
        """``(field, value)`` a completion sets to send the case back (退回), or None if it cannot.

        The step declares it with the property ``sendBack`` = ``field=value``, or its form offers
        ``send_back`` as a choice of one field.
        """
        declared = (self.properties.get("sendBack") or "").strip()
        if declared:
            name, sep, value = declared.partition("=")
            return (name.strip(), value.strip()) if sep and name.strip() and value.strip() else None
        for name, spec in ((self.schema or {}).get("properties") or {}).items():
            if any(v == SEND_BACK for v, _t in choices(spec)):
                return name, SEND_BACK
        return None

    def title(self, name: str | None, value: Any) -> str:
        """The label a choice shows (``approved`` -> 准予许可), or the value itself."""
        spec = ((self.schema or {}).get("properties") or {}).get(name or "")
        return next((t for v, t in choices(spec) if v == value), "" if value is None else str(value))

    def admit(self, data: dict[str, Any]) -> None:
        """Refuse fields this step may not write: undeclared ones and protected case fields."""
        problems = [Problem(f"step {self.element_id} does not declare this field; its form has: "
                            f"{', '.join(sorted(self.declared))}", field=name)
                    for name in sorted(data) if name not in self.declared]
        problems += [Problem("a protected case field: only the step that owns it writes it "
                             "(protectedFields)", field=name)
                     for name in sorted(data) if name in self.protected and name in self.declared]
        if problems:
            fields = ", ".join(p.field or "" for p in problems)
            raise Invalid(f"step {self.element_id} may not write: {fields}", problems)

    @cached_property
    def _validator(self) -> Draft202012Validator | None:
        return Draft202012Validator(self.schema) if self.schema is not None else None

    def validate(self, data: dict[str, Any], *, partial: bool = False) -> None:
        """Check completion data against the schema; raises Invalid with one problem per field.

        ``partial`` ignores missing required fields (a send back carries only the reason).
        """
        if self._validator is None:
            return
        problems = []
        for error in sorted(self._validator.iter_errors(data), key=lambda e: [str(p) for p in e.path]):
            path = [str(p) for p in error.path]
            if error.validator == "required":
                if partial:
                    continue
                missing = [p for p in error.validator_value if isinstance(error.instance, dict)
                           and p not in error.instance]
                problems += [Problem("required", field=".".join([*path, name])) for name in missing]
                continue
            problems.append(Problem(error.message, field=".".join(path) or "data"))
        if problems:
            fields = ", ".join(sorted({p.field or "" for p in problems}))
            raise Invalid(f"the form data is not valid: {fields}", problems)

    def completion(self, data: dict[str, Any], *, sent_back: str | None = None) -> dict[str, Any]:
        """The completion data as this form admits it (Invalid naming every refused field); a send
        back (``sent_back`` is its reason) sets the form's send-back value and may leave out the rest."""
        self.admit(data)
        if sent_back is None:
            self.validate(data)
            return data
        if self.send_back is None:
            raise Forbidden(f"step {self.element_id} has no send-back path in its process")
        name, value = self.send_back
        data = {**data, name: value}
        self.validate(data, partial=True)
        return data

    def case_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """What the completion writes into the case: the opinion stays out (it is a record of its
        own), and the step marked ``caseDecision`` sets ``result`` from its one decision field."""
        out = {k: v for k, v in data.items() if k != self.opinion_field}
        if self.case_decision is not None:
            value = data.get(self.case_decision)
            if value is not None and (self.send_back is None or value != self.send_back[1]):
                out[RESULT] = value
        return out


class _FormCache:
    """Step forms by (database, definition, step): a deployed definition never changes."""

    def __init__(self, size: int = 512):
        self._items: OrderedDict[Hashable, StepForm] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, key: Hashable) -> StepForm | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Hashable, form: StepForm) -> None:
        with self._lock:
            self._items[key] = form
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_FORMS = _FormCache()


def step_form(session: Session, definition_id: int, element_id: str, properties: dict[str, str] | None) -> StepForm:
    """The form of one step of a deployed definition (a task row's ``properties`` name it)."""
    key = (str(session.get_bind().url), definition_id, element_id)
    hit = _FORMS.get(key)
    if hit is not None:
        return hit
    properties = dict(properties or {})
    definition = session.get(ProcessDefinition, definition_id)
    if definition is None:
        raise bad_schema(element_id, f"definition {definition_id} is gone")
    raw = (properties.get("formSchema") or "").strip()
    schema = parse_schema(schema_text(raw, element_id, definition.files or {}), element_id) if raw else None
    protected = property_list((definition.properties or {}).get("protectedFields"))
    form = StepForm(element_id, schema, protected, properties)
    _FORMS.put(key, form)
    return form


def bundle_forms(files: dict[str, bytes], wanted: Iterable[str], search: Iterable[Path]) -> dict[str, bytes]:
    """``files`` plus each wanted form file found under one of the ``search`` folders (first wins).

    A form already in the bundle (by its path or its file name) is left as given.
    """
    out = dict(files)
    folders = [Path(f) for f in search]
    for raw in wanted:
        path = PurePosixPath(raw)
        if raw in out or path.name in out or path.is_absolute() or ".." in path.parts:
            continue
        for folder in folders:
            candidate = folder / raw
            if candidate.is_file():
                out[raw] = candidate.read_bytes()
                break
    return out
