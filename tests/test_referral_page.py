"""Making a referral in the browser's form: checked, kept as a draft, and starting the pathway."""

from __future__ import annotations

import lxml.html
from sqlalchemy import select

from engine.drafts import load_form_draft
from engine.models import Case, HumanTask
from engine.record.models import Referral
from tests.test_pathway_walkthrough import REFERRAL
from tests.test_schema_form import browser_post
from tests.web import csrf_token, login
from webapp.extensions import db


def referral_post(client, data=None, click=None):
    """The referral form as a browser posts it, filled with ``data`` by the server's own page."""
    page = client.get("/referrals/new")
    assert page.status_code == 200
    form = lxml.html.fromstring(page.get_data(as_text=True)).xpath("//form[@data-draft-url]")[0]
    post = browser_post(form, click)
    if data is not None:
        post = filled_with(client, data)
    post["csrf_token"] = csrf_token(client, "/referrals/new")
    return post


def filled_with(client, data):
    """Render the referral form with ``data`` as its values and read back what it would post."""
    from engine.intake import referral_form
    from tests.test_schema_form import render
    from webapp.extensions import runtime

    with client.application.app_context():
        schema = referral_form(db.session(), runtime())
    return browser_post(render(schema, data))


def referrals(app):
    with app.app_context():
        return list(db.session().scalars(select(Referral)))


def test_a_referrer_sends_a_referral_and_lands_on_the_new_case(app, client):
    login(client, "riley.referrer")
    sent = client.post("/referrals/new", data=referral_post(client, REFERRAL))
    assert sent.status_code == 302
    [referral] = referrals(app)
    assert sent.headers["Location"] == f"/cases/{referral.case_id}"
    assert referral.family_name == "Ashdown"
    assert referral.referred_by == "riley.referrer"
    with app.app_context():
        case = db.session().get(Case, referral.case_id)
        open_tasks = db.session().scalars(
            select(HumanTask.element_id).where(
                HumanTask.case_id == case.id, HumanTask.state == "ready"
            )
        )
        assert "acknowledge_referral" in set(open_tasks)
        assert case.team_id is not None
        assert load_form_draft(db.session(), "referral", "riley.referrer") is None


def test_a_referral_missing_answers_comes_back_with_messages_and_nothing_lost(app, client):
    login(client, "riley.referrer")
    partial = {k: v for k, v in REFERRAL.items() if k not in ("family_name", "why_now")}
    answer = client.post("/referrals/new", data=referral_post(client, partial))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    page = lxml.html.fromstring(html)
    [family] = page.xpath("//input[@name='family_name']")
    assert family.get("aria-invalid") == "true"
    assert "This field is required." in html
    assert page.xpath("//input[@name='people.0.name']")[0].get("value") == "Jo Ashdown"
    assert referrals(app) == []
    with app.app_context():
        draft = load_form_draft(db.session(), "referral", "riley.referrer")
        assert draft.data["people"][1]["name"] == "Sam Ashdown"


def test_the_referral_draft_is_restored_after_signing_out_and_in(app, client):
    login(client, "riley.referrer")
    post = referral_post(client, {"family_name": "Brightwell"})
    saved = client.post("/referrals/new/draft", data=post, headers={"Accept": "application/json"})
    assert saved.status_code == 200 and "saved_at_text" in saved.get_json()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/referrals/new")})
    login(client, "riley.referrer")
    html = client.get("/referrals/new").get_data(as_text=True)
    assert "Restored your draft" in html
    assert 'value="Brightwell"' in html


def test_adding_a_person_without_javascript_keeps_what_was_typed(app, client):
    login(client, "riley.referrer")
    post = filled_with(client, {"family_name": "Brightwell", "people": [{"name": "Ada B"}]})
    post["__action"] = "add:people"
    post["csrf_token"] = csrf_token(client, "/referrals/new")
    answer = client.post("/referrals/new", data=post)
    page = lxml.html.fromstring(answer.get_data(as_text=True))
    assert answer.status_code == 200
    assert page.xpath("//input[@name='people.0.name']")[0].get("value") == "Ada B"
    assert page.xpath("//input[@name='people.1.name']")
    assert referrals(app) == []


def test_only_referrers_and_managers_make_referrals(app, client):
    login(client, "casey.coordinator")
    assert client.get("/referrals/new").status_code == 403
    manager = app.test_client()
    login(manager, "morgan.manager")
    assert manager.get("/referrals/new").status_code == 200


def test_a_referral_without_its_csrf_token_is_refused(app, client):
    login(client, "riley.referrer")
    post = referral_post(client, REFERRAL)
    del post["csrf_token"]
    assert client.post("/referrals/new", data=post).status_code == 400
    assert referrals(app) == []
