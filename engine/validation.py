"""Deploy-time validation of untrusted BPMN, DMN and form documents.

SpiffWorkflow accepts a lot that would fail (or worse, run) later: the XSD check runs only
with a validator, structural errors surface only from ``get_spec()`` without line numbers, a
file with nothing executable yields nothing, a process without an id is accepted, and
expressions are compiled only when they run. So every document passes four stages, and every
reason is reported at once, located by file, element and line:

1. safe XML parsing, once per file, and 2. the XML schema (both in ``engine.xmlsafe``);
3. SpiffWorkflow's ``CamundaParser`` on our parsed trees, never on the raw bytes
   (``engine.spiff_errors``);
4. Kinflow's rules: executable processes, roles, forms, sandboxed expressions, timers and
   references between files (``engine.bpmn_rules``, ``engine.dmn_rules``, both reading
   expressions through ``engine.expressions``).

This module loads the files, runs the stages in that order and merges what they found. Kinflow's
rules run before SpiffWorkflow's parser so that a DMN file they refuse is kept from it.
Nothing raises out of ``validate_bundle``: each file is checked inside its own ``except``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

from engine.bpmn_rules import RuleContext, check_bpmn
from engine.camunda_props import UserTaskProps
from engine.dmn_rules import check_dmn
from engine.documents import Document, DocumentIndex
from engine.errors import KinflowError, Problem
from engine.forms import parse_form
from engine.roles import ROLES
from engine.spiff_errors import spiff_stage
from engine.xmlsafe import MAX_BYTES, XmlRejected, parse_xml, schema_problems

SUFFIXES = {".bpmn": "bpmn", ".dmn": "dmn", ".json": "forms"}


@dataclass
class Bundle:
    """The files of one deploy: BPMN and DMN by file name, forms by form key."""

    bpmn: dict[str, bytes] = field(default_factory=dict)
    dmn: dict[str, bytes] = field(default_factory=dict)
    forms: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ValidatedBundle:
    """The outcome of validation; deploy may use ``parser`` only when ``ok``."""

    bundle: Bundle
    problems: list[Problem]
    parser: CamundaParser | None
    executable_process_ids: list[str]
    entry_process_ids: list[str]
    user_tasks: dict[str, dict[str, UserTaskProps]]
    forms: dict[str, dict]

    @property
    def ok(self) -> bool:
        return not self.problems


# --- loading -------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    """Read a file, but never more than one byte past the cap: the parser refuses it anyway."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise KinflowError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _add_file(bundle: Bundle, path: Path, kind: str) -> None:
    target = getattr(bundle, kind)
    key = path.stem if kind == "forms" else path.name
    if key in target:
        raise KinflowError(f"Two files named {path.name} were given; rename one of them.")
    target[key] = _read(path)


def load_bundle(paths: Iterable[Path], forms_dir: Path | None = None) -> Bundle:
    """Collect files: a folder gives its *.bpmn, *.dmn and *.json; a file counts by suffix.

    Forms normally live in ``forms/`` beside ``workflows/``, so when none were named they are
    taken from ``forms_dir``, else from that sibling folder, else from ``./forms``.
    """
    bundle = Bundle()
    given = [Path(p) for p in paths]
    for path in given:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and child.suffix.lower() in SUFFIXES:
                    _add_file(bundle, child, SUFFIXES[child.suffix.lower()])
        elif path.is_file():
            kind = SUFFIXES.get(path.suffix.lower())
            if kind is None:
                raise KinflowError(f"{path} is not a .bpmn, .dmn or .json file.")
            _add_file(bundle, path, kind)
        else:
            raise KinflowError(f"Cannot read {path}: there is no such file or folder.")
    if not bundle.forms:
        if forms_dir is not None and not Path(forms_dir).is_dir():
            raise KinflowError(f"Cannot read forms from {forms_dir}: there is no such folder.")
        folders = [Path(forms_dir)] if forms_dir is not None else []
        for path in given:
            folder = (path if path.is_dir() else path.parent).resolve()
            folders += [folder.parent / "forms", folder / "forms"]
        folders.append(Path.cwd() / "forms")
        folder = next((f for f in folders if f.is_dir()), None)
        for child in sorted(folder.glob("*.json")) if folder else []:
            _add_file(bundle, child, "forms")
    return bundle


def validate_paths(paths: Iterable[Path], forms_dir: Path | None = None) -> ValidatedBundle:
    """``load_bundle`` then ``validate_bundle``; a file that cannot be read becomes a problem."""
    paths = list(paths)
    try:
        bundle = load_bundle(paths, forms_dir)
    except KinflowError as exc:
        where = ", ".join(Path(p).name for p in paths) or "(no files)"
        problem = Problem(where, None, None, str(exc))
        return ValidatedBundle(Bundle(), [problem], None, [], [], {}, {})
    return validate_bundle(bundle)


