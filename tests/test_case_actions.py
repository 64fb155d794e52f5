"""What anyone on a case can record from the case page: a safeguarding concern, a note, and
(for the people working with the family) that consent was withdrawn."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.audit import AuditEntry
from engine.models import Case, CaseEvent, CaseStatus, TaskState
from engine.queries import list_tasks
from engine.record.models import SafeguardingConcern
from tests.test_case_page import open_case, page_of
from tests.web import csrf_token, login
from webapp.extensions import db

CONCERN = "Sam said he was left alone overnight at the weekend."


def post(client, case_id: int, action: str, data: dict, token: str | None = None):
    token = token or csrf_token(client, f"/cases/{case_id}")
    return client.post(f"/cases/{case_id}/{action}", data=data | {"csrf_token": token})


def case_state(app, case_id: int) -> tuple[str, int, int]:
    """The case's status, how many chronology entries and safeguarding concerns it has."""
    with app.app_context():
        session = db.session()
        status = session.get(Case, case_id).status
        events = session.scalar(select(func.count()).where(CaseEvent.case_id == case_id))
        concerns = session.scalar(
            select(func.count()).where(SafeguardingConcern.case_id == case_id)
        )
        return status, events, concerns


def test_a_concern_gives_the_managers_a_review_task_and_shows_in_the_chronology(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    sent = post(client, case_id, "concerns", {"concern": CONCERN})
    assert sent.status_code == 302
    assert sent.headers["Location"] == f"/cases/{case_id}#safeguarding"
    with app.app_context():
        [review] = [
            t
            for t in list_tasks(db.session(), case_id=case_id)
            if t.element_id == "review_safeguarding_concern"
        ]
    assert review.title == "Review the safeguarding concern"
    assert review.candidate_groups == ["fgc_manager"] and review.assignee is None
    html = page_of(client, case_id)
    assert f"Safeguarding concern raised by casey.coordinator: {CONCERN}" in html
    assert "Waiting for review" in html
    assert "Safeguarding concern raised. An FGC manager has a task" in html  # the flash
    with app.app_context():
        actions = db.session().scalars(
            select(AuditEntry.action).where(AuditEntry.username == "casey.coordinator")
        )
        assert "raise_concern" in list(actions)


def test_an_empty_concern_is_sent_back_with_a_message_and_nothing_recorded(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    before = case_state(app, case_id)
    page = post(client, case_id, "concerns", {"concern": "   "})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "Describe the concern: this field is required." in html
    assert 'aria-invalid="true"' in html and 'href="#concern"' in html
    assert case_state(app, case_id) == before


def test_a_note_too_long_keeps_what_was_typed(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    before = case_state(app, case_id)
    text = "Phoned Jo. " * 400
    page = post(client, case_id, "notes", {"note": text})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "at most 4000" in html
    assert "Phoned Jo. Phoned Jo." in html  # the note is still in the box
    assert case_state(app, case_id) == before


def test_a_note_shows_in_the_chronology_and_leaves_the_case_where_it_was(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    with app.app_context():
        revision = db.session().get(Case, case_id).revision
    sent = post(client, case_id, "notes", {"note": "Jo asked for meetings after school pick-up."})
    assert sent.headers["Location"] == f"/cases/{case_id}#chronology"
    html = page_of(client, case_id)
    chronology = html[html.index('id="chronology"') :]
    assert "Jo asked for meetings after school pick-up." in chronology
    with app.app_context():
        case = db.session().get(Case, case_id)
        assert (case.revision, case.stage) == (
            revision,
            "Baseline meeting and whole-family assessment",
        )


def test_consent_withdrawn_ends_the_case_and_the_page_says_so(app, client):
    case_id = open_case(app, "conference")
    login(client, "riley.referrer")
    sent = post(
        client,
        case_id,
        "consent-withdrawn",
        {
            "reason": "Jo no longer wants the meeting.",
            "withdrawn_by": "Jo Ashdown",
            "confirm": "yes",
        },
    )
    assert sent.status_code == 302
    with app.app_context():
        session = db.session()
        assert session.get(Case, case_id).status == CaseStatus.COMPLETED
        assert list_tasks(session, case_id=case_id) == []
        cancelled = list_tasks(session, case_id=case_id, state=TaskState.CANCELLED)
        assert [t.element_id for t in cancelled] == ["review_family_plan"]
    html = page_of(client, case_id)
    assert "Status: Finished." in html
    assert "Consent was withdrawn on" in html and "Jo no longer wants the meeting." in html
    assert "Consent withdrawn (Jo Ashdown)" in html  # the chronology
    assert 'id="raise-concern"' not in html and 'id="consent"' not in html


def test_consent_withdrawn_needs_a_reason_and_a_confirmation(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    page = post(client, case_id, "consent-withdrawn", {"reason": "Family moved away."})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "Tick the box to confirm that the pathway ends for this family." in html
    assert "Family moved away." in html  # kept
    assert case_state(app, case_id)[0] == CaseStatus.ACTIVE


def test_only_the_people_working_with_the_family_may_record_consent_withdrawn(app, client):
    case_id = open_case(app, "assessment")
    login(client, "lee.practitioner")  # may pick up the assessment, has not yet
    data = {"reason": "Family moved away.", "confirm": "yes"}
    assert post(client, case_id, "consent-withdrawn", data).status_code == 403
    assert case_state(app, case_id)[0] == CaseStatus.ACTIVE


def test_a_concern_on_a_finished_case_is_explained_not_an_error(app, client):
    case_id = open_case(app, "allocated")
    login(client, "morgan.manager")
    data = {"reason": "Family moved away.", "confirm": "yes"}
    assert post(client, case_id, "consent-withdrawn", data).status_code == 302
    page = post(client, case_id, "concerns", {"concern": CONCERN})
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert "This case no longer takes safeguarding concerns" in html
    assert CONCERN in html  # what was typed is kept, to use elsewhere
    assert case_state(app, case_id)[2] == 0


def test_actions_on_a_case_someone_cannot_see_are_not_found(app, client):
    case_id = open_case(app, "conference")
    login(client, "cam.coordinator")
    token = csrf_token(client, "/cases")
    before = case_state(app, case_id)
    for action, data in [
        ("concerns", {"concern": CONCERN}),
        ("notes", {"note": "A guess"}),
        ("consent-withdrawn", {"reason": "A guess", "confirm": "yes"}),
    ]:
        assert post(client, case_id, action, data, token).status_code == 404
    assert case_state(app, case_id) == before


def test_an_action_posted_without_its_csrf_token_is_refused(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    before = case_state(app, case_id)
    for action in ("concerns", "notes", "consent-withdrawn"):
        page = client.post(f"/cases/{case_id}/{action}", data={"concern": CONCERN, "note": "x"})
        assert page.status_code == 400
    assert case_state(app, case_id) == before


def test_after_consent_is_withdrawn_an_open_concern_review_keeps_the_case_open(app, client):
    case_id = open_case(app, "allocated")
    login(client, "casey.coordinator")
    post(client, case_id, "concerns", {"concern": CONCERN})
    data = {"reason": "Family moved away.", "confirm": "yes"}
    assert post(client, case_id, "consent-withdrawn", data).status_code == 302
    html = page_of(client, case_id)
    assert "Status: Open." in html
    assert "the case stays open until its safeguarding review is done" in html
    assert "1 safeguarding concern waiting for a manager's review" in html
    assert "Review the safeguarding concern" in html  # still an open task
    assert 'id="raise-concern"' not in html
