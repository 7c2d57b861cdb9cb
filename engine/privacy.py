"""Masking of personal data: citizen ID numbers and mobile phone numbers.

ID and phone numbers are personal information (个人信息). Lists, logs and alerts show them masked
(110101********1233, 138****5678); only the people handling a case see them whole. Every package
uses these helpers, so they live in ``engine`` and depend on nothing but the standard library.
"""

from __future__ import annotations

import logging
import re

_STAR = "*"

# A citizen ID number anywhere in free text: 6-digit region, a birth date shaped YYYYMMDD, a 3-digit
# sequence and the check character. The date shape keeps 18-digit order or case numbers that are not
# IDs readable in logs, while a mistyped ID (wrong check character, impossible day) is still masked:
# it is still somebody's personal data.
_ID_IN_TEXT = r"[0-9]{6}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
# A mainland mobile number, alone or written 3-4-4 with spaces or hyphens, optionally after +86.
_MOBILE_IN_TEXT = r"(?P<cc>\+?86[ -]?)?(?P<mobile>1[3-9][0-9](?:[ -]?[0-9]{4}){2})"
# A digit next to a match means it is part of a longer number (a case number, an amount): left
# alone. Letters are allowed as neighbours on purpose: "id110101..." or "tel:138..." still leak.
_PERSONAL_DATA = re.compile(rf"(?<![0-9])(?:(?P<id>{_ID_IN_TEXT})|{_MOBILE_IN_TEXT})(?![0-9])")


def mask_id_number(value: str) -> str:
    """Mask an ID number: the 6-character region prefix and the last 4 stay, the rest become stars.

    ``mask_id_number("110101199003071233") == "110101********1233"``. A value too short to keep
    ten characters visible is masked completely, so nothing short ever leaks whole.
    """
    value = value.strip()
    if len(value) <= 10:
        return _STAR * len(value)
    return value[:6] + _STAR * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """Mask a phone number: the first 3 and the last 4 digits stay, the digits between become stars.

    ``mask_phone("13812345678") == "138****5678"``. A landline written with its area code keeps the
    code, which names a city and not a person: ``"0591-87654321"`` -> ``"0591-****4321"``. A value
    with fewer than 8 digits is masked completely.
    """
    value = value.strip()
    # An extension (0591-87654321转12) reaches a desk, not a person: it stays, the number is masked.
    number, ext_sep, extension = value.partition("转")
    if ext_sep:
        return mask_phone(number) + ext_sep + extension
    area, sep, local = value.partition("-")
    if sep and area.startswith("0") and area.isdigit():
        return area + sep + _mask_digits(local, keep_head=0, min_digits=7)
    return _mask_digits(value, keep_head=3, min_digits=8)


def _mask_digits(value: str, keep_head: int, min_digits: int) -> str:
    # Below min_digits, keeping head and tail would show most of the number: mask it all.
    digits = sum(ch.isdigit() for ch in value)
    if digits < min_digits:
        return "".join(_STAR if ch.isdigit() else ch for ch in value)
    out: list[str] = []
    seen = 0
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= keep_head or seen > digits - 4 else _STAR)
        else:
            out.append(ch)
    return "".join(out)


def _mask_match(match: re.Match[str]) -> str:
    if match.group("id"):
        return mask_id_number(match.group("id"))
    return (match.group("cc") or "") + mask_phone(match.group("mobile"))


def mask_text(text: str) -> str:
    """Mask every citizen ID number and mainland mobile number found in free text."""
    return _PERSONAL_DATA.sub(_mask_match, text)


class PersonalDataFilter(logging.Filter):
    """A logging filter that masks ID and mobile numbers in the message, its arguments and traceback.

    Attach it to handlers (``handler.addFilter(PersonalDataFilter())``): a filter on a logger sees
    only records logged on that very logger, not those propagated from its children. The record is
    never dropped; its message is formatted once, masked, and stored without arguments, because
    masking an argument separately could break a ``%d`` placeholder or miss a number split across
    arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed call (wrong number of arguments): write the template and the arguments
            # side by side, masked, rather than let the handler print the raw arguments in its error.
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatter.format reuses exc_text when it is set, so the masked text is what gets written.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True