# --- running the stages --------------------------------------------------------------------


def _parse_documents(files: dict[str, bytes], kind: str, problems: list[Problem]) -> list[Document]:
    """Stages 1 and 2 for every file of one kind; the documents that parsed are returned."""
    docs = []
    for name, data in files.items():
        try:
            doc = Document(name, parse_xml(data, name))
            found = schema_problems(doc.tree, name, kind)
        except XmlRejected as exc:
            problems.append(exc.problem)
            continue
        except Exception as exc:  # a crash in one file must not hide the others' problems
            problems.append(Problem(name, None, None, f"could not be read ({exc!r})"))
            continue
        doc.usable = not found
        problems.extend(found)
        docs.append(doc)
    return docs


def _check_forms(files: dict[str, bytes], problems: list[Problem]) -> dict[str, dict]:
    valid = {}
    for key, data in files.items():
        try:
            schema, reasons = parse_form(data)
        except Exception as exc:  # e.g. RecursionError from absurdly nested JSON
            schema, reasons = None, [f"could not be read ({type(exc).__name__})"]
        if schema is not None:
            valid[key] = schema
        problems.extend(Problem(f"forms/{key}.json", None, None, r) for r in reasons)
    return valid


def _crashed(doc: Document, exc: Exception) -> Problem:
    return Problem(doc.name, None, None, f"could not be checked ({exc!r})")


def _kinflow_stage(
    bpmn: list[Document], dmn: list[Document], index: DocumentIndex, context: RuleContext
):
    """Stage 4 for every file, each on its own so one crash cannot hide the rest."""
    problems: list[Problem] = []
    user_tasks: dict[str, dict[str, UserTaskProps]] = {}
    for doc in bpmn:
        try:
            found, tasks = check_bpmn(doc, index, context)
        except Exception as exc:
            found, tasks = [_crashed(doc, exc)], {}
        problems.extend(found)
        for props in tasks.values():
            user_tasks.setdefault(props.process_id, {})[props.element_id] = props
    for doc in dmn:
        try:
            problems.extend(check_dmn(doc, index))
        except Exception as exc:
            problems.append(_crashed(doc, exc))
    return problems, user_tasks


# SpiffWorkflow errors that Kinflow's reference rules also find, in clearer words.
_COVERED = re.compile(
    r"decision '.*' not found|has no decision|process '.*' is not executable|calls no process"
    r"|has no script"
)


def _merge(early: list[Problem], structural: list[Problem], kinflow: list[Problem]):
    """Drop SpiffWorkflow's version of a problem Kinflow's rules explain on the same element."""
    explained = {(p.file, p.element) for p in kinflow if p.element}
    kept = [
        p
        for p in structural
        if (p.file, p.element) not in explained or not _COVERED.match(p.message)
    ]
    unique = list(dict.fromkeys([*early, *kept, *kinflow]))
    order = {name: i for i, name in enumerate(dict.fromkeys(p.file for p in unique))}
    return sorted(unique, key=lambda p: (order[p.file], p.line or 0))


def validate_bundle(bundle: Bundle, roles: Iterable[str] = ROLES) -> ValidatedBundle:
    """Check every file of a bundle; never raises: every reason lands in ``problems``."""
    early: list[Problem] = []
    bpmn = _parse_documents(bundle.bpmn, "bpmn", early)
    dmn = _parse_documents(bundle.dmn, "dmn", early)
    forms = _check_forms(bundle.forms, early)
    index = DocumentIndex.build(bpmn, dmn)
    context = RuleContext(tuple(roles), frozenset(bundle.forms), frozenset(forms))
    kinflow, user_tasks = _kinflow_stage(bpmn, dmn, index, context)
    for doc in dmn:  # SpiffWorkflow's errors on a refused DMN file would only repeat ours
        doc.usable = doc.usable and not any(p.file == doc.name for p in kinflow)
    try:
        parser, structural = spiff_stage(bpmn, dmn, index)
    except Exception as exc:  # belt and braces: the stage already catches per file
        reason = f"could not be parsed: {exc!r}"
        parser, structural = None, [Problem("(bundle)", None, None, reason)]
    called = index.called_processes()
    return ValidatedBundle(
        bundle=bundle,
        problems=_merge(early, structural, kinflow),
        parser=parser,
        executable_process_ids=list(index.executable),
        entry_process_ids=[pid for pid in index.executable if pid not in called],
        user_tasks=user_tasks,
        forms=forms,
    )
