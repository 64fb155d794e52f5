"""The demo data: fictional workers and families spread over every stage and ending."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engine.accounts import User, check_password
from engine.chronology import case_events
from engine.demo import DEMO_PASSWORD, DEMO_TEAM, DEMO_USERS, seed_demo
from engine.models import Case, CaseEvent, CaseStatus, HumanTask, TaskState
from engine.record.models import Person, Referral
from engine.roles import ROLES
from tests.conftest import REPO
from tests.test_board_engine import STAGES
from webapp import create_app

NOW = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
DRAMA_PHONE = re.compile(r"^(01632 960|07700 900)\d{3}$")  # Ofcom's numbers for drama
FICTIONAL_POSTCODE = re.compile(r"^LU[1-7] 9ZZ$")


def seed(session, runtime):
    return seed_demo(session, runtime, REPO / "workflows", REPO / "forms", now=NOW)


def results(session, runtime) -> Counter:
    """How each finished case ended (the pathway_result the diagrams set)."""
    ended = Counter()
    for case in session.scalars(select(Case).where(Case.status == CaseStatus.COMPLETED)):
        specs = runtime.store.version(session, case.version_id).specs
        ended[runtime.codec.load_workflow(case.state, specs).data["pathway_result"]] += 1
    return ended


def counts(session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(table))
        for table in (User, Case, HumanTask, CaseEvent, Person)
    )


def assert_only_fictional_contact_details(session) -> None:
    people = session.scalars(select(Person)).all()
    phones = [p.phone for p in people if p.phone]
    assert phones and all(DRAMA_PHONE.match(phone) for phone in phones)
    postcodes = [p.postcode for p in people if p.postcode]
    assert postcodes and all(FICTIONAL_POSTCODE.match(code) for code in postcodes)
    referrals = session.scalars(select(Referral)).all()
    assert all(DRAMA_PHONE.match(r.referrer_phone) for r in referrals)
    assert all(r.referrer_email.endswith("@example.org") for r in referrals)
    assert all(u.email.endswith("@example.org") for u in session.scalars(select(User)))


def test_demo_seeds_every_role_and_fictional_families_at_every_stage_and_ending(session, runtime):
    result = seed(session, runtime)
    assert (result.created, result.users) == (True, len(DEMO_USERS))

    users = session.scalars(select(User)).all()
    assert {role for u in users for role in u.roles} == set(ROLES)
    assert sum(u.roles == ["coordinator"] for u in users) == 3
    assert {u.team.name for u in users} == {DEMO_TEAM}
    assert all(check_password(u, DEMO_PASSWORD) for u in users[:2])

    cases = session.scalars(select(Case)).all()
    assert len(cases) == result.cases
    assert len(cases) in range(28, 37)  # about thirty families
    assert all(c.created_at < NOW for c in cases)
    assert {c.stage for c in cases if c.status == CaseStatus.ACTIVE} >= set(STAGES)
    ended = results(session, runtime)
    assert set(ended) == {"declined", "stepped_up", "consent_withdrawn", "closed"}
    assert ended["declined"] >= 2  # ineligible, and a better service elsewhere
    assert {r.decline_reason for r in session.scalars(select(Referral))} >= {
        "not_eligible",
        "other_service_better",
    }
    pre_proceedings = session.scalars(
        select(Referral).where(Referral.referral_type == "pre_proceedings")
    ).all()
    assert len(pre_proceedings) >= 3 and all(r.plo_offer_date for r in pre_proceedings)

    waiting = {
        t.element_id
        for t in session.scalars(select(HumanTask).where(HumanTask.state == TaskState.READY))
    }
    assert {
        "provide_more_information",
        "link_family_hub",
        "revise_family_plan",
        "approve_support",
        "senior_approve_support",
        "review_safeguarding_concern",
        "hold_review",
        "record_six_month_check",
        "record_twelve_month_follow_up",
    } <= waiting
    timers = [c for c in cases if c.status == CaseStatus.ACTIVE and c.stage is None]
    # Waiting for a review, the six-month check or the twelve-month follow-up.
    assert timers and all(c.next_wake_at > NOW for c in timers)
    breaches = [e for c in cases for e in case_events(session, c.id) if e.kind == "sla_breached"]
    assert breaches  # a referral left unscreened past its deadline
    assert_only_fictional_contact_details(session)


def test_seeding_twice_adds_nothing(session, runtime):
    seed(session, runtime)
    before = counts(session)
    again = seed(session, runtime)
    assert (again.created, again.cases, again.users) == (False, 0, 0)
    assert counts(session) == before


@pytest.fixture
def app(db_url):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "SECRET_KEY": "test",
            "KINFLOW_WORKFLOWS_DIR": str(REPO / "workflows"),
            "KINFLOW_FORMS_DIR": str(REPO / "forms"),
        }
    )


def test_the_demo_command_seeds_once_and_prints_the_logins(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Demo data loaded: ")
    assert "password 'demo'" in first.output
    assert all(u.username in first.output for u in DEMO_USERS)
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0
    assert again.output.startswith("Demo data is already loaded.")


def test_the_demo_command_refuses_outside_development(db_url):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "x", "KINFLOW_ENV": "production"}
    )
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 1
    assert "development only" in result.output
