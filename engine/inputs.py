"""What any request may carry, checked once before a route reads it (so no route can forget).

- **Size per route class:** a route marked :func:`accepts_uploads` (files, BPMN, base64 materials)
  may receive up to ``MAX_CONTENT_LENGTH``; every other route ``ONEWINDOW_MAX_JSON_BYTES``. Past
  that: 413, before the body is read.
- **JSON shape:** a body nested deeper than :data:`MAX_DEPTH` is refused (the parser's own recursion
  limit included, which a 100,000-level body would otherwise hit as a 500); numbers must be finite
  and integers within +/-2**53 (I-JSON, RFC 7493), so nothing reaches a database column it overflows.
- **Text:** control characters are refused, naming the field: in a path segment, a query argument,
  a key or a file name none at all; in a body value (a form field or a JSON string) none but tab, line
  feed and carriage return, which a textarea sends. Lone surrogates too: they cannot be stored as UTF-8.

Every refusal is an Invalid (422) naming the field, or a 413; nothing is changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app, request
from werkzeug.routing import IntegerConverter, Map

from engine.errors import Invalid, Problem

MAX_DEPTH = 32
MAX_ID = 2**31 - 1
MAX_INTEGER = 2**53
MAX_PROBLEMS = 20
_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_IN_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


class IdConverter(IntegerConverter):
    """``<int:...>`` in a route: 0 to 2**31 - 1, what an id column (INTEGER) holds."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def accepts_uploads(view: Callable) -> Callable:
    """Mark a route that receives files: its body may be as large as MAX_CONTENT_LENGTH."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view


def _text_problem(value: str, field: str, pattern: re.Pattern[str]) -> Problem | None:
    found = pattern.search(value)
    if found is None:
        return None
    char = found.group()
    what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else f"control character U+{ord(char):04X}"
    return Problem(f"contains {what}, which is not allowed here", field=field)


def _walk_json(body: Any) -> Iterable[Problem]:
    stack: list[tuple[str, Any, int]] = [("", body, 1)]
    while stack:
        path, value, depth = stack.pop()
        field = path or "body"
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                yield Problem(f"nested deeper than {MAX_DEPTH} levels", field=field)
                continue
            if isinstance(value, dict):
                for key, item in value.items():
                    child = f"{path}.{key}" if path else key
                    bad = _text_problem(key, field, _IN_LINE)
                    if bad is not None:
                        yield Problem(f"a key {bad.message}", field=field)
                        continue
                    stack.append((child, item, depth + 1))
            else:
                stack.extend((f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            bad = _text_problem(value, field, _IN_TEXT)
            if bad is not None:
                yield bad
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, float) and not math.isfinite(value):
            yield Problem("must be a finite number", field=field)
        elif isinstance(value, int) and abs(value) > MAX_INTEGER:
            yield Problem("must be between -2**53 and 2**53", field=field)


def _json_body() -> Any:
    try:
        return request.get_json(silent=True)  # parsed once here, cached for the route
    except RecursionError:
        raise Invalid("the JSON body is nested too deeply",
                      [Problem(f"nested deeper than {MAX_DEPTH} levels", field="body")]) from None


def _problems() -> Iterable[Problem]:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            yield from filter(None, [_text_problem(value, name, _IN_LINE)])
    for name, values in request.args.lists():
        yield from filter(None, [_text_problem(name, name, _IN_LINE)])
        yield from filter(None, (_text_problem(v, name, _IN_LINE) for v in values))
    if request.is_json:
        yield from _walk_json(_json_body())
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, values in request.form.lists():
            name = name or ""  # a multipart part may come without a name
            yield from filter(None, [_text_problem(name, name, _IN_LINE)])
            yield from filter(None, (_text_problem(v, name, _IN_TEXT) for v in values))
        for name, upload in request.files.items(multi=True):
            yield from filter(None, [_text_problem(upload.filename or "", name or "", _IN_LINE)])


def check_request() -> None:
    """The before-request check (module docstring). Raises Invalid (422) or a 413."""
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "accepts_uploads", False):
        request.max_content_length = current_app.config["ONEWINDOW"].max_json_bytes
    problems = []
    for problem in _problems():
        problems.append(problem)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise Invalid("the request contains text or numbers that are not allowed", problems)
