"""Reading an application or a resubmission from JSON (files in base64) or from a multipart form.

Pure parsing: every problem is collected with the field it is about, then raised at once, before
anything is stored.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Invalid, Problem
from intake.storage import Upload, check_upload

CHANNELS = ("window", "online", "mobile")


@dataclass(frozen=True)
class MaterialIn:
    code: str
    upload: Upload | None  # None: presented on paper at the window


@dataclass(frozen=True)
class ApplicationIn:
    service_code: str
    kind: str
    id_number: str
    name: str
    phone: str
    channel: str
    materials: tuple[MaterialIn, ...] = ()
    override_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


def parse_materials(raw: Any, max_bytes: int, problems: list[Problem]) -> list[MaterialIn]:
    """``[{code, file?: {name, content_base64}}]``; a file may also come as ``{name, content: bytes}``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem("expected a list of {code, file}", field="materials"))
        return []
    out: list[MaterialIn] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"materials[{i}]"
        if isinstance(entry, str):
            entry = {"code": entry}
        if not isinstance(entry, dict):
            problems.append(Problem("expected an object {code, file}", field=where))
            continue
        code = _text(entry.get("code"))
        if not code:
            problems.append(Problem("material code required", field=f"{where}.code"))
            continue
        if code in seen:
            problems.append(Problem(f"material {code} given twice", field=f"{where}.code"))
            continue
        seen.add(code)
        upload = None
        file = entry.get("file")
        if file is not None:
            upload = _file(file, max_bytes, f"{where}.file", problems)
            if upload is None:
                continue
        out.append(MaterialIn(code, upload))
    return out


def _file(file: Any, max_bytes: int, where: str, problems: list[Problem]) -> Upload | None:
    if not isinstance(file, dict):
        problems.append(Problem("expected {name, content_base64}", field=where))
        return None
    name = _text(file.get("name")) or "file"
    content = file.get("content")
    if not isinstance(content, bytes):
        encoded = file.get("content_base64")
        if not isinstance(encoded, str) or not encoded:
            problems.append(Problem("content_base64 required", field=f"{where}.content_base64"))
            return None
        if len(encoded) > (max_bytes * 4) // 3 + 8:  # refuse before decoding a huge string
            from intake.storage import FileTooLarge

            raise FileTooLarge(f"{where}: more than the limit of {max_bytes} bytes")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            problems.append(Problem("not valid base64", field=f"{where}.content_base64"))
            return None
    try:
        return check_upload(name, content, max_bytes=max_bytes, field=where)
    except Invalid as exc:
        problems.extend(exc.problems)
        return None


def parse_application(body: dict[str, Any], max_bytes: int) -> ApplicationIn:
    """Check the shape of ``POST /api/applications``. Raises Invalid (422) or FileTooLarge (413)."""
    problems: list[Problem] = []
    service_code = _text(body.get("service_code"))
    if not service_code:
        problems.append(Problem("service_code required", field="service_code"))
    applicant = body.get("applicant")
    if not isinstance(applicant, dict):
        problems.append(Problem("applicant {kind, id_number, name, phone} required", field="applicant"))
        applicant = {}
    values = {}
    for key in ("kind", "id_number", "name", "phone"):
        value = _text(applicant.get(key))
        if value is None and applicant:
            problems.append(Problem(f"{key} required", field=f"applicant.{key}"))
        values[key] = value or ""
    channel = _text(body.get("channel")) or "window"
    if channel not in CHANNELS:
        problems.append(Problem(f"one of {', '.join(CHANNELS)}", field="channel"))
    materials = parse_materials(body.get("materials"), max_bytes, problems)
    if problems:
        raise Invalid("invalid application", problems)
    return ApplicationIn(
        service_code=service_code or "", channel=channel, materials=tuple(materials),
        override_reason=_text(applicant.get("override_reason")) or None, **values,
    )


def from_form(form, files) -> dict[str, Any]:
    """A multipart form in the JSON shape: fields ``service_code``, ``channel``,
    ``applicant.kind|id_number|name|phone|override_reason``, repeated ``material`` codes (presented),
    and files named ``file.<code>``."""
    applicant = {k: form.get(f"applicant.{k}") for k in ("kind", "id_number", "name", "phone",
                                                         "override_reason")}
    materials: dict[str, dict[str, Any]] = {}
    for code in form.getlist("material"):
        if code:
            materials.setdefault(code, {"code": code})
    for key, storage in files.items(multi=True):
        if not key.startswith("file.") or not storage or not storage.filename:
            continue
        code = key[5:]
        materials[code] = {"code": code, "file": {"name": storage.filename, "content": storage.read()}}
    return {
        "service_code": form.get("service_code"),
        "channel": form.get("channel") or "window",
        "applicant": {k: v for k, v in applicant.items() if v is not None},
        "materials": list(materials.values()),
    }
