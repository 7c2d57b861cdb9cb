"""The service catalog: strict loading of YAML items, content hashes, the service guide."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from engine.errors import Invalid
from intake.catalog import (
    CaseType,
    Material,
    ServiceItem,
    load_catalog_dir,
    load_catalog_files,
    parse_catalog,
)

DEMO = Path(__file__).resolve().parents[2] / "bpmn" / "catalog"

ITEM = """\
code: "110105-XK-0001"
basic_code: "XK-0001"
name: "食品经营许可（新办）"
department: market_dept
process: one_window
case_type: promised
statutory_working_days: 20
promised_working_days: 10
category: food
legal_basis: "《中华人民共和国食品安全法》第三十五条"
fees: "不收费"
visits: 0
warning_working_days: 1
special_steps: [{name: "现场核查", working_days: 10, counted: false}]
materials:
  - {code: id_card, name: "身份证明", required: true, reusable: true}
  - {code: lease, name: "经营场所证明", required: true, reusable: false}
  - {code: layout, name: "设备布局图", required: false, reusable: false, originals: 1, copies: 1}
"""


def _item(**changes: object) -> str:
    """The example item with some top-level lines replaced (value None drops the line)."""
    lines = []
    for line in ITEM.splitlines():
        key = line.split(":", 1)[0]
        if key in changes:
            if changes[key] is not None:
                lines.append(f"{key}: {changes[key]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _problems(text: str, file: str = "x.yaml") -> list:
    with pytest.raises(Invalid) as exc:
        parse_catalog(text, file)
    return exc.value.problems


# --- reading -----------------------------------------------------------------------------------


def test_single_item_is_read_with_all_fields():
    (item,) = parse_catalog(ITEM, "food.yaml")
    assert item.code == "110105-XK-0001"
    assert item.basic_code == "XK-0001"
    assert item.case_type is CaseType.PROMISED
    assert (item.statutory_working_days, item.promised_working_days, item.warning_working_days) == (20, 10, 1)
    assert item.special_steps[0].name == "现场核查" and item.special_steps[0].counted is False
    assert item.materials[0] == Material("id_card", "身份证明", required=True, reusable=True)
    assert item.materials[2].originals == 1 and item.materials[2].copies == 1
    assert item.source_file == "food.yaml"


def test_items_list_is_read_in_order():
    text = "items:\n" + textwrap.indent(ITEM, "    ").replace("    code:", "  - code:", 1)
    second = text.replace("110105-XK-0001", "110105-XK-0002")
    combined = text + second.split("items:\n", 1)[1]
    items = parse_catalog(combined)
    assert [i.code for i in items] == ["110105-XK-0001", "110105-XK-0002"]


def test_items_are_frozen():
    (item,) = parse_catalog(ITEM)
    with pytest.raises(AttributeError):
        item.name = "other"  # type: ignore[misc]


def test_optional_fields_default():
    text = _item(basic_code=None, legal_basis=None, fees=None, warning_working_days=None, special_steps=None)
    (item,) = parse_catalog(text)
    assert item.basic_code is None and item.fees is None and item.warning_working_days is None
    assert item.special_steps == () and item.co_departments == ()


# --- refusing ----------------------------------------------------------------------------------


def test_unknown_key_is_named_with_file_line_item_and_field():
    problems = _problems(ITEM + "colour: red\n")
    (p,) = problems
    assert "unknown key 'colour'" in p.message
    assert (p.file, p.element_id, p.field, p.line) == ("x.yaml", "110105-XK-0001", "colour", 19)


def test_missing_required_field():
    (p,) = _problems(_item(department=None))
    assert "missing required field 'department'" in p.message
    assert p.field == "department"


def test_wrong_types():
    problems = _problems(_item(statutory_working_days='"twenty"', visits="true", name="[1, 2]"))
    fields = {p.field for p in problems}
    assert fields == {"statutory_working_days", "visits", "name"}


def test_promised_more_than_statutory_is_refused():
    (p,) = _problems(_item(promised_working_days=25))
    assert "exceeds statutory_working_days" in p.message
    assert p.field == "promised_working_days" and p.element_id == "110105-XK-0001"


def test_case_type_outside_the_set():
    (p,) = _problems(_item(case_type="urgent"))
    assert "promised | immediate" in p.message and p.field == "case_type"


def test_immediate_item_promises_nothing_and_promised_item_something():
    (p,) = _problems(_item(case_type="immediate", warning_working_days=None))
    assert "on the spot" in p.message
    (p,) = _problems(_item(promised_working_days=0, warning_working_days=None))
    assert "case_type: immediate" in p.message
    (item,) = parse_catalog(_item(case_type="immediate", promised_working_days=0, warning_working_days=None))
    assert item.case_type is CaseType.IMMEDIATE


def test_warning_beyond_the_promise_is_refused():
    (p,) = _problems(_item(warning_working_days=11))
    assert p.field == "warning_working_days"


def test_a_warning_as_long_as_the_promise_is_refused():
    # Given an item promised in 10 working days whose yellow threshold is 10
    (p,) = _problems(_item(warning_working_days=10))
    # Then it is refused: every case would be yellow from its first day
    assert p.field == "warning_working_days" and "not below" in p.message


def test_counted_special_steps_must_fit_the_promise():
    (p,) = _problems(_item(special_steps='[{name: "检测", working_days: 11, counted: true}]'))
    assert p.field == "special_steps"


def test_duplicate_material_code():
    text = ITEM + '  - {code: lease, name: "租赁合同", required: true, reusable: false}\n'
    (p,) = _problems(text)
    assert "duplicate material code 'lease'" in p.message
    assert p.field == "materials[3].code" and p.line == 19


def test_material_problems_name_the_material():
    text = ITEM + '  - {code: plan, name: "平面图", required: "yes", reusable: false, colour: 1}\n'
    fields = {p.field for p in _problems(text)}
    assert fields == {"materials[3].required", "materials[3].colour"}


def test_missing_material_fields():
    text = ITEM + "  - {code: plan}\n"
    messages = sorted(p.message for p in _problems(text))
    assert any("'name'" in m for m in messages) and any("'reusable'" in m for m in messages)


def test_duplicate_item_codes_in_one_file():
    text = "items:\n" + "".join("  - " + textwrap.indent(ITEM, "    ")[4:] for _ in range(2))
    (p,) = _problems(text)
    assert "duplicate item code" in p.message and p.element_id == "110105-XK-0001"


def test_duplicate_item_codes_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text(ITEM, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(ITEM, encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        load_catalog_dir(tmp_path)
    (p,) = exc.value.problems
    assert p.file.endswith("b.yaml") and "a.yaml" in p.message


def test_duplicate_yaml_key_is_not_silently_dropped():
    (p,) = _problems(ITEM + "visits: 2\n")
    assert "given twice" in p.message and p.field == "visits"


def test_item_without_code_is_named_by_index():
    text = "items:\n  - " + textwrap.indent(_item(code=None), "    ")[4:]
    problems = _problems(text)
    assert problems[0].element_id == "items[0]" and problems[0].field == "code"


def test_every_file_is_reported_at_once(tmp_path):
    (tmp_path / "a.yaml").write_text(_item(case_type="x"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text("code: [unclosed\n", encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        load_catalog_files(sorted(tmp_path.iterdir()))
    assert {Path(p.file).name for p in exc.value.problems} == {"a.yaml", "b.yaml"}


def test_not_a_mapping():
    (p,) = _problems("- just\n- a list\n")
    assert "one item or 'items:'" in p.message


def test_co_departments_cannot_repeat_the_lead():
    (p,) = _problems(ITEM + "co_departments: [market_dept]\n")
    assert p.field == "co_departments[0]"


# --- hash and guide ----------------------------------------------------------------------------


def test_content_hash_is_stable_over_formatting():
    # Given the same item written with other spacing, a comment, key order and explicit defaults
    reordered = "# comment\n" + _item(visits=None) + "visits:   0\n"
    reordered = reordered.replace(
        'layout, name: "设备布局图", required: false', 'layout, required: false, name: "设备布局图"'
    )
    reordered = reordered.replace("reusable: true}", "reusable: true, originals: 1, copies: 0}")
    (a,), (b,) = parse_catalog(ITEM), parse_catalog(reordered)
    # Then the hash is the same, and a change of content changes it
    assert a.content_hash == b.content_hash
    (c,) = parse_catalog(_item(promised_working_days=9))
    assert c.content_hash != a.content_hash
    assert len(a.content_hash) == 64


def test_guide_is_json_and_holds_what_an_applicant_needs():
    (item,) = parse_catalog(ITEM)
    guide = item.guide()
    assert json.loads(json.dumps(guide, ensure_ascii=False)) == guide
    assert guide["case_type_label"] == "承诺件"
    assert guide["promised_working_days"] == 10 and guide["statutory_working_days"] == 20
    assert guide["fees"] == "不收费" and guide["visits"] == 0
    assert [m["code"] for m in guide["materials"]] == ["id_card", "lease", "layout"]
    assert guide["version"] == item.content_hash
    assert "process" not in guide and "category" not in guide


# --- the demo catalog --------------------------------------------------------------------------


def test_demo_catalog_loads_and_matches_the_routing_table():
    items = load_catalog_dir(DEMO)
    assert len(items) >= 6
    routing = {"food": "market_dept", "business": "market_dept", "medical": "health_dept"}
    routing |= {"construction": "housing_dept", "catering": "market_dept"}
    for item in items:
        assert isinstance(item, ServiceItem)
        assert item.process == "one_window"
        assert item.department == routing[item.category], item.code
        assert item.promised_working_days <= item.statutory_working_days
    assert {i.category for i in items} == set(routing)
    (catering,) = [i for i in items if i.category == "catering"]
    assert catering.co_departments == ("health_dept",)


def test_demo_catalog_marks_identity_and_licence_reusable():
    for item in load_catalog_dir(DEMO):
        for material in item.materials:
            if material.code in ("id_card", "business_licence"):
                assert material.reusable, (item.code, material.code)
