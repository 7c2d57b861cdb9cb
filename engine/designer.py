"""The designer's pages: deployed definitions and their versions, a version's diagram and lint results,
deploy by upload; and the static files the pages load (their script, the vendored diagram viewers).

A file uploaded here goes through the same lint and deploy as ``POST /api/definitions``; a refused one
is shown with its problems per element, on its own diagram when it carries one.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from flask import Blueprint, current_app, redirect, render_template, request, send_from_directory, url_for

from engine import definitions, diagram, migration
from engine.access import DESIGNER, MIGRATOR, PUBLIC, guard
from engine.errors import DefinitionInvalid, Invalid, Problem
from engine.inputs import accepts_uploads
from engine.web import current_actor, database, reading, unit_of_work

bp = Blueprint("designer", __name__, template_folder="templates")
STATIC = Path(__file__).parent / "static"
VIEWERS = {"bpmn": "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js",
           "dmn": "vendor/dmn-js/dmn-navigated-viewer.production.min.js"}
ASSET_MAX_AGE = 3600  # the viewers are large and change only with a release


def viewers_installed() -> bool:
    """Whether scripts/setup copied the viewers from the npm registry (without npm it could not)."""
    return all((STATIC / path).is_file() for path in VIEWERS.values())


@bp.app_context_processor
def _diagram_assets():
    return {"diagram_viewers": viewers_installed}


@bp.get("/static/<path:filename>")
@guard(PUBLIC)
def asset(filename: str):
    """The pages' script and style, and the diagram viewers (nothing here is personal or secret)."""
    return send_from_directory(STATIC, filename, max_age=ASSET_MAX_AGE)


@bp.get("/designer/")
@guard(DESIGNER)
def definitions_page():
    with reading() as s:
        found = diagram.processes(s)
    return render_template("designer/definitions.html", processes=found)


@bp.get("/designer/processes/<process_id>/versions/<int:version>")
@guard(DESIGNER)
def version_page(process_id: str, version: int):
    return _version(process_id, version)


@bp.post("/designer/processes/<process_id>/versions/<int:version>/migrate")
@guard(MIGRATOR)
def migrate_page(process_id: str, version: int):
    """Administrators: move the running cases of the process to this version (a dry run first)."""
    lines = [line for line in request.form.get("map", "").splitlines() if line.strip()]
    dry_run = request.form.get("dry_run") == "1"
    try:
        report = migration.migrate_process(database(), process_id, version, migration.parse_map(lines),
                                           current_actor(), dry_run=dry_run)
    except Invalid as exc:
        return _version(process_id, version, problems=exc.problems, entered=request.form), exc.status
    return _version(process_id, version, report=report, entered=request.form)


def _version(process_id: str, version: int, **extra):
    with reading() as s:
        view = diagram.version_view(s, process_id, version)
        versions = next((p["versions"] for p in diagram.processes(s) if p["process_id"] == process_id), [])
    return render_template("designer/version.html", view=view, versions=versions,
                           deployed=request.args.get("deployed"), **extra)


@bp.route("/designer/deploy", methods=["GET", "POST"])
@guard(DESIGNER)
@accepts_uploads
def deploy_page():
    if request.method == "GET":
        return render_template("designer/deploy.html", result=None)
    files = {PurePosixPath(f.filename).name: f.read() for f in request.files.getlist("file") if f.filename}
    if not files:
        raise Invalid("choose a BPMN file to deploy", [Problem("no file chosen", field="file")])
    process_id = request.form.get("process_id", "").strip() or None
    designers = Path(current_app.config["ONEWINDOW"].processes_dir).parent
    try:
        with unit_of_work() as uow:
            result = definitions.deploy(uow.session, files, actor=current_actor().username, process_id=process_id,
                                        forms_from=[designers])
    except DefinitionInvalid as exc:
        return _refused(files, exc.problems), 422
    return redirect(url_for("designer.version_page", process_id=result.process_id, version=result.version,
                            deployed="created" if result.created else "unchanged"))


def _refused(files: dict[str, bytes], problems: list[Problem]) -> str:
    found = diagram.diagrams(files)
    diagram.mark_problems(found, problems)
    rows, general = diagram.by_element(problems, found)
    # The script reads the diagrams from this JSON text (autoescaped into a textarea: data, never script)
    drawn = json.dumps({"diagrams": [d.as_dict() for d in found]}, ensure_ascii=False)
    return render_template("designer/deploy.html", result={
        "files": list(files), "by_element": rows, "general": general, "diagrams": drawn,
        "errors": sum(not p.is_warning for p in problems), "warnings": sum(p.is_warning for p in problems)})
