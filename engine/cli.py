"""The kernel's commands: db upgrade, user add, deploy, lint, tick."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from engine import clock, definitions, identity
from engine.errors import DefinitionInvalid, OneWindowError
from engine.lint import lint as lint_files
from engine.policy import ROLES
from engine.scheduler import tick as run_tick


def _db():
    return current_app.extensions["onewindow.db"]


def bundles(paths: tuple[str, ...]) -> list[dict[str, bytes]]:
    """One bundle per BPMN file: that file first, then every other file given (DMN, called processes)."""
    files: dict[str, bytes] = {}
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise click.ClickException(f"{p}: no such file")
        files[path.name] = path.read_bytes()
    mains = [n for n in files if n.endswith(".bpmn")]
    if not mains:
        raise click.ClickException("give at least one .bpmn file")
    return [{m: files[m], **{n: c for n, c in files.items() if n != m}} for m in mains]


@click.command("deploy")
@click.argument("paths", nargs=-1, required=True)
@with_appcontext
def deploy_command(paths: tuple[str, ...]) -> None:
    """Deploy BPMN files (give their DMN and called processes too)."""
    failed = False
    for bundle in bundles(paths):
        main = next(iter(bundle))
        try:
            with _db().unit_of_work() as uow:
                result = definitions.deploy(uow.session, bundle, actor="cli")
        except DefinitionInvalid as exc:
            failed = True
            for problem in exc.problems:
                click.echo(f"{problem.file or main}:{problem.line or '-'}: [{problem.element_id or '-'}] "
                           f"{problem.message}", err=True)
            continue
        verb = "deployed" if result.created else "unchanged"
        click.echo(f"{main}: {verb} {result.process_id} version {result.version}")
    if failed:
        sys.exit(1)


@click.command("lint")
@click.argument("paths", nargs=-1, required=True)
def lint_command(paths: tuple[str, ...]) -> None:
    """Check BPMN/DMN files without deploying; exits 1 listing every problem."""
    count = 0
    for bundle in bundles(paths):
        main = next(iter(bundle))
        for problem in lint_files(bundle):
            count += 1
            click.echo(f"{problem.file or main}:{problem.line or '-'}: [{problem.element_id or '-'}] "
                       f"{problem.message}", err=True)
    if count:
        click.echo(f"{count} problem(s)", err=True)
        sys.exit(1)
    click.echo("ok")


user_cli = AppGroup("user", help="Manage users.")


@user_cli.command("add")
@click.argument("name")
@click.option("--password", required=True)
@click.option("--groups", default="", help="comma-separated groups")
@click.option("--supervises", default="", help="comma-separated groups this user supervises")
@click.option("--admin", is_flag=True)
@click.option("--roles", default="", help=f"comma-separated roles: {', '.join(ROLES)}")
@click.option("--display-name", default="")
@click.option("--email", default=None)
def user_add(name, password, groups, supervises, admin, roles, display_name, email) -> None:
    """Create or update a user."""
    try:
        with _db().unit_of_work() as uow:
            identity.add_user(uow.session, name, password, groups=groups.split(","),
                              supervises=supervises.split(","), admin=admin, display_name=display_name,
                              email=email, roles=roles.split(","))
    except OneWindowError as exc:
        problems = getattr(exc, "problems", [])
        raise click.ClickException("; ".join(str(p) for p in problems) or str(exc)) from None
    click.echo(f"user {name} saved")


@click.command("tick")
@click.option("--now", "now_text", default=None, help="ISO instant; default: the system clock")
@with_appcontext
def tick_command(now_text: str | None) -> None:
    """Fire every timer due by NOW, re-send stranded events, run the sweep."""
    try:
        now = clock.parse_instant(now_text) if now_text else clock.now()
    except ValueError:
        raise click.ClickException(f"--now: '{now_text}' is not an ISO 8601 instant") from None
    report = run_tick(_db(), now)
    click.echo(f"tick at {report.now.isoformat()}: {len(report.timers_fired)} timer(s) fired")
    for case_no, element in report.timers_fired:
        click.echo(f"  {case_no} {element}")
    for name, info in report.hooks.items():
        click.echo(f"  {name}: {info}")
    for err in report.errors:
        click.echo(f"  error: {err}", err=True)
    if report.errors:
        sys.exit(1)


@click.command("openapi")
@click.option("--markdown", is_flag=True, help="a Markdown API reference instead of the JSON document")
@with_appcontext
def openapi_command(markdown: bool) -> None:
    """Print the OpenAPI document (docs/api.md is generated with --markdown)."""
    import json

    from engine.openapi import document, markdown_reference

    doc = document()
    click.echo(markdown_reference(doc) if markdown else json.dumps(doc, ensure_ascii=False, indent=2))


def register(app: Flask) -> None:
    for command in (deploy_command, lint_command, tick_command, user_cli, openapi_command):
        app.cli.add_command(command)
