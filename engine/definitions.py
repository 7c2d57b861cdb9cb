"""Process definitions: lint, deploy (versioned by content), look up."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import DefinitionInvalid, NotFound, Problem
from engine.form_lint import forms_named
from engine.forms import bundle_forms
from engine.lint import errors, lint
from engine.models import ProcessDefinition
from engine.spiff.dialects import called_processes
from engine.spiff.documents import NS, load_documents
from engine.spiff.messages import start_messages
from engine.spiff.parser import parse_definition
from engine.spiff.runtime import SERIALIZER_VERSION, spec_to_json


@dataclass(frozen=True)
class DeployResult:
    process_id: str
    version: int
    created: bool
    definition_id: int
    warnings: list[Problem] = field(default_factory=list)


def content_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(files[name])
        digest.update(b"\0")
    return digest.hexdigest()


def deploy(session: Session, files: dict[str, bytes], *, actor: str | None = None,
           process_id: str | None = None, forms_from: Iterable[Path] = ()) -> DeployResult:
    """Deploy a bundle (the main BPMN first, then its DMN, called processes and forms).

    A form file a user task names (``formSchema``) that the bundle lacks is taken from the first of
    the ``forms_from`` folders that has it (the designers' ``bpmn/``) and deployed with the process,
    so the version keeps its forms. Unchanged content is a no-op returning the existing version.
    Raises DefinitionInvalid listing every problem found.
    """
    given = files = with_forms(files, forms_from)
    files = with_called_processes(session, files)
    problems = lint(files, process_id)
    if errors(problems):
        raise DefinitionInvalid(f"{len(errors(problems))} problem(s) in the definition", problems)
    warnings = [p for p in problems if p.is_warning]
    parsed = parse_definition(files, process_id)
    digest = content_hash(given)
    existing = session.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == parsed.process_id, ProcessDefinition.content_hash == digest
        )
    )
    if existing is not None:
        return DeployResult(existing.process_id, existing.version, False, existing.id, warnings)
    last = session.scalar(
        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_id == parsed.process_id)
    )
    definition = ProcessDefinition(
        process_id=parsed.process_id,
        version=(last or 0) + 1,
        content_hash=digest,
        name=parsed.name,
        files={name: content.decode("utf-8") for name, content in files.items()},
        spec_json=spec_to_json(parsed.spec, parsed.subprocess_specs),
        serializer_version=SERIALIZER_VERSION,
        properties=dict(parsed.process_properties),
        message_senders=dict(parsed.message_senders),
        start_messages=start_messages(parsed.spec),
        deployed_at=clock.now(),
        deployed_by=actor,
    )
    session.add(definition)
    session.flush()
    return DeployResult(definition.process_id, definition.version, True, definition.id, warnings)


def with_forms(files: dict[str, bytes], folders: Iterable[Path]) -> dict[str, bytes]:
    """The bundle plus the form files its user tasks name, found under ``folders`` (first wins)."""
    folders = list(folders)
    return bundle_forms(files, forms_named(files), folders) if folders else dict(files)


def with_called_processes(session: Session, files: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle plus the files of each process its call activities call that it does not hold
    itself, as last deployed (and, in turn, of the processes those call)."""
    out = dict(files)
    for _ in range(16):  # a chain of calls, each deployed from its own file; bounded against cycles
        docs, _problems = load_documents(out)
        bpmn = [d for d in docs if d.kind == "bpmn"]
        defined = {p.get("id") for d in bpmn for p in d.root.xpath(".//bpmn:process", namespaces=NS)}
        missing = set().union(*(called_processes(d) for d in bpmn)) - defined
        added = False
        for process_id in sorted(missing):
            found = session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
                                   .order_by(ProcessDefinition.version.desc()).limit(1))
            for name, text in (found.files if found is not None else {}).items():
                if name not in out:
                    out[name] = text.encode("utf-8")
                    added = True
        if not added:
            break
    return out


def latest(session: Session, process_id: str) -> ProcessDefinition:
    definition = session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    if definition is None:
        raise NotFound(f"no process '{process_id}' is deployed")
    return definition


def list_definitions(session: Session) -> list[ProcessDefinition]:
    return list(
        session.scalars(
            select(ProcessDefinition).order_by(ProcessDefinition.process_id, ProcessDefinition.version)
        )
    )
