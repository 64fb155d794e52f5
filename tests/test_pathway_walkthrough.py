"""The FGC pathway (docs/pathway.md) walked through end to end on the shipped diagrams.

Each test drives a case through the engine API as workers would: complete tasks with the
shipped forms' data, deliver messages and let time pass with a frozen clock and ``wake_case``.
Timers fire only once the clock is strictly past their moment, so the clock is set a little
after it. What each path leaves in the family's record and chronology is checked in
``tests/test_family_record.py``, which reuses the helpers and form data below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.actors import Actor
from engine.chronology import case_events
from engine.deploy import deploy_bundle
from engine.models import CaseStatus, TaskState
from engine.queries import get_case, get_task, list_tasks
from engine.runtime import Runtime
from tests.conftest import REPO, shipped_bundle
from tests.people import COORDINATOR, MANAGER, OWNER, REFERRER

WORKFLOWS = REPO / "workflows"
FORMS = REPO / "forms"
LEAD = Actor.of("lee.practitioner", "lead_practitioner")
DATA_OFFICER = Actor.of("dana.data", "data_officer")

REFERRAL = {
    "referrer_name": "Riley Shaw",
    "referrer_organisation": "Children's Services",
    "referrer_phone": "01582 546000",
    "referrer_email": "riley.shaw@example.org",
    "family_name": "Ashdown",
    "people": [
        {
            "name": "Jo Ashdown",
            "date_of_birth": "1990-04-12",
            "is_child": False,
            "gender": "female",
            "first_language": "English",
            "interpreter_needed": False,
            "relationship_to_child": "mother",
            "parental_responsibility": True,
            "phone": "07700 900123",
            "postcode": "LU1 2AB",
        },
        {
            "name": "Sam Ashdown",
            "date_of_birth": "2015-09-01",
            "is_child": True,
            "gender": "male",
            "relationship_to_child": "child",
            "parental_responsibility": False,
        },
    ],
    "child_status": "child_in_need",
    "referral_type": "standard",
    "why_now": "Sam has missed a third of this term and his mother is unwell.",
    "what_needs_to_change": "Sam gets to school every day and his mother has support at home.",
    "problems": ["school_attendance", "health"],
    "headline_outcomes": ["education", "health", "family_relationships"],
    "urgency": "routine",
    "consent_given": True,
    "consent_given_by": "Jo Ashdown",
}
ACKNOWLEDGED = {"acknowledged_on": "2026-03-02", "note": "Thanks, we will screen it this week."}
ACCEPT = {"screening_decision": "accept", "screening_note": "Eligible and the family wants it."}
ASK_MORE = {
    "screening_decision": "more_information",
    "information_needed": "Has the school been told about the referral?",
}
MORE_INFORMATION = {"additional_information": "Yes, the head teacher knows and supports it."}
DECLINE_NOTICE = {
    "referrer_told_on": "2026-03-03",
    "family_hub_signposted": True,
    "family_hub_name": "Marsh Farm Family Hub",
}
ALLOCATION = {
    "coordinator": "casey.coordinator",
    "matching_preferences": ["language"],
    "referrer_contact_by": "2026-03-04",
}
BASELINE = {
    "meeting_date": "2026-03-05",
    "questions_for_family": ["How will Sam get to school every day?"],
    "bottom_lines": ["Sam must not be left alone overnight"],
    "resources_offered": ["Help with transport"],
}
ASSESSMENT = {
    "members": [
        {"name": "Jo Ashdown", "needs": "Support while unwell", "strengths": "Loves Sam"},
        {"name": "Sam Ashdown", "needs": "Routine", "strengths": "Good at football"},
    ],
    "child_views": "Sam wants to stay at home and see his nan more.",
    "assessment_summary": "A close family that needs practical help.",
}
MEMBER = {
    "name": "Nan Ashdown",
    "relationship": "grandmother",
    "contact_made": True,
    "contact_method": "visit",
    "attendance": "in_person",
    "needs_advocate": False,
    "needs_interpreter": False,
}
NETWORK = {"has_network": True, "network": [MEMBER], "child_advocate_offered": True}
NO_NETWORK = {"has_network": False, "network": [], "child_advocate_offered": True}
HUB_LINK = {
    "family_hub_name": "Marsh Farm Family Hub",
    "linked_on": "2026-03-20",
    "smaller_meeting_planned": True,
}
ARRANGEMENTS = {
    "conference_date": "2026-04-20",
    "venue": "Marsh Farm community centre",
    "language": "English",
    "food_arranged": True,
    "interpreter_booked": False,
}
ACTIONS = [
    {
        "what": "Nan takes Sam to school on Mondays and Tuesdays",
        "who": "Nan Ashdown",
        "by_when": "2026-05-01",
        "who_checks": "Jo Ashdown",
    }
]
CONFERENCE = {
    "held_on": "2026-04-20",
    "attendees": ["Jo Ashdown", "Sam Ashdown", "Nan Ashdown"],
    "information_givers": ["Riley Shaw"],
    "private_family_time_held": True,
    "actions": ACTIONS,
    "contingency_plan": "If Nan is ill, Uncle Lee does the school run.",
    "plan_monitor": "Nan Ashdown",
    "next_review_date": "2026-07-13",
}
PLAN_ACCEPTED = {"plan_decision": "accept"}
PLAN_REJECTED = {
    "plan_decision": "reject",
    "rejection_reason": "Nobody is named for the nights Jo is in hospital.",
}
PLAN_REVISED = {
    "actions": ACTIONS,
    "contingency_plan": "Nan stays over whenever Jo is in hospital.",
    "revision_note": "The family added overnight cover.",
}
CIRCULATED = {"circulated_on": "2026-04-22", "circulated_to": ["Jo Ashdown", "Nan Ashdown"]}


def support_request(total: int) -> dict:
    item = {"description": "Sofa bed for Nan", "category": "furniture", "cost": total}
    return {
        "support_needed": True,
        "items": [item | {"beneficiary": "Nan Ashdown"}],
        "support_total": total,
        "justification": "So Nan can stay over on school nights.",
    }


NO_SUPPORT = {"support_needed": False}
APPROVED = {"support_approved": True, "approval_note": "Within policy."}
REFUSED = {"support_approved": False, "approval_note": "Ask the housing team first."}
PAID = {"paid_on": "2026-04-30", "payment_reference": "FNS-0042"}
PROGRESS = [{"action": ACTIONS[0]["what"], "status": "on_track"}]
REVIEW_AGAIN = {
    "held_on": "2026-07-13",
    "progress": PROGRESS,
    "family_view": "Going well.",
    "another_review": True,
    "next_review_date": "2026-10-12",
}
REVIEW_LAST = {"held_on": "2026-10-12", "progress": PROGRESS, "another_review": False}
CLOSURE = {
    "closure_reason": "plan_achieved",
    "outcomes": [{"problem": "school_attendance", "significant_progress": True}],
    "family_feedback": "We sorted it out ourselves, with help.",
}
SIX_MONTHS = {
    "checked_on": "2027-04-20",
    "outcomes": [{"problem": "school_attendance", "sustained": True}],
}
TWELVE_MONTHS = {
    "followed_up_on": "2027-10-21",
    "children": [{"child_name": "Sam Ashdown", "living": "parents", "proceedings_issued": False}],
}
CONCERN = {"concern": "Bruising seen at school", "raised_by": "casey.coordinator"}
CONTINUE = {
    "safeguarding_decision": "continue",
    "safeguarding_reason": "Explained: a fall at football.",
}
STEP_UP = {
    "safeguarding_decision": "step_up",
    "mash_reference": "MASH-2026-0142",
    "safeguarding_reason": "Disclosure of harm at home.",
}


def deploy_pathway(session, runtime):
    """Deploy the shipped diagrams and forms (validated once per run: they do not change);
    returns the fgc_pathway version."""
    deployed = deploy_bundle(session, shipped_bundle(), OWNER.username, runtime.codec)
    [version] = [d.version for d in deployed if d.version.process_id == "fgc_pathway"]
    return version


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def open_tasks(session, case):
    return {t.element_id: t for t in list_tasks(session, case_id=case.id)}


def do(runtime, session, case, element_id, data, actor):
    """Complete the one open task of the case with this element id."""
    tasks = open_tasks(session, case)
    assert element_id in tasks, sorted(tasks)
    task = tasks[element_id]
    runtime.complete_task(session, task.id, data, actor)
    return task


def workflow_of(runtime, session, case):
    """The case's workflow as saved (to read its data and events; tests only)."""
    case = get_case(session, case.id)
    specs = runtime.store.version(session, case.version_id).specs
    return runtime.codec.load_workflow(case.state, specs)


