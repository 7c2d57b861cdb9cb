"""The OpenAPI document, built from the routes themselves so it cannot drift from them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from engine.access import rule_of

_operations: list[dict[str, Any]] = []


_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")


def _schema(shape: Any) -> dict[str, Any]:
    """A JSON schema from a route's short description of a shape.

    A dict is an object of those properties; a string names its type first: ``"integer"``,
    ``"string|null"``, ``"integer (optional)"``, ``"array of {code, file?}"`` (the rest is the
    description); ``"username"`` and other words that are not types are strings so described.
    """
    if isinstance(shape, dict):
        return {"type": "object", "properties": {k: _schema(v) for k, v in shape.items()}}
    text = str(shape)
    types = [t for t in text.split(" ", 1)[0].split("|") if t in _TYPES]
    if not types:
        return {"type": "string", "description": text}
    rest = text.split(" ", 1)[1].strip() if " " in text else ""
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
    if "integer" in types:
        schema.update(minimum=-(2**53), maximum=2**53)  # what any JSON body may carry (engine/inputs.py)
    if rest:
        schema["description"] = rest
    return schema


def operation(summary: str, *, tag: str, body: Any = None, returns: Any = None,
              errors: tuple[int, ...] = (), params: dict[str, str] | None = None,
              media: tuple[str, ...] = ("application/json",)) -> Callable:
    """Describe a route for the OpenAPI document; the path and method come from the URL map, and
    whether it needs a bearer token from the access rule the route declares (engine.access).

    ``media`` names the body's content types: JSON by default; a file route names its own.
    """

    def decorate(fn: Callable) -> Callable:
        op: dict[str, Any] = {"summary": summary, "tags": [tag], "operationId": fn.__name__,
                              "responses": {"200": {"description": "OK"}}}
        if returns is not None:
            op["responses"]["200"]["content"] = {"application/json": {"schema": _schema(returns)}}
        for code in errors:
            op["responses"][str(code)] = {"description": "problem details",
                                          "content": {"application/problem+json": {}}}
        if body is not None:
            op["requestBody"] = {"content": {m: {"schema": _media_schema(m, body)} for m in media}}
        if params:
            op["parameters"] = [{"name": k, "in": "query", "schema": {"type": "string"}, "description": v}
                                for k, v in params.items()]
        fn.__openapi__ = op  # type: ignore[attr-defined]
        return fn

    return decorate


def _media_schema(media: str, body: Any) -> dict[str, Any]:
    if media == "application/json":
        return _schema(body)
    if media == "multipart/form-data":
        return {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                "description": str(body)}
    return {"type": "string", "description": str(body)}


def _path_parameter(rule: Any, name: str) -> dict[str, Any]:
    integer = re.search(rf"<int(\([^)]*\))?:{name}>", rule.rule) is not None
    schema: dict[str, Any] = ({"type": "integer", "minimum": 0, "maximum": 2**31 - 1} if integer
                              else {"type": "string"})
    return {"name": name, "in": "path", "required": True, "schema": schema}


def document() -> dict[str, Any]:
    from flask import current_app

    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions.get(rule.endpoint)
        op = getattr(view, "__openapi__", None)
        if op is None:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", "{" + arg + "}")
            for conv in ("int", "path", "string"):
                path = path.replace(f"<{conv}:{arg}>", "{" + arg + "}")
        access = rule_of(view)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            entry = dict(op)
            if access is None or access.signed_in:
                entry["responses"] = {**op["responses"], "401": {"description": "problem details",
                                                                 "content": {"application/problem+json": {}}}}
                entry["security"] = [{"bearer": []}]
            entry["operationId"] = f"{rule.endpoint}.{method.lower()}"
            params = list(entry.get("parameters", []))
            params += [_path_parameter(rule, a) for a in sorted(rule.arguments)]
            if params:
                entry["parameters"] = params
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "onewindow API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": dict(sorted(paths.items())),
    }


def markdown_reference(doc: dict[str, Any]) -> str:
    """A readable API reference from the OpenAPI document (what docs/api.md holds)."""
    lines = ["# onewindow HTTP API", "",
             "Generated by `onewindow openapi --markdown` from the OpenAPI document served at",
             "`/api/openapi.json`. JSON in and out; errors are `application/problem+json` (RFC 9457) with",
             "`problems` (field / element, message) on 422 and `holder` on 409. Authenticate with",
             "`POST /api/auth/token`, then send `Authorization: Bearer <token>`.", ""]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault(op.get("tags", ["other"])[0], []).append((method.upper(), path, op))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for method, path, op in by_tag[tag]:
            lines.append(f"### `{method} {path}`")
            lines.append("")
            lines.append(op.get("summary", ""))
            content = op.get("requestBody", {}).get("content", {})
            for media, entry in content.items():
                lines.append("")
                prefix = "Body" if media == "application/json" else f"Body ({media})"
                lines.append(f"{prefix}: `{_shape(entry.get('schema', {}))}`")
            query = [p for p in op.get("parameters", []) if p["in"] == "query"]
            if query:
                lines.append("")
                lines.append("Query: " + ", ".join(f"`{p['name']}` ({p.get('description', '')})" for p in query))
            codes = ", ".join(sorted(op.get("responses", {})))
            lines += ["", f"Responses: {codes}" + ("; needs a bearer token" if op.get("security") else ""), ""]
    return "\n".join(lines)


def _shape(schema: dict[str, Any]) -> str:
    if schema.get("type") == "object" and "properties" in schema:
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in schema["properties"].items()) + "}"
    kind = schema.get("type", "")
    kind = "|".join(kind) if isinstance(kind, list) else kind
    return " ".join(p for p in (kind, schema.get("description", "")) if p)
