"""Deploying validated diagrams as immutable, content-addressed process versions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.db import begin_write
from engine.errors import ConcurrentChange, ValidationFailed, VersionNotFound
from engine.forms import form_file_name
from engine.models import ProcessVersion
from engine.state import StateCodec
from engine.validation import ValidatedBundle, validate_paths

FORMS_PREFIX = "forms/"


@dataclass(frozen=True)
class Deployed:
    version: ProcessVersion
    created: bool  # False when identical content was already deployed


def content_hash(files: dict[str, str]) -> str:
    """A hash of the version's files, independent of the order they were given in."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def _files_for(validated: ValidatedBundle, process_id: str) -> dict[str, str]:
    """The files one entry process needs: its BPMN and its callees', all DMN, its forms."""
    parser = validated.parser
    called = parser.get_subprocess_specs(process_id)
    wanted = {parser.get_process_parser(pid).filename for pid in [process_id, *called]}
    bundle = validated.bundle
    files = {name: bundle.bpmn[name].decode() for name in bundle.bpmn if name in wanted}
    files |= {name: content.decode() for name, content in bundle.dmn.items()}
    for pid in [process_id, *called]:
        for props in validated.user_tasks.get(pid, {}).values():
            if props.form_key and props.form_key in bundle.forms:
                key = props.form_key
                files[FORMS_PREFIX + form_file_name(key)] = bundle.forms[key].decode()
    return files


def deploy_bundle(
    session: Session, validated: ValidatedBundle, actor: str, codec: StateCodec
) -> list[Deployed]:
    """Store a version of every entry process in the bundle; identical content is reused."""
    if not validated.ok:
        raise ValidationFailed(validated.problems)
    begin_write(session)
    results = []
    for process_id in validated.entry_process_ids:
        results.append(_deploy_process(session, validated, process_id, actor, codec))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConcurrentChange(
            "Another deploy of the same process happened at the same moment; deploy again."
        ) from exc
    return results


def _deploy_process(
    session: Session, validated: ValidatedBundle, process_id: str, actor: str, codec: StateCodec
) -> Deployed:
    files = _files_for(validated, process_id)
    digest = content_hash(files)
    existing = session.scalar(
        select(ProcessVersion).where(
            ProcessVersion.process_id == process_id, ProcessVersion.content_hash == digest
        )
    )
    if existing is not None:
        return Deployed(existing, created=False)
    parser = validated.parser
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    latest = session.scalar(
        select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == process_id)
    )
    user_tasks = {
        pid: {element: props.to_dict() for element, props in validated.user_tasks[pid].items()}
        for pid in [process_id, *subprocess_specs]
        if pid in validated.user_tasks
    }
    version = ProcessVersion(
        process_id=process_id,
        name=spec.description or process_id,
        version=(latest or 0) + 1,
        content_hash=digest,
        files=files,
        spec_json=codec.dump_specs(spec, subprocess_specs),
        user_tasks=user_tasks,
        deployed_at=clock.now(),
        deployed_by=actor,
    )
    session.add(version)
    session.flush()
    return Deployed(version, created=True)


def deploy_paths(
    session: Session,
    paths: Iterable[Path],
    actor: str,
    codec: StateCodec,
    forms_dir: Path | None = None,
) -> list[Deployed]:
    """Validate files and folders as ``kinflow validate`` does, then deploy them."""
    return deploy_bundle(session, validate_paths(list(paths), forms_dir), actor, codec)


def latest_version(session: Session, process_id: str) -> ProcessVersion:
    version = session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.process_id == process_id)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise VersionNotFound(f"No version of process '{process_id}' has been deployed.")
    return version


def list_versions(session: Session) -> list[ProcessVersion]:
    return list(
        session.scalars(
            select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version)
        )
    )
