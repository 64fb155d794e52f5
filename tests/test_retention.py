"""Retention: the dry-run report on a fixed day, erasing one case past its period, and the
configuration of the periods (engine/retention.py, engine/erasure.py, webapp/retention.py,
``kinflow retention``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, inspect, select

from engine import audit, clock
from engine.audit import AuditEntry
from engine.case_notes import add_note
from engine.deploy import latest_version
from engine.diagram import case_diagrams
from engine.erasure import NotPastRetention, erase_case
from engine.errors import KinflowError
from engine.family_record import family_record
from engine.models import Base, Case, CaseEvent
from engine.queries import get_case
from engine.record.models import Person, Referral
from engine.retention import Period, RetentionPolicy, report
from tests import test_pathway_walkthrough as walk
from tests.test_family_record import DECLINE_NOT_ELIGIBLE, WITHDRAWN
from tests.web import csrf_token, login
from webapp.extensions import db, runtime

DEFAULTS = RetentionPolicy.from_settings({})


def ended_by_withdrawal(rt, session, pathway, family: str = "Ashdown") -> int:
    """A case screened, allocated and ended by consent withdrawn at the clock's moment."""
    start = {"eligibility_rule": "stronger_families"}
    case = rt.start_case(session, pathway, start, walk.REFERRER, f"{family} family")
    walk.through_screening(rt, session, case)
    add_note(session, case.id, walk.COORDINATOR, f"The {family}s asked for a Saturday meeting.")
    rt.send_message(session, case.id, "consent_withdrawn", WITHDRAWN, walk.REFERRER)
    return case.id


def declined(rt, session, pathway) -> int:
    case = walk.start(rt, session, pathway)
    one_problem = walk.REFERRAL | {"problems": ["health"]}
    walk.do(rt, session, case, "submit_referral", one_problem, walk.REFERRER)
    walk.do(rt, session, case, "acknowledge_referral", walk.ACKNOWLEDGED, walk.MANAGER)
    walk.do(rt, session, case, "screen_referral", DECLINE_NOT_ELIGIBLE, walk.MANAGER)
    walk.do(rt, session, case, "tell_referrer_declined", walk.DECLINE_NOTICE, walk.MANAGER)
    return case.id


def row_counts(session) -> dict[str, int]:
    names = inspect(session.get_bind()).get_table_names()
    tables = [t for t in Base.metadata.sorted_tables if t.name in names]
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in tables}


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


@pytest.fixture
def two_ended(session, runtime, frozen_clock):
    """Ended on Monday 2 March 2026: a case (consent withdrawn) and a declined referral."""
    pathway = walk.deploy_pathway(session, runtime)
    return ended_by_withdrawal(runtime, session, pathway), declined(runtime, session, pathway)


def test_the_dry_run_lists_exactly_the_records_past_their_period_and_changes_nothing(
    session, two_ended
):
    case_id, declined_id = two_ended
    before = row_counts(session)
    # A declined referral is kept two years after it ended, a case six: 2 March 2028 / 2032.
    day_before = report(session, DEFAULTS, date(2028, 3, 1))
    assert day_before.total == 0
    due_day = report(session, DEFAULTS, date(2028, 3, 2))
    assert [(c.case_id, c.ended_on, c.due_on) for t in due_day.types for c in t.cases] == [
        (declined_id, date(2026, 3, 2), date(2028, 3, 2))
    ]
    assert report(session, DEFAULTS, date(2032, 3, 1)).due_case(case_id) is None
    later = report(session, DEFAULTS, date(2032, 3, 2))
    counts = {t.record_type.key: t.count for t in later.types}
    assert (counts["case"], counts["declined_referral"]) == (1, 1)
    assert later.due_case(case_id).due_on == date(2032, 3, 2)
    assert row_counts(session) == before


