"""FEEL and JUEL, compiled to Python and run in the restricted engine: one table of texts and values.

Each row is (text, data, expected). The compiled source runs in the same sandbox a case uses, so the
table holds the semantics a designer gets: null for missing variables, three-valued logic, 1-based
lists, unary tests, EL's coercions, and one truthiness rule for conditions.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.spiff import feel, juel
from engine.spiff.dialects import language_of
from engine.spiff.script_engine import RestrictedEnvironment, check_script

ENV = RestrictedEnvironment()


def run(python: str, data: dict | None = None, input_value=None):
    assert check_script(python.replace("?", "dmninputexpr"), expression=True) == []
    extra = {"dmninputexpr": input_value} if "?" in python else None
    return ENV.evaluate(python.replace("?", "dmninputexpr"), dict(data or {}), extra)


FEEL_VALUES = [
    # literals and arithmetic
    ("1 + 2", {}, 3),
    ("10 - 4 * 2", {}, 2),
    ("(10 - 4) * 2", {}, 12),
    ("7 / 2", {}, 3.5),
    ("2 ** 10", {}, 1024),
    ("-amount", {"amount": 5}, -5),
    ('"a" + "b"', {}, "ab"),
    ("1 / 0", {}, None),
    ("amount + 1", {}, None),
    ("null + 1", {}, None),
    ("true", {}, True),
    ("null", {}, None),
    ('"含中文"', {}, "含中文"),
    ('"say \\"hi\\"?"', {}, 'say "hi"?'),
    # comparisons
    ("amount > 1000", {"amount": 1500}, True),
    ("amount > 1000", {"amount": 500}, False),
    ("amount > 1000", {}, None),
    ("amount >= 1000", {"amount": 1000}, True),
    ("amount < 1000.5", {"amount": 1000}, True),
    ('status = "approved"', {"status": "approved"}, True),
    ('status = "approved"', {"status": "rejected"}, False),
    ('status != "approved"', {"status": "rejected"}, True),
    ("x = null", {}, True),
    ("x = null", {"x": 0}, False),
    ('amount > "5"', {"amount": 6}, None),
    ('1 = "1"', {}, None),
    ("a between 1 and 10", {"a": 10}, True),
    ("a between 1 and 10", {"a": 11}, False),
    ('name < "b"', {"name": "a"}, True),
    # logic, three-valued
    ("a and b", {"a": True, "b": True}, True),
    ("a and b", {"a": True, "b": False}, False),
    ("a and b", {"a": True}, None),
    ("a and b", {"a": False}, False),
    ("a or b", {"a": False}, None),
    ("a or b", {"b": True}, True),
    ("not(a)", {"a": False}, True),
    ("not(a)", {}, None),
    ('approved = true and amount < 5000', {"approved": True, "amount": 10}, True),
    # paths, lists, contexts
    ("applicant.name", {"applicant": {"name": "张三"}}, "张三"),
    ("applicant.name", {}, None),
    ("orders.amount", {"orders": [{"amount": 1}, {"amount": 2}]}, [1, 2]),
    ("items[1]", {"items": ["a", "b", "c"]}, "a"),
    ("items[-1]", {"items": ["a", "b", "c"]}, "c"),
    ("items[4]", {"items": ["a", "b", "c"]}, None),
    ("[1, 2, 3][item > 1]", {}, [2, 3]),
    ("count([1, 2, 3])", {}, 3),
    ("{a: 1, b: 2}.b", {}, 2),
    ("[]", {}, []),
    # control
    ('if amount > 100 then "big" else "small"', {"amount": 500}, "big"),
    ('if amount > 100 then "big" else "small"', {}, "small"),
    ("for i in 1..3 return i * 2", {}, [2, 4, 6]),
    ("for x in xs return x + 1", {"xs": [1, 2]}, [2, 3]),
    ("some x in [1, 5, 9] satisfies x > 8", {}, True),
    ("every x in [1, 5, 9] satisfies x > 0", {}, True),
    ("every x in [1, 5, 9] satisfies x > 1", {}, False),
    ("x in (1, 2, 3)", {"x": 2}, True),
    ("x in [1..5]", {"x": 5}, True),
    ("x in ]1..5[", {"x": 5}, False),
    ('x in ("budget", "exceptional")', {"x": "budget"}, True),
    ("x in < 5", {"x": 4}, True),
    # functions
    ('string length("onewindow")', {}, 9),
    ('upper case("a")', {}, "A"),
    ('substring("foobar", 3)', {}, "obar"),
    ('substring("foobar", 3, 2)', {}, "ob"),
    ('starts with(code, "X44")', {"code": "X4401"}, True),
    ('contains(name, "窗")', {"name": "一窗受理"}, True),
    ("sum([1, 2, 3])", {}, 6),
    ("max(3, 9, 4)", {}, 9),
    ("min([])", {}, None),
    ("mean([2, 4])", {}, 3.0),
    ("list contains(groups, \"x\")", {"groups": ["x", "y"]}, True),
    ("abs(-3)", {}, 3),
    ("floor(2.7)", {}, 2),
    ("ceiling(2.1)", {}, 3),
    ("decimal(1.255, 2)", {}, 1.26),
    ("modulo(10, 3)", {}, 1),
    ('string(true)', {}, "true"),
    ('number("42")', {}, 42),
    ("is defined(x)", {}, False),
    ('date("2026-03-01") < date("2026-03-02")', {}, True),
    ('date("2026-03-01") + duration("P1D")', {}, date(2026, 3, 2)),
    ('duration("PT2H")', {}, "PT2H"),
    ('@"P2D"', {}, "P2D"),
    ('distinct values([1, 1, 2])', {}, [1, 2]),
    ('string join(["a", "b"], ",")', {}, "a,b"),
]


@pytest.mark.parametrize(("text", "data", "expected"), FEEL_VALUES)
def test_feel_values(text, data, expected):
    assert run(feel.value(text), data) == expected


UNARY_TESTS = [
    # (cell, input, matches)
    ("[250..1000]", 250, True),
    ("[250..1000]", 1000, True),
    ("[250..1000]", 1001, False),
    ("]250..1000]", 250, False),
    ("(250..1000)", 999, True),
    ("[250..1000[", 1000, False),
    ('"budget", "exceptional"', "budget", True),
    ('"budget", "exceptional"', "exceptional", True),
    ('"budget", "exceptional"', "normal", False),
    ('not("budget", "exceptional")', "normal", True),
    ('not("budget", "exceptional")', "budget", False),
    ("-", "anything", True),
    ("< 5", 4, True),
    ("< 5", 5, False),
    ("<= 5", 5, True),
    (">= 18", 17, False),
    ("> 1000", None, False),
    ("!= 3", 4, True),
    ("= 3", 3, True),
    ("true", True, True),
    ("true", "true", False),
    ("false", False, True),
    ("null", None, True),
    ('"food"', "food", True),
    ('"food"', "Food", False),
    ("? > 5", 6, True),
    ("? > 5", None, False),
    ('starts with(?, "X")', "X44", True),
    ("[1..5], > 100", 200, True),
    ("[1..5], > 100", 50, False),
    ("not(< 0)", 5, True),
    ("amount_limit", 5, True),  # a variable: equal to the input
    ('"a?b"', "a?b", True),
    ('date("2026-03-01")', date(2026, 3, 1), True),
    ('[date("2026-01-01")..date("2026-12-31")]', date(2026, 6, 1), True),
]


@pytest.mark.parametrize(("cell", "value", "matches"), UNARY_TESTS)
def test_feel_unary_tests(cell, value, matches):
    python = feel.unary_tests(cell)
    if python is None:
        assert cell.strip() == "-" and matches
        return
    assert run(python, {"amount_limit": 5}, value) is matches


JUEL = [
    ("${approved}", {"approved": True}, True),
    ("${approved}", {"approved": "true"}, True),
    ("${approved}", {"approved": "false"}, False),
    ("${approved}", {}, False),
    ("${!approved}", {"approved": "false"}, True),
    ("#{amount > 1000}", {"amount": 1500}, True),
    ("${amount > 1000}", {"amount": "1500"}, True),
    ("${amount gt 1000}", {"amount": 10}, False),
    ("${amount >= 1000 && !urgent}", {"amount": 1000, "urgent": False}, True),
    ("${amount >= 1000 and not urgent}", {"amount": 1000, "urgent": True}, False),
    ("${a || b}", {"a": False, "b": "true"}, True),
    ("${a or b}", {}, False),
    ("${status == 'approved'}", {"status": "approved"}, True),
    ('${status eq "approved"}', {"status": "rejected"}, False),
    ("${status != 'approved'}", {"status": "rejected"}, True),
    ("${status ne 'approved'}", {}, True),
    ("${x == null}", {}, True),
    ("${empty comment}", {"comment": ""}, True),
    ("${empty comment}", {}, True),
    ("${empty list}", {"list": []}, True),
    ("${not empty comment}", {"comment": "ok"}, True),
    ("${applicant.age >= 18}", {"applicant": {"age": 20}}, True),
    ("${applicant['age'] < 18}", {"applicant": {"age": 20}}, False),
    ("${days > 3 ? true : false}", {"days": 5}, True),
    ('${execution.getVariable("approved")}', {"approved": True}, True),
    ("${deptLeaderPass == true}", {"deptLeaderPass": "false"}, False),
    ("${deptLeaderPass == true}", {"deptLeaderPass": "true"}, True),
    ("${count == 2}", {"count": "2"}, True),
]


@pytest.mark.parametrize(("text", "data", "expected"), JUEL)
def test_juel_conditions(text, data, expected):
    assert run(juel.condition(text), data) is expected


JUEL_VALUES = [
    ("${amount + 1}", {"amount": 1}, 2),
    ("${amount * 2}", {"amount": "3"}, 6),
    ("${total div 2}", {"total": 9}, 4.5),
    ("${total mod 4}", {"total": 9}, 1.0),
    ("${missing + 1}", {}, 1),
    ("${approverGroup}", {"approverGroup": "market_dept"}, "market_dept"),
    ("${items[0]}", {"items": ["a", "b"]}, "a"),
    ("Hello ${name}!", {"name": "张三"}, "Hello 张三!"),
    ("${a}-${b}", {"a": 1}, "1-"),
]


@pytest.mark.parametrize(("text", "data", "expected"), JUEL_VALUES)
def test_juel_values(text, data, expected):
    assert run(juel.value(text), data) == expected


# one truthiness rule for every condition, FEEL and JUEL alike
TRUTHINESS = [
    (True, True), ("true", True), ("TRUE", True), (" true ", True),
    (False, False), ("false", False), ("False", False), (None, False), ("", False), (0, False),
    (1, False), ([], False), ({}, False), ("yes", False), ("on", False),
]


@pytest.mark.parametrize(("value", "holds"), TRUTHINESS)
def test_a_condition_holds_only_for_true(value, holds):
    assert run(feel.condition("v"), {"v": value}) is holds
    assert run(juel.condition("${v}"), {"v": value}) is holds


UNSUPPORTED = [
    (feel.value, "a == 5", "single `=`"),
    (feel.value, "a && b", "`and` / `or`"),
    (feel.value, "'x'", "double quotes"),
    (feel.value, "${a > 5}", "JUEL"),
    (feel.value, "True", "write true"),
    (feel.value, "frobnicate(1)", "frobnicate() is not available"),
    (feel.value, "x instance of number", "instance of"),
    (feel.value, "? > 5", "`?` is the input of a DMN table"),
    (juel.value, "${approvalService.check(amount)}", "runs no Java beans"),
    (juel.value, "${execution.processInstanceId}", "the Java engine's object"),
    (juel.value, "${fn:length(x)}", "calls a function"),
    (juel.value, "${a >}", "ends too early"),
    (juel.value, "${a", "without its `}`"),
]


@pytest.mark.parametrize(("compile_", "text", "says"), UNSUPPORTED)
def test_what_cannot_be_compiled_says_what_to_write(compile_, text, says):
    with pytest.raises(feel.ExpressionError) as err:
        compile_(text)
    assert says in str(err.value)


@pytest.mark.parametrize(("text", "declared", "language"), [
    ('= status = "x"', None, "feel"),
    ("${approved}", None, "juel"),
    ("#{approved}", None, "juel"),
    ('decision == "accept"', None, "python"),
    ("approved", "http://www.omg.org/spec/FEEL/20140401", "feel"),
    ("approved", "juel", "juel"),
    ("approved", "javascript", "javascript"),
])
def test_the_language_of_a_text(text, declared, language):
    assert language_of(text, declared) == language


def test_a_timer_expression_gives_iso_text():
    assert run(feel.timer('duration("P" + string(days) + "D")'), {"days": 3}) == "P3D"
    assert run(feel.timer("date and time(due)"), {"due": "2026-03-01T09:00:00+08:00"}) == \
        "2026-03-01T09:00:00+08:00"
    assert run(juel.timer("${wait}"), {"wait": "PT2H"}) == "PT2H"
    assert run(feel.value('duration("P1DT2H") + duration("PT30M")'), {}) == "P1DT2H30M"
    assert timedelta(days=1) == feel_duration("P1D")


def feel_duration(text: str) -> timedelta:
    from engine.spiff.feel_runtime import FUNCTIONS

    return FUNCTIONS["duration"](text)
