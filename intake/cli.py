"""`onewindow catalog load PATH...`: read service items from YAML and store new versions."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from engine import definitions
from engine.errors import Invalid
from engine.models import ProcessDefinition
from intake import catalog_store
from intake.feedback import FOLLOWUP_PROCESS

catalog_cli = AppGroup("catalog", help="The service catalog (政务服务事项).")


@catalog_cli.command("load")
@click.argument("paths", nargs=-1, required=True)
@with_appcontext
def load_command(paths: tuple[str, ...]) -> None:
    """Load catalog YAML files or directories; a file with any problem is refused whole."""
    try:
        items = catalog_store.read_paths(paths)
    except Invalid as exc:
        for problem in exc.problems or [exc]:
            click.echo(str(problem), err=True)
        sys.exit(1)
    with current_app.extensions["onewindow.db"].unit_of_work() as uow:
        report = catalog_store.store(uow.session, items, actor="cli")
    for code, version in report.added:
        click.echo(f"{code}: version {version}")
    click.echo(f"{len(report.added)} item version(s) added, {len(report.unchanged)} unchanged")


def load_configured(app) -> catalog_store.LoadReport:
    """Load the configured catalog directory and deploy the follow-up process for bad ratings if no
    version of it is deployed yet (at `serve` start-up and in the demo; no-ops when nothing changed)."""
    settings = app.config["ONEWINDOW"]
    items = catalog_store.read_paths([settings.catalog_dir])
    followup = Path(settings.processes_dir) / f"{FOLLOWUP_PROCESS}.bpmn"
    with app.extensions["onewindow.db"].unit_of_work() as uow:
        deployed = uow.session.scalar(select(ProcessDefinition.id).where(
            ProcessDefinition.process_id == FOLLOWUP_PROCESS).limit(1))
        if deployed is None and followup.is_file():
            definitions.deploy(uow.session, {followup.name: followup.read_bytes()}, actor="startup")
        return catalog_store.store(uow.session, items, actor="startup")