def test_logs_notifications_and_drafts_are_counted_from_their_own_dates(session, frozen_clock):
    for day in ("2025-03-01", "2025-03-02", "2025-03-03"):
        frozen_clock.set(at(day))
        audit.record(session, "dana.data", "view_case")
    session.commit()
    policy = RetentionPolicy.from_settings({"audit_log": "1y"})
    found = {t.record_type.key: t for t in report(session, policy, date(2026, 3, 2)).types}
    # Written on 1 and 2 March 2025: due on 1 and 2 March 2026; the 3 March one is not.
    assert (found["audit_log"].count, found["audit_log"].oldest) == (2, date(2025, 3, 1))
    assert found["notifications"].count == found["drafts"].count == 0


def test_erasing_a_case_inside_its_period_is_refused_and_changes_nothing(
    session, two_ended, frozen_clock
):
    case_id, _ = two_ended
    frozen_clock.set(at("2032-03-01"))
    before = row_counts(session)
    with pytest.raises(NotPastRetention) as refused:
        erase_case(session, case_id, DEFAULTS, "dana.data", via="cli")
    assert str(refused.value) == (
        f"Case {case_id} ended on 2026-03-02 and is kept until 2032-03-02 (FGC case records: "
        "6 years after the case ended). Nothing was erased."
    )
    assert row_counts(session) == before


def test_an_open_case_cannot_be_erased(session, runtime, frozen_clock):
    pathway = walk.deploy_pathway(session, runtime)
    case = walk.start(runtime, session, pathway)
    frozen_clock.set(at("2040-01-01"))
    with pytest.raises(NotPastRetention, match="has not ended"):
        erase_case(session, case.id, DEFAULTS, "dana.data")


def test_erasing_a_case_past_retention_removes_the_familys_data_and_nothing_else(
    session, runtime, two_ended, frozen_clock
):
    case_id, declined_id = two_ended
    other_before = family_record(session, declined_id)
    frozen_clock.set(at("2032-03-02"))
    done = erase_case(session, case_id, DEFAULTS, "dana.data", via="cli")
    assert done.rows_deleted > 0 and done.events_blanked > 0

    record = family_record(session, case_id)
    assert (record.referral, record.people, record.network) == (None, (), ())
    assert [n.summary for n in record.notes] == ["Erased after its retention period."]
    case = get_case(session, case_id)
    assert case.title == "Erased case" and "Ashdown" not in case.state
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
    assert not [e for e in events if "Ashdown" in e.summary or e.payload not in ({}, None)]
    assert events[-1].kind == "case_erased"
    assert case_diagrams(session, runtime, case_id)  # the shell still shows its path
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "erase_case")).one()
    assert (entry.username, entry.case_id, entry.via) == ("dana.data", case_id, "cli")
    assert entry.target == "case past retention since 2032-03-02"

    other = family_record(session, declined_id)
    assert [p.name for p in other.people] == [p.name for p in other_before.people]
    assert session.get(Referral, declined_id).family_name == "Ashdown"
    assert report(session, DEFAULTS, date(2032, 3, 2)).due_case(case_id) is None
    with pytest.raises(NotPastRetention, match="already been erased"):
        erase_case(session, case_id, DEFAULTS, "dana.data")


def test_periods_are_configurable_and_bad_ones_are_named():
    policy = RetentionPolicy.from_settings({"case": "18m", "drafts": "30"})
    assert policy.periods["case"].due(date(2026, 8, 31)) == date(2028, 2, 29)
    assert policy.periods["drafts"] == Period(30, "days")
    assert policy.periods["declined_referral"] == Period(2, "years")  # the default
    assert Period(1, "months").before(date(2026, 2, 28)) == date(2026, 1, 31)
    with pytest.raises(KinflowError, match="KINFLOW_RETENTION_CASE: give a period such as 6y"):
        RetentionPolicy.from_settings({"case": "six years"})


