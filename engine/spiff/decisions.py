"""Decision requirement diagrams: several decisions in one DMN file, and required decisions first.

Camunda Modeler saves a DRD as one file whose decisions require each other
(``<informationRequirement><requiredDecision href="#season"/>``). SpiffWorkflow reads one decision
per file and evaluates one table. So each decision of a file is handed to Spiff as a file of its own
(:func:`split`), and a business rule task's engine evaluates the decisions its decision requires,
depth first, before its own table (:class:`ChainedDMNEngine`). A required decision's outputs are
available to the next by their output names (Camunda 7's way) and its result by the decision's id
(DMN's way: the single output's value, or all outputs as one object).
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.spiff.serializer.task_spec import BusinessRuleTaskConverter


def _local(node) -> str:
    return etree.QName(node).localname


def decisions_of(root) -> list:
    return [e for e in root if isinstance(e.tag, str) and _local(e) == "decision"]


def requirements(root) -> dict[str, list[str]]:
    """Decision id -> the ids of the decisions it requires, in the file's order."""
    out = {}
    for decision in decisions_of(root):
        hrefs = decision.xpath("./*[local-name()='informationRequirement']/*[local-name()='requiredDecision']/@href")
        out[decision.get("id")] = [h.lstrip("#") for h in hrefs]
    return out


def split(root) -> list:
    """One tree per decision (the others removed); a one-decision file is returned as it is."""
    decisions = decisions_of(root)
    if len(decisions) <= 1:
        return [root]
    trees = []
    for keep in range(len(decisions)):
        tree = copy.deepcopy(root)
        for i, decision in enumerate(decisions_of(tree)):
            if i != keep:
                tree.remove(decision)
        trees.append(tree)
    return trees


def evaluation_order(decision_id: str, needs: dict[str, list[str]]) -> list[str]:
    """The decisions ``decision_id`` requires, each after those it requires itself (not itself).

    Raises ValueError for a cycle or a requirement on a decision that is in none of the files.
    """
    order: list[str] = []
    visiting: list[str] = []

    def visit(d: str) -> None:
        if d in order:
            return
        if d in visiting:
            raise ValueError(f"decisions require each other in a circle: {' -> '.join([*visiting, d])}")
        if d not in needs:
            raise ValueError(f"required decision {d!r} is in none of the DMN files")
        visiting.append(d)
        for r in needs[d]:
            visit(r)
        visiting.pop()
        order.append(d)

    for required in needs.get(decision_id, []):
        visit(required)
    return order


def map_result(result: dict[str, Any], mode: str, collect: bool) -> Any:
    """The decision's result as ``resultVariable`` holds it (Camunda's ``mapDecisionResult``;
    ``zeebe`` is Camunda 8's: the single output's value, or all outputs as one object)."""
    rows = [dict(zip(result, values, strict=True)) for values in zip(*result.values(), strict=True)] \
        if collect else ([result] if result else [])
    if mode == "singleEntry":
        return next(iter(rows[0].values()), None) if rows else None
    if mode == "singleResult":
        return rows[0] if rows else None
    if mode == "collectEntries":
        return [next(iter(r.values()), None) for r in rows]
    if mode == "zeebe":
        values = [next(iter(r.values())) if len(r) == 1 else r for r in rows]
        return values if collect else (values[0] if values else None)
    return rows  # resultList, Camunda 7's default


class ChainedDMNEngine(DMNEngine):
    """A decision table evaluated after the tables of the decisions it requires; its result also goes
    to ``result_variable`` when the task names one."""

    def __init__(self, decision_table, required: list[tuple[str, Any]] | None = None,
                 result_variable: str | None = None, result_mode: str = "resultList"):
        super().__init__(decision_table)
        self.required = list(required or [])
        self.result_variable = result_variable
        self.result_mode = result_mode

    def result(self, task):
        result = self._chained(task)
        if self.result_variable:
            collect = self.decision_table.hit_policy == "COLLECT"
            result = {**result, self.result_variable: map_result(result, self.result_mode, collect)}
        return result

    def _chained(self, task):
        if not self.required:
            return super().result(task)
        original = task.data
        enriched = dict(original)
        try:
            for decision_id, table in self.required:
                task.data = enriched
                out = DMNEngine(table).result(task)
                enriched[decision_id] = next(iter(out.values())) if len(out) == 1 else out
                enriched.update(out)
            task.data = enriched
            return super().result(task)
        finally:
            task.data = original


class ChainedBusinessRuleTaskConverter(BusinessRuleTaskConverter):
    """Spiff's converter plus the required decisions' tables, so a stored spec keeps its chain."""

    def to_dict(self, spec):
        dct = super().to_dict(spec)
        required = getattr(spec.dmnEngine, "required", [])
        dct["required_decisions"] = [[d, self.decision_table_to_dict(t)] for d, t in required]
        dct["result_variable"] = getattr(spec.dmnEngine, "result_variable", None)
        dct["result_mode"] = getattr(spec.dmnEngine, "result_mode", "resultList")
        return dct

    def from_dict(self, dct):
        required = [(d, self.decision_table_from_dict(t)) for d, t in dct.pop("required_decisions", [])]
        variable, mode = dct.pop("result_variable", None), dct.pop("result_mode", "resultList")
        spec = super().from_dict(dct)
        spec.dmnEngine = ChainedDMNEngine(spec.dmnEngine.decision_table, required, variable, mode)
        return spec
