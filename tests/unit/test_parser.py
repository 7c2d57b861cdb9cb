"""engine.spiff.parser: the dialects designers draw in, timers as Camunda writes them, safe XML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.errors import DefinitionInvalid
from engine.spiff.parser import parse_definition, timer_expression
from engine.spiff.script_engine import make_script_engine

FIXTURES = Path(__file__).resolve().parents[1] / "processes" / "fixtures"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'id="Definitions_t" targetNamespace="https://onewindow.example/test">\n'
)


def line_of(content: bytes, text: str) -> int:
    """1-based line of the first occurrence of ``text``: keeps line assertions honest as fixtures change."""
    return content.decode()[: content.decode().index(text)].count("\n") + 1


def bpmn(body: str, process_id: str = "p", extra: str = "") -> bytes:
    return f'{HEAD}<bpmn:process id="{process_id}" isExecutable="true">\n{body}\n</bpmn:process>\n{extra}' \
           '</bpmn:definitions>\n'.encode()


def timer_process(kind: str, text: str) -> bytes:
    return bpmn(f"""
    <bpmn:startEvent id="start" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition id="TimerEventDefinition_wait">
        <bpmn:{kind} xsi:type="bpmn:tFormalExpression">{text}</bpmn:{kind}>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="done" />""")


def fixtures(*names: str) -> dict[str, bytes]:
    return {name: (FIXTURES / name).read_bytes() for name in names}


@pytest.fixture(scope="module")
def dialects():
    return parse_definition(fixtures("dialects.bpmn", "fee.dmn"))


# --- extension properties -------------------------------------------------------------------------


def test_user_task_properties_from_spiff_camunda_and_zeebe(dialects):
    tasks = {t.element_id: t for t in dialects.user_tasks}
    inline = tasks["spiff_task"].properties["formSchema"]
    assert inline.startswith("{") and tasks["zeebe_task"].properties["formSchema"] == inline
    assert tasks["spiff_task"].properties == {"dueWorkingDays": "3", "formSchema": inline}
    assert tasks["camunda_task"].properties == {
        "dueWorkingDays": "4", "formSchema": "forms/review.json", "candidateGroups": "health_dept",
    }
    # FEEL, compiled
    assert tasks["zeebe_task"].properties == {"dueWorkingDays": "5", "candidateGroups": "=_.value(department)",
                                              "formSchema": inline}
    # The same dict is what Spiff carries on the spec, so the runtime reads one place.
    assert dialects.spec.task_specs["zeebe_task"].extensions["properties"] == tasks["zeebe_task"].properties


def test_native_candidate_group_fields_and_lanes(dialects):
    tasks = {t.element_id: t for t in dialects.user_tasks}
    assert tasks["spiff_task"].candidate_groups is None
    assert tasks["camunda_task"].candidate_groups == "health_dept"  # camunda:candidateGroups="..."
    assert tasks["zeebe_task"].candidate_groups == "=_.value(department)"  # zeebe:assignmentDefinition
    # The lane is its id (a group key); its label is kept for people.
    assert (tasks["spiff_task"].lane, tasks["spiff_task"].lane_name) == ("front_desk", "综合窗口")
    assert dialects.spec.task_specs["camunda_task"].lane == "departments"


def test_every_kind_of_element_carries_properties(dialects):
    specs = dialects.spec.task_specs
    assert specs["gw_pass"].extensions["properties"] == {"purpose": "routing"}
    assert specs["clock_started"].extensions["properties"] == {"clock": "start"}
    assert specs["start"].extensions["properties"] == {}


def test_process_properties(dialects):
    assert dialects.process_id == "dialects"
    assert dialects.name == "三种方言"
    assert dialects.process_properties == {"promisedWorkingDays": "15", "serviceCode": "X4440101001000"}


def test_a_later_dialect_wins_and_property_property_beats_native_field():
    files = {"p.bpmn": bpmn("""
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="task" camunda:candidateGroups="ignored_group">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="dueWorkingDays" value="3" />
        </spiffworkflow:properties>
        <camunda:properties>
          <camunda:property name="candidateGroups" value="market_dept" />
        </camunda:properties>
        <zeebe:properties>
          <zeebe:property name="dueWorkingDays" value="4" />
        </zeebe:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />""")}
    (task,) = parse_definition(files).user_tasks
    assert task.properties == {"dueWorkingDays": "4", "candidateGroups": "market_dept"}


# --- decisions ------------------------------------------------------------------------------------


def test_decision_refs_in_all_three_dialects_run_the_dmn(dialects):
    specs = dialects.spec.task_specs
    for element_id in ("fee_camunda", "fee_zeebe", "fee_spiff"):
        assert specs[element_id].dmnEngine.decision_table.id == "DecisionTable_fee"
    ran = []
    with clock.frozen(T0):
        wf = BpmnWorkflow(dialects.spec, dialects.subprocess_specs, script_engine=make_script_engine())
        wf.get_next_task(state=TaskState.READY).data["category"] = "food"
        wf.do_engine_steps()
        for element_id in ("spiff_task", "camunda_task", "zeebe_task"):
            (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
            assert task.task_spec.bpmn_id == element_id
            task.run()
            wf.do_engine_steps(did_complete_task=lambda t: ran.append(t.task_spec.bpmn_id))
    with clock.frozen(T0 + timedelta(hours=2, seconds=1)):
        wf.refresh_timers()
        wf.do_engine_steps()
    assert wf.is_completed()
    assert [r for r in ran if r and r.startswith("fee_")] == ["fee_camunda", "fee_zeebe", "fee_spiff"]
    # "food" costs nothing; the script then changed the category, and the later tables saw it.
    assert wf.last_task.data["fee_from_camunda"] == 0
    assert wf.last_task.data["fee"] == 100


def test_a_missing_decision_names_the_task():
    files = {"p.bpmn": bpmn("""
    <bpmn:startEvent id="start" />
    <bpmn:businessRuleTask id="decide" camunda:decisionRef="nowhere" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />""")}
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition(files)
    (problem,) = raised.value.problems
    assert (problem.element_id, problem.file) == ("decide", "p.bpmn")
    assert problem.line == line_of(files["p.bpmn"], 'id="decide"')
    assert "nowhere" in problem.message


# --- timers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "text", "expression"), [
    ("timeDuration", "PT2H", "'PT2H'"),
    ("timeDuration", "P60D", "'P60D'"),
    ("timeDuration", "  P1DT12H\n  ", "'P1DT12H'"),
    ("timeCycle", "R/P1D", "'R/P1D'"),
    ("timeCycle", "R3/PT10M", "'R3/PT10M'"),
    ("timeDate", "2026-03-01T09:00:00+08:00", "'2026-03-01T09:00:00+08:00'"),
    # Spiff style stays as written
    ("timeDuration", '"PT2H"', '"PT2H"'),
    ("timeCycle", "'R/P1D'", "'R/P1D'"),
    ("timeDuration", "timedelta_expr", "timedelta_expr"),
    ("timeDuration", 'f"P{days}D"', 'f"P{days}D"'),
])
def test_timer_expressions_as_designers_write_them(kind, text, expression):
    definition = parse_definition({"p.bpmn": timer_process(kind, text)})
    assert definition.spec.task_specs["wait"].event_definition.expression == expression


@pytest.mark.parametrize(("kind", "text", "why"), [
    ("timeDuration", "PT2X", "not an ISO 8601 duration"),
    ("timeDuration", '"P2X"', "not an ISO 8601 duration"),
    ("timeDuration", "two days", "neither an ISO 8601 literal nor a valid expression"),
    ("timeDuration", "", "no expression"),
    ("timeDate", "P1D", "a timeDate needs a date-time"),
    ("timeDate", "2026-13-01T09:00", "not a valid ISO 8601 date"),
    ("timeCycle", "PT10M", "not an ISO 8601 repeating interval"),
    ("timeCycle", "R/P1X", "not a valid ISO 8601 cycle"),
])
def test_timers_that_could_never_fire_are_refused(kind, text, why):
    content = timer_process(kind, text)
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition({"p.bpmn": content})
    (problem,) = raised.value.problems
    assert why in problem.message
    assert (problem.element_id, problem.file) == ("wait", "p.bpmn")
    assert problem.line == line_of(content, f"<bpmn:{kind}")


def test_timer_expression_classification():
    assert timer_expression("timeDuration", "PT2H") == ("'PT2H'", None)
    assert timer_expression("timeDuration", "deadline") == (None, None)
    assert timer_expression("timeDuration", "'P1D'") == (None, None)


def test_an_unquoted_timer_fires_on_the_frozen_clock():
    definition = parse_definition({"p.bpmn": timer_process("timeDuration", "PT2H")})
    with clock.frozen(T0):
        wf = BpmnWorkflow(definition.spec, script_engine=make_script_engine())
        wf.do_engine_steps()
    with clock.frozen(T0 + timedelta(hours=1, minutes=59)):
        wf.refresh_timers()
        wf.do_engine_steps()
        assert not wf.is_completed()
    with clock.frozen(T0 + timedelta(hours=2, seconds=1)):
        wf.refresh_timers()
        wf.do_engine_steps()
    assert wf.is_completed()


# --- bundles, call activities, messages -----------------------------------------------------------


def test_called_processes_and_their_tasks_and_messages():
    definition = parse_definition(fixtures("caller.bpmn", "site_inspection.bpmn"))
    assert definition.process_id == "caller"
    assert set(definition.subprocess_specs) == {"site_inspection"}
    (task,) = definition.user_tasks
    assert (task.element_id, task.process_id) == ("inspect", "site_inspection")
    assert task.candidate_groups == "inspectors"
    assert definition.messages == {"inspection_report", "site_photos"}


def test_message_payload_lands_under_the_message_name_unless_a_variable_is_named():
    definition = parse_definition(fixtures("caller.bpmn", "site_inspection.bpmn"))
    wf = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=make_script_engine())
    wf.do_engine_steps()
    wf.get_tasks(state=TaskState.READY, manual=True)[0].run()
    wf.do_engine_steps()
    wf.send_event(BpmnEvent(MessageEventDefinition("site_photos"), {"count": 3}))
    wf.do_engine_steps()
    wf.send_event(BpmnEvent(MessageEventDefinition("inspection_report"), {"passed": True}))
    wf.do_engine_steps()
    assert wf.is_completed()
    assert wf.last_task.data["inspection_report"] == {"passed": True}
    assert wf.last_task.data["photos"] == {"count": 3}  # spiffworkflow:messageVariable is honoured


def test_the_process_is_named_when_the_first_file_holds_several():
    two = bpmn('<bpmn:startEvent id="s1" />', "first", extra=(
        '<bpmn:process id="second" isExecutable="true"><bpmn:startEvent id="s2" /></bpmn:process>\n'))
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition({"two.bpmn": two})
    assert "first, second" in raised.value.problems[0].message
    assert parse_definition({"two.bpmn": two}, "second").process_id == "second"
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition({"two.bpmn": two}, "third")
    assert raised.value.problems[0].field == "process_id"


def test_files_that_are_not_processes_are_skipped():
    files = {"p.bpmn": bpmn('<bpmn:startEvent id="start" />'), "forms/intake.json": b"{}"}
    assert parse_definition(files).process_id == "p"


def test_spiff_errors_carry_element_file_and_line():
    files = {"p.bpmn": bpmn("""
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="two_ways" />
    <bpmn:endEvent id="a" />
    <bpmn:endEvent id="b" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="two_ways" />
    <bpmn:sequenceFlow id="f2" sourceRef="two_ways" targetRef="a" />
    <bpmn:sequenceFlow id="f3" sourceRef="two_ways" targetRef="b" />""")}
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition(files)
    (problem,) = raised.value.problems
    assert (problem.element_id, problem.file) == ("two_ways", "p.bpmn")
    assert problem.line == line_of(files["p.bpmn"], 'id="two_ways"')
    assert "Multiple outgoing flows" in problem.message


# --- hardened XML ---------------------------------------------------------------------------------


DEFINITIONS = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
)


def test_external_entities_are_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    evil = (
        f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY leak SYSTEM "file://{secret}">]>\n{DEFINITIONS}'
        '<bpmn:process id="p" isExecutable="true"><bpmn:documentation>&leak;</bpmn:documentation>'
        '<bpmn:startEvent id="s" /></bpmn:process></bpmn:definitions>'
    ).encode()
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition({"evil.bpmn": evil})
    (problem,) = raised.value.problems
    assert "DOCTYPE" in problem.message
    assert "SECRET" not in str(problem)


def test_entity_bombs_are_refused_unexpanded():
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n'
        f'{DEFINITIONS}<bpmn:process id="p" isExecutable="true">'
        '<bpmn:documentation>&c;&c;&c;</bpmn:documentation>'
        '<bpmn:startEvent id="s" /></bpmn:process></bpmn:definitions>'
    ).encode()
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition({"bomb.bpmn": bomb})
    (problem,) = raised.value.problems
    assert "DOCTYPE" in problem.message


def test_unreadable_xml_reports_file_and_line():
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition({"broken.bpmn": b'<?xml version="1.0"?>\n<a>\n<b></a>\n'})
    (problem,) = raised.value.problems
    assert (problem.file, problem.line) == ("broken.bpmn", 3)
