"""A list page as JSON text, written straight from its rows.

The list is the hottest answer of the API. ``json`` would first need a dict per item and would then
encode every key of every item again; here the keys are written into the text and only the values are
encoded, strings by the C ``encode_basestring_ascii`` (what ``json.dumps`` uses by default).

The text is ASCII: a task name in Chinese is written as ``\\uXXXX`` escapes, which every JSON reader
turns back into the same characters. Kept as UTF-8 (as the other answers of the API are), one
Chinese name made every item a two-byte-per-character string in Python, and building the page cost
about 0.05 ms more (measured request by request, alternating the two).
``tests/unit/test_worklist_wire.py`` checks that the text parses to exactly the page's items.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii

from worklists.queries import Page
from worklists.rows import instant_iso


def page_json(page: Page) -> str:
    """``{"view", "sort", "items", "next_cursor"}`` of a page, compact, ASCII only."""
    esc, iso = encode_basestring_ascii, instant_iso
    # One f-string per item, its keys those of ITEM_KEYS in order (tests/unit/test_worklist_wire.py holds
    # the two together); the schema's NOT NULL columns need no None test.
    items = ",".join([
        f'{{"id":{esc(task_id)},"case_no":{esc(case_no)},"process_id":{esc(process_id)},'
        f'"service":{"null" if service is None else esc(service)},"name":{esc(name)},'
        f'"element_id":{esc(element_id)},"group":{esc(group)},'
        f'"assignee":{"null" if assignee is None else esc(assignee)},"state":{esc(state)},"version":{int(version)},'
        f'"created_at":"{iso(created_at)}","due_date":{"null" if due_at is None else esc(iso(due_at))},'
        f'"sla_level":{"null" if sla_level is None else esc(sla_level)},'
        f'"completed_at":{"null" if completed_at is None else esc(iso(completed_at))},'
        f'"completed_by":{"null" if completed_by is None else esc(completed_by)}}}'
        for (task_id, case_no, process_id, service, name, element_id, group, assignee, state, version, created_at,
             due_at, sla_level, completed_at, completed_by) in page.rows])
    cursor = "null" if page.next_cursor is None else esc(page.next_cursor)
    return f'{{"view":{esc(page.view)},"sort":{esc(page.sort)},"items":[{items}],"next_cursor":{cursor}}}'
