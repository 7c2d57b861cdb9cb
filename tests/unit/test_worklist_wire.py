"""The list page's JSON text and the instants in it, against json and datetime doing the same the slow way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from worklists.queries import ITEM_KEYS, Page
from worklists.rows import instant_iso
from worklists.wire import page_json


def _pg_text(value: datetime, offset: timedelta = timedelta(0)) -> str:
    """What PostgreSQL (DateStyle ISO) sends for a timestamptz in a session zone at ``offset``."""
    local = value.astimezone(timezone(offset))
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if local.microsecond:
        text += "." + f"{local.microsecond:06d}".rstrip("0")
    total = int(offset.total_seconds())
    sign, total = ("-" if total < 0 else "+"), abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return text + f"{sign}{hours:02d}" + (f":{minutes:02d}" if minutes or seconds else "") + (
        f":{seconds:02d}" if seconds else "")


INSTANTS = [datetime(2026, 3, 10, 1, 2, 3, us, tzinfo=UTC)
            for us in (0, 1, 10, 500000, 123450, 999999, 100000, 120000, 123456)]
OFFSETS = [timedelta(0), timedelta(hours=8), timedelta(hours=5, minutes=30), timedelta(hours=-4, minutes=-27,
                                                                                      seconds=-40)]


@pytest.mark.parametrize("offset", OFFSETS, ids=str)
@pytest.mark.parametrize("value", INSTANTS, ids=lambda v: str(v.microsecond))
def test_postgres_text_is_spelled_as_isoformat_in_utc(value, offset):
    assert instant_iso(_pg_text(value, offset)) == value.astimezone(UTC).isoformat()


def test_a_datetime_in_any_zone_is_spelled_in_utc():
    shanghai = datetime(2026, 3, 10, 9, 2, 3, 5, tzinfo=timezone(timedelta(hours=8)))
    assert instant_iso(shanghai) == "2026-03-10T01:02:03.000005+00:00"


def test_text_that_is_no_instant_is_refused():
    with pytest.raises(ValueError):
        instant_iso("10/03/2026 01:02:03 UTC")


NASTY = ['say "hi"', "back\\slash", "tab\tnew\nline\r", "\x00\x1f control", "中文 名称", "\u2028\u2029", "emoji 😀",
         "</script>", ""]


def _row(i: int, text: str, *, nulls: bool) -> tuple:
    due = INSTANTS[i % len(INSTANTS)]
    return (f"id-{i}-{text}", f"ZW{i:010d}", f"p{text}", None if nulls else f"s{text}", text, f"e{text}", f"g{text}",
            None if nulls else text, "open", i, _pg_text(due), None if nulls else due + timedelta(days=1),
            None if nulls else "red", None if nulls else _pg_text(due, timedelta(hours=8)), None if nulls else text)


def test_the_page_text_parses_to_exactly_the_pages_items():
    rows = [_row(i, text, nulls=bool(i % 2)) for i, text in enumerate(NASTY * 2)]
    page = Page(rows, 'cur"sor\\', "queue", "due")
    body = json.loads(page_json(page))
    assert body == {"view": "queue", "sort": "due", "items": page.items, "next_cursor": 'cur"sor\\'}
    assert list(body["items"][0]) == list(ITEM_KEYS)
    assert body["items"][1]["due_date"] is None and body["items"][0]["due_date"].endswith("+00:00")


def test_the_page_text_is_compact_ascii_and_reads_back_as_the_names():
    text = page_json(Page([_row(0, "中文", nulls=False)], None, "inbox", "-created"))
    assert text.isascii() and "\\u4e2d\\u6587" in text and ": " not in text and ", " not in text
    assert json.loads(text)["items"][0]["name"] == "中文"
    assert text.endswith('"next_cursor":null}')


def test_an_empty_page():
    assert json.loads(page_json(Page([], None, "team", "due"))) == {
        "view": "team", "sort": "due", "items": [], "next_cursor": None}
