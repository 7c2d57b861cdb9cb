"""Applicant checks: citizen ID numbers, unified social credit codes, phones and names."""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import Invalid
from intake.identity import (
    ApplicantIdentity,
    ApplicantKind,
    check_citizen_id,
    check_credit_code,
    normalize_phone,
    validate_applicant,
)

TODAY = date(2026, 3, 18)


def _problems(exc: pytest.ExceptionInfo[Invalid]) -> dict[str, str]:
    return {p.field or "": p.message for p in exc.value.problems}


# --- people -------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["11010519491231002X", "110101199003071233"])
def test_valid_citizen_ids_pass(number):
    identity = validate_applicant("person", number, "张三", "13812345678", today=TODAY)
    assert identity == ApplicantIdentity(ApplicantKind.PERSON, number, "张三", "13812345678")
    assert identity.overridden is False and identity.override_reason is None


def test_lowercase_x_and_fullwidth_digits_are_normalised():
    assert check_citizen_id("11010519491231002x") == "11010519491231002X"
    assert check_citizen_id(" １１０１０１１９９００３０７１２３３ ") == "110101199003071233"


def test_wrong_length_is_reported_with_the_field():
    with pytest.raises(Invalid) as exc:
        validate_applicant("person", "11010119900307123", "张三", "13812345678")
    problem = exc.value.problems[0]
    assert problem.field == "applicant.id_number"
    assert "18位" in problem.message and "17" in problem.message and "18 characters" in problem.message


def test_letters_inside_the_number_are_refused():
    with pytest.raises(Invalid) as exc:
        check_citizen_id("1101011990030712A3")
    assert "digits" in exc.value.problems[0].message


def test_impossible_birth_date_is_named():
    # 1990-02-30 does not exist; the check character is computed so only the date is wrong
    with pytest.raises(Invalid) as exc:
        check_citizen_id("110101199002301236", field="applicant.id_number")
    message = exc.value.problems[0].message
    assert "出生日期19900230" in message and "not a real date" in message


def test_future_birth_date_is_refused_when_today_is_given():
    # a structurally valid number born 2030-01-01
    number = "110101203001010014"
    with pytest.raises(Invalid) as exc:
        check_citizen_id(number, today=TODAY)
    assert "future" in exc.value.problems[0].message


def test_wrong_check_character_is_named():
    with pytest.raises(Invalid) as exc:
        validate_applicant("person", "110101199003071234", "张三", "13812345678")
    assert "校验位" in _problems(exc)["applicant.id_number"]
    assert "check character" in _problems(exc)["applicant.id_number"]


def test_citizen_id_cannot_be_overridden():
    with pytest.raises(Invalid):
        validate_applicant("person", "110101199003071234", "张三", "13812345678", override_reason="看过原件")


# --- organizations ------------------------------------------------------------------------------


def test_valid_credit_code_passes_and_is_uppercased():
    identity = validate_applicant("organization", "91350100m000100y43", "福州某某有限公司", "0591-87654321")
    assert identity.id_number == "91350100M000100Y43"
    assert identity.kind is ApplicantKind.ORGANIZATION
    assert identity.overridden is False


def test_override_reason_on_a_valid_code_is_not_recorded():
    identity = validate_applicant(
        "organization", "91350100M000100Y43", "某公司", "13812345678", override_reason="不需要"
    )
    assert identity.overridden is False and identity.override_reason is None


@pytest.mark.parametrize("code", ["91350100M000100Y4Z", "91350100M000100Y44"])
def test_bad_check_character_is_refused_without_override(code):
    with pytest.raises(Invalid) as exc:
        validate_applicant("organization", code, "某公司", "13812345678")
    message = _problems(exc)["applicant.id_number"]
    assert "校验位" in message and "override" in message


@pytest.mark.parametrize("code", ["91350100M000100Y4Z", "91350100M000100Y44"])
def test_bad_check_character_is_accepted_with_a_reason(code):
    identity = validate_applicant(
        "organization", code, "某公司", "13812345678", override_reason="  已核对营业执照原件，代码一致  "
    )
    assert identity.overridden is True
    assert identity.override_reason == "已核对营业执照原件，代码一致"
    assert identity.id_number == code


def test_blank_override_reason_does_not_override():
    with pytest.raises(Invalid):
        validate_applicant(
            "organization", "91350100M000100Y44", "某公司", "13812345678", override_reason="  "
        )


@pytest.mark.parametrize(
    ("code", "expected"),
    [("91350100M000100Y4", "18位"), ("9135010OM000100Y43", "I、O、S、V、Z"), ("A1350100M000100Y43", "前8位")],
)
def test_credit_code_length_and_format_are_never_overridable(code, expected):
    with pytest.raises(Invalid) as exc:
        validate_applicant("organization", code, "某公司", "13812345678", override_reason="看过原件")
    assert expected in _problems(exc)["applicant.id_number"]


def test_check_credit_code_is_strict():
    assert check_credit_code("9135 0100 M000 100Y43") == "91350100M000100Y43"
    with pytest.raises(Invalid):
        check_credit_code("91350100M000100Y44")


# --- phones and names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("010-87654321", "010-87654321"),
        ("(021)62345678", "021-62345678"),
        ("075582345678", "0755-82345678"),
        ("0591-8765432 转 123", "0591-8765432转123"),
    ],
)
def test_phone_numbers_are_normalised(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "1381234567", "23812345678", "12812345678", "010-12345678", "87654321", "400-123-4567"]
)
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(Invalid) as exc:
        normalize_phone(raw, field="applicant.phone")
    assert exc.value.problems[0].field == "applicant.phone"


def test_names_are_trimmed_and_bounded():
    identity = validate_applicant("person", "110101199003071233", "  阿依古丽·买买提  ", "13812345678")
    assert identity.name == "阿依古丽·买买提"
    with pytest.raises(Invalid) as exc:
        validate_applicant("person", "110101199003071233", "张" * 51, "13812345678")
    assert "50" in _problems(exc)["applicant.name"]
    with pytest.raises(Invalid) as exc:
        validate_applicant("person", "110101199003071233", "张\x00三", "13812345678")
    assert "control" in _problems(exc)["applicant.name"]


def test_all_problems_are_reported_at_once():
    # Given an applicant wrong in every field
    with pytest.raises(Invalid) as exc:
        validate_applicant("person", "123", " ", "abc", prefix="agent")
    # Then each field has its own problem, named with the prefix
    assert set(_problems(exc)) == {"agent.id_number", "agent.name", "agent.phone"}


def test_unknown_kind_is_refused():
    with pytest.raises(Invalid) as exc:
        validate_applicant("robot", "110101199003071233", "张三", "13812345678")
    assert exc.value.problems[0].field == "applicant.kind"


def test_repr_masks_personal_data():
    identity = validate_applicant("person", "110101199003071233", "张三", "13812345678")
    text = repr(identity)
    assert "110101199003071233" not in text and "13812345678" not in text
    assert "110101********1233" in text


def test_organization_names_keep_full_width_punctuation():
    # a name must stay exactly as on the licence: （福建） is not (福建)
    identity = validate_applicant(
        "organization", "91350100M000100Y43", "某某（福建）食品有限公司", "13812345678"
    )
    assert identity.name == "某某（福建）食品有限公司"
