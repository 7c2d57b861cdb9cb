"""The OpenAPI document, built from the routes themselves so it cannot drift from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_operations: list[dict[str, Any]] = []


def _schema(shape: Any) -> dict[str, Any]:
    if isinstance(shape, dict):
        return {"type": "object", "properties": {k: _schema(v) for k, v in shape.items()}}
    if isinstance(shape, str) and shape in ("string", "integer", "number", "boolean", "object", "array"):
        return {"type": shape}
    return {"description": str(shape)}


def operation(summary: str, *, tag: str, auth: bool = True, body: Any = None, returns: Any = None,
              errors: tuple[int, ...] = (), params: dict[str, str] | None = None) -> Callable:
    """Describe a route for the OpenAPI document; the path and method come from the URL map."""

    def decorate(fn: Callable) -> Callable:
        op: dict[str, Any] = {"summary": summary, "tags": [tag], "operationId": fn.__name__,
                              "responses": {"200": {"description": "OK"}}}
        if returns is not None:
            op["responses"]["200"]["content"] = {"application/json": {"schema": _schema(returns)}}
        for code in errors + ((401,) if auth else ()):
            op["responses"][str(code)] = {"description": "problem details",
                                          "content": {"application/problem+json": {}}}
        if body is not None:
            op["requestBody"] = {"content": {"application/json": {"schema": _schema(body)}}}
        if params:
            op["parameters"] = [{"name": k, "in": "query", "schema": {"type": "string"}, "description": v}
                                for k, v in params.items()]
        if auth:
            op["security"] = [{"bearer": []}]
        fn.__openapi__ = op  # type: ignore[attr-defined]
        return fn

    return decorate


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
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            entry = dict(op)
            entry["operationId"] = f"{rule.endpoint}.{method.lower()}"
            params = list(entry.get("parameters", []))
            params += [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                       for a in sorted(rule.arguments)]
            if params:
                entry["parameters"] = params
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "onewindow API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": dict(sorted(paths.items())),
    }
