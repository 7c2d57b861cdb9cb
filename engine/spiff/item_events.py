"""Errors and escalations carry the data of the step that threw them.

In the Spiff editor's dialect an error or escalation event sends a payload only if the designer
wrote a payload expression, and the catching event keeps it only under a named variable
(``spiffworkflow:variableName``); Camunda's and BPMN's files have neither, so a sub-process that
escalated lost everything its steps had written (the reviewer's finding never reached the chief).
Here, without a payload expression the thrower's data is the payload, and without a variable name
the catching boundary event merges it into its own data; with them, Spiff's way is kept.
"""

from __future__ import annotations

from copy import deepcopy

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition, EscalationEventDefinition


class _KeepsData:
    def throw(self, my_task):
        if self.expression is not None:
            return super().throw(my_task)
        # like BPMN's code events: the thrower's data, caught by the nearest enclosing catcher
        event = BpmnEvent(self, payload=deepcopy(my_task.data), target=my_task.workflow)
        my_task.workflow.top_workflow.catch(event)

    def update_task_data(self, my_task):
        if self.variable is not None:
            return super().update_task_data(my_task)
        payload = my_task.internal_data.pop(self.name, None)
        if isinstance(payload, dict):
            my_task.data.update(payload)


class DataErrorEventDefinition(_KeepsData, ErrorEventDefinition):
    pass


class DataEscalationEventDefinition(_KeepsData, EscalationEventDefinition):
    pass


def keeping_data(definition):
    """The same error or escalation definition, carrying data as this module says."""
    cls = DataErrorEventDefinition if isinstance(definition, ErrorEventDefinition) else DataEscalationEventDefinition
    return cls(definition.name, expression=definition.expression, variable=definition.variable,
               code=definition.code)
