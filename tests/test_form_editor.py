"""The form editor: process owners change a form with a live preview, in a draft that deploys
as a new process version. Every test runs on SQLite and PostgreSQL (the ``app`` fixture)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine import authoring
from engine.audit import AuditEntry
from engine.deploy import latest_version
from engine.forms import parse_form
from tests.people import OWNER
from tests.web import csrf_token, login
from webapp.extensions import db
from webapp.schema_form import build_fields

SMALL_FORM = {
    "type": "object",
    "required": ["visit_date"],
    "x-order": ["visit_date", "who_came", "notes"],
    "properties": {
        "notes": {"type": "string", "title": "What was agreed", "x-widget": "textarea"},
        "visit_date": {"type": "string", "format": "date", "title": "Date of the visit"},
        "who_came": {
            "type": "string",
            "title": "Who came",
            "enum": ["family", "network"],
            "x-widget": "radio",
            "x-labels": {"family": "The family", "network": "The wider network"},
        },
    },
}


def owner_client(client):
    login(client, "pat.owner")
    return client


def token(client) -> str:
    return csrf_token(client, "/forms")


def open_deployed(client, form_key: str = "referral") -> tuple[int, str]:
    """Press "Edit" on a shipped form; returns the new draft's id and the editor's path."""
    with client.application.app_context():
        version_id = latest_version(db.session(), "fgc_pathway").id
    answer = client.post(
        f"/forms/versions/{version_id}/{form_key}", data={"csrf_token": token(client)}
    )
    assert answer.status_code == 302
    path = answer.headers["Location"]
    draft_id = int(re.fullmatch(rf"/forms/drafts/(\d+)/{form_key}", path).group(1))
    return draft_id, path


def stored(app, draft_id: int) -> authoring.ProcessDraft:
    with app.app_context():
        draft = authoring.get_draft(db.session(), OWNER.username, draft_id)
        db.session.expunge(draft)
        return draft


def save(client, draft_id: int, text: str, revision: int, as_json: bool = True, **extra):
    headers = {"Accept": "application/json"} if as_json else {}
    data = {"schema": text, "revision": str(revision), "csrf_token": token(client), **extra}
    return client.post(f"/forms/drafts/{draft_id}/referral", data=data, headers=headers)


def rendered_fields(app, schema: dict) -> str:
    """What the task page's macro renders for this schema (templates/tasks/show.html)."""
    with app.app_context():
        template = app.jinja_env.from_string(
            '{% from "macros/form.html" import render_fields %}{{ render_fields(fields) }}'
        )
        return template.render(fields=build_fields(schema))


def preview(client, text: str) -> dict:
    answer = client.post("/forms/preview", data={"schema": text, "csrf_token": token(client)})
    assert answer.status_code == 200
    return answer.get_json()


# -- who may use it ---------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    answer = client.get("/forms")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["casey.coordinator", "morgan.manager", "ada.admin"])
def test_only_process_owners_may_edit_forms(client, username):
    login(client, username)
    assert client.get("/forms").status_code == 403
    assert client.get("/forms/drafts/1/referral").status_code == 403
    page = client.get("/tasks").get_data(as_text=True)
    assert 'href="/forms"' not in page
    with client.application.app_context():
        mine = authoring.start_draft(db.session(), username, "Sneaky", {"forms/x.json": "{}"}).id
    token_ = csrf_token(client, "/tasks")
    answer = client.post("/forms/preview", data={"schema": "{}", "csrf_token": token_})
    assert answer.status_code == 403
    answer = client.post(f"/forms/drafts/{mine}/deploy", data={"csrf_token": token_})
    assert answer.status_code == 403


def test_another_owners_draft_is_not_found(app, client):
    owner_client(client)
    with app.app_context():
        files = {"forms/referral.json": "{}"}
        theirs = authoring.start_draft(db.session(), "sam.owner", "Theirs", files).id
    assert client.get(f"/forms/drafts/{theirs}/referral").status_code == 404
    assert client.get(f"/forms?draft={theirs}").status_code == 404
    assert save(client, theirs, "{}", 1).status_code == 404
    assert stored_theirs(app, theirs) == {"forms/referral.json": "{}"}


def stored_theirs(app, draft_id: int) -> dict:
    with app.app_context():
        return dict(authoring.get_draft(db.session(), "sam.owner", draft_id).files)


