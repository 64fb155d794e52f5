"""Process owners' files: validating and deploying a version's file mapping, and drafts kept on
the server with a revision so a second window cannot overwrite the first.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.authoring import (
    MAX_FILES,
    delete_draft,
    deploy_files,
    draft_from_version,
    drafts_of,
    get_draft,
    problems_json,
    save_draft,
    start_draft,
    validate_files,
)
from engine.errors import ConcurrentChange, KinflowError, NotFound, ValidationFailed
from engine.models import ProcessVersion
from engine.xmlsafe import MAX_BYTES
from tests.conftest import FIXTURES
from tests.people import COORDINATOR, OWNER

CASEWORK = FIXTURES / "migration" / "v1"
OTHER_OWNER = "quinn.owner"


def casework_files() -> dict[str, str]:
    files = {p.name: p.read_text() for p in CASEWORK.glob("*.bpmn")}
    return files | {f"forms/{p.name}": p.read_text() for p in (CASEWORK / "forms").glob("*.json")}


# -- validating -----------------------------------------------------------------------------


def test_a_complete_process_validates():
    validated = validate_files(casework_files())
    assert validated.ok, problems_json(validated)
    assert validated.entry_process_ids == ["casework"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"notes.txt": "hello"}, "'notes.txt' is not a .bpmn or .dmn file or a form"),
        ({"forms/referral.yaml": "{}"}, "is not a .bpmn or .dmn file or a form"),
        ({"": "<x/>"}, "Every file needs a name"),
        ({"a" * 252 + ".bpmn": "<x/>"}, "Every file needs a name of at most 255 characters"),
        ({"big.bpmn": " " * (MAX_BYTES + 1)}, "'big.bpmn' is larger than 10 MB"),
        (
            {f"p{i}.bpmn": "<x/>" for i in range(MAX_FILES + 1)},
            f"at most {MAX_FILES} files; this has {MAX_FILES + 1}",
        ),
    ],
    ids=["not-bpmn", "form-not-json", "no-name", "long-name", "too-large", "too-many"],
)
def test_files_that_cannot_be_part_of_a_process_are_problems_not_errors(files, message):
    validated = validate_files(files)
    assert not validated.ok
    [problem] = problems_json(validated)
    assert problem["file"] == "(files)"
    assert message in problem["message"]


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\xff\xfe junk", b"<definitions>", "<?xml version='1.0'?><!DOCTYPE x><x/>"],
    ids=["empty", "binary", "unclosed", "doctype"],
)
def test_a_malformed_diagram_is_a_problem_naming_its_file(content):
    problems = problems_json(validate_files({"broken.bpmn": content}))
    assert problems
    assert all(p["message"].strip() for p in problems)
    assert "broken.bpmn" in {p["file"] for p in problems}


def test_a_missing_form_is_named_at_the_task_that_uses_it():
    files = casework_files()
    del files["forms/closure.json"]
    problems = problems_json(validate_files(files))
    assert any("close_case" in (p["element"] or "") and p["line"] for p in problems), problems


# -- deploying ------------------------------------------------------------------------------


def test_deploying_invalid_files_raises_with_every_problem_and_stores_nothing(session, runtime):
    files = casework_files()
    del files["forms/closure.json"]
    del files["forms/visit.json"]
    with pytest.raises(ValidationFailed) as refused:
        deploy_files(session, files, OWNER.username, runtime.codec)
    assert {p.element for p in refused.value.problems} >= {
        "userTask 'close_case'",
        "userTask 'plan_visit'",
    }
    assert session.scalar(select(func.count()).select_from(ProcessVersion)) == 0


def test_the_same_files_deploy_once_and_a_changed_form_makes_a_new_version(session, runtime):
    [first] = deploy_files(session, casework_files(), OWNER.username, runtime.codec)
    [again] = deploy_files(session, casework_files(), OWNER.username, runtime.codec)
    assert (first.created, again.created) == (True, False)
    assert again.version.id == first.version.id

    files = casework_files()
    files["forms/closure.json"] = files["forms/closure.json"].replace("Closed on", "Date closed")
    [changed] = deploy_files(session, files, OWNER.username, runtime.codec)
    assert changed.created
    assert changed.version.version == 2
    assert "Date closed" in changed.version.files["forms/closure.json"]


# -- drafts ---------------------------------------------------------------------------------


def test_a_draft_from_a_version_opens_on_its_entry_diagram(session, runtime):
    [deployed] = deploy_files(session, casework_files(), OWNER.username, runtime.codec)
    draft = draft_from_version(session, OWNER.username, deployed.version)
    assert draft.title == "Casework (from version 1)"
    assert draft.main_file == "casework.bpmn"
    assert draft.base_version_id == deployed.version.id
    assert draft.files == deployed.version.files
    assert [d.id for d in drafts_of(session, OWNER.username)] == [draft.id]


def test_a_save_from_a_stale_window_is_refused_and_changes_nothing(session):
    draft = start_draft(
        session, OWNER.username, "Casework", casework_files(), None, "casework.bpmn"
    )
    assert draft.revision == 1
    saved = save_draft(session, OWNER.username, draft.id, 1, title="Casework with review")
    assert (saved.revision, saved.title) == (2, "Casework with review")

    with pytest.raises(ConcurrentChange, match="saved from another window"):
        save_draft(session, OWNER.username, draft.id, 1, files={"casework.bpmn": "<x/>"})
    kept = get_draft(session, OWNER.username, draft.id)
    assert kept.revision == 2
    assert kept.files == casework_files()


def test_a_draft_keeps_only_files_a_process_can_have(session):
    draft = start_draft(session, OWNER.username, "Casework", casework_files())
    with pytest.raises(KinflowError, match="larger than 10 MB"):
        save_draft(session, OWNER.username, draft.id, 1, files={"big.bpmn": " " * (MAX_BYTES + 1)})
    with pytest.raises(KinflowError, match="at most 255 characters"):
        save_draft(session, OWNER.username, draft.id, 1, title="   ")
    assert get_draft(session, OWNER.username, draft.id).revision == 1


def test_another_owners_draft_is_not_found(session):
    draft = start_draft(session, OWNER.username, "Casework", casework_files())
    for attempt in (
        lambda: get_draft(session, OTHER_OWNER, draft.id),
        lambda: save_draft(session, OTHER_OWNER, draft.id, 1, title="Mine now"),
        lambda: delete_draft(session, OTHER_OWNER, draft.id),
    ):
        with pytest.raises(NotFound, match=f"There is no draft {draft.id} of yours"):
            attempt()
    session.rollback()
    assert drafts_of(session, OTHER_OWNER) == []
    assert get_draft(session, OWNER.username, draft.id).title == "Casework"


def test_a_deleted_draft_is_gone(session):
    draft = start_draft(session, COORDINATOR.username, "Scratch", {})
    delete_draft(session, COORDINATOR.username, draft.id)
    with pytest.raises(NotFound):
        get_draft(session, COORDINATOR.username, draft.id)
