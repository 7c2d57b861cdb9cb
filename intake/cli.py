"""`onewindow catalog load PATH...`: read service items from YAML and store new versions."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from engine.errors import Invalid
from intake import catalog_store

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
    """Load the configured catalog directory (at `serve` start-up and in the demo)."""
    items = catalog_store.read_paths([app.config["ONEWINDOW"].catalog_dir])
    with app.extensions["onewindow.db"].unit_of_work() as uow:
        return catalog_store.store(uow.session, items, actor="startup")
