"""`onewindow catalog load PATH...`: read service items from YAML and store new versions.
`onewindow materials sweep`: remove stored files no record points at (left by failed transactions)."""

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
from intake import catalog_store, storage
from intake.feedback import FOLLOWUP_PROCESS
from intake.models import StoredFile

catalog_cli = AppGroup("catalog", help="The service catalog (政务服务事项).")
materials_cli = AppGroup("materials", help="Applicants' files on disk.")


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
    for problem in report.warnings:
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"{len(report.added)} item version(s) added, {len(report.unchanged)} unchanged")


@materials_cli.command("sweep")
@click.option("--older-than-hours", type=float, default=24.0, show_default=True,
              help="leave files younger than this (their transaction may still be running)")
@click.option("--dry-run", is_flag=True, help="list what would be removed, remove nothing")
@with_appcontext
def sweep_command(older_than_hours: float, dry_run: bool) -> None:
    """Remove stored files that no record points at: written by a transaction that then failed, or
    half-written by a process that died. Such a file is first set aside under .swept/ and removed by
    a sweep at least a grace period later if it still has no record. Files with a record are kept."""
    if older_than_hours < 1:
        raise click.BadParameter("at least 1 hour", param_hint="--older-than-hours")
    upload_dir = current_app.config["ONEWINDOW"].upload_dir
    db = current_app.extensions["onewindow.db"]

    def known(names: list[str]) -> set[str]:
        with db.read() as s:
            return set(s.scalars(select(StoredFile.sha256).where(StoredFile.sha256.in_(names))))

    count = size = 0
    for done, orphan in storage.sweep(upload_dir, known, older_than_hours * 3600, dry_run=dry_run):
        if done == "removed":
            count, size = count + 1, size + orphan.size
        click.echo(f"{'would be ' if dry_run else ''}{done}: {orphan.path} ({orphan.reason}, {orphan.size} bytes)")
    click.echo(f"{count} file(s), {size} bytes {'to remove' if dry_run else 'removed'} under {upload_dir}")


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
            definitions.deploy(uow.session, {followup.name: followup.read_bytes()}, actor="startup",
                               forms_from=[followup.parent.parent])
        return catalog_store.store(uow.session, items, actor="startup")
