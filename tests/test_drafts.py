"""Drafts of task forms: saved while typing and on demand, kept across sign-out, the worker's own.

The autosave script (webapp/static/js/drafts.js) posts the form's fields with the CSRF token in
the ``X-CSRFToken`` header and asks for JSON; the "Save draft" button posts the same fields as
an ordinary form. Both are exercised here as a browser would send them.
"""

from __future__ import annotations

import pytest

from engine.actors import Actor
from engine.drafts import MAX_DRAFT_BYTES, DraftTooLarge, load_draft, save_draft
from engine.queries import list_tasks
from tests.people import REFERRER
from tests.test_pathway_walkthrough import ACCEPT, do
from tests.test_task_page import (
    _case,
    draft_of,
    filled,
    get_task_state,
    open_page,
    referred,
    second_manager,
    send,
    task_of,
    value_of,
)
from tests.web import csrf_token, login
from webapp.extensions import db, runtime

FETCH = {"Accept": "application/json"}


def autosave(client, task_id: int, post, token: str | None = None):
    """What drafts.js sends, asking for JSON; the token travels only in the header here, so
    the header alone is shown to be enough (``token`` overrides the page's)."""
    post = post.copy()
    post.pop("__action", None)
    header = post.pop("csrf_token", "")
    return client.post(
        f"/tasks/{task_id}/draft",
        data=post,
        headers=FETCH | {"X-CSRFToken": header if token is None else token},
    )


def screening(app, client, username: str = "morgan.manager") -> tuple[int, str]:
    task_id = task_of(app, referred(app), "screen_referral")
    login(client, username)
    return task_id, open_page(client, task_id)[1]


def test_autosave_keeps_the_typed_answers_and_says_when(app, client, frozen_clock):
    task_id, html = screening(app, client)
    response = autosave(client, task_id, filled(html, screening_note="Half written"))
    assert response.status_code == 200
    assert response.get_json() == {
        "saved_at": "2026-03-02T09:00:00+00:00",
        "saved_at_text": "09:00",
        "notice": "",
    }
    assert draft_of(app, task_id, "morgan.manager") == {"screening_note": "Half written"}


def test_the_save_draft_button_works_without_javascript(app, client, frozen_clock):
    task_id, html = screening(app, client)
    post = filled(html, screening_note="Saved by hand")
    response = client.post(f"/tasks/{task_id}/draft", data=post, follow_redirects=True)
    assert response.request.path == f"/tasks/{task_id}"
    page = response.get_data(as_text=True)
    assert "Draft saved at 09:00. It is kept until you complete the task." in page
    assert value_of(page, "screening_note") == "Saved by hand"


def test_a_draft_is_restored_after_signing_out_and_in_again(app, client, frozen_clock):
    task_id, html = screening(app, client)
    post = filled(html, screening_decision="more_information", information_needed="Who?")
    assert autosave(client, task_id, post).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks")})
    assert client.get(f"/tasks/{task_id}").status_code == 302  # signed out
    frozen_clock.advance(hours=20)
    login(client, "morgan.manager")
    _, page = open_page(client, task_id)
    assert "Restored your draft saved at 09:00 on 2 Mar." in page
    assert 'value="more_information" checked' in page
    assert value_of(page, "information_needed") == "Who?"


def test_a_draft_is_never_shown_to_anyone_else(app, client, frozen_clock):
    task_id, html = screening(app, client)
    autosave(client, task_id, filled(html, screening_note="Only for Morgan"))
    other = app.test_client()
    login(other, second_manager(app))
    _, page = open_page(other, task_id)
    assert "Only for Morgan" not in page and "Restored your draft" not in page


