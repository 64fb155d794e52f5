"""The case diagram: which elements of which process ran, wait now, or are overdue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.diagram import DiagramView, _order_entered, case_diagrams
from engine.queries import get_case, list_tasks
from engine.runtime import Runtime
from tests.people import COORDINATOR, MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    BASELINE,
    CIRCULATED,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    deploy_pathway,
    do,
    start,
    through_conference,
    through_screening,
    workflow_of,
)

REQUEST = {"family_name": "Ashdown", "problems": ["school", "health"], "urgency": "routine"}


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def views(session, runtime, case) -> dict[str, DiagramView]:
    return {view.process_id: view for view in case_diagrams(session, runtime, case.id)}


def complete_only_task(runtime, session, case, data, actor):
    [task] = list_tasks(session, case_id=case.id)
    runtime.complete_task(session, task.id, data, actor)


# -- the two-lane process ------------------------------------------------------------------


def test_a_fresh_case_has_run_its_start_event_and_waits_at_its_first_task(
    session, runtime, two_lanes, frozen_clock
):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    [view] = case_diagrams(session, runtime, case.id)
    assert (view.process_id, view.name, view.file_name) == (
        "two_lanes",
        "Two-lane request",
        "two_lanes.bpmn",
    )
    assert view.bpmn_xml == two_lanes.files["two_lanes.bpmn"]
    assert view.completed == ("start",)
    assert view.active == ("submit",)
    assert view.overdue == ()
    assert view.labels == {"start": "Request arrives", "submit": "Submit the request"}


def test_a_completed_task_is_marked_done_and_the_next_one_waits(
    session, runtime, two_lanes, frozen_clock
):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    complete_only_task(runtime, session, case, REQUEST, REFERRER)
    [view] = case_diagrams(session, runtime, case.id)
    assert {"start", "submit"} <= set(view.completed)  # the script may have been pruned
    assert "review" not in view.completed
    assert view.active == ("review",)


def test_a_task_past_its_due_date_is_overdue(session, runtime, two_lanes, frozen_clock):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    complete_only_task(runtime, session, case, REQUEST, REFERRER)
    frozen_clock.advance(days=2)  # due in exactly two days: not yet past it
    assert case_diagrams(session, runtime, case.id)[0].overdue == ()
    frozen_clock.advance(minutes=1)
    [view] = case_diagrams(session, runtime, case.id)
    assert view.overdue == ("review",)
    assert view.active == ("review",)


def test_an_interrupted_task_is_neither_done_nor_waiting(session, runtime, two_lanes, frozen_clock):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    complete_only_task(runtime, session, case, REQUEST, REFERRER)
    frozen_clock.advance(days=5, minutes=1)
    runtime.wake_case(session, case.id)
    [view] = case_diagrams(session, runtime, case.id)
    assert view.active == ("escalate",)
    assert "review_late" in view.completed
    assert "review" not in view.completed


def test_a_finished_case_waits_nowhere_and_shows_its_end(session, runtime, two_lanes, frozen_clock):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    complete_only_task(runtime, session, case, REQUEST, REFERRER)
    complete_only_task(runtime, session, case, {"decision": "accept"}, MANAGER)
    [view] = case_diagrams(session, runtime, case.id)
    assert view.active == ()
    assert {"submit", "review", "decide", "accepted_end"} <= set(view.completed)
    assert "declined_end" not in view.completed


def test_reading_the_diagram_leaves_the_case_as_it_was(session, runtime, two_lanes, frozen_clock):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    before = get_case(session, case.id)
    state, revision = before.state, before.revision
    case_diagrams(session, runtime, case.id)
    case_diagrams(session, Runtime(), case.id)  # a cold runtime deserializes instead
    after = get_case(session, case.id)
    assert (after.state, after.revision) == (state, revision)
    complete_only_task(runtime, session, case, REQUEST, REFERRER)  # the runtime carries on
    assert case_diagrams(session, runtime, case.id)[0].active == ("review",)


def test_the_json_is_what_the_viewer_reads(session, runtime, two_lanes, frozen_clock):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    [view] = case_diagrams(session, runtime, case.id)
    data = view.to_json()
    assert set(data) == {
        "process_id",
        "name",
        "file_name",
        "bpmn_xml",
        "completed",
        "active",
        "overdue",
        "labels",
    }
    assert (data["completed"], data["active"], data["overdue"]) == (["start"], ["submit"], [])


# -- the FGC pathway, with its called stages ---------------------------------------------------


def test_the_main_diagram_marks_the_current_stage_and_the_stage_its_task(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    diagrams = case_diagrams(session, runtime, case.id)
    assert [d.process_id for d in diagrams] == [
        "fgc_pathway",
        "referral_eligibility",
        "screening_allocation",
        "baseline_assessment",
    ]
    main, stage = diagrams[0], diagrams[-1]
    assert {"referral", "screening", "fgc_started", "pathway_started"} <= set(main.completed)
    # The embedded sub-processes are drawn in the main diagram, not as diagrams of their own.
    assert {"baseline_and_assessment", "pathway", "await_concern"} <= set(main.active)
    assert "safeguarding_concern_received" in main.active  # the watch waits for a message
    assert "consent_withdrawn_boundary" not in main.active  # boundary events only listen
    assert main.labels["baseline_and_assessment"] == (
        "Baseline meeting and whole-family assessment"
    )
    assert stage.active == ("hold_baseline_meeting",)
    assert stage.completed == ("baseline_started",)


def test_a_stage_task_past_due_is_overdue_in_its_own_diagram(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    [baseline] = list_tasks(session, case_id=case.id)
    frozen_clock.set(baseline.due_at + timedelta(minutes=1))
    diagrams = views(session, runtime, case)
    assert diagrams["baseline_assessment"].overdue == ("hold_baseline_meeting",)
    assert diagrams["fgc_pathway"].overdue == ()


def test_pruned_history_still_shows_the_completed_tasks(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    tree = workflow_of(runtime, session, case)
    assert tree.get_tasks(spec_name="submit_referral") == []  # the engine forgot it

    diagrams = views(session, runtime, case)
    assert {"submit_referral", "acknowledge_referral", "referral_started"} <= set(
        diagrams["referral_eligibility"].completed
    )
    assert {"screen_referral", "allocate_coordinator"} <= set(
        diagrams["screening_allocation"].completed
    )
    assert diagrams["baseline_assessment"].active == ("whole_family_assessment",)
    assert "hold_baseline_meeting" in diagrams["baseline_assessment"].completed


def test_pruned_and_full_history_mark_the_same_user_tasks(session, pathway, frozen_clock):
    pruned, full = Runtime(), Runtime(prune_history=False)
    marks = []
    for runtime in (pruned, full):
        case = start(runtime, session, pathway)
        through_screening(runtime, session, case)
        do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
        marks.append({v.process_id: v for v in case_diagrams(session, runtime, case.id)})
    with_pruning, without = marks
    assert list(with_pruning) == list(without)
    for pid, view in without.items():
        assert with_pruning[pid].active == view.active
        # What pruning loses is automatic steps (gateways, decisions); never a person's task.
        assert set(with_pruning[pid].completed) <= set(view.completed)
    user_tasks = {"submit_referral", "acknowledge_referral", "screen_referral"}
    assert user_tasks <= set(with_pruning["referral_eligibility"].completed) | set(
        with_pruning["screening_allocation"].completed
    )


def test_a_stage_waiting_on_its_timer_is_active_in_both_diagrams(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    diagrams = case_diagrams(session, runtime, case.id)
    assert diagrams[-1].process_id == "review"
    assert diagrams[-1].active == ("review_due",)
    main = diagrams[0]
    assert "review" in main.active
    assert {"conference", "plan_acceptance", "support_package"} <= set(main.completed)


def test_a_process_with_no_task_yet_is_placed_where_the_tree_entered_it():
    # "x" ran only automatic steps, just before "b" (whose tasks are in the projection).
    by_rows = ["main", "a", "b", None]
    live = ["main", "embedded", "x", "b", "y"]
    assert _order_entered("main", by_rows, live) == ["main", "a", "embedded", "x", "b", "y"]