# -- the list ---------------------------------------------------------------------------------


def test_the_list_shows_the_shipped_forms_with_the_versions_using_them(client):
    owner_client(client)
    page = client.get("/forms").get_data(as_text=True)
    assert 'href="/forms" aria-current="page">Forms</a>' in page
    for key in ("referral", "screening", "conference_record", "six_month_check"):
        assert f"<code>{key}</code>" in page
    assert "Referral for a family group conference" in page
    row = re.search(r"<code>referral</code>.*?</tr>", page, re.S).group(0)
    assert re.search(r"<td>1\s*</td>", row), row  # used by version 1, the only one


def test_a_bad_draft_number_is_a_clear_message(client):
    owner_client(client)
    answer = client.get("/forms?draft=abc")
    assert answer.status_code == 400
    assert "draft: give the number" in answer.get_data(as_text=True)


# -- opening a deployed form --------------------------------------------------------------------


def test_editing_a_deployed_form_makes_a_draft_of_that_version(app, client):
    owner_client(client)
    draft_id, path = open_deployed(client)
    draft = stored(app, draft_id)
    with app.app_context():
        version = latest_version(db.session(), "fgc_pathway")
        assert draft.base_version_id == version.id
        assert draft.files == version.files
    page = client.get(path).get_data(as_text=True)
    assert '<label for="schema-text"' in page
    textarea = re.search(r'<textarea id="schema-text"[^>]*>\n(.*?)</textarea>', page, re.S)
    assert json.loads(textarea.group(1).replace("&#34;", '"').replace("&amp;", "&"))
    assert "Your name" in page  # the preview's first question
    listed = client.get("/forms").get_data(as_text=True)
    assert f'href="/forms/drafts/{draft_id}/referral"' in listed


