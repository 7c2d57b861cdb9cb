"""The diagrams' data for the pages' script: a deployed version with its lint results, a case's position.

JSON, not markup in the pages: the content security policy runs no inline script, so the static
script (``engine/static/designer/diagram.js``) reads what to draw from these guarded routes.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from engine import cases, diagram
from engine.access import CASE, DESIGNER, guard
from engine.errors import NotFound
from engine.openapi import operation
from engine.web import reading

bp = Blueprint("diagram_api", __name__, url_prefix="/api")


@bp.get("/definitions/<process_id>/versions/<int:version>/diagram")
@guard(DESIGNER)
@operation("A deployed version's BPMN and DMN files with their lint results per element (designers)",
           tag="definitions", returns={"diagrams": "array"}, errors=(403, 404))
def version_diagram(process_id: str, version: int):
    with reading() as s:
        view = diagram.version_view(s, process_id, version)
    return jsonify({"process_id": process_id, "version": version,
                    "diagrams": [d.as_dict() for d in view["diagrams"]]})


@bp.get("/cases/<case_no>/diagram")
@guard(CASE)
@operation("A case's process diagram (its version) with where it is, the steps it went through and those "
           "overdue", tag="cases", returns={"diagrams": "array"}, errors=(404,))
def case_diagram(case_no: str):
    with reading() as s:
        case = cases.case_by_no(s, case_no)
        found = diagram.case_diagram(s, case)
        version = case.definition.version
    if found is None:
        raise NotFound(f"case {case_no}: its process has no diagram")
    return jsonify({"case_no": case_no, "process_id": case.process_id, "version": version,
                    "diagrams": [found.as_dict()]})
