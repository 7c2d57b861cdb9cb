"""Masking of ID and phone numbers in values, free text and log records."""

from __future__ import annotations

import io
import logging

import pytest

from engine.privacy import PersonalDataFilter, mask_id_number, mask_phone, mask_text


def test_mask_id_number_keeps_region_and_last_four():
    assert mask_id_number("110101199003071233") == "110101********1233"
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_mask_id_number_masks_short_values_completely():
    assert mask_id_number("1234567890") == "**********"
    assert mask_id_number("") == ""


def test_mask_phone_mobile():
    assert mask_phone("13812345678") == "138****5678"


def test_mask_phone_landline_keeps_area_code():
    assert mask_phone("0591-87654321") == "0591-****4321"
    assert mask_phone("010-1234567") == "010-***4567"


def test_mask_phone_short_value_is_fully_masked():
    assert mask_phone("12345") == "*****"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证110101199003071233。", "身份证110101********1233。"),
        ("id=11010519491231002x, ok", "id=110105********002x, ok"),
        ("联系电话13812345678", "联系电话138****5678"),
        ("电话 138 1234 5678 或 138-1234-5678", "电话 138 **** 5678 或 138-****-5678"),
        ("tel:+8613812345678", "tel:+86138****5678"),
        ("ID110101199003071233 and 13812345678", "ID110101********1233 and 138****5678"),
    ],
)
def test_mask_text_finds_ids_and_mobiles(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "流水号 2026031800000000012",  # 19 digits: a longer number, not an ID
        "amount 123456789012",  # 12 digits, not a mobile
        "case 20260318-0001",
        "code 91350100M000100Y43",  # an organisation's code is public, not personal data
    ],
)
def test_mask_text_leaves_other_numbers(text):
    assert mask_text(text) == text


def _logger_with_filter() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataFilter())
    logger = logging.getLogger(f"test_privacy.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, stream


def test_filter_masks_message_and_args():
    # Given a handler with the filter
    logger, stream = _logger_with_filter()
    # When a message carries an ID in its args and a phone in its text
    logger.info("applicant %s phone 13812345678 count %d", "110101199003071233", 3)
    # Then neither leaks, and %d still formats
    assert stream.getvalue() == "applicant 110101********1233 phone 138****5678 count 3\n"


def test_filter_masks_dict_args_and_numbers_passed_as_ints():
    logger, stream = _logger_with_filter()
    logger.warning("%(phone)d called", {"phone": 13812345678})
    assert stream.getvalue() == "138****5678 called\n"


def test_filter_masks_traceback():
    logger, stream = _logger_with_filter()
    try:
        raise ValueError("bad id 110101199003071233")
    except ValueError:
        logger.exception("failed")
    out = stream.getvalue()
    assert "110101199003071233" not in out
    assert "110101********1233" in out
    assert "ValueError" in out


def test_filter_survives_malformed_call_without_leaking():
    logger, stream = _logger_with_filter()
    logger.error("two %s %s", "13812345678")
    out = stream.getvalue()
    assert "13812345678" not in out
    assert "138****5678" in out


def test_filter_never_drops_records():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", None, None)
    assert PersonalDataFilter().filter(record) is True
    assert record.getMessage() == "plain"


def test_mask_phone_keeps_an_extension():
    assert mask_phone("0591-87654321转12") == "0591-****4321转12"