def start(runtime, session, pathway):
    return runtime.start_case(
        session, pathway, {"eligibility_rule": "stronger_families"}, REFERRER, "Ashdown family"
    )


def through_screening(runtime, session, case, screening=ACCEPT):
    do(runtime, session, case, "submit_referral", REFERRAL, REFERRER)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    do(runtime, session, case, "screen_referral", screening, MANAGER)
    if screening is ACCEPT:
        do(runtime, session, case, "allocate_coordinator", ALLOCATION, MANAGER)


def through_conference(runtime, session, case, network=NETWORK):
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    do(runtime, session, case, "prepare_network", network, COORDINATOR)
    if network is NO_NETWORK:
        do(runtime, session, case, "link_family_hub", HUB_LINK, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    do(runtime, session, case, "record_conference", CONFERENCE, COORDINATOR)


def test_happy_path_from_referral_to_the_twelve_month_follow_up(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    submit = open_tasks(session, case)["submit_referral"]
    assert (submit.role, submit.form_key) == ("referrer", "referral")
    assert get_case(session, case.id).stage == "Referral and eligibility"
    do(runtime, session, case, "submit_referral", REFERRAL, REFERRER)

    ack = open_tasks(session, case)["acknowledge_referral"]
    assert (ack.role, ack.form_key) == ("fgc_manager", "acknowledgement")
    assert ack.due_at == at("2026-03-04")  # 2 working days from Monday 09:00
    data = workflow_of(runtime, session, case).get_tasks(spec_name="acknowledge_referral")[0].data
    assert data["eligible"] is True
    assert data["eligibility_reason"].startswith("2 of 6 Stronger Families problems")
    assert (data["acknowledge_days"], data["baseline_days"], data["review_weeks"]) == (2, 5, 12)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)

    # Screening: more information first, and the SLA breach while the manager waits.
    screen = open_tasks(session, case)["screen_referral"]
    assert screen.due_at == at("2026-03-04")
    assert get_case(session, case.id).stage == "Screening and allocation"
    do(runtime, session, case, "screen_referral", ASK_MORE, MANAGER)
    more = open_tasks(session, case)["provide_more_information"]
    assert more.role == "referrer"
    do(runtime, session, case, "provide_more_information", MORE_INFORMATION, REFERRER)
    screen = open_tasks(session, case)["screen_referral"]
    frozen_clock.set(at("2026-03-04", 10))
    runtime.wake_case(session, case.id)
    assert get_task(session, screen.id).state == TaskState.READY  # non-interrupting
    breaches = [e.summary for e in case_events(session, case.id) if e.kind == "sla_breached"]
    assert breaches == ["Deadline missed: screening is overdue; escalated to the FGC manager."]
    assert workflow_of(runtime, session, case).bpmn_events == []  # drained, not piling up
    do(runtime, session, case, "screen_referral", ACCEPT, MANAGER)
    allocate = open_tasks(session, case)["allocate_coordinator"]
    assert allocate.role == "fgc_manager"
    do(runtime, session, case, "allocate_coordinator", ALLOCATION, MANAGER)

    baseline = open_tasks(session, case)["hold_baseline_meeting"]
    assert (baseline.role, baseline.due_at) == ("coordinator", at("2026-03-11", 10))
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    assessment = open_tasks(session, case)["whole_family_assessment"]
    assert assessment.role == "lead_practitioner"
    assert assessment.due_at == frozen_clock.now() + timedelta(days=20)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)

    prepare = open_tasks(session, case)["prepare_network"]
    assert prepare.due_at == frozen_clock.now() + timedelta(days=42)
    do(runtime, session, case, "prepare_network", NETWORK, COORDINATOR)
    assert set(open_tasks(session, case)) == {"arrange_conference"}
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    frozen_clock.set(at("2026-04-20", 15))
    do(runtime, session, case, "record_conference", CONFERENCE, COORDINATOR)

    review_plan = open_tasks(session, case)["review_family_plan"]
    assert (review_plan.role, review_plan.due_at) == ("referrer", at("2026-04-22", 15))
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    circulate = open_tasks(session, case)["circulate_plan"]
    assert circulate.due_at == at("2026-04-22", 15)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)

    do(runtime, session, case, "request_support", support_request(350), COORDINATOR)
    approve = open_tasks(session, case)["approve_support"]
    assert approve.title == "Approve the support package"
    do(runtime, session, case, "approve_support", APPROVED, MANAGER)
    do(runtime, session, case, "record_support_payment", PAID, COORDINATOR)

    # Two reviews, each when its date comes.
    assert open_tasks(session, case) == {}
    frozen_clock.set(at("2026-07-13", 8))
    runtime.wake_case(session, case.id)
    assert open_tasks(session, case) == {}
    frozen_clock.set(at("2026-07-13") + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    assert get_case(session, case.id).stage == "Review"
    do(runtime, session, case, "hold_review", REVIEW_AGAIN, COORDINATOR)
    frozen_clock.set(at("2026-10-12", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)

    frozen_clock.set(at("2026-10-20", 11))
    do(runtime, session, case, "close_case", CLOSURE, COORDINATOR)
    assert get_case(session, case.id).status == CaseStatus.ACTIVE
    assert open_tasks(session, case) == {}
    assert get_case(session, case.id).next_wake_at == at("2027-04-20", 11)
    frozen_clock.set(at("2027-04-20", 10))
    runtime.wake_case(session, case.id)
    assert open_tasks(session, case) == {}
    frozen_clock.set(at("2027-04-20", 11) + timedelta(minutes=1))  # timers fire after, not at
    runtime.wake_case(session, case.id)
    check = open_tasks(session, case)["record_six_month_check"]
    assert check.role == "data_officer"
    assert check.due_at == frozen_clock.now() + timedelta(days=10)
    assert get_case(session, case.id).stage == "Six-month outcome check"
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DATA_OFFICER)

    # Twelve months after closure (not after the check), each child is followed up.
    assert get_case(session, case.id).status == CaseStatus.ACTIVE
    assert open_tasks(session, case) == {}
    assert get_case(session, case.id).next_wake_at == at("2027-10-20", 11)
    frozen_clock.set(at("2027-10-20", 11) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    follow_up = open_tasks(session, case)["record_twelve_month_follow_up"]
    assert (follow_up.role, follow_up.form_key) == ("data_officer", "twelve_month_follow_up")
    assert follow_up.due_at == frozen_clock.now() + timedelta(days=10)
    assert get_case(session, case.id).stage == "Twelve-month follow-up"
    do(runtime, session, case, "record_twelve_month_follow_up", TWELVE_MONTHS, DATA_OFFICER)

    assert get_case(session, case.id).status == CaseStatus.COMPLETED
    assert workflow_of(runtime, session, case).data["pathway_result"] == "closed"


def test_a_concern_under_review_outlives_a_consent_withdrawal(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    runtime.send_message(session, case.id, "safeguarding_concern", CONCERN, COORDINATOR)
    withdrawn = {"reason": "Jo no longer wants the service", "withdrawn_by": "Jo Ashdown"}
    runtime.send_message(session, case.id, "consent_withdrawn", withdrawn, REFERRER)
    assert set(open_tasks(session, case)) == {"review_safeguarding_concern"}
    assert get_case(session, case.id).status == CaseStatus.ACTIVE
    do(runtime, session, case, "review_safeguarding_concern", CONTINUE, MANAGER)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED
    assert workflow_of(runtime, session, case).data["pathway_result"] == "consent_withdrawn"


def test_withdrawing_consent_while_a_review_timer_waits(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    waiting = {e.name for e in workflow_of(runtime, session, case).waiting_events()}
    assert {"consent_withdrawn", "Review date reached"} <= waiting
    withdrawn = {"reason": "Jo no longer wants the service", "withdrawn_by": "Jo Ashdown"}
    runtime.send_message(session, case.id, "consent_withdrawn", withdrawn, REFERRER)
    case = get_case(session, case.id)
    assert (case.status, case.next_wake_at) == (CaseStatus.COMPLETED, None)
    assert workflow_of(runtime, session, case).waiting_events() == []


def to_senior_approval(runtime, session, case, amount):
    """Through an accepted plan to a support request above the manager's limit."""
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", support_request(amount), COORDINATOR)
    senior = open_tasks(session, case)["senior_approve_support"]
    assert (senior.title, senior.role, senior.form_key) == (
        "Senior manager approval",
        "fgc_manager",
        "support_approval",
    )


def test_support_above_the_limit_needs_a_senior_manager(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    to_senior_approval(runtime, session, case, amount=900)
    do(runtime, session, case, "senior_approve_support", REFUSED, MANAGER)
    assert open_tasks(session, case) == {}  # not approved: nothing to pay, on to the review


def test_an_urgent_referral_needs_its_baseline_meeting_within_24_hours(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    do(runtime, session, case, "submit_referral", REFERRAL | {"urgency": "urgent"}, REFERRER)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    do(runtime, session, case, "screen_referral", ACCEPT, MANAGER)
    do(runtime, session, case, "allocate_coordinator", ALLOCATION, MANAGER)
    baseline = open_tasks(session, case)["hold_baseline_meeting"]
    assert baseline.due_at == frozen_clock.now() + timedelta(hours=24)


def test_date_timers_set_the_next_wake_up(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    do(runtime, session, case, "submit_referral", REFERRAL, REFERRER)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    assert get_case(session, case.id).next_wake_at == at("2026-03-04")  # screening_overdue


def test_the_pathway_runs_with_full_history_kept_too(session, pathway, frozen_clock):
    runtime = Runtime(prune_history=False)
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    frozen_clock.set(at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)
    do(runtime, session, case, "close_case", CLOSURE, COORDINATOR)
    frozen_clock.advance(days=190)
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DATA_OFFICER)
    frozen_clock.advance(days=190)
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_twelve_month_follow_up", TWELVE_MONTHS, DATA_OFFICER)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED


def test_a_referral_with_no_problems_ticked_is_found_ineligible_with_its_reason(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    do(runtime, session, case, "submit_referral", REFERRAL | {"problems": []}, REFERRER)
    data = workflow_of(runtime, session, case).get_tasks(spec_name="acknowledge_referral")[0].data
    assert data["eligible"] is False
    assert data["eligibility_reason"].startswith("0 of 6 Stronger Families problems")
