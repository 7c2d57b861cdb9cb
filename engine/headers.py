"""Security headers on every response.

The pages run only script files served by this app (the diagram viewers and their page script, under
``/static/``), never inline script, so the policy allows ``'self'`` and nothing else; styles are the
pages' own ``<style>`` blocks and a few ``style`` attributes (notices included, whose templates
render outside Flask; the diagram viewers style their drawings), so inline styles stay allowed.
``frame-ancestors 'none'`` (and X-Frame-Options for older browsers) keeps every page out of other
sites' frames (clickjacking a claim or a decision). The referrer goes to this site only: case
numbers in URLs never leave it, and Flask-WTF's HTTPS check of the Referer still sees it. Over HTTPS
(directly, or as the trusted proxies say) browsers are told to stay on HTTPS.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Pages and API answers carry personal data: no shared or disk cache keeps them
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_secure)
