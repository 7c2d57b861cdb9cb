"""The service catalog (政务服务事项): items read from the designers' YAML files, checked strictly.

An item says which department owns a service, which process handles it, its statutory and promised
limits in working days, and the materials an applicant brings. A mistake here becomes a wrong
deadline or a wrong checklist at the window, so a file is refused whole, with every problem named
by file, line, item code and field, rather than loaded in part.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Invalid, Problem


class CaseType(StrEnum):
    PROMISED = "promised"  # 承诺件: decided within the promised working days
    IMMEDIATE = "immediate"  # 即办件: done on the spot

    @property
    def label(self) -> str:
        return "承诺件" if self is CaseType.PROMISED else "即办件"


@dataclass(frozen=True)
class Material:
    """One entry of an item's materials list (申请材料)."""

    code: str
    name: str
    required: bool
    reusable: bool  # may be taken from the applicant's earlier cases or certificates (三个不得)
    originals: int = 1
    copies: int = 0
    condition: str | None = None  # when it is needed, for a material that is not always required


@dataclass(frozen=True)
class SpecialStep:
    """A special procedure (特别程序: inspection, hearing, expert review ...) and its time allowed."""

    name: str
    working_days: int
    counted: bool = False  # inside the promised limit, or (the usual case) a pause of the clock


@dataclass(frozen=True)
class ServiceItem:
    """One service item. ``content_hash`` identifies its content so the caller can version items."""

    code: str
    name: str
    department: str
    process: str
    case_type: CaseType
    statutory_working_days: int
    promised_working_days: int
    category: str
    visits: int
    materials: tuple[Material, ...]
    basic_code: str | None = None
    legal_basis: str | None = None
    fees: str | None = None
    warning_working_days: int | None = None
    special_steps: tuple[SpecialStep, ...] = ()
    co_departments: tuple[str, ...] = ()  # joint handling (并联审批): they review beside the lead
    source_file: str | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The item's whole content as plain JSON-able values (``source_file`` excluded)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.compare}
        data["case_type"] = self.case_type.value
        data["co_departments"] = list(self.co_departments)
        data["special_steps"] = [asdict(s) for s in self.special_steps]
        data["materials"] = [asdict(m) for m in self.materials]
        return data

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical content: the same for the same item however the YAML is written."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def guide(self) -> dict[str, Any]:
        """The service guide (办事指南) an applicant reads: materials, limits, fees, visits.

        Routing data (process, category, warning threshold) stays out: it is the office's business.
        """
        data = self.as_dict()
        for internal in ("process", "category", "warning_working_days"):
            del data[internal]
        data["case_type_label"] = self.case_type.label
        data["version"] = self.content_hash
        return data


# A slug: usable as a form field, a DMN input value and part of a URL.
_SLUG = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]*")

_ITEM_REQUIRED = (
    "code name department process case_type statutory_working_days promised_working_days "
    "category visits materials"
).split()
_ITEM_OPTIONAL = "basic_code legal_basis fees warning_working_days special_steps co_departments".split()
# The item's plain fields and what each must be; case_type, materials and co_departments are read
# on their own because they need more than a type check.
_ITEM_KINDS = {
    "code": "code",
    "basic_code": "code",
    "name": "text",
    "department": "slug",
    "process": "slug",
    "category": "slug",
    "legal_basis": "text",
    "fees": "text",
    "statutory_working_days": "count",
    "promised_working_days": "count",
    "warning_working_days": "count",
    "visits": "count",
    "special_steps": "list",
}
_MATERIAL_REQUIRED = "code name required reusable".split()
_MATERIAL_OPTIONAL = "originals copies condition".split()
_STEP_REQUIRED = "name working_days".split()
_STEP_OPTIONAL = ["counted"]

_Path = tuple[str | int, ...]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_count(value: Any) -> bool:
    # bool is an int in Python; "true" as a number of days is a typo, not 1.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_EXPECTED = {
    "text": (_is_text, "a non-empty string"),
    "slug": (lambda v: isinstance(v, str) and bool(_SLUG.fullmatch(v)), "a code of letters, digits, _ . -"),
    "code": (lambda v: isinstance(v, str) and bool(_CODE.fullmatch(v)), "a code of letters, digits, _ . -"),
    "count": (_is_count, "a whole number >= 0"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "list": (lambda v: isinstance(v, list), "a list"),
}


