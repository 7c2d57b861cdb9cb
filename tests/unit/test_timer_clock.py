"""SpiffWorkflow's timers fire by engine.clock, to the minute, and read naive dates as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.spiff.script_engine import make_script_engine
from engine.spiff.timers import ClockDate, ClockDatetime, clock_installed, install_clock

T = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

_HEAD = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_{id}" targetNamespace="http://onewindow.example/tests/timers">
  <bpmn:process id="{id}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
"""
_TAIL = """  </bpmn:process>
</bpmn:definitions>"""

# A user task "work" with a boundary timer "timer" whose path runs the script task "after".
BOUNDARY = _HEAD + """    <bpmn:userTask id="work" name="Work"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end_work" />
    <bpmn:endEvent id="end_work"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="timer" attachedToRef="work" cancelActivity="{cancel}">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="timer" targetRef="after" />
    <bpmn:scriptTask id="after" name="After"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:script>fired = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end_timer" />
    <bpmn:endEvent id="end_timer"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
""" + _TAIL

# An intermediate catch timer "work" between start and the script task "after".
CATCH = _HEAD + """    <bpmn:intermediateCatchEvent id="work"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="after" />
    <bpmn:scriptTask id="after" name="After"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>fired = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
""" + _TAIL


def start(template: str, kind: str, expression: str, cancel: str = "true") -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    xml = template.format(id="timers", kind=kind, expression=expression, cancel=cancel)
    parser.add_bpmn_str(xml.encode(), "timers.bpmn")
    wf = BpmnWorkflow(
        parser.get_spec("timers"), parser.get_subprocess_specs("timers"), script_engine=make_script_engine()
    )
    with clock.frozen(T):
        wf.do_engine_steps()
    return wf


def at(wf: BpmnWorkflow, instant: datetime) -> BpmnWorkflow:
    """Let the engine look at its timers at ``instant`` (what `onewindow tick --now` does)."""
    with clock.frozen(instant):
        wf.refresh_timers()
        wf.do_engine_steps()
    return wf


def fired(wf: BpmnWorkflow) -> int:
    """Completed runs of the timer's path (walks every task: the tree iterator skips the children
    of a cycle timer that is still waiting)."""
    return sum(
        1 for t in wf.tasks.values() if t.task_spec.name == "after" and t.state == TaskState.COMPLETED
    )


def test_install_clock_is_idempotent_and_swaps_only_the_timer_module():
    # Given / When: installed twice
    install_clock()
    install_clock()

    # Then: Spiff's timer module reads our datetime and UTC; nothing else changed
    assert clock_installed()
    assert timer.datetime is ClockDatetime
    assert timer.LOCALTZ is UTC
    assert timer.timedelta is timedelta


def test_clock_datetime_reads_the_frozen_clock_and_builds_plain_values():
    with clock.frozen(datetime(2025, 3, 3, 17, 30, tzinfo=timezone(timedelta(hours=8)))):
        # naive now() is UTC, aware now(tz) is converted, today() is the UTC date
        assert ClockDatetime.now() == datetime(2025, 3, 3, 9, 30)
        assert ClockDatetime.now(UTC) == datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
        assert ClockDate.today() == date(2025, 3, 3)

    # constructors return plain datetime/date, and isinstance accepts plain values
    assert type(ClockDatetime.fromisoformat("2025-03-01T09:00")) is datetime
    assert type(ClockDatetime(2025, 3, 1)) is datetime
    assert type(ClockDate(2025, 3, 1)) is date
    assert isinstance(datetime(2025, 1, 1), ClockDatetime)
    assert isinstance(date(2025, 1, 1), ClockDate)
    assert not isinstance("2025-01-01", ClockDatetime)


def test_naive_timer_dates_are_utc_whatever_the_machine_zone(monkeypatch):
    # Given: Spiff believed the machine was at UTC+8
    monkeypatch.setattr(timer, "LOCALTZ", timezone(timedelta(hours=8)))

    # When
    install_clock()

    # Then: a naive timer date is that wall time in UTC; an explicit offset is respected
    assert TimerEventDefinition.get_datetime("2025-03-01T09:00:00") == datetime(2025, 3, 1, 9, tzinfo=UTC)
    assert TimerEventDefinition.get_datetime("2025-03-01T09:00:00+08:00") == datetime(
        2025, 3, 1, 1, tzinfo=UTC
    )


def test_duration_boundary_timer_fires_after_two_hours_by_the_frozen_clock():
    # Given: a user task with an interrupting PT2H boundary timer, started at T
    wf = start(BOUNDARY, "timeDuration", '"PT2H"')
    assert wf.get_tasks(spec_name="work", state=TaskState.READY)

    # When: the engine looks at T+1h59m
    at(wf, T + timedelta(hours=1, minutes=59))

    # Then: not yet
    assert fired(wf) == 0
    assert wf.get_tasks(spec_name="work", state=TaskState.READY)

    # When: it looks at T+2h1m
    at(wf, T + timedelta(hours=2, minutes=1))

    # Then: the timer path ran and the user task was cancelled
    assert fired(wf) == 1
    assert not wf.get_tasks(spec_name="work", state=TaskState.READY)
    assert wf.is_completed()


def test_time_date_timer_fires_at_its_instant_read_as_utc():
    # Given: a catch timer for a naive 2025-03-03T11:00 (UTC), started at T = 09:00Z
    wf = start(CATCH, "timeDate", '"2025-03-03T11:00:00"')

    # When / Then: one minute before, nothing; one minute after, it fires
    assert fired(at(wf, datetime(2025, 3, 3, 10, 59, tzinfo=UTC))) == 0
    assert fired(at(wf, datetime(2025, 3, 3, 11, 1, tzinfo=UTC))) == 1
    assert wf.is_completed()


def test_time_date_timer_with_offset():
    # Given: the same instant written in office time (UTC+8)
    wf = start(CATCH, "timeDate", '"2025-03-03T19:00:00+08:00"')

    # Then
    assert fired(at(wf, datetime(2025, 3, 3, 10, 59, tzinfo=UTC))) == 0
    assert fired(at(wf, datetime(2025, 3, 3, 11, 1, tzinfo=UTC))) == 1


@pytest.mark.parametrize(
    ("minutes_after_start", "expected"),
    [(59, 0), (61, 1), (119, 1), (121, 2), (181, 3), (241, 3), (600, 3)],
)
def test_cycle_timer_fires_three_times_hourly(minutes_after_start, expected):
    # Given: a non-interrupting R3/PT1H boundary timer on a user task, started at T
    wf = start(BOUNDARY, "timeCycle", '"R3/PT1H"', cancel="false")

    # When: the engine ticks every minute up to the instant under test
    for minute in range(1, minutes_after_start + 1):
        at(wf, T + timedelta(minutes=minute))

    # Then: one reminder per full hour, never more than three; the user task stays open
    assert fired(wf) == expected
    assert wf.get_tasks(spec_name="work", state=TaskState.READY)
