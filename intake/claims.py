"""What the identity service vouches for, checked as at the window (统一身份认证 -> 一号申请).

The ID token's claims are trusted as verified by the province's identity service, and still checked
like a number typed at the counter (GB 11643 for the person, GB 32100 for each organisation), so a
service that sends a malformed number is refused with a clear page rather than keying cases under
a wrong number. Pure: the claims and the claim names in, an :class:`OnlineApplicant` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.applicants import ROLES, OnlineApplicant, Organization
from engine.errors import Invalid, Problem
from intake.identity import ApplicantKind, check_citizen_id, check_credit_code, check_name, normalize_phone

SUBJECT_MAX = 256


@dataclass(frozen=True)
class ClaimNames:
    """Which claim carries what (ONEWINDOW_OIDC_*_CLAIM)."""

    id_number: str = "id_number"
    name: str = "name"
    phone: str = "phone_number"
    organizations: str = "organizations"


class ClaimsRefused(Invalid):
    """The identity service vouched for something the office cannot take: the sign-in is refused."""

    status = 401
    title = "Sign-in refused"


def _text(claims: Mapping[str, Any], claim: str) -> str:
    value = claims.get(claim)
    return value.strip() if isinstance(value, str) else ""


def _organizations(value: Any, claim: str, problems: list[Problem]) -> tuple[Organization, ...]:
    """A code, an object {code, name, role}, or a list of either: each checked (GB 32100, no override:
    no officer has seen the licence)."""
    if value is None or value == "" or value == []:
        return ()
    entries = value if isinstance(value, list) else [value]
    out: dict[str, Organization] = {}
    for i, entry in enumerate(entries):
        where = f"id_token.{claim}[{i}]"
        if isinstance(entry, str):
            entry = {"code": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            problems.append(Problem("应为统一社会信用代码，或含 code 的对象 / a credit code or an object with a code",
                                    field=where))
            continue
        try:
            code = check_credit_code(entry["code"], field=f"{where}.code")
        except Invalid as exc:
            problems.extend(exc.problems)
            continue
        name = entry.get("name") if isinstance(entry.get("name"), str) and entry["name"].strip() else code
        try:
            name = check_name(name, ApplicantKind.ORGANIZATION, field=f"{where}.name")
        except Invalid as exc:
            problems.extend(exc.problems)
            continue
        role = entry.get("role") if entry.get("role") in ROLES else "agent"
        out.setdefault(code, Organization(code, name, role))
    return tuple(out.values())


def applicant_from_claims(claims: Mapping[str, Any], names: ClaimNames, issuer: str, *,
                          today: date | None = None) -> OnlineApplicant:
    """The applicant the claims vouch for, acting as themselves, or directly for the organisation when
    the claim names exactly one code as a plain value (the service signed the organisation in).

    Raises ClaimsRefused naming every claim that is missing or wrong.
    """
    problems: list[Problem] = []
    subject = _text(claims, "sub")
    if not subject or len(subject) > SUBJECT_MAX:
        problems.append(Problem("缺少用户标识 / the subject (sub) is missing or too long", field="id_token.sub"))
    id_number = ""
    raw_id = _text(claims, names.id_number)
    if not raw_id:
        problems.append(Problem(f"统一身份认证未提供身份证号码（{names.id_number}） / the identity service sent no "
                                f"citizen ID number in the claim {names.id_number!r}",
                                field=f"id_token.{names.id_number}"))
    else:
        try:
            id_number = check_citizen_id(raw_id, today=today, field=f"id_token.{names.id_number}")
        except Invalid as exc:
            problems.extend(exc.problems)
    name = ""
    try:
        name = check_name(_text(claims, names.name), field=f"id_token.{names.name}")
    except Invalid as exc:
        problems.extend(exc.problems)
    phone = ""
    if _text(claims, names.phone):
        try:
            phone = normalize_phone(_text(claims, names.phone), field=f"id_token.{names.phone}")
        except Invalid:
            phone = ""  # an unusable phone is asked for when applying, it does not refuse the sign-in
    raw_orgs = claims.get(names.organizations)
    organizations = _organizations(raw_orgs, names.organizations, problems)
    if problems:
        raise ClaimsRefused("统一身份认证提供的身份信息未通过校验，登录未完成 / what the identity service vouched for "
                            "did not pass the checks: not signed in", problems)
    applicant = OnlineApplicant(issuer, subject, id_number, name, phone, organizations)
    if isinstance(raw_orgs, str) and len(organizations) == 1:
        return applicant.acting_as(organizations[0].code)
    return applicant
