"""What a password must be before it is stored (等保 level 3: length and complexity, no published ones).

Every password is set through :func:`engine.identity.add_user`, which asks :func:`problems` first.
"""

from __future__ import annotations

import unicodedata

# The demo office's password is printed in the README: only `onewindow demo` may give it, to its own
# users in an empty database (onewindow/demo.py); everywhere else it is refused like a weak one.
DEMO_PASSWORD = "onewindow-demo"
MIN_LENGTH = 10
MIN_CLASSES = 3  # of: lower-case letters, upper-case letters, digits, other characters
MAX_LENGTH = 256  # Argon2 takes any length; a cap keeps one sign-in from hashing a megabyte

RULE = (f"至少{MIN_LENGTH}个字符，含小写字母、大写字母、数字、符号中的至少{MIN_CLASSES}类 / at least "
        f"{MIN_LENGTH} characters from at least {MIN_CLASSES} of: lower-case, upper-case, digits, symbols")


def _classes(password: str) -> int:
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    # Chinese characters are letters without case: they count as "other", like symbols
    other = any(not (c.islower() or c.isupper() or c.isdigit()) for c in password)
    return lower + upper + digit + other


def problems(password: str, username: str = "") -> list[str]:
    """Why ``password`` may not be set for ``username`` (empty when it may)."""
    password = password or ""
    found = []
    if len(password) < MIN_LENGTH or _classes(password) < MIN_CLASSES:
        found.append(RULE)
    if len(password) > MAX_LENGTH:
        found.append(f"at most {MAX_LENGTH} characters")
    if any(unicodedata.category(c) == "Cc" for c in password):
        found.append("no control characters")
    if username and username.lower() in password.lower():
        found.append("must not contain the username / 不得包含用户名")
    if DEMO_PASSWORD in password.lower():
        found.append("the demo office's password is published; choose another / 演示密码已公开，不得使用")
    return found
