"""The twelve-month follow-up of each child (docs/pathway.md): where each child lives a year
after closure and whether care proceedings were issued, recorded by the data officer, written
to ``child_follow_ups`` and counted by the ``follow_ups`` and ``children_at_home`` measures.

Cases are driven through the shipped pathway with the walkthrough's helpers on the frozen clock
(Monday 2 March 2026, 09:00 UTC); time passes through the scheduler's ``Waker``, as in
production. Timers fire only once the clock is strictly past their moment.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.accounts import find_user
from engine.authoring import deploy_files
from engine.chronology import case_events
from engine.errors import FormInvalid
from engine.expressions import timer_reason
from engine.family_record import family_record
from engine.migration import preview
from engine.models import Case, CaseStatus
from engine.queries import get_case
from engine.record.models import ChildFollowUp, Closure, Outcome, Person
from engine.reports.tables import ReportFilter, one_measure
from engine.sandbox import RestrictedEnvironment
from engine.scheduler import Waker
from engine.tokens import create_token
from tests.people import COORDINATOR, MANAGER, OWNER, REFERRER
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ALLOCATION,
    ARRANGEMENTS,
    ASSESSMENT,
    BASELINE,
    CIRCULATED,
    CLOSURE,
    CONCERN,
    CONFERENCE,
    FORMS,
    LEAD,
    NETWORK,
    NO_SUPPORT,
    PLAN_ACCEPTED,
    REFERRAL,
    REVIEW_LAST,
    SIX_MONTHS,
    STEP_UP,
    WORKFLOWS,
    at,
    deploy_pathway,
    do,
    open_tasks,
    workflow_of,
)
from tests.test_pathway_walkthrough import DATA_OFFICER as DANA
from tests.web import family_at, login
from webapp.extensions import db

CHILDREN = [
    {"name": "Sam Ashdown", "date_of_birth": "2015-09-01"},
    {"name": "Mia Ashdown", "date_of_birth": "2018-02-11"},
    {"name": "Leo Ashdown", "date_of_birth": "2021-06-30"},
]
THREE_CHILDREN = REFERRAL | {
    "people": [REFERRAL["people"][0]]
    + [
        child
        | {
            "is_child": True,
            "gender": "not_known",
            "relationship_to_child": "child",
            "parental_responsibility": False,
        }
        for child in CHILDREN
    ]
}
FOLLOW_UP = {
    "followed_up_on": "2027-10-22",
    "children": [
        {"child_name": "Sam Ashdown", "living": "parents", "proceedings_issued": False},
        # Retyped by the data officer: still Mia's row.
        {"child_name": "  mia  ashdown ", "living": "parents", "proceedings_issued": False},
        {
            "child_name": "Leo Ashdown",
            "living": "looked_after",
            "proceedings_issued": True,
            "note": "Placed with foster carers in June after proceedings.",
        },
    ],
}
CLOSED_AT = at("2026-10-20", 11)
TWELVE_MONTHS_ON = at("2027-10-20", 11)


@pytest.fixture
def pathway(session, runtime):
    return deploy_pathway(session, runtime)


def start(runtime, session, pathway, team_id=None):
    data = {"eligibility_rule": "stronger_families"}
    return runtime.start_case(session, pathway, data, REFERRER, "Ashdown family", team_id)


def through_conference(runtime, session, case):
    """The walkthrough's way to the plan, for a family with three children."""
    for element, answers, actor in [
        ("submit_referral", THREE_CHILDREN, REFERRER),
        ("acknowledge_referral", ACKNOWLEDGED, MANAGER),
        ("screen_referral", ACCEPT, MANAGER),
        ("allocate_coordinator", ALLOCATION, MANAGER),
        ("hold_baseline_meeting", BASELINE, COORDINATOR),
        ("whole_family_assessment", ASSESSMENT, LEAD),
        ("prepare_network", NETWORK, COORDINATOR),
        ("arrange_conference", ARRANGEMENTS, COORDINATOR),
        ("record_conference", CONFERENCE, COORDINATOR),
    ]:
        do(runtime, session, case, element, answers, actor)


