"""Who is applying: the applicant's key number, name and phone, checked and normalised.

一号申请: the citizen ID number (GB 11643) of a person or the unified social credit code (GB 32100)
of an organization is the key under which earlier materials and certificates are found, so a wrong
key must be refused at the window, not discovered later. The checks themselves are python-stdnum's
(``stdnum.cn.ric``, ``stdnum.cn.uscc``); this module turns their verdicts into messages a clerk and an
applicant can act on, in Chinese and English, each naming the field it is about.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from engine.errors import Invalid, Problem
from engine.privacy import mask_id_number, mask_phone

PERSON_NAME_MAX = 50
ORGANIZATION_NAME_MAX = 100
OVERRIDE_REASON_MAX = 500


class ApplicantKind(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"


@dataclass(frozen=True)
class ApplicantIdentity:
    """A checked applicant. ``overridden`` records that an officer accepted a USCC whose check
    character fails, and ``override_reason`` why, so the caller can write both into the history."""

    kind: ApplicantKind
    id_number: str
    name: str
    phone: str
    overridden: bool = False
    override_reason: str | None = None

    def __repr__(self) -> str:
        # Reprs end up in logs and tracebacks: never show the key number or phone whole there.
        return (
            f"ApplicantIdentity(kind={self.kind.value!r}, id_number={mask_id_number(self.id_number)!r}, "
            f"name={self.name!r}, phone={mask_phone(self.phone)!r}, overridden={self.overridden!r})"
        )


@dataclass(frozen=True)
class _Checked:
    """The outcome of one field's check: the normalised value, or the message saying what is wrong."""

    value: str
    error: str | None = None
    overridden: bool = False


def _clean(value: str) -> str:
    # NFKC turns full-width digits and letters typed with a Chinese input method (１３８, Ｘ) into
    # ASCII, so they are checked rather than refused. Numbers only: in names and reasons it would
    # also turn （）and ，into ASCII, and a name must stay exactly as on the licence.
    return unicodedata.normalize("NFKC", value).strip()


def _text(value: str) -> str:
    """Trim and collapse runs of whitespace (full-width spaces included)."""
    return " ".join(value.split())


def _citizen_id(value: str, today: date | None) -> _Checked:
    number = ric.compact(_clean(value))
    if len(number) != 18:
        return _Checked(
            number,
            f"身份证号码应为18位，实为{len(number)}位 / "
            f"a citizen ID number has 18 characters, this one has {len(number)}",
        )
    if not number[:17].isdigit() or number[17] not in "0123456789X":
        return _Checked(
            number,
            "身份证号码前17位应为数字，末位应为数字或X / "
            "the first 17 characters must be digits and the last a digit or X",
        )
    try:
        ric.validate(number)
    except InvalidChecksum:
        # A mistyped birth date also breaks the check character; the date is the clearer message.
        return _Checked(number, _birth_date_error(number, today) or _CHECK_CHARACTER_ERROR)
    except InvalidComponent:
        # stdnum raises this for an impossible birth date and for a region code missing from its
        # table. The table lags newly created counties, and refusing a real person at the window
        # is worse than accepting an unlisted region, so only the date decides.
        pass
    except (InvalidLength, InvalidFormat):  # pragma: no cover - caught by the checks above
        return _Checked(number, "身份证号码格式错误 / the citizen ID number is malformed")
    return _Checked(number, _birth_date_error(number, today))


_CHECK_CHARACTER_ERROR = (
    "身份证号码校验位错误，请核对号码是否录入有误 / "
    "the check character does not match (ISO 7064 MOD 11-2): please re-check the number for a typing error"
)


def _birth_date_error(number: str, today: date | None) -> str | None:
    try:
        born = ric.get_birth_date(number)
    except InvalidComponent:
        return (
            f"身份证号码中的出生日期{number[6:14]}不是有效日期 / "
            f"the birth date {number[6:14]} in the citizen ID number is not a real date"
        )
    if today is not None and born > today:
        return (
            f"身份证号码中的出生日期{number[6:14]}晚于今天 / "
            f"the birth date {number[6:14]} in the citizen ID number is in the future"
        )
    return None


def _credit_code(value: str, override_reason: str | None) -> _Checked:
    code = uscc.compact(_clean(value))
    try:
        uscc.validate(code)
    except InvalidLength:
        return _Checked(
            code,
            f"统一社会信用代码应为18位，实为{len(code)}位 / "
            f"a unified social credit code has 18 characters, this one has {len(code)}",
        )
    except InvalidFormat:
        if not _check_character_only(code):
            return _Checked(
                code,
                "统一社会信用代码前8位应为数字，其余为数字或大写字母（不含I、O、S、V、Z） / "
                "the first 8 characters must be digits, the rest digits or capital letters "
                "except I, O, S, V, Z",
            )
        # Only the 18th character is outside the alphabet: that is a wrong check character too.
        return _check_character_failure(code, override_reason)
    except InvalidChecksum:
        return _check_character_failure(code, override_reason)
    return _Checked(code)


def _check_character_only(code: str) -> bool:
    return code[:8].isdigit() and all(ch in _USCC_ALPHABET for ch in code[8:17])


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _check_character_failure(code: str, override_reason: str | None) -> _Checked:
    # Some codes on real licences are reported to fail the check: an officer who has seen the
    # licence may accept it, but only with a stated reason that goes into the case history.
    if override_reason:
        return _Checked(code, overridden=True)
    return _Checked(
        code,
        "统一社会信用代码校验位（第18位）错误；如核对营业执照后确认无误，可由工作人员填写原因后放行 / "
        "the check character (18th) does not match (GB 32100 MOD 31); if the licence shows this very "
        "code, an officer may accept it by giving an override reason",
    )