class _Reader:
    """Reads one file's items, collecting every problem instead of stopping at the first."""

    def __init__(self, file: str, lines: dict[_Path, int]):
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []
        self.element_id: str | None = None

    def problem(self, message: str, path: _Path) -> None:
        """Record a problem at ``path``; its line is that of the path or, for a missing key, its parent."""
        line = next((self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines), None)
        self.problems.append(
            Problem(message, element_id=self.element_id, line=line, file=self.file, field=_dotted(path))
        )

    def keys(self, data: Any, path: _Path, what: str, required: list[str], optional: list[str]) -> bool:
        if not isinstance(data, dict):
            self.problem(f"{what} must be a mapping, got {_type_name(data)}", path)
            return False
        allowed = required + optional
        for key in data:
            if key not in allowed:
                self.problem(f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})", path + (key,))
        for key in required:
            if key not in data:
                self.problem(f"missing required field {key!r} in {what}", path + (key,))
        return True

    def get(self, data: dict, key: str, path: _Path, kind: str) -> Any:
        """The value of ``key`` if present and of the expected kind; None (and a problem) otherwise."""
        if key not in data:
            return None
        value = data[key]
        check, expected = _EXPECTED[kind]
        if not check(value):
            self.problem(f"must be {expected}, got {value!r}", path + (key,))
            return None
        return value.strip() if isinstance(value, str) else value

    def rule(self, broken: bool, message: str, path: _Path) -> None:
        if broken:
            self.problem(message, path)

    def material(self, data: Any, path: _Path) -> Material | None:
        if not self.keys(data, path, "a material", _MATERIAL_REQUIRED, _MATERIAL_OPTIONAL):
            return None
        code, name = self.get(data, "code", path, "slug"), self.get(data, "name", path, "text")
        required, reusable = (
            self.get(data, "required", path, "bool"),
            self.get(data, "reusable", path, "bool"),
        )
        originals, copies = (
            self.get(data, "originals", path, "count"),
            self.get(data, "copies", path, "count"),
        )
        condition = self.get(data, "condition", path, "text")
        if code is None or name is None or required is None or reusable is None:
            return None
        originals = 1 if originals is None else originals
        return Material(code, name, required, reusable, originals, copies or 0, condition)

    def step(self, data: Any, path: _Path) -> SpecialStep | None:
        if not self.keys(data, path, "a special step", _STEP_REQUIRED, _STEP_OPTIONAL):
            return None
        name = self.get(data, "name", path, "text")
        days = self.get(data, "working_days", path, "count")
        counted = self.get(data, "counted", path, "bool")
        if name is None or days is None:
            return None
        return SpecialStep(name, days, bool(counted))

    def item(self, data: Any, path: _Path, fallback_id: str) -> ServiceItem | None:
        code = data.get("code") if isinstance(data, dict) else None
        self.element_id = code.strip() if _is_text(code) else fallback_id
        before = len(self.problems)
        if not self.keys(data, path, "a service item", _ITEM_REQUIRED, _ITEM_OPTIONAL):
            return None
        values = {key: self.get(data, key, path, kind) for key, kind in _ITEM_KINDS.items()}
        case_type = self._case_type(data, path)
        materials = self._materials(data, path)
        steps = [
            self.step(raw, path + ("special_steps", i)) for i, raw in enumerate(values["special_steps"] or [])
        ]
        co_departments = self._co_departments(data, path, values["department"])
        statutory, promised = values["statutory_working_days"], values["promised_working_days"]
        warning = values["warning_working_days"]
        promised_at = path + ("promised_working_days",)
        if statutory is not None and promised is not None:
            self.rule(
                promised > statutory,
                f"promised_working_days ({promised}) exceeds statutory_working_days ({statutory}): "
                "an office may promise less than the law allows, never more",
                promised_at,
            )
        self.rule(
            case_type is CaseType.IMMEDIATE and promised not in (None, 0),
            "an immediate item (即办件) is done on the spot: "
            f"promised_working_days must be 0, got {promised}",
            promised_at,
        )
        self.rule(
            case_type is CaseType.PROMISED and promised == 0,
            "a promised item (承诺件) needs promised_working_days >= 1; "
            "use case_type: immediate for an item done on the spot",
            promised_at,
        )
        if warning is not None and promised:
            self.rule(
                warning >= promised,
                f"warning_working_days ({warning}) is not below promised_working_days ({promised}): "
                "every case would be yellow the day it is accepted",
                path + ("warning_working_days",),
            )
        counted = sum(s.working_days for s in steps if s is not None and s.counted)
        self.rule(
            promised is not None and counted > promised,
            f"special steps counted in the limit take {counted} working days, "
            f"more than the promised {promised}",
            path + ("special_steps",),
        )
        if len(self.problems) > before or case_type is None:
            return None
        return ServiceItem(
            case_type=case_type,
            materials=tuple(materials),
            special_steps=tuple(s for s in steps if s is not None),
            co_departments=tuple(co_departments),
            source_file=self.file,
            **{key: value for key, value in values.items() if key != "special_steps"},
        )

    def _case_type(self, data: dict, path: _Path) -> CaseType | None:
        if "case_type" not in data:
            return None
        try:
            return CaseType(data["case_type"])
        except ValueError:
            allowed = " | ".join(t.value for t in CaseType)
            self.problem(
                f"case_type must be one of {allowed}, got {data['case_type']!r}", path + ("case_type",)
            )
            return None

    def _materials(self, data: dict, path: _Path) -> list[Material]:
        materials: list[Material] = []
        for i, raw in enumerate(self.get(data, "materials", path, "list") or []):
            material = self.material(raw, path + ("materials", i))
            if material is None:
                continue
            if any(m.code == material.code for m in materials):
                self.problem(f"duplicate material code {material.code!r}", path + ("materials", i, "code"))
                continue
            materials.append(material)
        return materials

    def _co_departments(self, data: dict, path: _Path, lead: str | None) -> list[str]:
        departments: list[str] = []
        for i, value in enumerate(self.get(data, "co_departments", path, "list") or []):
            where = path + ("co_departments", i)
            if not isinstance(value, str) or not _SLUG.fullmatch(value):
                self.problem(f"must be a department code, got {value!r}", where)
            elif value == lead or value in departments:
                self.problem(f"department {value!r} is listed twice (as lead or co-handling)", where)
            else:
                departments.append(value)
        return departments