def to_closure(runtime, session, case, clock):
    """Referred with three children, closed on Tuesday 20 October 2026 at 11:00 UTC."""
    through_conference(runtime, session, case)
    do(runtime, session, case, "review_family_plan", PLAN_ACCEPTED, REFERRER)
    do(runtime, session, case, "circulate_plan", CIRCULATED, COORDINATOR)
    do(runtime, session, case, "request_support", NO_SUPPORT, COORDINATOR)
    clock.set(at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    do(runtime, session, case, "hold_review", REVIEW_LAST, COORDINATOR)
    clock.set(CLOSED_AT)
    do(runtime, session, case, "close_case", CLOSURE, COORDINATOR)


def wake_all(sessions, runtime, session) -> int:
    """What the scheduler does when it looks: wake every case whose moment has passed."""
    session.commit()  # the test's own reads must not hold a lock the scheduler needs
    woken = Waker(sessions, runtime).fire_due()
    session.expire_all()
    return woken


def to_the_follow_up(runtime, session, sessions, case, clock):
    """Closed, checked at six months (late), and twelve months on: the follow-up is open."""
    to_closure(runtime, session, case, clock)
    clock.set(at("2027-04-20", 11) + timedelta(minutes=1))
    assert wake_all(sessions, runtime, session) == 1
    clock.set(at("2027-05-17", 14))  # late: the check's deadline was 4 May
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DANA)
    clock.set(TWELVE_MONTHS_ON + timedelta(minutes=1))
    assert wake_all(sessions, runtime, session) == 1
    return open_tasks(session, case)["record_twelve_month_follow_up"]


# -- the pathway -----------------------------------------------------------------------------


def test_the_follow_up_opens_twelve_months_after_closure_however_late_the_six_month_check(
    session, sessions, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    to_closure(runtime, session, case, frozen_clock)
    [waiting] = workflow_of(runtime, session, case).get_tasks(spec_name="six_months_after_closure")
    assert waiting.data["closed_at"] == CLOSED_AT.isoformat()  # kept by record_closed

    frozen_clock.set(at("2027-04-20", 11) + timedelta(minutes=1))
    assert wake_all(sessions, runtime, session) == 1
    assert set(open_tasks(session, case)) == {"record_six_month_check"}
    frozen_clock.set(at("2027-05-17", 14))  # four weeks late
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DANA)

    # Twelve months after closure, not six months after the check (17 November).
    case = get_case(session, case.id)
    assert (case.status, case.stage, case.next_wake_at) == (
        CaseStatus.ACTIVE,
        None,
        TWELVE_MONTHS_ON,
    )
    assert open_tasks(session, case) == {}
    frozen_clock.set(TWELVE_MONTHS_ON - timedelta(days=1) + timedelta(minutes=1))
    assert wake_all(sessions, runtime, session) == 0  # a day early: nothing
    assert open_tasks(session, case) == {}
    frozen_clock.set(TWELVE_MONTHS_ON)
    assert wake_all(sessions, runtime, session) == 0  # at the moment, not yet
    frozen_clock.set(TWELVE_MONTHS_ON + timedelta(minutes=1))
    assert wake_all(sessions, runtime, session) == 1

    task = open_tasks(session, case)["record_twelve_month_follow_up"]
    assert (task.title, task.role, task.form_key) == (
        "Record the twelve-month follow-up",
        "data_officer",
        "twelve_month_follow_up",
    )
    assert task.due_at == frozen_clock.now() + timedelta(days=10)
    assert get_case(session, case.id).stage == "Twelve-month follow-up"
    # One row per child of the family, from the referral.
    assert runtime.task_form(session, task.id).values == {
        "children": [{"child_name": c["name"]} for c in CHILDREN]
    }


