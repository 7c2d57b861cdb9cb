"""The kernel's commands: db upgrade, user add, deploy, lint, migrate, tick."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from engine import clock, definitions, identity, migration
from engine.errors import DefinitionInvalid, OneWindowError, Problem
from engine.lint import lint as lint_files
from engine.policy import ROLES
from engine.scheduler import tick as run_tick
from engine.spiff.documents import is_bpmn_name


def _db():
    return current_app.extensions["onewindow.db"]


def bundles(paths: tuple[str, ...], process_id: str | None = None) -> list[dict[str, bytes]]:
    """One bundle per BPMN file (``.bpmn``, ``.bpmn2``, ``.bpmn20.xml``): that file first, then every
    other file given (DMN, called processes), then the form files its user tasks name that were not
    given, found beside the BPMN files or in their parent folder (``bpmn/processes/x.bpmn`` finds
    ``bpmn/forms/x.json``). With ``--process`` only the file holding it is a main."""
    files: dict[str, bytes] = {}
    folders: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise click.ClickException(f"{p}: no such file")
        files[path.name] = path.read_bytes()
        if is_bpmn_name(path.name):
            folders += [f for f in (path.parent, path.parent.parent) if f not in folders]
    mains = [n for n in files if is_bpmn_name(n)]
    if not mains:
        raise click.ClickException("give at least one BPMN file (.bpmn, .bpmn2 or .bpmn20.xml)")
    if process_id is not None:
        holding = [n for n in mains if f'id="{process_id}"'.encode() in files[n]]
        mains = holding[:1] or mains[:1]
    return [definitions.with_forms({m: files[m], **{n: c for n, c in files.items() if n != m}}, folders)
            for m in mains]


def _say(problem: Problem, main: str) -> None:
    """``file:line [element] message``, a warning marked as one."""
    where = f"{problem.file or main}:{problem.line or '-'} [{problem.element_id or '-'}]"
    click.echo(f"{where} {'warning: ' if problem.is_warning else ''}{problem.message}", err=True)


PROCESS_OPTION = click.option("--process", "process_id", default=None,
                              help="the process id, for a file with several executable processes")


@click.command("deploy")
@click.argument("paths", nargs=-1, required=True)
@PROCESS_OPTION
@with_appcontext
def deploy_command(paths: tuple[str, ...], process_id: str | None) -> None:
    """Deploy BPMN files (give their DMN and called processes too)."""
    failed = False
    for bundle in bundles(paths, process_id):
        main = next(iter(bundle))
        try:
            with _db().unit_of_work() as uow:
                result = definitions.deploy(uow.session, bundle, actor="cli", process_id=process_id)
        except DefinitionInvalid as exc:
            failed = True
            for problem in exc.problems:
                _say(problem, main)
            continue
        for problem in result.warnings:
            _say(problem, main)
        verb = "deployed" if result.created else "unchanged"
        click.echo(f"{main}: {verb} {result.process_id} version {result.version}")
    if failed:
        sys.exit(1)


@click.command("lint")
@click.argument("paths", nargs=-1, required=True)
@PROCESS_OPTION
def lint_command(paths: tuple[str, ...], process_id: str | None) -> None:
    """Check BPMN/DMN files without deploying; exits 1 listing every problem (warnings too)."""
    count = warnings = 0
    for bundle in bundles(paths, process_id):
        main = next(iter(bundle))
        for problem in lint_files(bundle, process_id):
            warnings += problem.is_warning
            count += not problem.is_warning
            _say(problem, main)
    if count:
        click.echo(f"{count} problem(s), {warnings} warning(s)", err=True)
        sys.exit(1)
    click.echo(f"ok, {warnings} warning(s)" if warnings else "ok")


@click.command("migrate")
@click.argument("process_id")
@click.option("--to", "to_version", type=click.IntRange(1, 2**31 - 1), required=True, help="the version to move to")
@click.option("--map", "pairs", multiple=True, metavar="OLD=NEW",
              help="the new element of a waiting element the new version lacks (repeatable)")
@click.option("--dry-run", is_flag=True, help="say what would happen; change nothing")
@click.option("--case", "case_no", default=None, help="only this case")
@with_appcontext
def migrate_command(process_id: str, to_version: int, pairs: tuple[str, ...], dry_run: bool,
                    case_no: str | None) -> None:
    """Move running cases of PROCESS_ID to another deployed version, one transaction per case."""
    actor = identity.Actor(f"cli:{getpass.getuser()}", is_admin=True)
    try:
        report = migration.migrate_process(_db(), process_id, to_version, migration.parse_map(pairs), actor,
                                           dry_run=dry_run, case_no=case_no)
    except OneWindowError as exc:
        problems = getattr(exc, "problems", [])
        raise click.ClickException("; ".join(str(p) for p in problems) or str(exc)) from None
    for result in report.cases:
        moves = ", ".join(f"{m.from_element}->{m.to_element}" if m.from_element != m.to_element else m.to_element
                          for m in result.moves)
        line = f"{result.case_no} v{result.from_version} -> v{to_version}: {result.outcome}"
        click.echo(f"{line} ({moves})" if moves else line)
        for blocked in result.blocked:
            click.echo(f"  [{blocked.element_id}] {blocked.reason}", err=True)
        if result.error:
            click.echo(f"  {result.error}", err=True)
    counts = report.as_dict()["counts"]
    click.echo(("dry run: " if dry_run else "") + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
               if report.cases else f"no running case of {process_id} to move")
    if report.refused:
        sys.exit(1)


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
    for command in (deploy_command, lint_command, migrate_command, tick_command, user_cli, openapi_command):
        app.cli.add_command(command)