def test_discarding_the_draft_brings_back_the_empty_form(app, client, frozen_clock):
    task_id, html = screening(app, client)
    autosave(client, task_id, filled(html, screening_note="Start again"))
    _, page = open_page(client, task_id)
    assert "Discard draft" in page
    token = csrf_token(client, f"/tasks/{task_id}")
    response = client.post(
        f"/tasks/{task_id}/draft/discard", data={"csrf_token": token}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "Your draft is discarded." in page and "Start again" not in page
    assert draft_of(app, task_id, "morgan.manager") is None


def test_a_draft_over_the_size_limit_is_refused_with_a_clear_message(app, client, frozen_clock):
    task_id, html = screening(app, client)
    autosave(client, task_id, filled(html, screening_note="Earlier draft"))
    huge = "x" * (MAX_DRAFT_BYTES + 10)
    response = autosave(client, task_id, filled(html, screening_note=huge))
    assert response.status_code == 413
    assert "larger than 256 KB" in response.get_json()["message"]
    assert draft_of(app, task_id, "morgan.manager") == {"screening_note": "Earlier draft"}


def test_save_draft_refuses_an_oversized_draft_and_keeps_the_old_one(app, frozen_clock):
    task_id = task_of(app, referred(app), "screen_referral")
    with app.app_context():
        session = db.session()
        save_draft(session, task_id, "morgan.manager", {"screening_note": "kept"})
        with pytest.raises(DraftTooLarge, match="256 KB"):
            save_draft(session, task_id, "morgan.manager", {"n": "x" * MAX_DRAFT_BYTES})
        session.rollback()
        assert load_draft(session, task_id, "morgan.manager").data == {"screening_note": "kept"}


def test_the_draft_address_needs_the_csrf_token(app, client, frozen_clock):
    task_id, html = screening(app, client)
    response = autosave(client, task_id, filled(html, screening_note="Forged"), token="")
    assert response.status_code == 400
    assert draft_of(app, task_id, "morgan.manager") is None


def test_no_draft_for_a_task_on_a_case_the_worker_cannot_see(app, client, frozen_clock):
    task_id = task_of(app, referred(app), "screen_referral")
    login(client, "mel.manager")
    token = csrf_token(client, "/tasks")
    response = autosave(client, task_id, {"screening_note": "Snooping"}, token=token)
    assert response.status_code == 404
    assert draft_of(app, task_id, "mel.manager") is None


def test_no_draft_for_a_worker_without_the_tasks_role(app, client, frozen_clock):
    task_id = task_of(app, referred(app), "screen_referral")
    login(client, "riley.referrer")
    token = csrf_token(client, "/tasks")
    response = autosave(client, task_id, {"screening_note": "Not mine"}, token=token)
    assert response.status_code == 403
    assert draft_of(app, task_id, "riley.referrer") is None


def test_a_late_autosave_after_completing_does_not_bring_the_draft_back(app, client, frozen_clock):
    task_id, html = screening(app, client)
    assert send(client, task_id, filled(html, screening_decision="accept")).status_code == 302
    response = autosave(client, task_id, filled(html, screening_note="Typed as it went"))
    assert response.status_code == 409
    assert draft_of(app, task_id, "morgan.manager") is None


def test_autosave_after_someone_else_completed_keeps_the_text_and_says_so(
    app, client, frozen_clock
):
    case_id = referred(app)
    task_id = task_of(app, case_id, "screen_referral")
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    rival = Actor.of(second_manager(app), "fgc_manager")
    with app.app_context():
        do(runtime(), db.session(), _case(case_id), "screen_referral", ACCEPT, rival)
        assert list_tasks(db.session(), case_id=case_id)[0].element_id == "allocate_coordinator"
    response = autosave(client, task_id, filled(html, screening_note="Still typing"))
    assert response.status_code == 200
    assert response.get_json()["notice"] == "Mo Manager completed this task at 09:00 on 2 Mar."
    assert draft_of(app, task_id, "morgan.manager") == {"screening_note": "Still typing"}


def test_an_oversized_draft_saved_by_button_shows_the_form_again_with_the_text(
    app, client, frozen_clock
):
    task_id, html = screening(app, client)
    huge = "y" * (MAX_DRAFT_BYTES + 10)
    response = client.post(f"/tasks/{task_id}/draft", data=filled(html, screening_note=huge))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Your draft was not saved" in page and "larger than 256 KB" in page
    assert value_of(page, "screening_note") == huge
    assert draft_of(app, task_id, "morgan.manager") is None


def test_a_cancelled_task_still_shows_the_workers_draft_to_copy(app, client, frozen_clock):
    case_id = referred(app)
    task_id = task_of(app, case_id, "screen_referral")
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    client.post(f"/tasks/{task_id}/draft", data=filled(html, screening_note="Nearly done"))
    withdrawn = {"reason": "The family no longer wants a conference.", "withdrawn_by": "Jo"}
    with app.app_context():
        runtime().send_message(db.session(), case_id, "consent_withdrawn", withdrawn, REFERRER)
    assert get_task_state(app, task_id) == "cancelled"
    status, page = open_page(client, task_id)
    assert status == 200
    assert "This task was cancelled: the case moved on or was closed." in page
    assert "Restored your draft saved at 09:00 on 2 Mar." in page
    assert value_of(page, "screening_note") == "Nearly done"
    assert "Complete task" not in page and "Discard draft" in page
    post = filled(html, screening_decision="accept")
    late = send(client, task_id, post)
    assert late.status_code == 409
    assert "This task was cancelled (the case moved on or was closed) before you sent it." in (
        late.get_data(as_text=True)
    )