_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_EXTENSION = re.compile(r"^(?P<main>.*?)(?:\s*(?:转|ext\.?|x|#)\s*(?P<ext>[0-9]{1,6}))?$", re.IGNORECASE)
_PHONE_SEPARATORS = re.compile(r"[\s\-()]")


def _phone(value: str) -> _Checked:
    text = _clean(value)
    if not text:
        return _Checked(text, "请填写联系电话 / a contact phone number is required")
    parts = _EXTENSION.match(text)
    assert parts is not None  # the pattern matches any string
    main = _PHONE_SEPARATORS.sub("", parts["main"])
    extension = parts["ext"]
    if main.startswith("+86"):
        main = main[3:]
    elif main.startswith("0086"):
        main = main[4:]
    if extension is None and _MOBILE.fullmatch(main):
        return _Checked(main)
    if main.isdigit() and main.startswith("0"):
        # Area codes 010 and 02x have three digits, every other one four; the local number has
        # seven or eight digits and never starts with 0 or 1.
        area_length = 3 if main[1] in "12" else 4
        area, local = main[:area_length], main[area_length:]
        if len(local) in (7, 8) and local[0] not in "01":
            return _Checked(f"{area}-{local}" + (f"转{extension}" if extension else ""))
    return _Checked(
        text,
        "联系电话应为11位手机号码（以1开头）或带区号的固定电话 / "
        "the phone must be an 11-digit mobile number starting with 1 or a landline with its area code",
    )


def _name(value: str, kind: ApplicantKind) -> _Checked:
    name = _text(value)
    limit = PERSON_NAME_MAX if kind is ApplicantKind.PERSON else ORGANIZATION_NAME_MAX
    if not name:
        return _Checked(name, "请填写申请人名称 / the applicant's name is required")
    if len(name) > limit:
        return _Checked(
            name, f"名称不能超过{limit}个字符，实为{len(name)}个 / the name exceeds {limit} characters"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return _Checked(name, "名称含有不可见的控制字符 / the name contains control characters")
    if kind is ApplicantKind.PERSON and any(ch.isdigit() for ch in name):
        return _Checked(name, "姓名不能包含数字 / a person's name cannot contain digits")
    return _Checked(name)


def validate_applicant(
    kind: str,
    id_number: str,
    name: str,
    phone: str,
    *,
    override_reason: str | None = None,
    today: date | None = None,
    prefix: str = "applicant",
) -> ApplicantIdentity:
    """Check and normalise an applicant; every problem found is reported at once.

    ``kind`` is "person" (citizen ID number) or "organization" (unified social credit code).
    ``override_reason`` lets an organization's code through when only its check character fails;
    it is ignored (and not recorded) when the code is valid. ``today``, when given, also refuses
    a birth date in the future. Problems name their field as ``{prefix}.id_number`` and so on.

    Raises Invalid with one Problem per wrong field.
    """
    problems: list[Problem] = []
    try:
        applicant_kind = ApplicantKind(kind)
    except ValueError:
        raise Invalid(
            "invalid applicant",
            [
                Problem(
                    f"申请人类型应为 person（自然人）或 organization（法人和其他组织），而不是 {kind!r} / "
                    f"the applicant kind must be 'person' or 'organization', not {kind!r}",
                    field=f"{prefix}.kind",
                )
            ],
        ) from None
    reason = _text(override_reason or "") or None
    if reason is not None and len(reason) > OVERRIDE_REASON_MAX:
        problems.append(
            Problem(
                f"放行原因不能超过{OVERRIDE_REASON_MAX}个字符 / "
                f"the override reason exceeds {OVERRIDE_REASON_MAX} characters",
                field=f"{prefix}.override_reason",
            )
        )
        reason = None
    if applicant_kind is ApplicantKind.PERSON:
        # A citizen ID number is never overridden: its check is reliable, unlike some USCCs.
        key = _citizen_id(id_number, today)
    else:
        key = _credit_code(id_number, reason)
    checked_name = _name(name, applicant_kind)
    checked_phone = _phone(phone)
    for field_name, checked in (("id_number", key), ("name", checked_name), ("phone", checked_phone)):
        if checked.error:
            problems.append(Problem(checked.error, field=f"{prefix}.{field_name}"))
    if problems:
        raise Invalid("invalid applicant", problems)
    return ApplicantIdentity(
        kind=applicant_kind,
        id_number=key.value,
        name=checked_name.value,
        phone=checked_phone.value,
        overridden=key.overridden,
        override_reason=reason if key.overridden else None,
    )


def _raise_if_wrong(checked: _Checked, field: str) -> str:
    if checked.error:
        raise Invalid(checked.error, [Problem(checked.error, field=field)])
    return checked.value


def check_citizen_id(value: str, *, today: date | None = None, field: str = "id_number") -> str:
    """The normalised citizen ID number (upper-case X). Raises Invalid naming ``field``."""
    return _raise_if_wrong(_citizen_id(value, today), field)


def check_credit_code(value: str, *, field: str = "id_number") -> str:
    """The normalised unified social credit code, strictly (no override). Raises Invalid."""
    return _raise_if_wrong(_credit_code(value, None), field)


def normalize_phone(value: str, *, field: str = "phone") -> str:
    """A mobile as 11 digits, a landline as ``area-local`` (``转ext`` appended). Raises Invalid."""
    return _raise_if_wrong(_phone(value), field)


def check_name(value: str, kind: str = ApplicantKind.PERSON, *, field: str = "name") -> str:
    """The name trimmed, its whitespace collapsed; ``kind`` sets the limits. Raises Invalid naming ``field``."""
    return _raise_if_wrong(_name(value, ApplicantKind(kind)), field)
