"""Migration on the workflow alone, in memory (engine.spiff.migration): SpiffWorkflow's alignment by
position is a hint, never a move; a map confirms it; the moved case keeps its task and its data."""

from __future__ import annotations

from engine.spiff.migration import check_map, migrate
from engine.spiff.parser import parse_definition
from engine.spiff.runtime import LoadedSpec
from tests.processes.test_one_window_paths import FILES, Case, accept


def renamed_review() -> dict[str, bytes]:
    """The reference process with 审核 renamed from ``review`` to ``check`` (same place, same flows)."""
    text = FILES["one_window.bpmn"].decode()
    for old, new in (('id="review"', 'id="check"'), ('sourceRef="review"', 'sourceRef="check"'),
                     ('targetRef="review"', 'targetRef="check"'), (">review<", ">check<"),
                     ('bpmnElement="review"', 'bpmnElement="check"'), ('id="review_di"', 'id="check_di"'),
                     ('value="handle, review"', 'value="handle, check"')):
        assert old in text, old
        text = text.replace(old, new)
    return {**FILES, "one_window.bpmn": text.encode()}


def loaded(files: dict[str, bytes]) -> LoadedSpec:
    parsed = parse_definition(files)
    return LoadedSpec(parsed.spec, parsed.subprocess_specs)


def at_review() -> Case:
    case = Case(parse_definition(FILES), category="food")
    accept(case)
    case.complete("handle", outcome="submit", opinion="材料齐全")
    assert case.ready() == ["review"]
    return case


def test_a_step_renamed_in_place_is_offered_never_taken_and_the_map_confirms_it():
    new = loaded(renamed_review())
    # Given a case at 审核, and a version where the same step is called `check`
    case = at_review()
    task = case.task("review")
    task_id, data = task.id, dict(task.data)
    # When it is migrated without a map
    refused = migrate(case.wf, new, {})
    # Then it is refused, naming the step and the counterpart Spiff found in its place, and left as it was
    assert [b.element_id for b in refused.blocked] == ["review"]
    assert "confirm with --map review=check" in refused.blocked[0].reason
    assert case.ready() == ["review"] and case.wf.spec is not new.spec
    # When the map confirms it
    moved = migrate(case.wf, new, {"review": "check"})
    # Then the same task stands at `check`, with the same data, and the case walks on from there
    assert moved.blocked == []
    assert [(m.from_element, m.to_element) for m in moved.moves] == [("review", "check")]
    assert case.ready() == ["check"] and case.task("check").id == task_id
    assert dict(case.task("check").data) == data
    case.complete("check", outcome="pass", opinion="同意")
    assert case.ready() == ["approve"]


def test_a_map_naming_what_no_version_has_is_refused():
    old, new = loaded(FILES), loaded(renamed_review())
    wrong = check_map([old], new, {"nowhere": "check", "review": "gone"})
    assert any("'nowhere'" in w for w in wrong) and any("'gone'" in w for w in wrong)
    assert check_map([old], new, {"review": "check"}) == []


def test_a_joint_case_moves_with_both_branches_and_its_waiting_join():
    from engine.spiff import prune
    from tests.e2e.versions import with_legal_review
    from tests.processes.test_one_window_paths import department_chain

    new = loaded({**FILES, "one_window.bpmn": with_legal_review().encode()})
    # Given a joint case with both branches open, and one whose join waits for the co-review; both cut to
    # their frontier as the engine stores them
    both = Case(parse_definition(FILES), category="catering")
    waiting = Case(parse_definition(FILES), category="catering")
    accept(both)
    accept(waiting)
    department_chain(waiting, "market_dept")
    ids = {element: both.task(element).id for element in ("handle", "co_review")}
    for case in (both, waiting):
        prune.compact(case.wf)
        # When each moves to the version with 法制审核
        assert migrate(case.wf, new, {}).blocked == []
    # Then the open steps are the same tasks, and each case walks on through the new step to one result
    assert both.ready() == ["co_review", "handle"] and {k: both.task(k).id for k in ids} == ids
    both.complete("co_review", outcome="agree", opinion="同意")
    both.complete("handle", outcome="submit", opinion="材料齐全")
    both.complete("review", outcome="pass", opinion="同意")
    assert both.ready() == ["legal_review"]
    both.complete("legal_review", opinion="合法合规")
    both.complete("approve", outcome="approved", opinion="准予许可")
    assert both.ready() == ["issue_result"]
    assert waiting.ready() == ["co_review"]
    waiting.complete("co_review", outcome="agree", opinion="同意")
    assert waiting.ready() == ["issue_result"]