def test_the_app_reads_each_period_from_its_setting(db_url, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("KINFLOW_RETENTION_DRAFTS", "30d")
    config = {"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "t", "TESTING": True}
    app = create_app(config | {"KINFLOW_RETENTION_CASE": "7y"})
    periods = app.extensions["kinflow_retention"].periods
    assert (periods["drafts"], periods["case"]) == (Period(30, "days"), Period(7, "years"))
    assert periods["audit_log"] == Period(6, "years")
    with pytest.raises(RuntimeError, match="KINFLOW_RETENTION_OUTBOX"):
        create_app(config | {"KINFLOW_RETENTION_OUTBOX": "1 week"})


# -- the page and the command ----------------------------------------------------------------


@pytest.fixture
def ended_in_app(app, workers):
    fake = clock.FrozenClock(at("2026-03-02"))
    with clock.using(fake), app.app_context():
        session = db.session()
        pathway = latest_version(session, "fgc_pathway")
        case_id = ended_by_withdrawal(runtime(), session, pathway)
    return case_id


@pytest.mark.parametrize(
    ("username", "status"), [("dana.data", 200), ("ada.admin", 200), ("morgan.manager", 403)]
)
def test_the_retention_page_is_for_data_officers_and_admins(
    app, client, ended_in_app, username, status
):
    login(client, username)
    with clock.using(clock.FrozenClock(at("2032-03-02"))):
        page = client.get("/retention")
    assert page.status_code == status
    if status == 200:
        html = page.get_data(as_text=True)
        assert f"Case {ended_in_app}" in html and "Ashdown" not in html
        assert "Records past retention on 2032-03-02: 1 in all" in html
        assert ("Erase case" in html) is (username == "dana.data")
        with app.app_context():
            viewed = (
                db.session()
                .scalars(select(AuditEntry).where(AuditEntry.action == "view_retention_report"))
                .all()
            )
        assert [v.username for v in viewed] == [username]
        bad = client.get("/retention?on=soon")
        assert bad.status_code == 400
        assert "On: give a date as YYYY-MM-DD" in bad.get_data(as_text=True)


def test_erasing_from_the_page_needs_the_case_number_typed(app, client, ended_in_app):
    login(client, "dana.data")
    url = f"/retention/cases/{ended_in_app}/erase"
    with clock.using(clock.FrozenClock(at("2032-03-02"))):
        token = csrf_token(client, "/retention")
        client.post(url, data={"csrf_token": token, "confirm": "yes"})
        with app.app_context():
            assert db.session().get(Case, ended_in_app).title == "Ashdown family"
        answer = client.post(url, data={"csrf_token": token, "confirm": str(ended_in_app)})
        assert answer.status_code == 303
        page = client.get("/retention").get_data(as_text=True)
    assert f"Case {ended_in_app} erased" in page
    with app.app_context():
        session = db.session()
        assert session.get(Case, ended_in_app).title == "Erased case"
        assert session.scalars(select(Person).where(Person.case_id == ended_in_app)).all() == []
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "erase_case")).one()
        assert (entry.username, entry.via) == ("dana.data", "web")


def test_the_command_prints_the_dry_run_and_erases_only_with_confirm(app, ended_in_app):
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["retention", "--dry-run", "--on", "2032-03-02"])
    assert dry.exit_code == 0, dry.output
    assert "FGC case records: 1 past retention (kept 6 years after the case ended)" in dry.output
    assert f"  case {ended_in_app}\tcompleted\tended 2026-03-02\tfell due 2032-03-02" in dry.output
    unconfirmed = runner.invoke(args=["retention", "--erase", str(ended_in_app)])
    assert unconfirmed.exit_code == 2 and "add --confirm" in unconfirmed.output
    with clock.using(clock.FrozenClock(at("2032-03-01"))):
        early = runner.invoke(args=["retention", "--erase", str(ended_in_app), "--confirm"])
    assert early.exit_code == 1 and "is kept until 2032-03-02" in early.output
    with clock.using(clock.FrozenClock(at("2032-03-02"))):
        done = runner.invoke(args=["retention", "--erase", str(ended_in_app), "--confirm"])
    assert done.exit_code == 0 and f"Case {ended_in_app} erased" in done.output
    with app.app_context():
        entry = (
            db.session().scalars(select(AuditEntry).where(AuditEntry.action == "erase_case")).one()
        )
        assert (entry.username, entry.via) == ("kinflow-cli", "cli")
