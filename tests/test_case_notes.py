"""Case notes (engine/case_notes.py): a line in the chronology and nothing else."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.case_notes import MAX_NOTE_LENGTH, add_note
from engine.chronology import case_events
from engine.errors import CaseNotFound, FormInvalid
from engine.family_record import family_record
from engine.models import CaseEvent, HumanTask
from engine.queries import get_case
from tests.people import COORDINATOR, REFERRER
from tests.test_pathway_walkthrough import BASELINE, deploy_pathway, do, through_screening

START = {"eligibility_rule": "stronger_families"}


@pytest.fixture
def case(session, runtime):
    pathway = deploy_pathway(session, runtime)
    case = runtime.start_case(session, pathway, START, REFERRER)
    through_screening(runtime, session, case)
    return case


def snapshot(session, case_id: int) -> tuple:
    """What a note must not touch: the case row and its tasks."""
    case = get_case(session, case_id)
    tasks = session.execute(
        select(HumanTask.id, HumanTask.state, HumanTask.assignee).where(
            HumanTask.case_id == case_id
        )
    ).all()
    return case.revision, case.state, case.stage, case.updated_at, sorted(tasks)


def test_a_note_is_a_chronology_entry_with_its_author_and_text(session, case, frozen_clock):
    note = add_note(session, case.id, COORDINATOR, "  Jo prefers calls after 3pm.\n")
    assert (note.kind, note.actor, note.at) == (
        "case_note",
        "casey.coordinator",
        frozen_clock.now(),
    )
    assert note.payload == {"text": "Jo prefers calls after 3pm."}
    assert note.summary == "Note from casey.coordinator: Jo prefers calls after 3pm."
    assert case_events(session, case.id)[-1].id == note.id
    assert [n.id for n in family_record(session, case.id).notes] == [note.id]


def test_a_note_never_changes_the_workflow_or_its_tasks(session, runtime, case):
    before = snapshot(session, case.id)
    add_note(session, case.id, COORDINATOR, "Visited the family.")
    session.expire_all()
    assert snapshot(session, case.id) == before
    # The worker who loaded the case before the note still completes the task: no clash.
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    assert get_case(session, case.id).revision == before[0] + 1


def test_notes_list_newest_first_in_the_record(session, case, frozen_clock):
    first = add_note(session, case.id, COORDINATOR, "First.")
    frozen_clock.advance(minutes=5)
    second = add_note(session, case.id, REFERRER, "Second.")
    assert [n.id for n in family_record(session, case.id).notes] == [second.id, first.id]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Write the note: it is empty."),
        ("   \n ", "Write the note: it is empty."),
        ("x" * (MAX_NOTE_LENGTH + 1), f"at most {MAX_NOTE_LENGTH}"),
    ],
)
def test_an_empty_or_overlong_note_is_refused_and_nothing_written(session, case, text, message):
    count = len(case_events(session, case.id))
    with pytest.raises(FormInvalid) as refused:
        add_note(session, case.id, COORDINATOR, text)
    assert message in refused.value.errors["text"]
    assert "x" * 20 not in str(refused.value)  # the note is never quoted back
    assert len(case_events(session, case.id)) == count


def test_a_note_may_be_added_to_a_finished_case(session, runtime, case):
    runtime.cancel_case(session, case.id, "Opened by mistake.", COORDINATOR)
    note = add_note(session, case.id, COORDINATOR, "Family phoned to say thank you.")
    assert session.get(CaseEvent, note.id).case_id == case.id


def test_a_note_for_a_case_that_does_not_exist_is_refused(session, case):
    with pytest.raises(CaseNotFound):
        add_note(session, case.id + 99, COORDINATOR, "Lost.")
