"""What the identity service vouches for, checked as at the window, and the one rule of what an
applicant may see (engine.policy.applicant_owns)."""

from __future__ import annotations

import pytest

from engine import policy
from engine.applicants import OnlineApplicant, Organization
from engine.errors import Forbidden
from intake.claims import ClaimNames, ClaimsRefused, applicant_from_claims

NAMES = ClaimNames()
PERSON = {"sub": "s-1", "id_number": "11010519491231002x", "name": " 李秀英 ", "phone_number": "+86 137 0013 7000"}
ORG = "91350100M000100Y43"


def test_a_person_is_checked_and_normalised():
    # When the identity service vouches for a person
    who = applicant_from_claims(PERSON, NAMES, "https://idp")
    # Then the ID number is normalised (upper-case X), name trimmed, phone as 11 digits; they act as themselves
    assert (who.id_number, who.name, who.phone, who.key, who.kind) == (
        "11010519491231002X", "李秀英", "13700137000", "11010519491231002X", "person")


def test_claim_names_are_configurable():
    # Given a service that names its claims its own way
    names = ClaimNames(id_number="cert_no", name="real_name", phone="mobile", organizations="corps")
    claims = {"sub": "s", "cert_no": "110101199003071233", "real_name": "王小明", "mobile": "13912345678",
              "corps": [{"code": ORG, "name": "示范餐饮管理有限公司", "role": "legal_representative"}]}
    # Then they are read from there
    who = applicant_from_claims(claims, names, "https://idp")
    assert who.id_number == "110101199003071233" and who.organizations == (
        Organization(ORG, "示范餐饮管理有限公司", "legal_representative"),)
    assert who.acting_for is None  # a list: the person chooses


def test_one_plain_code_signs_the_organisation_in():
    who = applicant_from_claims({**PERSON, "organizations": ORG}, NAMES, "https://idp")
    assert who.key == ORG and who.kind == "organization" and who.acting_name == ORG


@pytest.mark.parametrize("changes, field", [
    ({"id_number": "110101199003071234"}, "id_token.id_number"),  # check character
    ({"id_number": "110101199002301233"}, "id_token.id_number"),  # 30 February
    ({"id_number": ""}, "id_token.id_number"),
    ({"name": ""}, "id_token.name"),
    ({"sub": ""}, "id_token.sub"),
    ({"organizations": ["91350100M000100Y4Z"]}, "id_token.organizations[0].code"),
    ({"organizations": [{"name": "no code"}]}, "id_token.organizations[0]"),
])
def test_what_fails_the_windows_checks_refuses_the_sign_in(changes, field):
    with pytest.raises(ClaimsRefused) as refused:
        applicant_from_claims({**PERSON, **changes}, NAMES, "https://idp")
    assert field in [p.field for p in refused.value.problems]
    assert refused.value.status == 401


def test_an_unusable_phone_is_left_out_not_refused():
    assert applicant_from_claims({**PERSON, "phone_number": "call me"}, NAMES, "https://idp").phone == ""


def test_an_applicant_owns_only_what_is_held_under_the_number_they_act_under():
    person = OnlineApplicant("i", "s", "110101199003071233", "王小明",
                             organizations=(Organization(ORG, "示范餐饮管理有限公司"),))
    # As themselves: their own number only
    assert policy.applicant_owns(person, "110101199003071233")
    assert not policy.applicant_owns(person, ORG) and not policy.applicant_owns(person, None)
    # For the organisation: its code only, not their own any more
    acting = person.acting_as(ORG)
    assert policy.applicant_owns(acting, ORG) and not policy.applicant_owns(acting, "110101199003071233")
    # Nobody signed in owns nothing; a code not vouched for cannot be chosen
    assert not policy.applicant_owns(None, ORG)
    with pytest.raises(Forbidden):
        person.acting_as("91110108MA01ABCD2H")


def test_the_repr_masks_the_id_number():
    who = OnlineApplicant("i", "s", "110101199003071233", "王小明", "13912345678")
    assert "110101199003071233" not in repr(who) and "13912345678" not in repr(who)
