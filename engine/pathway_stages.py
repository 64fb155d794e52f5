"""The pathway's stages and referral types, read from the deployed diagram and form.

The stages are the FGC pathway's call activities in the order its sequence flows run them
(embedded sub-processes opened in place); the board shows them as columns. Each deployed
version is read once: versions are immutable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import ProcessVersion
from engine.xmlsafe import XmlRejected, parse_xml

PATHWAY = "fgc_pathway"
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@dataclass(frozen=True)
class Stage:
    """A stage of the pathway: the call activity's name and the process it calls."""

    name: str
    process_id: str


@dataclass(frozen=True)
class _Version:
    """What the board reads from one deployed pathway: its stages and referral types."""

    stages: tuple[Stage, ...]
    referral_types: tuple[tuple[str, str], ...]


# By content hash: versions are immutable, and ids repeat across databases (tests, demos).
_read: dict[str, _Version] = {}


def _versions(session: Session) -> list[_Version]:
    """The deployed pathway versions, latest first; each one's files are parsed only once."""
    rows = session.execute(
        select(ProcessVersion.id, ProcessVersion.content_hash)
        .where(ProcessVersion.process_id == PATHWAY)
        .order_by(ProcessVersion.version.desc())
    ).all()
    for version_id, content in rows:
        if content not in _read:
            query = select(ProcessVersion.files).where(ProcessVersion.id == version_id)
            files = session.scalar(query) or {}
            _read[content] = _Version(
                tuple(_stages_in_files(files)), tuple(_referral_types_in(files))
            )
    return [_read[content] for _, content in rows]


def pathway_stages(session: Session) -> list[Stage]:
    """The pathway's stages in running order: the latest version's, then any that only older
    versions (still running cases) have."""
    stages: dict[str, Stage] = {}
    for version in _versions(session):
        for stage in version.stages:
            stages.setdefault(stage.name, stage)
    return list(stages.values())


def referral_types(session: Session) -> list[tuple[str, str]]:
    """(value, label) of the latest referral form's ``referral_type`` enum and x-labels."""
    versions = _versions(session)
    return list(versions[0].referral_types) if versions else []


def _referral_types_in(files: Mapping[str, str]) -> list[tuple[str, str]]:
    try:
        form = json.loads(files.get("forms/referral.json") or "{}")
        prop = form["properties"]["referral_type"]
        labels = prop.get("x-labels") or {}
        return [(str(v), str(labels.get(v, v))) for v in prop["enum"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _stages_in_files(files: Mapping[str, str]) -> Iterator[Stage]:
    for name, text in files.items():
        if not name.endswith(".bpmn") or f'id="{PATHWAY}"' not in text:
            continue
        try:
            tree = parse_xml(text.encode(), name)
        except XmlRejected:
            continue
        for process in tree.getroot().iter(f"{_BPMN}process"):
            if process.get("id") == PATHWAY:
                yield from _stages_of(process)
                return


def _stages_of(container: etree._Element) -> Iterator[Stage]:
    """Call activities in running order: a depth-first walk along the sequence flows from the
    start events, listed in reverse post-order (a topological order that ignores loops back),
    with embedded sub-processes opened where they stand."""
    children = {el.get("id"): el for el in container if el.get("id")}
    following: dict[str, list[str]] = {}
    for el in container:
        if el.tag == f"{_BPMN}sequenceFlow":
            following.setdefault(el.get("sourceRef", ""), []).append(el.get("targetRef", ""))
        elif el.tag == f"{_BPMN}boundaryEvent":
            following.setdefault(el.get("attachedToRef", ""), []).append(el.get("id", ""))
    starts = [el.get("id", "") for el in container if el.tag == f"{_BPMN}startEvent"]
    finished: list[str] = []
    seen: set[str] = set()
    for start in starts:
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            node, done = stack.pop()
            if done:
                finished.append(node)
                continue
            if node in seen or node not in children:
                continue
            seen.add(node)
            stack.append((node, True))
            # Pushed in document order, so the first flow is explored last and listed first.
            stack.extend((nxt, False) for nxt in following.get(node, []) if nxt not in seen)
    for node in reversed(finished):
        el = children[node]
        if el.tag == f"{_BPMN}callActivity" and el.get("calledElement"):
            yield Stage(el.get("name") or node, el.get("calledElement", ""))
        elif el.tag in (f"{_BPMN}subProcess", f"{_BPMN}transaction"):
            yield from _stages_of(el)