def test_a_form_the_draft_does_not_have_is_not_found(client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    assert client.get(f"/forms/drafts/{draft_id}/no_such_form").status_code == 404


# -- the preview -------------------------------------------------------------------------------


def test_the_preview_is_the_task_pages_own_rendering(app, client):
    owner_client(client)
    answer = preview(client, json.dumps(SMALL_FORM))
    assert answer["ok"] and answer["problems"] == []
    assert rendered_fields(app, SMALL_FORM) in answer["html"]
    assert "Date of the visit" in answer["html"] and 'type="date"' in answer["html"]
    assert "The wider network" in answer["html"]
    # In the order x-order gives, not the order the properties are written in.
    html = answer["html"]
    assert html.index("Date of the visit") < html.index("Who came") < html.index("What was agreed")


def test_the_preview_of_a_shipped_form_matches_the_task_page(app, client):
    owner_client(client)
    text = (app.root_path + "/../forms/referral.json").replace("/webapp/..", "")
    with open(text) as file:
        source = file.read()
    answer = preview(client, source)
    assert answer["ok"]
    assert rendered_fields(app, json.loads(source)) in answer["html"]


def test_broken_json_names_the_line_and_column(client):
    owner_client(client)
    text = '{\n  "type": "object",\n  "properties": {"a": {"type": "string"}}\n  "x": 1\n}'
    answer = preview(client, text)
    assert not answer["ok"] and answer["html"] == ""
    [problem] = answer["problems"]
    assert (problem["line"], problem["column"]) == (4, 3)
    assert problem["message"].startswith("Line 4, column 3: not valid JSON")
    assert "Line 4, column 3" in answer["problems_html"]


def test_a_schema_problem_names_the_field(client):
    owner_client(client)
    schema = {"type": "object", "properties": {"people": {"type": "array", "items": {
        "type": "object", "properties": {"age": {"type": "strin"}}}}}}  # fmt: skip
    [problem] = preview(client, json.dumps(schema))["problems"]
    assert problem["field"] == "people.age"
    assert problem["message"].startswith("Field 'people.age':")


def test_a_form_that_is_not_an_object_is_explained(client):
    owner_client(client)
    [problem] = preview(client, '{"type": "string"}')["problems"]
    assert '"type": "object"' in problem["message"]


def test_a_hint_the_task_page_cannot_show_is_a_problem_not_an_error_page(client):
    owner_client(client)
    answer = preview(client, '{"type": "object", "x-order": 7, "properties": {"a": {}}}')
    assert not answer["ok"]
    assert "x-order must be a list of field names" in answer["problems"][0]["message"]


def test_a_list_asking_for_thousands_of_entries_is_refused_before_rendering(client):
    owner_client(client)
    people = {"type": "array", "minItems": 100_000, "items": {"type": "string"}}
    schema = {"type": "object", "properties": {"family": {"type": "object", "properties": {
        "people": people}}}}  # fmt: skip
    [problem] = preview(client, json.dumps(schema))["problems"]
    assert problem["field"] == "family.people"
    assert "minItems 100000" in problem["message"]


def test_absurdly_nested_text_is_a_problem_not_an_error_page(client):
    owner_client(client)
    answer = preview(client, "[" * 50_000 + "]" * 50_000)
    assert not answer["ok"] and answer["problems"]


def test_without_javascript_the_preview_button_shows_the_posted_text(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    before = stored(app, draft_id)
    page = save(client, draft_id, json.dumps(SMALL_FORM), before.revision, False, action="preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert rendered_fields(app, SMALL_FORM) in html
    assert "No problems: a deploy accepts this form." in html
    assert stored(app, draft_id).files == before.files  # previewing saves nothing
    broken = save(client, draft_id, "{\n\n  oops", before.revision, False, action="preview")
    assert "Line 3, column 3" in broken.get_data(as_text=True)


# -- saving ------------------------------------------------------------------------------------


def test_saving_writes_the_form_into_the_draft(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    revision = stored(app, draft_id).revision
    text = json.dumps(SMALL_FORM, indent=2)
    answer = save(client, draft_id, text, revision)
    assert answer.status_code == 200
    assert answer.get_json()["revision"] == revision + 1
    assert answer.get_json()["saved_at_text"].startswith("Saved at ")
    draft = stored(app, draft_id)
    assert draft.files["forms/referral.json"] == text
    assert draft.files["fgc_pathway.bpmn"]  # the other files are kept


def test_saving_without_javascript_keeps_plain_line_breaks(app, client):
    owner_client(client)
    draft_id, path = open_deployed(client)
    revision = stored(app, draft_id).revision
    answer = save(client, draft_id, '{\r\n  "type": "object"\r\n}', revision, False)
    assert answer.status_code == 302 and answer.headers["Location"] == path
    assert stored(app, draft_id).files["forms/referral.json"] == '{\n  "type": "object"\n}'
    assert "Saved forms/referral.json" in client.get(path).get_data(as_text=True)


def test_a_broken_form_can_still_be_saved_so_nothing_is_lost(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    answer = save(client, draft_id, '{"type": ', stored(app, draft_id).revision)
    assert answer.status_code == 200
    assert stored(app, draft_id).files["forms/referral.json"] == '{"type": '


def test_a_stale_revision_is_refused_and_the_stored_draft_kept(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    seen = stored(app, draft_id).revision
    assert save(client, draft_id, '{"from": "first window"}', seen).status_code == 200
    answer = save(client, draft_id, '{"from": "second window"}', seen)
    assert answer.status_code == 409
    assert "another window" in answer.get_json()["message"]
    assert stored(app, draft_id).files["forms/referral.json"] == '{"from": "first window"}'


def test_without_javascript_a_conflict_keeps_the_text_and_offers_to_put_it_over(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    seen = stored(app, draft_id).revision
    save(client, draft_id, '{"from": "first window"}', seen)
    page = save(client, draft_id, '{"from": "second window"}', seen, False)
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert "Not saved: the draft changed in another window" in html
    assert "{&#34;from&#34;: &#34;second window&#34;}</textarea>" in html
    latest = re.search(r'name="overwrite" value="(\d+)"', html).group(1)
    assert stored(app, draft_id).files["forms/referral.json"] == '{"from": "first window"}'
    over = save(client, draft_id, '{"from": "second window"}', seen, False, overwrite=latest)
    assert over.status_code == 302
    assert stored(app, draft_id).files["forms/referral.json"] == '{"from": "second window"}'


def test_a_save_without_a_revision_is_a_clear_message(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    answer = client.post(
        f"/forms/drafts/{draft_id}/referral",
        data={"schema": "{}", "csrf_token": token(client)},
    )
    assert answer.status_code == 400
    assert "revision:" in answer.get_data(as_text=True)
    autosave = client.post(
        f"/forms/drafts/{draft_id}/referral",
        data={"schema": "{}", "revision": "", "csrf_token": token(client)},
        headers={"Accept": "application/json"},
    )
    assert autosave.status_code == 400
    assert autosave.get_json()["message"].startswith("revision:")


# -- new forms --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["Home Visit", "1st_visit", "visit.json", "", "a" * 81])
def test_a_new_form_key_must_follow_the_form_key_rule(app, client, key):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    before = stored(app, draft_id)
    answer = client.post(
        f"/forms/drafts/{draft_id}/new",
        data={"form_key": key, "revision": before.revision, "csrf_token": token(client)},
    )
    assert answer.status_code == 422
    assert "Form key: use lowercase letters" in answer.get_data(as_text=True)
    assert stored(app, draft_id).files == before.files


def test_a_new_form_is_added_to_the_draft_ready_to_edit(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    before = stored(app, draft_id)
    answer = client.post(
        f"/forms/drafts/{draft_id}/new",
        data={"form_key": "home_visit", "revision": before.revision, "csrf_token": token(client)},
    )
    assert answer.headers["Location"] == f"/forms/drafts/{draft_id}/home_visit"
    text = stored(app, draft_id).files["forms/home_visit.json"]
    schema, problems = parse_form(text)
    assert problems == [] and schema["title"] == "Home visit"
    again = client.post(
        f"/forms/drafts/{draft_id}/new",
        data={
            "form_key": "home_visit",
            "revision": before.revision + 1,
            "csrf_token": token(client),
        },
    )
    assert again.status_code == 422
    assert "already has a form" in again.get_data(as_text=True)


# -- validating and deploying ------------------------------------------------------------------


def test_a_changed_form_deploys_as_a_new_process_version(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    draft = stored(app, draft_id)
    changed = draft.files["forms/referral.json"].replace('"Your name"', '"Your full name"')
    assert changed != draft.files["forms/referral.json"]
    save(client, draft_id, changed, draft.revision)
    checked = client.post(f"/forms/drafts/{draft_id}/validate", data={"csrf_token": token(client)})
    assert "No problems: this draft can be deployed." in checked.get_data(as_text=True)
    answer = client.post(f"/forms/drafts/{draft_id}/deploy", data={"csrf_token": token(client)})
    assert answer.headers["Location"] == f"/forms?draft={draft_id}"
    assert "as version 2. New cases start on it." in client.get(answer.headers["Location"]).text
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        assert version.version == 2 and version.deployed_by == "pat.owner"
        assert version.files["forms/referral.json"] == changed
        logged = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "deploy_version")
        )
        assert list(logged) == ["fgc_pathway version 2"]
    assert (
        stored(app, draft_id).files["forms/referral.json"] == changed
    )  # kept, as the modeller does
    listed = client.get("/forms").get_data(as_text=True)
    row = re.search(r"<code>referral</code>.*?</tr>", listed, re.S).group(0)
    assert "An earlier text in version 1" in row


def test_a_refused_deploy_lists_the_problems_and_keeps_the_draft(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    save(client, draft_id, '{"type": ', stored(app, draft_id).revision)
    answer = client.post(f"/forms/drafts/{draft_id}/deploy", data={"csrf_token": token(client)})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Not deployed" in page
    assert f'href="/forms/drafts/{draft_id}/referral">forms/referral.json</a>' in page
    assert stored(app, draft_id).files["forms/referral.json"] == '{"type": '
    with app.app_context():
        assert latest_version(db.session(), "fgc_pathway").version == 1


def test_a_form_no_task_uses_is_not_deployed_and_the_draft_is_kept(app, client):
    owner_client(client)
    draft_id, _ = open_deployed(client)
    client.post(
        f"/forms/drafts/{draft_id}/new",
        data={"form_key": "home_visit", "revision": stored(app, draft_id).revision,
              "csrf_token": token(client)},
    )  # fmt: skip
    answer = client.post(f"/forms/drafts/{draft_id}/deploy", data={"csrf_token": token(client)})
    assert answer.headers["Location"] == f"/forms?draft={draft_id}"
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "no change from version 1" in page
    assert "Not deployed, because no user task uses them: forms/home_visit.json." in page
    assert "forms/home_visit.json" in stored(app, draft_id).files