def _type_name(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _dotted(path: _Path) -> str:
    """``("items", 2, "materials", 0, "code")`` -> ``"materials[0].code"`` (relative to the item)."""
    if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
        path = path[2:]
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "item"


def _index_lines(
    node: yaml.Node, path: _Path, lines: dict[_Path, int], duplicates: list[tuple[_Path, int]]
) -> None:
    """Map each path in the document to its 1-based line, and note keys given twice.

    yaml.safe_load gives values without positions and silently keeps the last of two equal keys;
    composing the same text once more gives both.
    """
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                duplicates.append((path + (key,), key_node.start_mark.line + 1))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _index_lines(value_node, path + (key,), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _index_lines(child, path + (i,), lines, duplicates)


def parse_catalog(text: str, file: str = "<string>") -> list[ServiceItem]:
    """Parse one catalog document: a single item, or a mapping whose only key is ``items``.

    Raises Invalid listing every problem (file, line, item code in ``element_id``, field).
    """
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise Invalid(
            f"{file}: not valid YAML", [Problem(f"not valid YAML: {exc}", line=line, file=file)]
        ) from None
    lines: dict[_Path, int] = {}
    duplicates: list[tuple[_Path, int]] = []
    if root is not None:
        _index_lines(root, (), lines, duplicates)
    reader = _Reader(file, lines)
    for path, line in duplicates:
        reader.problems.append(
            Problem(f"key {path[-1]!r} is given twice", line=line, file=file, field=_dotted(path))
        )
    items: list[ServiceItem] = []
    if isinstance(data, dict) and "items" in data:
        extra = [k for k in data if k != "items"]
        if extra:
            reader.problems.append(
                Problem(f"a file with 'items' holds nothing else; unexpected: {extra}", file=file)
            )
        entries = data["items"]
        if not isinstance(entries, list) or not entries:
            reader.problem("'items' must be a non-empty list of service items", ("items",))
            entries = []
        for i, entry in enumerate(entries):
            item = reader.item(entry, ("items", i), f"items[{i}]")
            if item is not None:
                items.append(item)
    elif isinstance(data, dict):
        item = reader.item(data, (), "item")
        if item is not None:
            items.append(item)
    else:
        reader.problems.append(
            Problem(f"a catalog file holds one item or 'items:', got {_type_name(data)}", line=1, file=file)
        )
    items = _unique(items, reader.problems)
    if reader.problems:
        raise Invalid(f"{file}: invalid service catalog", reader.problems)
    return items


def _unique(items: list[ServiceItem], problems: list[Problem]) -> list[ServiceItem]:
    """The first item of each code; a problem for each later one."""
    first: dict[str, str] = {}
    kept: list[ServiceItem] = []
    for item in items:
        if item.code in first:
            problems.append(
                Problem(
                    f"duplicate item code {item.code!r} (first defined in {first[item.code]})",
                    element_id=item.code,
                    file=item.source_file,
                    field="code",
                )
            )
        else:
            first[item.code] = item.source_file or "<string>"
            kept.append(item)
    return kept


def load_catalog_files(paths: Iterable[str | Path]) -> list[ServiceItem]:
    """Load and check catalog files; item codes must be unique across all of them.

    Raises Invalid listing the problems of every file, so one run shows everything to fix.
    """
    items: list[ServiceItem] = []
    problems: list[Problem] = []
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(f"cannot read catalog file: {exc}", file=str(path)))
            continue
        try:
            items.extend(parse_catalog(text, str(path)))
        except Invalid as exc:
            problems.extend(exc.problems)
    items = _unique(items, problems)
    if problems:
        raise Invalid("invalid service catalog", problems)
    return items


def load_catalog_dir(directory: str | Path) -> list[ServiceItem]:
    """Load every ``*.yaml`` / ``*.yml`` file of a directory, in name order."""
    folder = Path(directory)
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return load_catalog_files(paths)
