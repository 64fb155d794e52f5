"""The family's record, as a council's FGC team would check it (issue "The FGC pathway").

Each test drives a case of the shipped pathway through the engine API (helpers and form data from
``tests.test_pathway_walkthrough``) and then checks what workers and auditors see: the rows of the
family record (``engine.record.models``), the plain-language chronology (``case_events``), the
task list and the case's status, stage and next wake-up.

"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select

from engine.actors import Actor
from engine.calendar import WorkingCalendar
from engine.chronology import case_events
from engine.errors import NotAllowed
from engine.models import CaseStatus, TaskState
from engine.queries import due_case_ids, get_case, get_task, list_tasks
from engine.record.models import (
    ChildFollowUp,
    Closure,
    FamilyPlan,
    NetworkMember,
    Outcome,
    Person,
    Referral,
    Review,
    SafeguardingConcern,
    SupportPackage,
)
from engine.record.plan import current_plan
from tests.people import COORDINATOR, MANAGER, REFERRER
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ACTIONS,
    ALLOCATION,
    APPROVED,
    ARRANGEMENTS,
    ASSESSMENT,
    BASELINE,
    CIRCULATED,
    CONCERN,
    CONFERENCE,
    CONTINUE,
    DATA_OFFICER,
    DECLINE_NOTICE,
    HUB_LINK,
    LEAD,
    MEMBER,
    NETWORK,
    NO_NETWORK,
    NO_SUPPORT,
    PAID,
    PLAN_ACCEPTED,
    PLAN_REJECTED,
    PLAN_REVISED,
    REFERRAL,
    REFUSED,
    REVIEW_AGAIN,
    REVIEW_LAST,
    STEP_UP,
    at,
    deploy_pathway,
    do,
    open_tasks,
    start,
    support_request,
    through_conference,
    through_screening,
    to_senior_approval,
    workflow_of,
)

JO, SAM = REFERRAL["people"]
UNBORN = {
    "name": "Baby Ashdown",
    "due_date": "2026-07-30",
    "is_child": True,
    "relationship_to_child": "unborn sibling",
    "parental_responsibility": False,
}
# Every field a referrer can type about a person, so the test sees each one reach the record.
JO_IN_FULL = JO | {
    "ethnicity": "White British",
    "religion": "Church of England",
    "disability": "Chronic fatigue: short meetings, please",
    "email": "jo.ashdown@example.org",
}
FULL_REFERRAL = REFERRAL | {"people": [JO_IN_FULL, SAM, UNBORN]}
UNCLE = {
    "name": "Lee Ashdown",
    "relationship": "uncle",
    "contact_made": True,
    "contact_method": "phone",
    "attendance": "not_taking_part",
    "needs_interpreter": True,
    "language": "Polish",
}
NETWORK_WITH_UNCLE = {
    "has_network": True,
    "network": [MEMBER, UNCLE],
    "child_advocate_offered": True,
}
REVIEW_DONE = REVIEW_LAST | {"progress": [{"action": ACTIONS[0]["what"], "status": "done"}]}
CLOSURE_BOTH = {
    "closure_reason": "plan_achieved",
    "outcomes": [
        {"problem": "school_attendance", "significant_progress": True},
        {"problem": "health", "significant_progress": False, "note": "Jo awaits treatment."},
    ],
    "family_feedback": "We sorted it out ourselves, with help.",
}
SIX_MONTHS_BOTH = {
    "checked_on": "2027-04-20",
    "outcomes": [
        {"problem": "school_attendance", "sustained": True, "note": "Attendance 97%."},
        {"problem": "health", "sustained": False},
    ],
}
DECLINE_NOT_ELIGIBLE = {
    "screening_decision": "decline",
    "decline_reason": "not_eligible",
    "screening_note": "Only one Stronger Families problem.",
}
WITHDRAWN = {"reason": "Jo no longer wants the service", "withdrawn_by": "Jo Ashdown"}
ONE_OF_SIX = "1 of 6 Stronger Families problems (at least 2 needed)"
TWO_OF_SIX = "2 of 6 Stronger Families problems (at least 2 needed)"


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def rows(session, model, case):
    """The case's rows of one record table as stored, oldest first."""
    query = (
        select(model)
        .where(model.case_id == case.id)
        .order_by(*model.__mapper__.primary_key)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def record_of(session, model, case):
    """The case's one row of a table keyed by case (Referral, Closure), as stored."""
    return session.get(model, case.id, populate_existing=True)


def said(session, case, kind="task_completed"):
    """The chronology's sentences of one kind, oldest first."""
    return [e.summary for e in case_events(session, case.id) if e.kind == kind]


def all_tasks(session, case):
    return list_tasks(session, case_id=case.id, state=None)


def form_values(runtime, session, case, element_id):
    """What the worker sees pre-filled on the open task ``element_id``."""
    task = open_tasks(session, case)[element_id]
    return runtime.task_form(session, task.id).values


def to_the_review(runtime, session, case, frozen_clock):
    """From an accepted plan to the first review, due on CONFERENCE's next_review_date."""
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    frozen_clock.set(at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    assert set(open_tasks(session, case)) == {"hold_review"}


def test_a_family_helped_to_closure_is_on_record_from_referral_to_the_twelve_month_follow_up(
    session, runtime, pathway, frozen_clock
):
    case = runtime.start_case(session, pathway, {"eligibility_rule": "stronger_families"}, REFERRER)
    assert case.title == "FGC pathway"  # until the referral names the family
    do(runtime, session, case, "submit_referral", FULL_REFERRAL, REFERRER)
    assert get_case(session, case.id).title == "Ashdown family"
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    do(runtime, session, case, "screen_referral", ACCEPT, MANAGER)
    do(runtime, session, case, "allocate_coordinator", ALLOCATION, MANAGER)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    do(runtime, session, case, "prepare_network", NETWORK_WITH_UNCLE, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    frozen_clock.set(at("2026-04-20", 15))
    do(runtime, session, case, "record_conference", CONFERENCE, COORDINATOR)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", support_request(350), COORDINATOR)
    do(runtime, session, case, "approve_support", APPROVED, MANAGER)
    do(runtime, session, case, "record_support_payment", PAID, COORDINATOR)
    frozen_clock.set(at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_AGAIN, COORDINATOR)
    frozen_clock.set(at("2026-10-12", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_DONE, COORDINATOR)
    frozen_clock.set(at("2026-10-20", 11))
    do(runtime, session, case, "close_case", CLOSURE_BOTH, COORDINATOR)
    frozen_clock.set(at("2027-04-20", 11) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS_BOTH, DATA_OFFICER)
    frozen_clock.set(at("2027-10-20", 11) + timedelta(minutes=1))
    runtime.wake_case(session, case.id)
    # One row per child named on the referral, the unborn baby too (born since).
    children = [{"child_name": "Sam Ashdown"}, {"child_name": "Baby Ashdown"}]
    assert form_values(runtime, session, case, "record_twelve_month_follow_up") == {
        "children": children
    }
    follow_up = {
        "followed_up_on": "2027-10-21",
        "children": [
            children[0] | {"living": "parents", "proceedings_issued": False},
            children[1]
            | {"living": "parents", "proceedings_issued": False, "note": "Born in July."},
        ],
    }
    do(runtime, session, case, "record_twelve_month_follow_up", follow_up, DATA_OFFICER)

    case = get_case(session, case.id)
    assert (case.status, case.stage, case.next_wake_at) == (CaseStatus.COMPLETED, None, None)
    assert case.title == "Ashdown family"
    tasks = all_tasks(session, case)
    assert len(tasks) == 19
    assert {t.state for t in tasks} == {TaskState.COMPLETED}

    referral = record_of(session, Referral, case)
    assert (referral.family_name, referral.referrer_name, referral.referred_by) == (
        "Ashdown",
        "Riley Shaw",
        REFERRER.username,
    )
    assert (referral.referrer_organisation, referral.referrer_email) == (
        "Children's Services",
        "riley.shaw@example.org",
    )
    assert referral.received_at == at("2026-03-02")
    assert (referral.child_status, referral.referral_type, referral.urgency) == (
        "child_in_need",
        "standard",
        "routine",
    )
    assert referral.why_now == REFERRAL["why_now"]
    assert referral.problems == ["school_attendance", "health"]
    assert referral.headline_outcomes == ["education", "health", "family_relationships"]
    assert (referral.consent_given, referral.consent_given_by) == (True, "Jo Ashdown")
    assert (referral.eligible, referral.eligibility_reason) == (True, TWO_OF_SIX)
    assert (referral.screening_decision, referral.decline_reason) == ("accept", None)
    assert (referral.screened_by, referral.screened_at) == (MANAGER.username, at("2026-03-02"))
    assert (referral.coordinator, referral.allocated_at) == ("casey.coordinator", at("2026-03-02"))
    assert (referral.consent_withdrawn_at, referral.consent_withdrawn_reason) == (None, None)
    assert (referral.plo_offer_date, referral.plo_offer_accepted) == (None, None)

    jo, sam, baby = rows(session, Person, case)
    assert (jo.name, jo.is_child, jo.date_of_birth, jo.due_date) == (
        "Jo Ashdown",
        False,
        date(1990, 4, 12),
        None,
    )
    assert (jo.gender, jo.ethnicity, jo.first_language, jo.interpreter_needed) == (
        "female",
        "White British",
        "English",
        False,
    )
    assert (jo.religion, jo.disability) == (
        "Church of England",
        "Chronic fatigue: short meetings, please",
    )
    assert (jo.relationship_to_child, jo.parental_responsibility) == ("mother", True)
    assert (jo.phone, jo.email, jo.postcode) == (
        "07700 900123",
        "jo.ashdown@example.org",
        "LU1 2AB",
    )
    assert (jo.needs, jo.strengths) == ("Support while unwell", "Loves Sam")  # the assessment
    assert (sam.name, sam.is_child, sam.date_of_birth, sam.gender) == (
        "Sam Ashdown",
        True,
        date(2015, 9, 1),
        "male",
    )
    assert (sam.relationship_to_child, sam.parental_responsibility) == ("child", False)
    assert (sam.needs, sam.strengths) == ("Routine", "Good at football")
    assert (baby.name, baby.is_child, baby.date_of_birth, baby.due_date) == (
        "Baby Ashdown",
        True,
        None,
        date(2026, 7, 30),
    )
    assert (baby.needs, baby.strengths) == (None, None)  # not assessed: not yet born

    nan, uncle = rows(session, NetworkMember, case)
    assert (nan.name, nan.relationship, nan.contact_made, nan.contact_method) == (
        "Nan Ashdown",
        "grandmother",
        True,
        "visit",
    )
    assert (nan.attendance, nan.needs_advocate, nan.needs_interpreter) == (
        "in_person",
        False,
        False,
    )
    assert (uncle.name, uncle.relationship, uncle.attendance) == (
        "Lee Ashdown",
        "uncle",
        "not_taking_part",
    )
    assert (uncle.contact_method, uncle.needs_interpreter, uncle.language) == (
        "phone",
        True,
        "Polish",
    )

    [plan] = rows(session, FamilyPlan, case)
    assert (plan.version, plan.status, plan.decided_by) == (1, "accepted", REFERRER.username)
    # The review date follows the reviews; after the last one there is none.
    assert (plan.agreed_on, plan.circulated_on, plan.next_review_date) == (
        date(2026, 4, 20),
        date(2026, 4, 22),
        None,
    )
    assert (plan.contingency_plan, plan.plan_monitor, plan.rejection_reason) == (
        CONFERENCE["contingency_plan"],
        "Nan Ashdown",
        None,
    )
    assert [(a.what, a.who, a.by_when, a.who_checks) for a in plan.actions] == [
        (ACTIONS[0]["what"], "Nan Ashdown", date(2026, 5, 1), "Jo Ashdown")
    ]

    [package] = rows(session, SupportPackage, case)
    assert package.items == support_request(350)["items"]
    assert (package.total, package.justification, package.requested_by) == (
        Decimal("350.00"),
        "So Nan can stay over on school nights.",
        COORDINATOR.username,
    )
    assert (package.approval_level, package.approved, package.approved_by) == (
        "manager",
        True,
        MANAGER.username,
    )
    assert (package.paid_on, package.payment_reference) == (date(2026, 4, 30), "FNS-0042")

    first, second = rows(session, Review, case)
    assert (first.held_on, first.another_review, first.family_view, first.recorded_by) == (
        date(2026, 7, 13),
        True,
        "Going well.",
        COORDINATOR.username,
    )
    assert first.progress == REVIEW_AGAIN["progress"]
    assert (second.held_on, second.another_review, second.progress) == (
        date(2026, 10, 12),
        False,
        REVIEW_DONE["progress"],
    )

    closure = record_of(session, Closure, case)
    assert (closure.reason, closure.closed_at, closure.closed_by) == (
        "plan_achieved",
        at("2026-10-20", 11),
        COORDINATOR.username,
    )
    assert closure.family_feedback == "We sorted it out ourselves, with help."
    outcomes = [
        (o.stage, o.problem, o.achieved, o.note, o.recorded_on, o.recorded_by)
        for o in rows(session, Outcome, case)
    ]
    assert outcomes == [
        ("closure", "school_attendance", True, None, date(2026, 10, 20), "casey.coordinator"),
        (
            "closure",
            "health",
            False,
            "Jo awaits treatment.",
            date(2026, 10, 20),
            "casey.coordinator",
        ),
        ("six_month", "school_attendance", True, "Attendance 97%.", date(2027, 4, 20), "dana.data"),
        ("six_month", "health", False, None, date(2027, 4, 20), "dana.data"),
    ]
    followed = [
        (f.child_name, f.person_id, f.living, f.proceedings_issued, f.note, f.recorded_on)
        for f in rows(session, ChildFollowUp, case)
    ]
    assert followed == [
        ("Sam Ashdown", sam.id, "parents", False, None, date(2027, 10, 21)),
        ("Baby Ashdown", baby.id, "parents", False, "Born in July.", date(2027, 10, 21)),
    ]

    # The chronology tells the family's story in order, each step in plain words.
    events = case_events(session, case.id)
    assert events[0].summary == "Case started (FGC pathway)."
    assert (events[-1].kind, events[-1].summary) == (
        "case_completed",
        "Case completed: Children followed up.",
    )
    steps = said(session, case)
    assert steps[0] == (
        "Referral from Riley Shaw (Children's Services) for the Ashdown family: three people, "
        "Routine, Standard referral."
    )
    assert steps[8] == (
        "Conference held on 2026-04-20: the family agreed a plan with 1 action; "
        "Nan Ashdown will monitor it."
    )
    assert steps[1:8] + steps[9:] == [
        "morgan.manager completed 'Acknowledge the referral'.",
        f"Referral accepted by morgan.manager: {TWO_OF_SIX}.",
        "casey.coordinator allocated as coordinator by morgan.manager, matched on Language.",
        "casey.coordinator completed 'Hold the baseline meeting'.",
        "Whole-family assessment recorded by lee.practitioner for 2 people.",
        "Network prepared by casey.coordinator: 2 named, 2 contacted, 1 taking part.",
        "Conference arranged for 2026-04-20 at Marsh Farm community centre, in English.",
        "Family plan accepted by riley.referrer.",
        "Plan circulated to Jo Ashdown, Nan Ashdown.",
        "Support package of £350.00 requested by casey.coordinator.",
        "Support package approved by morgan.manager (manager).",
        "Support package paid on 2026-04-30 (reference FNS-0042).",
        "Review held on 2026-07-13: 0 of 1 actions done; another review planned.",
        "Review held on 2026-10-12: 1 of 1 actions done; no further review.",
        "Case closed by casey.coordinator: The plan was achieved; "
        "significant progress on 1 of 2 problems.",
        "Six-month check: progress sustained on 1 of 2 problems.",
        "Twelve-month follow-up: 2 of 2 children living with parents; "
        "care proceedings issued for none.",
    ]
    assert said(session, case, "task_cancelled") == []


def test_a_referral_with_one_problem_is_declined_as_ineligible_with_its_reason(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    do(runtime, session, case, "submit_referral", REFERRAL | {"problems": ["health"]}, REFERRER)
    referral = record_of(session, Referral, case)
    assert (referral.eligible, referral.eligibility_reason) == (False, ONE_OF_SIX)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)

    # The manager screening the referral has the decision table's verdict and reason to hand.
    screen = open_tasks(session, case)["screen_referral"]
    assert (screen.role, screen.form_key) == ("fgc_manager", "screening")
    data = workflow_of(runtime, session, case).get_tasks(spec_name="screen_referral")[0].data
    assert (data["eligible"], data["eligibility_reason"]) == (False, ONE_OF_SIX)
    do(runtime, session, case, "screen_referral", DECLINE_NOT_ELIGIBLE, MANAGER)

    notice = open_tasks(session, case)["tell_referrer_declined"]
    assert (notice.role, notice.form_key) == ("fgc_manager", "decline_notice")
    do(runtime, session, case, "tell_referrer_declined", DECLINE_NOTICE, MANAGER)

    case = get_case(session, case.id)
    assert (case.status, case.stage, case.next_wake_at) == (CaseStatus.COMPLETED, None, None)
    assert workflow_of(runtime, session, case).data["pathway_result"] == "declined"
    assert {t.element_id: t.state for t in all_tasks(session, case)} == {
        "submit_referral": TaskState.COMPLETED,
        "acknowledge_referral": TaskState.COMPLETED,
        "screen_referral": TaskState.COMPLETED,
        "tell_referrer_declined": TaskState.COMPLETED,
    }
    referral = record_of(session, Referral, case)
    assert (referral.screening_decision, referral.decline_reason, referral.screened_by) == (
        "decline",
        "not_eligible",
        MANAGER.username,
    )
    assert (referral.eligible, referral.eligibility_reason) == (False, ONE_OF_SIX)
    assert referral.coordinator is None
    assert rows(session, NetworkMember, case) == rows(session, FamilyPlan, case) == []

    assert said(session, case)[2:] == [
        "Referral declined by morgan.manager: The family does not meet the eligibility criteria.",
        "morgan.manager completed 'Tell the referrer it was declined'.",
    ]
    # No record table holds the decline notice; the chronology keeps what was submitted.
    [told] = [
        e for e in case_events(session, case.id) if e.payload.get("form_key") == "decline_notice"
    ]
    assert told.payload["data"]["family_hub_signposted"] is True
    assert told.payload["data"]["family_hub_name"] == "Marsh Farm Family Hub"
    events = case_events(session, case.id)
    assert [e.kind for e in events].count("case_completed") == 1
    assert events[-1].kind == "case_completed"


def test_a_concern_stepped_up_during_network_preparation_ends_everything(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    prepare = open_tasks(session, case)["prepare_network"]
    assert get_case(session, case.id).stage == "Network preparation"

    frozen_clock.set(at("2026-03-09", 14))
    runtime.send_message(session, case.id, "safeguarding_concern", CONCERN, COORDINATOR)
    review = open_tasks(session, case)["review_safeguarding_concern"]
    assert (review.role, review.form_key) == ("fgc_manager", "safeguarding_review")
    assert review.due_at == at("2026-03-10", 14)  # within 24 hours
    assert get_task(session, prepare.id).state == TaskState.READY  # non-interrupting
    assert get_case(session, case.id).stage == "Network preparation"
    [concern] = rows(session, SafeguardingConcern, case)
    assert (concern.concern, concern.raised_by, concern.raised_at, concern.decision) == (
        "Bruising seen at school",
        "casey.coordinator",
        at("2026-03-09", 14),
        None,
    )
    frozen_clock.set(at("2026-03-09", 16))
    do(runtime, session, case, "review_safeguarding_concern", STEP_UP, MANAGER)

    # The terminate end stops everything: the pathway, its call activity, their tasks, timers.
    assert open_tasks(session, case) == {}
    assert get_task(session, prepare.id).state == TaskState.CANCELLED
    assert get_task(session, review.id).state == TaskState.COMPLETED
    case = get_case(session, case.id)
    assert (case.status, case.stage, case.next_wake_at) == (CaseStatus.COMPLETED, None, None)
    assert case.id not in due_case_ids(session, at("2030-01-01"))
    workflow = workflow_of(runtime, session, case)
    assert workflow.data["pathway_result"] == "stepped_up"
    assert workflow.waiting_events() == []
    assert workflow.get_tasks(state=SpiffState.NOT_FINISHED_MASK) == []
    for sub in workflow.subprocesses.values():
        assert sub.get_tasks(state=SpiffState.NOT_FINISHED_MASK) == [], sub.spec.name

    [concern] = rows(session, SafeguardingConcern, case)
    assert (concern.decision, concern.mash_reference, concern.reason) == (
        "step_up",
        "MASH-2026-0142",
        "Disclosure of harm at home.",
    )
    assert (concern.reviewed_by, concern.reviewed_at) == (MANAGER.username, at("2026-03-09", 16))
    tail = [e.summary for e in case_events(session, case.id)][-5:]
    assert tail == [
        "Safeguarding concern raised by casey.coordinator: Bruising seen at school",
        "'Review the safeguarding concern' is waiting for FGC manager.",
        "Stepped up to children's social care by morgan.manager "
        "(MASH reference MASH-2026-0142): Disclosure of harm at home.",
        "'Prepare the family network' was cancelled.",
        "Case completed: Stepped up: pathway ends.",
    ]


def test_a_concern_reviewed_and_continued_leaves_the_case_where_it_was(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    stage = "Baseline meeting and whole-family assessment"
    assert get_case(session, case.id).stage == stage
    runtime.send_message(session, case.id, "safeguarding_concern", CONCERN, COORDINATOR)
    assert set(open_tasks(session, case)) == {
        "hold_baseline_meeting",
        "review_safeguarding_concern",
    }
    assert get_case(session, case.id).stage == stage
    do(runtime, session, case, "review_safeguarding_concern", CONTINUE, MANAGER)

    case = get_case(session, case.id)
    assert (case.status, case.stage) == (CaseStatus.ACTIVE, stage)
    assert set(open_tasks(session, case)) == {"hold_baseline_meeting"}
    [concern] = rows(session, SafeguardingConcern, case)
    assert (concern.decision, concern.reason, concern.mash_reference) == (
        "continue",
        "Explained: a fall at football.",
        None,
    )
    assert concern.reviewed_by == MANAGER.username
    assert said(session, case, "message_received") == [
        "Safeguarding concern raised by casey.coordinator: Bruising seen at school"
    ]
    assert said(session, case)[-1] == (
        "Safeguarding concern reviewed by morgan.manager; "
        "the FGC continues: Explained: a fall at football."
    )
    assert said(session, case, "case_completed") == []

    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    assert set(open_tasks(session, case)) == {"whole_family_assessment"}
    assert get_case(session, case.id).status == CaseStatus.ACTIVE


def test_consent_withdrawn_at_review_is_recorded_and_cancels_everything(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    to_the_review(runtime, session, case, frozen_clock)
    hold = open_tasks(session, case)["hold_review"]
    assert get_case(session, case.id).stage == "Review"

    frozen_clock.set(at("2026-07-14", 12))
    runtime.send_message(session, case.id, "consent_withdrawn", WITHDRAWN, REFERRER)

    assert get_task(session, hold.id).state == TaskState.CANCELLED
    assert open_tasks(session, case) == {}
    case = get_case(session, case.id)
    assert (case.status, case.stage, case.next_wake_at) == (CaseStatus.COMPLETED, None, None)
    assert case.id not in due_case_ids(session, at("2030-01-01"))
    data = workflow_of(runtime, session, case).data
    assert data["pathway_result"] == "consent_withdrawn"
    assert data["consent_withdrawn"] == WITHDRAWN

    referral = record_of(session, Referral, case)
    assert referral.consent_withdrawn_reason == "Jo no longer wants the service"
    assert referral.consent_withdrawn_at == at("2026-07-14", 12)
    assert rows(session, Review, case) == []
    tail = [(e.actor, e.kind, e.summary) for e in case_events(session, case.id)][-3:]
    assert tail[:2] == [
        (
            "riley.referrer",
            "message_received",
            "Consent withdrawn (Jo Ashdown): Jo no longer wants the service. "
            "The pathway has ended and open tasks are cancelled.",
        ),
        ("riley.referrer", "task_cancelled", "'Hold the review' was cancelled."),
    ]
    assert tail[2][1] == "case_completed"


def test_with_no_network_the_family_is_linked_to_a_hub_and_still_has_a_conference(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    do(runtime, session, case, "prepare_network", NO_NETWORK, COORDINATOR)
    hub = open_tasks(session, case)["link_family_hub"]
    assert (hub.role, hub.form_key) == ("coordinator", "family_hub_link")
    do(runtime, session, case, "link_family_hub", HUB_LINK, COORDINATOR)
    assert set(open_tasks(session, case)) == {"arrange_conference"}
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)

    # A smaller meeting: the family itself, nobody from a network.
    values = form_values(runtime, session, case, "record_conference")
    assert values["attendees"] == ["Jo Ashdown", "Sam Ashdown"]
    smaller = CONFERENCE | {"attendees": values["attendees"], "plan_monitor": "Jo Ashdown"}
    do(runtime, session, case, "record_conference", smaller, COORDINATOR)
    assert set(open_tasks(session, case)) == {"review_family_plan"}
    assert get_case(session, case.id).stage == "Plan acceptance"

    assert rows(session, NetworkMember, case) == []
    [plan] = rows(session, FamilyPlan, case)
    assert (plan.version, plan.status, plan.plan_monitor) == (1, "proposed", "Jo Ashdown")
    steps = said(session, case)
    assert steps[6:9] == [
        "casey.coordinator found no family network; the family will be linked to a Family Hub.",
        "casey.coordinator completed 'Link the family to a Family Hub'.",
        "Conference arranged for 2026-04-20 at Marsh Farm community centre, in English.",
    ]
    assert steps[9].startswith(
        "Conference held on 2026-04-20: the family agreed a plan with 1 action"
    )
    assert steps[9].endswith("; Jo Ashdown will monitor it.")


def test_a_pre_proceedings_referral_runs_to_tighter_timescales(
    session, runtime, pathway, frozen_clock
):
    calendar = WorkingCalendar()
    # Thursday before Easter 2026: Good Friday and Easter Monday are bank holidays.
    frozen_clock.set(at("2026-04-02", 10))
    case = start(runtime, session, pathway)
    plo = {
        "child_status": "pre_proceedings",
        "referral_type": "pre_proceedings",
        "plo_offer_date": "2026-03-27",
        "plo_offer_accepted": True,
    }
    do(runtime, session, case, "submit_referral", REFERRAL | plo, REFERRER)

    one_working_day = calendar.add_working_days(frozen_clock.now(), 1)
    assert one_working_day == at("2026-04-07", 10)  # Tuesday, after the Easter weekend
    ack = open_tasks(session, case)["acknowledge_referral"]
    assert ack.due_at == one_working_day
    data = workflow_of(runtime, session, case).get_tasks(spec_name="acknowledge_referral")[0].data
    assert (data["acknowledge_days"], data["baseline_days"], data["review_weeks"]) == (1, 2, 6)
    do(runtime, session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
    assert open_tasks(session, case)["screen_referral"].due_at == one_working_day
    assert get_case(session, case.id).next_wake_at == one_working_day  # screening_overdue
    do(runtime, session, case, "screen_referral", ACCEPT, MANAGER)
    do(runtime, session, case, "allocate_coordinator", ALLOCATION, MANAGER)

    two_working_days = calendar.add_working_days(frozen_clock.now(), 2)
    assert two_working_days == at("2026-04-08", 10)
    baseline = open_tasks(session, case)["hold_baseline_meeting"]
    assert baseline.due_at == two_working_days  # routine: working days, not 24 hours

    referral = record_of(session, Referral, case)
    assert (referral.referral_type, referral.child_status, referral.urgency) == (
        "pre_proceedings",
        "pre_proceedings",
        "routine",
    )
    assert (referral.plo_offer_date, referral.plo_offer_accepted) == (date(2026, 3, 27), True)
    assert referral.received_at == at("2026-04-02", 10)

    # The first review falls six weeks after the conference, not twelve.
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    do(runtime, session, case, "prepare_network", NETWORK, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    values = form_values(runtime, session, case, "record_conference")
    assert values["next_review_date"] == "2026-05-14"  # 2 April + 6 weeks


def test_a_plan_rejected_by_the_referrer_is_revised_and_accepted(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_REJECTED, REFERRER)
    revise = open_tasks(session, case)["revise_family_plan"]
    assert (revise.role, revise.form_key) == ("coordinator", "plan_revision")
    # The coordinator starts from the rejected plan, not a blank form.
    assert runtime.task_form(session, revise.id).values == {
        "actions": ACTIONS,
        "contingency_plan": CONFERENCE["contingency_plan"],
    }
    frozen_clock.set(at("2026-04-21", 11))
    do(runtime, session, case, "revise_family_plan", PLAN_REVISED, COORDINATOR)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    assert set(open_tasks(session, case)) == {"circulate_plan"}
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)

    first, second = rows(session, FamilyPlan, case)
    assert (first.version, first.status, first.decided_by, first.rejection_reason) == (
        1,
        "rejected",
        REFERRER.username,
        "Nobody is named for the nights Jo is in hospital.",
    )
    assert (first.contingency_plan, first.circulated_on) == (CONFERENCE["contingency_plan"], None)
    assert (second.version, second.status, second.decided_by, second.rejection_reason) == (
        2,
        "accepted",
        REFERRER.username,
        None,
    )
    assert second.contingency_plan == "Nan stays over whenever Jo is in hospital."
    assert (second.agreed_on, second.circulated_on) == (date(2026, 4, 21), date(2026, 4, 22))
    # What the revision form does not ask again is carried over from the conference.
    assert (second.plan_monitor, second.next_review_date) == ("Nan Ashdown", date(2026, 7, 13))
    assert [a.what for a in second.actions] == [ACTIONS[0]["what"]]
    assert said(session, case)[-4:] == [
        "Family plan rejected by riley.referrer: Nobody is named for the nights Jo is in hospital.",
        "The family revised its plan (version 2): The family added overnight cover.",
        "Family plan accepted by riley.referrer.",
        "Plan circulated to Jo Ashdown, Nan Ashdown.",
    ]


def test_a_support_package_above_the_limit_is_approved_by_a_senior_manager(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    to_senior_approval(runtime, session, case, amount=900)
    assert "approve_support" not in open_tasks(session, case)
    do(runtime, session, case, "senior_approve_support", APPROVED, MANAGER)
    do(runtime, session, case, "record_support_payment", PAID, COORDINATOR)

    [package] = rows(session, SupportPackage, case)
    assert (package.total, package.approval_level, package.approved, package.approved_by) == (
        Decimal("900.00"),
        "senior_manager",
        True,
        MANAGER.username,
    )
    assert (package.paid_on, package.payment_reference) == (date(2026, 4, 30), "FNS-0042")
    assert said(session, case)[-3:] == [
        "Support package of £900.00 requested by casey.coordinator.",
        "Support package approved by morgan.manager (senior manager).",
        "Support package paid on 2026-04-30 (reference FNS-0042).",
    ]


def test_forms_are_pre_filled_from_the_family_record(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)

    # The assessment lists the people typed at referral, in the order typed.
    assessment = open_tasks(session, case)["whole_family_assessment"]
    form = runtime.task_form(session, assessment.id)
    assert form.schema["title"] and form.task.id == assessment.id
    assert form.values == {"members": [{"name": "Jo Ashdown"}, {"name": "Sam Ashdown"}]}
    found = {m["name"]: m for m in ASSESSMENT["members"]}
    members = [m | found[m["name"]] for m in form.values["members"]]
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT | {"members": members}, LEAD)
    assert [p.needs for p in rows(session, Person, case)] == ["Support while unwell", "Routine"]

    do(runtime, session, case, "prepare_network", NETWORK_WITH_UNCLE, COORDINATOR)
    do(runtime, session, case, "arrange_conference", ARRANGEMENTS, COORDINATOR)
    # The conference record: the family and the network members taking part (not the uncle),
    # and the first review at the decision table's review_weeks (12) from today.
    values = form_values(runtime, session, case, "record_conference")
    assert values == {
        "attendees": ["Jo Ashdown", "Sam Ashdown", "Nan Ashdown"],
        "next_review_date": "2026-05-25",
    }
    do(runtime, session, case, "record_conference", CONFERENCE | values, COORDINATOR)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    assert get_case(session, case.id).next_wake_at == datetime(2026, 5, 25, 9, tzinfo=UTC)

    # The review lists the plan's actions, to be marked one by one.
    frozen_clock.set(at("2026-05-25", 10))
    runtime.wake_case(session, case.id)
    values = form_values(runtime, session, case, "hold_review")
    assert values == {"progress": [{"action": ACTIONS[0]["what"]}]}
    progress = [p | {"status": "done"} for p in values["progress"]]
    review = {"held_on": "2026-05-25", "progress": progress, "another_review": False}
    do(runtime, session, case, "hold_review", review, COORDINATOR)

    # Closure and the six-month check list the problems and the headline needs named at
    # referral, once each ("health" is both).
    named = ["school_attendance", "health", "education", "family_relationships"]
    problems = [{"problem": p} for p in named]
    values = form_values(runtime, session, case, "close_case")
    assert values == {"outcomes": problems}
    outcomes = [o | {"significant_progress": True} for o in values["outcomes"]]
    closure = {"closure_reason": "plan_achieved", "outcomes": outcomes}
    do(runtime, session, case, "close_case", closure, COORDINATOR)
    frozen_clock.advance(days=200)
    runtime.wake_case(session, case.id)
    assert form_values(runtime, session, case, "record_six_month_check") == {"outcomes": problems}
    closure_outcomes = [o for o in rows(session, Outcome, case) if o.stage == "closure"]
    assert [o.problem for o in closure_outcomes] == named


# -- engine bugs, pinned -----------------------------------------------------------------------


def test_a_refused_senior_approval_is_recorded_as_senior(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", support_request(900), COORDINATOR)
    do(runtime, session, case, "senior_approve_support", REFUSED, MANAGER)
    [package] = rows(session, SupportPackage, case)
    assert (package.approved, package.approved_by) == (False, MANAGER.username)
    assert said(session, case)[-1] == "Support package refused by morgan.manager (senior manager)."
    assert package.approval_level == "senior_manager"


def test_each_review_records_the_date_it_was_due(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    to_the_review(runtime, session, case, frozen_clock)
    do(runtime, session, case, "hold_review", REVIEW_AGAIN, COORDINATOR)
    assert current_plan(session, case.id).next_review_date == date(2026, 10, 12)
    frozen_clock.set(at("2026-10-12", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)
    assert current_plan(session, case.id).next_review_date is None  # no more meetings
    due = [(r.held_on, r.due_on) for r in rows(session, Review, case)]
    assert due == [
        (date(2026, 7, 13), date(2026, 7, 13)),
        (date(2026, 10, 12), date(2026, 10, 12)),
    ]


def test_the_referral_sentence_reads_as_plain_english(session, runtime, pathway, frozen_clock):
    case = start(runtime, session, pathway)
    do(runtime, session, case, "submit_referral", REFERRAL, REFERRER)
    [sentence] = said(session, case)
    assert sentence.startswith("Referral from Riley Shaw (Children's Services) for the Ashdown")
    assert "referral referral" not in sentence


def test_the_conference_sentence_counts_one_action_in_the_singular(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    assert said(session, case)[-1] == (
        "Conference held on 2026-04-20: the family agreed a plan with 1 action; "
        "Nan Ashdown will monitor it."
    )


@pytest.mark.parametrize(
    ("how", "ending"),
    [
        ("declined", "Case completed: Pathway ended."),
        ("consent_withdrawn", "Case completed: Pathway stopped: consent withdrawn."),
    ],
)
def test_the_chronology_says_how_the_pathway_ended(
    session, runtime, pathway, frozen_clock, how, ending
):
    case = start(runtime, session, pathway)
    if how == "declined":
        through_screening(runtime, session, case, DECLINE_NOT_ELIGIBLE)
        do(runtime, session, case, "tell_referrer_declined", DECLINE_NOTICE, MANAGER)
    else:
        through_screening(runtime, session, case)
        runtime.send_message(session, case.id, "consent_withdrawn", WITHDRAWN, REFERRER)
    assert get_case(session, case.id).status == CaseStatus.COMPLETED
    assert said(session, case, "case_completed") == [ending]


def test_the_allocated_coordinator_gets_the_coordinator_tasks(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_screening(runtime, session, case)
    baseline = open_tasks(session, case)["hold_baseline_meeting"]
    assert baseline.assignee == ALLOCATION["coordinator"]
    do(runtime, session, case, "hold_baseline_meeting", BASELINE, COORDINATOR)
    do(runtime, session, case, "whole_family_assessment", ASSESSMENT, LEAD)
    network = open_tasks(session, case)["prepare_network"]
    assert network.assignee == ALLOCATION["coordinator"]
    assert list_tasks(session, assignee=ALLOCATION["coordinator"]) == [network]
    assert list_tasks(session, roles=["coordinator"], unassigned=True) == []
    other = Actor.of("cal.coordinator", "coordinator")
    with pytest.raises(NotAllowed, match="assigned to casey.coordinator"):
        runtime.complete_task(session, network.id, NETWORK, other)