def test_the_follow_up_records_each_child_and_completes_the_case(
    session, sessions, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    to_the_follow_up(runtime, session, sessions, case, frozen_clock)
    frozen_clock.set(at("2027-10-22", 15))
    do(runtime, session, case, "record_twelve_month_follow_up", copy.deepcopy(FOLLOW_UP), DANA)

    case = get_case(session, case.id)
    assert (case.status, case.stage, case.next_wake_at) == (CaseStatus.COMPLETED, None, None)
    people = {
        p.name: p.id
        for p in session.scalars(select(Person).where(Person.case_id == case.id))
        if p.is_child
    }
    rows = session.scalars(
        select(ChildFollowUp).where(ChildFollowUp.case_id == case.id).order_by(ChildFollowUp.id)
    ).all()
    assert [(r.child_name, r.person_id) for r in rows] == [
        ("Sam Ashdown", people["Sam Ashdown"]),
        ("mia ashdown", people["Mia Ashdown"]),  # tidied as typed, and still Mia
        ("Leo Ashdown", people["Leo Ashdown"]),
    ]
    assert [(r.living, r.proceedings_issued, r.note) for r in rows] == [
        ("parents", False, None),
        ("parents", False, None),
        ("looked_after", True, "Placed with foster carers in June after proceedings."),
    ]
    assert {(r.months_after_closure, r.recorded_on, r.recorded_by) for r in rows} == {
        (12, date(2027, 10, 22), "dana.data")
    }
    events = case_events(session, case.id)
    said = [e.summary for e in events if e.kind == "task_completed"]
    assert said[-1] == (
        "Twelve-month follow-up: 2 of 3 children living with parents; "
        "care proceedings issued for 1 of 3."
    )
    assert said[-2] == "Six-month check: progress sustained on 1 of 1 problems."
    assert events[-1].summary == "Case completed: Children followed up."
    # The family's record (case page, API) holds the rows beside the outcomes.
    record = family_record(session, case.id)
    assert [f.child_name for f in record.follow_ups] == [
        "Sam Ashdown",
        "mia ashdown",
        "Leo Ashdown",
    ]
    assert [o.stage for o in record.outcomes] == ["closure", "six_month"]
    # And the dashboard counts these children: 2 of 3 with parents (66.7%), 1 looked after
    # (33.3%) and the one with proceedings issued.
    october = ReportFilter(date(2027, 10, 1), date(2027, 10, 31))
    assert [tuple(r) for r in one_measure(session, october, "follow_ups").rows] == [
        ("With parents", 2, 66.7, 0),
        ("With kin (family or friends)", 0, 0.0, 0),
        ("Looked after", 1, 33.3, 1),
        ("Other", 0, 0.0, 0),
        ("All children followed up", 3, 100.0, 1),
    ]


def test_a_child_not_named_on_the_referral_is_recorded_without_a_person(
    session, sessions, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    to_the_follow_up(runtime, session, sessions, case, frozen_clock)
    answers = {
        "followed_up_on": "2027-10-21",
        "children": [
            {"child_name": "Sam Ashdown", "living": "kin", "proceedings_issued": False},
            {"child_name": "Baby Ashdown", "living": "parents", "proceedings_issued": False},
        ],
    }
    do(runtime, session, case, "record_twelve_month_follow_up", answers, DANA)
    rows = session.scalars(
        select(ChildFollowUp).where(ChildFollowUp.case_id == case.id).order_by(ChildFollowUp.id)
    ).all()
    assert [(r.child_name, r.person_id is None, r.living) for r in rows] == [
        ("Sam Ashdown", False, "kin"),
        ("Baby Ashdown", True, "parents"),
    ]
    last = [e.summary for e in case_events(session, case.id) if e.kind == "task_completed"][-1]
    assert last == (
        "Twelve-month follow-up: 1 of 2 children living with parents; "
        "care proceedings issued for none."
    )


def test_a_bad_answer_is_refused_naming_the_field_and_nothing_is_recorded(
    session, sessions, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    task = to_the_follow_up(runtime, session, sessions, case, frozen_clock)
    bad = copy.deepcopy(FOLLOW_UP)
    bad["children"][2]["living"] = "in_custody"
    del bad["children"][0]["proceedings_issued"]
    bad["followed_up_on"] = "22/10/2027"
    with pytest.raises(FormInvalid) as refused:
        runtime.complete_task(session, task.id, bad, DANA)
    assert refused.value.errors == {
        "followed_up_on": "Not a valid date (YYYY-MM-DD).",
        "children.0.proceedings_issued": "This field is required.",
        "children.2.living": (
            "Choose one of: With parents, With kin (family or friends), Looked after, Other."
        ),
    }
    session.rollback()
    with pytest.raises(FormInvalid) as empty:
        runtime.complete_task(
            session, task.id, {"followed_up_on": "2027-10-22", "children": []}, DANA
        )
    assert list(empty.value.errors) == ["children"]
    session.rollback()
    assert session.scalars(select(ChildFollowUp)).all() == []
    assert "record_twelve_month_follow_up" in open_tasks(session, case)


def test_a_follow_up_not_recorded_in_ten_working_days_is_escalated(
    session, sessions, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    task = to_the_follow_up(runtime, session, sessions, case, frozen_clock)
    # Ten working days from Wednesday 20 October 2027, 11:01: Wednesday 3 November.
    deadline = datetime(2027, 11, 3, 11, 1, tzinfo=UTC)
    assert get_case(session, case.id).next_wake_at == deadline
    frozen_clock.set(deadline + timedelta(minutes=1))
    assert wake_all(sessions, runtime, session) == 1
    breaches = [e for e in case_events(session, case.id) if e.kind == "sla_breached"]
    assert [e.summary for e in breaches][-1] == (
        "Deadline missed: twelve month follow up is overdue; escalated to the FGC manager."
    )
    assert breaches[-1].payload["code"] == "twelve_month_follow_up"
    assert open_tasks(session, case)["record_twelve_month_follow_up"].id == task.id


def test_a_six_month_check_done_after_the_twelve_months_opens_the_follow_up_at_once(
    session, sessions, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    to_closure(runtime, session, case, frozen_clock)
    frozen_clock.set(at("2027-11-01", 10))
    assert wake_all(sessions, runtime, session) == 1
    do(runtime, session, case, "record_six_month_check", SIX_MONTHS, DANA)
    # The twelve months passed while the check waited: the follow-up opens in the same step,
    # and the case next wakes for its deadline, ten working days on.
    assert set(open_tasks(session, case)) == {"record_twelve_month_follow_up"}
    assert get_case(session, case.id).next_wake_at == at("2027-11-15", 10)


def test_a_case_stepped_up_after_closure_never_reaches_the_follow_up(
    session, sessions, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    runtime.send_message(session, case.id, "safeguarding_concern", CONCERN, COORDINATOR)
    to_closure(runtime, session, case, frozen_clock)
    # Closed, with the review of the concern still open: the step-up ends everything.
    assert set(open_tasks(session, case)) == {"review_safeguarding_concern"}
    do(runtime, session, case, "review_safeguarding_concern", STEP_UP, MANAGER)
    case = get_case(session, case.id)
    assert (case.status, case.next_wake_at) == (CaseStatus.COMPLETED, None)
    assert workflow_of(runtime, session, case).waiting_events() == []
    frozen_clock.set(TWELVE_MONTHS_ON + timedelta(days=1))
    assert wake_all(sessions, runtime, session) == 0
    assert session.scalars(select(ChildFollowUp)).all() == []


def test_a_case_whose_consent_was_withdrawn_never_reaches_the_follow_up(
    session, runtime, pathway, frozen_clock
):
    case = start(runtime, session, pathway)
    through_conference(runtime, session, case)
    withdrawn = {"reason": "Jo no longer wants the service", "withdrawn_by": "Jo Ashdown"}
    runtime.send_message(session, case.id, "consent_withdrawn", withdrawn, REFERRER)
    case = get_case(session, case.id)
    assert (case.status, case.next_wake_at) == (CaseStatus.COMPLETED, None)
    data = workflow_of(runtime, session, case).data
    assert data["pathway_result"] == "consent_withdrawn" and "closed_at" not in data


# -- months_after(): the timer's helper ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "moment"),
    [
        ("2026-10-20T11:00:00.482+00:00", 12, "2027-10-20T11:00:00+00:00"),
        ("2026-07-13T10:00:00+01:00", 12, "2027-07-13T09:00:00+00:00"),  # British Summer Time
        ("2026-08-31", 6, "2027-02-28T00:00:00+00:00"),  # no 31 February: its last day
        ("2027-08-31T09:30:00", 6, "2028-02-29T09:30:00+00:00"),  # no offset: UTC; leap year
        ("2026-02-28T12:00:00Z", 0, "2026-02-28T12:00:00+00:00"),
    ],
)
def test_months_after_counts_calendar_months_from_a_moment_the_case_keeps(start, months, moment):
    env = RestrictedEnvironment()
    assert env.evaluate("months_after(closed_at, n)", {"closed_at": start, "n": months}) == moment


@pytest.mark.parametrize(
    ("source", "error", "words"),
    [
        ("months_after('2026-10-20', -1)", ValueError, "0 to 1,200"),
        ("months_after('2026-10-20', 1201)", ValueError, "0 to 1,200"),
        ("months_after('2026-10-20', 1.5)", TypeError, "whole number"),
        ("months_after('2026-10-20', True)", TypeError, "whole number"),
        ("months_after('20 October', 12)", ValueError, "not an ISO 8601 date"),
    ],
)
def test_months_after_refuses_what_it_cannot_count(source, error, words):
    with pytest.raises(error, match=words):
        RestrictedEnvironment().evaluate(source, {})


def test_the_twelve_month_timer_passes_the_deploy_check():
    assert timer_reason("timeDate", "months_after(closed_at, 12)") is None


# -- the case page and the API -------------------------------------------------------------


def test_the_case_page_and_the_api_show_each_child_beside_the_outcomes(app, client):
    case_id = family_at(app, "Ashdown", "review_family_plan")
    with app.app_context():
        session = db.session()
        sam = session.scalar(select(Person).where(Person.case_id == case_id, Person.is_child))
        session.add(
            Closure(
                case_id=case_id,
                reason="plan_achieved",
                closed_at=CLOSED_AT,
                closed_by=COORDINATOR.username,
            )
        )
        session.add_all(
            [
                ChildFollowUp(
                    case_id=case_id,
                    person_id=sam.id,
                    child_name="Sam Ashdown",
                    living="kin",
                    proceedings_issued=False,
                    note="Lives with Nan during the week.",
                    recorded_on=date(2027, 10, 22),
                    recorded_by="dana.data",
                ),
                ChildFollowUp(
                    case_id=case_id,
                    child_name="Baby Ashdown",
                    living="looked_after",
                    proceedings_issued=True,
                    recorded_on=date(2027, 10, 22),
                    recorded_by="dana.data",
                ),
            ]
        )
        session.commit()
        token = create_token(session, find_user(session, "morgan.manager"), "tests")[1]
        sam_id = sam.id

    login(client, "morgan.manager")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    table = html[html.index("Each child twelve months after closure") :]
    table = table[: table.index("</table>")]
    assert '<th scope="row">Sam Ashdown</th>' in table
    assert "With kin (family or friends)" in table and "Lives with Nan during the week." in table
    assert '<th scope="row">Baby Ashdown</th>' in table and "Looked after" in table
    assert table.count("<td>22 Oct 2027</td>") == 2

    answer = client.get(f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    rows = answer.get_json()["child_follow_ups"]
    assert [
        (r["child_name"], r["person_id"], r["living"], r["proceedings_issued"]) for r in rows
    ] == [
        ("Sam Ashdown", sam_id, "kin", False),
        ("Baby Ashdown", None, "looked_after", True),
    ]
    assert rows[0]["recorded_on"] == "2027-10-22" and rows[0]["months_after_closure"] == 12


def test_a_closed_case_checked_at_six_months_says_it_waits_for_the_follow_up(app, client):
    case_id = family_at(app, "Ashdown", "review_family_plan")
    with app.app_context():
        session = db.session()
        # As the record stands between the six-month check and the twelve-month timer.
        session.get(Case, case_id).stage = None
        closure = Closure(
            case_id=case_id, reason="plan_achieved", closed_at=CLOSED_AT, closed_by="casey"
        )
        check = Outcome(
            case_id=case_id,
            stage="six_month",
            problem="school_attendance",
            achieved=True,
            recorded_on=date(2027, 4, 20),
            recorded_by="dana.data",
        )
        session.add_all([closure, check])
        session.commit()
    login(client, "morgan.manager")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "waiting for the twelve-month follow-up of each child." in html
    assert "Each child twelve months after closure" not in html  # nothing recorded yet


# -- cases closed on a version without the follow-up ---------------------------------------


def test_a_case_closed_before_the_closure_moment_was_kept_stays_on_its_version(
    session, runtime, frozen_clock
):
    """Its data has no ``closed_at`` for the twelve-month timer, so it must not move."""
    shipped = {p.name: p.read_text() for p in WORKFLOWS.iterdir() if p.suffix in (".bpmn", ".dmn")}
    shipped |= {f"forms/{p.name}": p.read_text() for p in FORMS.glob("*.json")}
    script = 'pathway_result = "closed"\nclosed_at = now().isoformat()'
    assert script in shipped["fgc_pathway.bpmn"]
    earlier = dict(shipped)
    earlier["fgc_pathway.bpmn"] = shipped["fgc_pathway.bpmn"].replace(
        script, 'pathway_result = "closed"'
    )

    def deploy(files):
        deployed = deploy_files(session, files, OWNER.username, runtime.codec)
        return next(d.version for d in deployed if d.version.process_id == "fgc_pathway")

    before = deploy(earlier)
    closed = start(runtime, session, before)
    to_closure(runtime, session, closed, frozen_clock)
    reviewing = start(runtime, session, before)
    through_conference(runtime, session, reviewing)
    latest = deploy(shipped)

    checks = {c.case_id: (c.can_move, c.reason) for c in preview(session, runtime, latest)}
    assert checks == {
        closed.id: (
            False,
            "'Record case closed' (record_closed) was changed after this case had completed it",
        ),
        reviewing.id: (True, None),  # it will keep the moment when it closes
    }
