"""Moving running cases to a newer version: which may move, why the others may not, and that
each case moves (or stays intact) on its own.

The small casework process in tests/fixtures/migration has an intake task, a home-visit call
activity (with a ten-day timer on its last task) and a closing task; version 2 adds a review
after the visit is recorded. The shipped pathway shows the same on call activities within an
embedded sub-process.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.authoring import deploy_files
from engine.chronology import case_events
from engine.errors import CaseNotActive
from engine.migration import keep_on_version, migrate_cases, preview
from engine.models import CaseEvent, HumanTask, ProcessVersion
from engine.queries import get_case, list_tasks
from tests import test_pathway_walkthrough as walk
from tests.conftest import FIXTURES
from tests.people import COORDINATOR, MANAGER, OWNER

MIGRATION = FIXTURES / "migration"
INTAKE = {"family_name": "Okafor"}
VISIT = {"visit_on": "2026-03-04"}


def folder_files(folder: Path) -> dict[str, str]:
    files = {p.name: p.read_text() for p in folder.glob("*.bpmn")}
    return files | {f"forms/{p.name}": p.read_text() for p in (folder / "forms").glob("*.json")}


def deploy(session, runtime, files: dict[str, str]) -> ProcessVersion:
    [deployed] = deploy_files(session, files, OWNER.username, runtime.codec)
    return deployed.version


@pytest.fixture
def v1(session, runtime, frozen_clock):
    return deploy(session, runtime, folder_files(MIGRATION / "v1"))


def start(session, runtime, version, name="Okafor"):
    return runtime.start_case(session, version, {}, COORDINATOR, f"{name} family")


def do(session, runtime, case, element, data, actor=COORDINATOR):
    [task] = [t for t in list_tasks(session, case_id=case.id) if t.element_id == element]
    runtime.complete_task(session, task.id, data, actor)


def at_record_visit(session, runtime, version, name="Okafor"):
    case = start(session, runtime, version, name)
    do(session, runtime, case, "intake", INTAKE)
    do(session, runtime, case, "plan_visit", VISIT)
    return case


def open_elements(session, case) -> list[str]:
    return sorted(t.element_id for t in list_tasks(session, case_id=case.id))


def snapshot(session, case_id: int) -> tuple:
    """Everything a move would change: the case row, its task rows, its chronology."""
    case = get_case(session, case_id)
    tasks = session.execute(
        select(HumanTask.id, HumanTask.state, HumanTask.title, HumanTask.candidate_groups)
        .where(HumanTask.case_id == case_id)
        .order_by(HumanTask.id)
    ).all()
    events = session.scalar(select(func.count()).where(CaseEvent.case_id == case_id))
    row = (case.version_id, case.revision, case.state, case.stage, case.next_wake_at)
    return row, [tuple(t) for t in tasks], events


def test_a_case_waiting_at_a_task_that_still_exists_moves_and_takes_the_new_step(
    session, runtime, v1, frozen_clock
):
    case = at_record_visit(session, runtime, v1)
    [waiting] = list_tasks(session, case_id=case.id)
    revision, timer_due = (
        get_case(session, case.id).revision,
        get_case(session, case.id).next_wake_at,
    )
    frozen_clock.advance(timedelta(days=3))
    v2 = deploy(session, runtime, folder_files(MIGRATION / "v2"))

    [check] = preview(session, runtime, v2)
    assert (check.case_id, check.from_version, check.can_move, check.reason) == (
        case.id,
        1,
        True,
        None,
    )
    [result] = migrate_cases(session, runtime, v2, [case.id], OWNER.username)
    assert (result.moved, result.reason) == (True, None)

    moved = get_case(session, case.id)
    assert moved.version_id == v2.id
    assert moved.revision == revision + 1
    # The same task row is still waiting, and the ten-day timer kept its moment.
    assert [t.id for t in list_tasks(session, case_id=case.id)] == [waiting.id]
    assert moved.next_wake_at == timer_due
    assert case_events(session, case.id)[-1].summary == (
        "Moved from version 1 to version 2 of Casework by pat.owner."
    )

    do(session, runtime, moved, "record_visit", VISIT)
    assert open_elements(session, moved) == ["review_visit"]  # only version 2 has it


def test_a_case_whose_completed_part_changed_is_refused_and_left_untouched(session, runtime, v1):
    past_intake = at_record_visit(session, runtime, v1)
    at_intake = start(session, runtime, v1, "Brennan")
    files = folder_files(MIGRATION / "v1")
    files["forms/intake.json"] = files["forms/intake.json"].replace(
        '"properties": {', '"properties": {"school": {"type": "string", "title": "School"}, '
    )
    v2 = deploy(session, runtime, files)
    before = snapshot(session, past_intake.id)

    reason = "'Take the referral in' (intake) was changed after this case had completed it"
    checks = {c.case_id: (c.can_move, c.reason) for c in preview(session, runtime, v2)}
    assert checks == {past_intake.id: (False, reason), at_intake.id: (True, None)}

    results = migrate_cases(session, runtime, v2, None, OWNER.username)
    assert [(r.case_id, r.moved, r.reason) for r in results] == [
        (past_intake.id, False, reason),
        (at_intake.id, True, None),
    ]
    assert snapshot(session, past_intake.id) == before
    # Left where it was, the case still runs on version 1.
    do(session, runtime, get_case(session, past_intake.id), "record_visit", VISIT)
    assert open_elements(session, past_intake) == ["close_case"]


def test_a_case_waiting_at_a_task_the_new_version_removes_stays(session, runtime, v1):
    case = at_record_visit(session, runtime, v1)
    files = folder_files(MIGRATION / "v1")
    files["home_visit.bpmn"] = (MIGRATION / "variants/home_visit_without_record.bpmn").read_text()
    v2 = deploy(session, runtime, files)
    before = snapshot(session, case.id)

    [result] = migrate_cases(session, runtime, v2, [case.id], OWNER.username)
    assert not result.moved
    assert result.reason.split("; ") == [
        "the case is waiting at 'Record the visit' (record_visit), which the new version removes",
        "the case is waiting at 'Ten days pass' (visit_late), which the new version removes",
    ]
    assert snapshot(session, case.id) == before


def test_a_waiting_task_takes_the_new_versions_title_and_roles(session, runtime, v1):
    case = start(session, runtime, v1)
    do(session, runtime, case, "intake", INTAKE)
    [task] = list_tasks(session, case_id=case.id)
    assert list_tasks(session, roles=["lead_practitioner"]) == []
    files = folder_files(MIGRATION / "v1")
    files["home_visit.bpmn"] = (MIGRATION / "variants/home_visit_shared_planning.bpmn").read_text()
    v2 = deploy(session, runtime, files)

    [result] = migrate_cases(session, runtime, v2, [case.id], OWNER.username)
    assert result.moved
    [moved] = list_tasks(session, roles=["lead_practitioner"])
    assert moved.id == task.id
    assert (moved.title, moved.candidate_groups) == (
        "Plan the home visit",
        ["coordinator", "lead_practitioner"],
    )


def test_a_batch_with_a_failure_in_the_middle_moves_the_others(session, runtime, v1, monkeypatch):
    first, middle, last = (at_record_visit(session, runtime, v1, n) for n in ("A", "B", "C"))
    v2 = deploy(session, runtime, folder_files(MIGRATION / "v2"))
    before = snapshot(session, middle.id)
    save = runtime.store.save

    def save_then_fail_for_the_middle(session, case, *args, **kwargs):
        save(session, case, *args, **kwargs)  # the case row is written, then the disk fails
        if case.id == middle.id:
            raise OSError("No space left on device")

    monkeypatch.setattr(runtime.store, "save", save_then_fail_for_the_middle)
    ids = [first.id, middle.id, last.id]
    results = migrate_cases(session, runtime, v2, ids, OWNER.username)

    assert [(r.case_id, r.moved) for r in results] == [
        (first.id, True),
        (middle.id, False),
        (last.id, True),
    ]
    assert "No space left on device" in results[1].reason
    assert snapshot(session, middle.id) == before
    assert get_case(session, first.id).version_id == get_case(session, last.id).version_id == v2.id
    monkeypatch.undo()
    do(session, runtime, get_case(session, middle.id), "record_visit", VISIT)
    assert open_elements(session, middle) == ["close_case"]  # still on version 1, intact


def test_cases_that_are_not_candidates_are_reported_not_moved(session, runtime, v1):
    v2 = deploy(session, runtime, folder_files(MIGRATION / "v2"))
    on_v2 = start(session, runtime, v2)
    finished = start(session, runtime, v1)
    runtime.cancel_case(session, finished.id, "Family moved away", MANAGER)

    results = migrate_cases(session, runtime, v2, [on_v2.id, finished.id, 999], OWNER.username)
    assert [(r.moved, r.reason) for r in results] == [
        (False, f"case {on_v2.id} is already on version 2"),
        (False, f"case {finished.id} is cancelled; only running cases are moved"),
        (False, "case 999 does not exist"),
    ]


def test_a_dry_run_writes_nothing(session, runtime, v1):
    cases = [at_record_visit(session, runtime, v1, n) for n in ("A", "B")]
    v2 = deploy(session, runtime, folder_files(MIGRATION / "v2"))
    before = [snapshot(session, c.id) for c in cases]

    results = migrate_cases(session, runtime, v2, None, OWNER.username, dry_run=True)

    assert [(r.case_id, r.moved, r.reason) for r in results] == [(c.id, True, None) for c in cases]
    assert [snapshot(session, c.id) for c in cases] == before


def test_a_case_kept_on_its_version_is_skipped_until_released(session, runtime, v1):
    kept = at_record_visit(session, runtime, v1)
    v2 = deploy(session, runtime, folder_files(MIGRATION / "v2"))

    keep_on_version(session, kept.id, OWNER.username)
    assert case_events(session, kept.id)[-1].summary == (
        "Left on version 1 of Casework for good by pat.owner."
    )
    reason = "left on version 1 by pat.owner"
    [check] = preview(session, runtime, v2)
    assert (check.can_move, check.reason) == (False, reason)
    [result] = migrate_cases(session, runtime, v2, None, OWNER.username)
    assert (result.moved, result.reason) == (False, reason)
    assert get_case(session, kept.id).version_id == v1.id

    keep_on_version(session, kept.id, OWNER.username, keep=False)
    [result] = migrate_cases(session, runtime, v2, None, OWNER.username)
    assert result.moved


def test_only_a_running_case_can_be_kept_on_its_version(session, runtime, v1):
    case = start(session, runtime, v1)
    runtime.cancel_case(session, case.id, "Referred elsewhere", MANAGER)
    with pytest.raises(CaseNotActive):
        keep_on_version(session, case.id, OWNER.username)


# -- the shipped pathway --------------------------------------------------------------------


def pathway_v2(session, runtime, v1: ProcessVersion) -> ProcessVersion:
    """The pathway with one more field on the baseline meeting's form and a check-in with the
    family between the assessment stage and network preparation."""
    files = dict(v1.files)
    flow = (
        '<bpmn:sequenceFlow id="baseline_and_assessment_to_network_preparation" '
        'sourceRef="baseline_and_assessment" targetRef="network_preparation" />'
    )
    pathway = files["fgc_pathway.bpmn"]
    assert flow in pathway
    files["fgc_pathway.bpmn"] = pathway.replace(
        flow,
        flow.replace('targetRef="network_preparation"', 'targetRef="check_in"')
        + '<bpmn:userTask id="check_in" name="Check in with the family" '
        'camunda:formKey="check_in" camunda:candidateGroups="coordinator" />'
        '<bpmn:sequenceFlow id="check_in_to_network_preparation" sourceRef="check_in" '
        'targetRef="network_preparation" />',
    ).replace(
        "<bpmn:incoming>baseline_and_assessment_to_network_preparation</bpmn:incoming>",
        "<bpmn:incoming>check_in_to_network_preparation</bpmn:incoming>",
    )
    files["forms/check_in.json"] = '{"type": "object", "properties": {}}'
    files["forms/baseline_meeting.json"] = files["forms/baseline_meeting.json"].replace(
        '"properties": {', '"properties": {"venue": {"type": "string", "title": "Venue"}, ', 1
    )
    deployed = deploy_files(session, files, OWNER.username, runtime.codec)
    [version] = [d.version for d in deployed if d.version.process_id == "fgc_pathway"]
    return version


def test_pathway_cases_move_unless_a_step_they_did_changed(session, runtime, frozen_clock):
    v1 = walk.deploy_pathway(session, runtime)
    waiting = walk.start(runtime, session, v1)
    walk.through_screening(runtime, session, waiting)
    done = walk.start(runtime, session, v1)
    walk.through_screening(runtime, session, done)
    walk.do(runtime, session, done, "hold_baseline_meeting", walk.BASELINE, COORDINATOR)
    v2 = pathway_v2(session, runtime, v1)

    results = migrate_cases(session, runtime, v2, None, OWNER.username)
    assert [(r.case_id, r.moved, r.reason) for r in results] == [
        (waiting.id, True, None),
        (
            done.id,
            False,
            "'Hold the baseline meeting' (hold_baseline_meeting) was changed after this case "
            "had completed it",
        ),
    ]
    # The moved case fills in the new form, and after its assessment the new step comes.
    walk.do(
        runtime,
        session,
        waiting,
        "hold_baseline_meeting",
        walk.BASELINE | {"venue": "Hub"},
        COORDINATOR,
    )
    walk.do(runtime, session, waiting, "whole_family_assessment", walk.ASSESSMENT, walk.LEAD)
    assert sorted(walk.open_tasks(session, waiting)) == ["check_in"]
    # The other carries on as version 1 would.
    walk.do(runtime, session, done, "whole_family_assessment", walk.ASSESSMENT, walk.LEAD)
    assert sorted(walk.open_tasks(session, done)) == ["prepare_network"]
