"""Process owners' work in progress: drafts of a process's files, validated and deployed.

A process version's files are one flat mapping (``ProcessVersion.files``): BPMN and DMN by
file name, forms as ``forms/<key>.json``. A draft holds the same mapping, so opening a version
copies its files into a draft, the modeller and the form editor change files in it, and
validating or deploying a draft is validating or deploying that mapping. A changed form is a
changed file, so it makes a new version like any diagram change.

Drafts are saved every few seconds by the browser; ``save_draft`` takes the revision the
browser last saw, so a second tab on the same draft is told instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock
from engine.db import begin_write
from engine.deploy import FORMS_PREFIX, Deployed, deploy_bundle
from engine.errors import ConcurrentChange, KinflowError, NotFound, Problem
from engine.models import Base, JSONDocument, ProcessVersion
from engine.state import StateCodec
from engine.validation import Bundle, ValidatedBundle, validate_bundle
from engine.xmlsafe import MAX_BYTES

# A bundle is a handful of diagrams and forms; this bounds what one draft may hold.
MAX_FILES = 100


class ProcessDraft(Base):
    """One process owner's unfinished change to a process: every file of it, as text."""

    __tablename__ = "process_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(255))
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    # The file being edited in the modeller (a .bpmn name), so the page reopens on it.
    main_file: Mapped[str | None] = mapped_column(String(255))
    files: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


def bundle_of(files: Mapping[str, str | bytes]) -> Bundle:
    """The validator's bundle for a version's or a draft's files (names as in ``files``)."""
    bundle = Bundle()
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        if name.startswith(FORMS_PREFIX) and name.endswith(".json"):
            bundle.forms[name[len(FORMS_PREFIX) : -len(".json")]] = data
        elif name.lower().endswith(".bpmn"):
            bundle.bpmn[name] = data
        elif name.lower().endswith(".dmn"):
            bundle.dmn[name] = data
        else:
            raise KinflowError(
                f"'{name}' is not a .bpmn or .dmn file or a form (forms/<key>.json)."
            )
    return bundle


def validate_files(files: Mapping[str, str | bytes]) -> ValidatedBundle:
    """Validate files as ``kinflow validate`` does; never raises: problems say what is wrong."""
    try:
        bundle = bundle_of(_checked(files))
    except KinflowError as exc:
        return ValidatedBundle(
            Bundle(), [Problem("(files)", None, None, str(exc))], None, [], [], {}, {}
        )
    return validate_bundle(bundle)


def problems_json(validated: ValidatedBundle) -> list[dict[str, Any]]:
    """Each problem as the API and the modeller show it: file, element, line, message."""
    return [
        {"file": p.file, "element": p.element, "line": p.line, "message": p.message}
        for p in validated.problems
    ]


def deploy_files(
    session: Session, files: Mapping[str, str | bytes], actor: str, codec: StateCodec
) -> list[Deployed]:
    """Validate and deploy; raises ``ValidationFailed`` listing every problem."""
    return deploy_bundle(session, validate_files(files), actor, codec)


# -- drafts ---------------------------------------------------------------------------------


def start_draft(
    session: Session,
    owner: str,
    title: str,
    files: Mapping[str, str],
    base_version_id: int | None = None,
    main_file: str | None = None,
) -> ProcessDraft:
    """A new draft (from a version's files, an imported file, or a blank diagram)."""
    begin_write(session)
    now = clock.now()
    draft = ProcessDraft(
        owner=owner,
        title=_title(title),
        base_version_id=base_version_id,
        main_file=main_file,
        files=dict(_checked(files)),
        revision=1,
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    session.commit()
    return draft


def draft_from_version(session: Session, owner: str, version: ProcessVersion) -> ProcessDraft:
    """A draft holding a copy of a deployed version's files, opened on its entry diagram."""
    main = _entry_file(version)
    title = f"{version.name} (from version {version.version})"
    return start_draft(session, owner, title, version.files, version.id, main)


def save_draft(
    session: Session,
    owner: str,
    draft_id: int,
    seen_revision: int,
    files: Mapping[str, str] | None = None,
    title: str | None = None,
    main_file: str | None = None,
) -> ProcessDraft:
    """Save changes made since ``seen_revision``; another save in between is refused."""
    begin_write(session)
    draft = get_draft(session, owner, draft_id)
    values: dict[str, Any] = {"revision": seen_revision + 1, "updated_at": clock.now()}
    if files is not None:
        values["files"] = dict(_checked(files))
    if title is not None:
        values["title"] = _title(title)
    if main_file is not None:
        values["main_file"] = main_file
    written = session.execute(
        update(ProcessDraft)
        .where(ProcessDraft.id == draft.id, ProcessDraft.revision == seen_revision)
        .values(values)
    )
    if written.rowcount != 1:
        session.rollback()
        raise ConcurrentChange(
            "This draft was saved from another window since you opened it; reload it to see "
            "that version (your changes here are not saved)."
        )
    session.commit()
    return get_draft(session, owner, draft_id)


def get_draft(session: Session, owner: str, draft_id: int) -> ProcessDraft:
    """The owner's draft; anyone else's, like one that never existed, is not found."""
    draft = session.get(ProcessDraft, draft_id, populate_existing=True)
    if draft is None or draft.owner != owner:
        raise NotFound(f"There is no draft {draft_id} of yours.")
    return draft


def drafts_of(session: Session, owner: str) -> list[ProcessDraft]:
    query = select(ProcessDraft).where(ProcessDraft.owner == owner)
    return list(session.scalars(query.order_by(ProcessDraft.updated_at.desc())))


def delete_draft(session: Session, owner: str, draft_id: int) -> None:
    begin_write(session)
    session.delete(get_draft(session, owner, draft_id))
    session.commit()


def _checked(files: Mapping[str, str | bytes]) -> Mapping[str, str | bytes]:
    if len(files) > MAX_FILES:
        raise KinflowError(f"A process can have at most {MAX_FILES} files; this has {len(files)}.")
    for name, content in files.items():
        if not isinstance(name, str) or not name or len(name) > 255:
            raise KinflowError("Every file needs a name of at most 255 characters.")
        if len(content) > MAX_BYTES:
            raise KinflowError(f"'{name}' is larger than {MAX_BYTES // 1_000_000} MB.")
    return files


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title or len(title) > 255:
        raise KinflowError("Give the draft a title of at most 255 characters.")
    return title


def _entry_file(version: ProcessVersion) -> str | None:
    """The BPMN file that defines the version's own process (not its called processes)."""
    marker = f'id="{version.process_id}"'
    return next(
        (n for n, text in version.files.items() if n.endswith(".bpmn") and marker in text), None
    )
