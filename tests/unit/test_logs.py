"""ONEWINDOW_LOG_FORMAT=json: one JSON object a line, personal data masked, exceptions included."""

from __future__ import annotations

import io
import json
import logging

import pytest

from engine.logs import JsonFormatter
from engine.privacy import PersonalDataFilter
from onewindow.config import from_env


def test_json_lines_mask_id_and_phone_numbers_in_messages_and_exceptions():
    # Given a handler as the processes set it up for json
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PersonalDataFilter())
    logger = logging.getLogger("test_logs.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # When a message and an exception carry an ID number and a phone number
        logger.warning("applicant %s called from %s", "110101199003071233", "13812345678")
        try:
            raise ValueError("bad id 11010519491231002X")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    # Then each line is one JSON object, and none holds the numbers whole
    assert first["level"] == "WARNING" and first["logger"] == "test_logs.json"
    assert "110101199003071233" not in first["message"] and "13812345678" not in first["message"]
    assert first["message"].startswith("applicant 110101")
    assert "ValueError" in second["exception"] and "11010519491231002X" not in second["exception"]


def test_an_unknown_log_format_names_its_variable():
    with pytest.raises(ValueError, match="ONEWINDOW_LOG_FORMAT"):
        from_env({"ONEWINDOW_LOG_FORMAT": "xml"})
