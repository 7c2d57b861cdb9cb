"""Every form a template posts carries the CSRF token (engine/csrf.py refuses a page POST without it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
TOKEN = '<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">'


def test_every_posting_form_in_every_template_carries_the_csrf_token():
    templates = [p for package in ("engine", "intake", "worklists", "sla", "onewindow")
                 for p in (ROOT / package).rglob("templates/**/*.html")]
    posting, missing = 0, []
    for path in templates:
        for attributes, body in FORM.findall(path.read_text(encoding="utf-8")):
            if re.search(r"""method\s*=\s*["']?post""", attributes, re.I):
                posting += 1
                if TOKEN not in body:
                    missing.append(f"{path.relative_to(ROOT)}: <form{attributes}>")
    assert posting >= 10  # the scan found the forms (login, logout, task actions, window, alerts...)
    assert missing == []
