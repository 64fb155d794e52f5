"""The JSON API as another council system uses it: a personal token, JSON in and out.

Each test acts through ``/api/v1`` with the token of one of the fictional workers of
tests/web.py; the engine puts a case into a later stage where the story needs it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.accounts import find_user
from engine.actors import Actor
from engine.audit import AuditEntry
from engine.drafts import load_draft, save_draft
from engine.models import Case
from engine.tokens import create_token, revoke_token, tokens_of
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ACKNOWLEDGED,
    ALLOCATION,
    REFERRAL,
    do,
)
from tests.web import login
from webapp.extensions import db, runtime

MANAGER = Actor.of("morgan.manager", "fgc_manager")

ENDPOINTS = [
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/1"),
    ("post", "/api/v1/tasks/1/claim"),
    ("post", "/api/v1/tasks/1/complete"),
    ("get", "/api/v1/forms/referral"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases/1"),
    ("post", "/api/v1/cases/1/messages/safeguarding_concern"),
]


@pytest.fixture
def tokens(app, workers) -> dict[str, str]:
    """A personal API token for every worker, by username."""
    with app.app_context():
        session = db.session()
        return {
            name: create_token(session, find_user(session, name), "tests")[1] for name in workers
        }


def as_(tokens: dict[str, str], username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[username]}"}


def refer(client, tokens, username="riley.referrer", data=REFERRAL):
    return client.post("/api/v1/cases", json=data, headers=as_(tokens, username))


def open_task(client, tokens, username, case_id, element_id):
    record = client.get(f"/api/v1/cases/{case_id}", headers=as_(tokens, username)).get_json()
    [task] = [t for t in record["open_tasks"] if t["element_id"] == element_id]
    return task


def through_allocation(app, case_id):
    """Acknowledge, accept and allocate (to casey.coordinator) as the manager."""
    with app.app_context():
        session = db.session()
        case = session.get(Case, case_id)
        for element, data in [
            ("acknowledge_referral", ACKNOWLEDGED),
            ("screen_referral", ACCEPT),
            ("allocate_coordinator", ALLOCATION),
        ]:
            do(runtime(), session, case, element, data, MANAGER)


# -- tokens -------------------------------------------------------------------------------------


def test_every_endpoint_refuses_a_request_without_a_token(client):
    for method, path in ENDPOINTS:
        answer = getattr(client, method)(path, json={})
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="kinflow"'
        assert "Authorization: Bearer" in answer.get_json()["message"]


def test_every_endpoint_refuses_a_wrong_token(client, tokens):
    wrong = ["Bearer kf_not-a-real-token", f"Basic {tokens['ada.admin']}", "Bearer", "kf_abc"]
    for method, path in ENDPOINTS:
        for header in wrong:
            answer = getattr(client, method)(path, json={}, headers={"Authorization": header})
            assert answer.status_code == 401, (path, header)
            assert answer.get_json()["error"] == "Sign in to continue"
            assert "invalid" in answer.headers["WWW-Authenticate"]


def test_a_signed_in_browser_session_is_not_a_token(client):
    assert login(client, "morgan.manager").status_code == 302  # signed in
    answer = client.get("/api/v1/tasks")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="kinflow"'


def test_a_revoked_token_stops_working(app, client, tokens):
    headers = as_(tokens, "morgan.manager")
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    with app.app_context():
        session = db.session()
        user = find_user(session, "morgan.manager")
        revoke_token(session, tokens_of(session, user)[0].id, user)
    assert client.get("/api/v1/tasks", headers=headers).status_code == 401


# -- referrals and the record -------------------------------------------------------------------


def test_a_referrer_starts_a_referral_and_reads_the_family_record(client, tokens):
    answer = refer(client, tokens)
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    record = answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/cases/{record['case']['id']}"
    assert record["case"]["title"] == "Ashdown family"
    assert record["case"]["process_id"] == "fgc_pathway"
    assert record["referral"]["family_name"] == "Ashdown"
    assert record["referral"]["referred_by"] == "riley.referrer"
    assert [p["name"] for p in record["people"]] == ["Jo Ashdown", "Sam Ashdown"]
    assert record["people"][0]["date_of_birth"] == "1990-04-12"
    assert [t["element_id"] for t in record["open_tasks"]] == ["acknowledge_referral"]
    assert any("referral" in line["summary"].lower() for line in record["chronology"])
    again = client.get(answer.headers["Location"], headers=as_(tokens, "riley.referrer"))
    assert again.get_json()["referral"] == record["referral"]


def test_an_invalid_referral_is_refused_field_by_field_and_starts_no_case(app, client, tokens):
    data = {k: v for k, v in REFERRAL.items() if k != "family_name"} | {"urgency": "whenever"}
    answer = refer(client, tokens, data=data)
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert errors["family_name"] == "This field is required."
    assert "urgency" in errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0


def test_only_referrers_and_managers_make_referrals(client, tokens):
    answer = refer(client, tokens, username="casey.coordinator")
    assert answer.status_code == 403
    assert "referrer" in answer.get_json()["message"]
    assert refer(client, tokens, username="morgan.manager").status_code == 201


def test_a_process_owner_starts_a_case_of_a_named_process(client, tokens):
    body = {"process": "fgc_pathway", "data": {}, "title": "Trying the new pathway"}
    answer = client.post("/api/v1/cases", json=body, headers=as_(tokens, "pat.owner"))
    assert answer.status_code == 201
    assert answer.get_json()["case"]["title"] == "Trying the new pathway"
    assert [t["element_id"] for t in answer.get_json()["open_tasks"]] == ["submit_referral"]
    refused = client.post("/api/v1/cases", json=body, headers=as_(tokens, "riley.referrer"))
    assert refused.status_code == 403
    unknown = body | {"process": "no_such_process"}
    missing = client.post("/api/v1/cases", json=unknown, headers=as_(tokens, "pat.owner"))
    assert missing.status_code == 404
    assert "no_such_process" in missing.get_json()["message"]


def test_a_body_that_is_not_a_json_object_gets_a_clear_message(client, tokens):
    for body, says in [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "empty"),
        (b'{"family_name": "A\\u0000"}', "cannot be stored"),
    ]:
        answer = client.post(
            "/api/v1/cases",
            data=body,
            content_type="application/json",
            headers=as_(tokens, "riley.referrer"),
        )
        assert answer.status_code in (400, 422), body
        assert says in str(answer.get_json()), body
        assert "Traceback" not in answer.get_data(as_text=True)


def test_text_that_cannot_be_stored_is_named_by_its_whole_path(client, tokens):
    for body, path in [
        (b'{"people": [{"name": "A\\u0000"}]}', "people.0.name"),
        (b'{"": ["A\\u0000"]}', '"".0'),  # an empty field name, not a top-level "0"
    ]:
        answer = client.post(
            "/api/v1/cases",
            data=body,
            content_type="application/json",
            headers=as_(tokens, "riley.referrer"),
        )
        assert answer.status_code == 422, body
        assert list(answer.get_json()["errors"]) == [path], body


def test_an_unexpected_failure_is_a_calm_json_500(client, tokens, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("webapp.api.tasks.find_tasks", broken)
    answer = client.get("/api/v1/tasks", headers=as_(tokens, "morgan.manager"))
    assert answer.status_code == 500
    assert answer.get_json()["error"] == "Something went wrong on our side"
    assert "database" not in answer.get_data(as_text=True)


def test_an_unknown_api_address_or_method_answers_json(client, tokens):
    manager = as_(tokens, "morgan.manager")
    unknown = client.get("/api/v1/families", headers=manager)
    assert unknown.status_code == 404
    assert unknown.get_json()["error"] == "Not found"
    wrong_method = client.delete("/api/v1/tasks", headers=manager)
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"] == "Not allowed here"
    assert "GET" in wrong_method.headers["Allow"]


def test_someone_from_another_team_cannot_see_the_case_at_all(client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    task_id = open_task(client, tokens, "morgan.manager", case_id, "acknowledge_referral")["id"]
    mel = as_(tokens, "mel.manager")
    hidden = client.get(f"/api/v1/cases/{case_id}", headers=mel)
    never_used = client.get("/api/v1/cases/999999", headers=mel)
    assert hidden.status_code == never_used.status_code == 404
    assert hidden.get_json()["message"] == f"Case {case_id} does not exist."
    assert client.get(f"/api/v1/tasks/{task_id}", headers=mel).status_code == 404
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=mel).status_code == 404
    message = f"/api/v1/cases/{case_id}/messages/safeguarding_concern"
    assert client.post(message, json={"concern": "x"}, headers=mel).status_code == 404
    listed = client.get("/api/v1/tasks?scope=available", headers=mel).get_json()
    assert listed["tasks"] == [] and listed["counts"]["available"] == 0


def test_reading_a_case_is_audited_as_coming_from_the_api(app, client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    client.get(f"/api/v1/cases/{case_id}", headers=as_(tokens, "morgan.manager"))
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id))
        seen = {(e.username, e.action, e.via) for e in entries}
    assert ("riley.referrer", "start_case", "api") in seen
    assert ("morgan.manager", "view_case", "api") in seen


# -- the manager's tasks --------------------------------------------------------------------------


def test_the_manager_claims_and_completes_screening_and_cannot_complete_it_twice(client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    manager = as_(tokens, "morgan.manager")
    available = client.get("/api/v1/tasks?scope=available", headers=manager).get_json()
    [row] = available["tasks"]
    assert (row["element_id"], row["family_name"], row["assignee"]) == (
        "acknowledge_referral",
        "Ashdown",
        None,
    )
    assert available["counts"]["available"] == 1
    done = client.post(f"/api/v1/tasks/{row['id']}/complete", json=ACKNOWLEDGED, headers=manager)
    assert done.status_code == 200
    [screening] = done.get_json()["next_tasks"]
    assert screening["element_id"] == "screen_referral"

    claimed = client.post(f"/api/v1/tasks/{screening['id']}/claim", headers=manager)
    assert claimed.status_code == 200
    assert claimed.get_json()["task"]["assignee"] == "morgan.manager"
    again = client.post(f"/api/v1/tasks/{screening['id']}/claim", headers=manager)
    assert again.status_code == 409

    complete = f"/api/v1/tasks/{screening['id']}/complete"
    answer = client.post(complete, json=ACCEPT, headers=manager)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["task"]["state"] == "completed"
    [allocate] = body["next_tasks"]
    assert allocate["element_id"] == "allocate_coordinator"
    assert {"id", "title", "assignee", "candidate_groups", "due_at"} <= set(allocate)
    assert allocate["candidate_groups"] == ["fgc_manager"]
    assert body["case"]["id"] == case_id

    twice = client.post(complete, json=ACCEPT, headers=manager)
    assert twice.status_code == 409
    assert "already completed" in twice.get_json()["message"]


def test_form_data_that_does_not_fit_gives_field_errors(client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    task = open_task(client, tokens, "morgan.manager", case_id, "acknowledge_referral")
    answer = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"acknowledged_on": "yesterday", "colour": "blue"},
        headers=as_(tokens, "morgan.manager"),
    )
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert errors["acknowledged_on"] == "Not a valid date (YYYY-MM-DD)."
    assert "(form)" in errors  # the unknown field
    assert "yesterday" not in answer.get_data(as_text=True)


def test_a_task_shows_its_form_values_and_my_draft_until_i_complete_it(app, client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    task = open_task(client, tokens, "morgan.manager", case_id, "acknowledge_referral")
    with app.app_context():
        save_draft(db.session(), task["id"], "morgan.manager", {"note": "Half written"})
    manager = as_(tokens, "morgan.manager")
    shown = client.get(f"/api/v1/tasks/{task['id']}", headers=manager).get_json()
    assert shown["task"]["title"] == task["title"]
    assert shown["form_schema"]["properties"]["acknowledged_on"]["format"] == "date"
    assert shown["draft"]["data"] == {"note": "Half written"}
    assert shown["case"]["id"] == case_id
    client.post(f"/api/v1/tasks/{task['id']}/complete", json=ACKNOWLEDGED, headers=manager)
    with app.app_context():
        assert load_draft(db.session(), task["id"], "morgan.manager") is None


def test_a_coordinator_cannot_claim_or_complete_a_managers_task(app, client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    through_allocation(app, case_id)
    casey = as_(tokens, "casey.coordinator")
    concern = {"concern": "Bruising seen at school"}
    sent = client.post(
        f"/api/v1/cases/{case_id}/messages/safeguarding_concern", json=concern, headers=casey
    )
    assert sent.status_code == 200
    review = open_task(client, tokens, "casey.coordinator", case_id, "review_safeguarding_concern")
    claim = client.post(f"/api/v1/tasks/{review['id']}/claim", headers=casey)
    assert claim.status_code == 403
    decision = {"safeguarding_decision": "continue", "safeguarding_reason": "A fall at football."}
    complete = client.post(f"/api/v1/tasks/{review['id']}/complete", json=decision, headers=casey)
    assert complete.status_code == 403
    assert "is for FGC manager" in complete.get_json()["message"]


def test_task_filters_are_checked_and_named(client, tokens):
    manager = as_(tokens, "morgan.manager")
    assert client.get("/api/v1/tasks?due=soonish", headers=manager).status_code == 400
    bad_scope = client.get("/api/v1/tasks?scope=everything", headers=manager)
    assert bad_scope.get_json()["message"].startswith("scope:")
    assert (
        client.get("/api/v1/tasks?limit=0", headers=manager)
        .get_json()["message"]
        .startswith("limit:")
    )
    nul = client.get("/api/v1/tasks?family=Ash%00down", headers=manager)
    assert (nul.status_code, nul.get_json()["message"][:7]) == (400, "family:")
    team = client.get("/api/v1/tasks?scope=team", headers=as_(tokens, "casey.coordinator"))
    assert team.status_code == 403


# -- messages and forms ------------------------------------------------------------------------


def test_a_safeguarding_concern_sent_by_message_appears_on_the_case(client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    answer = client.post(
        f"/api/v1/cases/{case_id}/messages/safeguarding_concern",
        json={"concern": "Sam said he is scared to go home"},
        headers=as_(tokens, "riley.referrer"),
    )
    assert answer.status_code == 200
    [concern] = answer.get_json()["safeguarding_concerns"]
    assert concern["concern"] == "Sam said he is scared to go home"
    assert concern["raised_by"] == "riley.referrer"
    manager = as_(tokens, "morgan.manager")
    record = client.get(f"/api/v1/cases/{case_id}", headers=manager).get_json()
    assert record["safeguarding_concerns"] == [concern]
    assert "review_safeguarding_concern" in {t["element_id"] for t in record["open_tasks"]}


def test_messages_are_checked_before_delivery(client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    referrer = as_(tokens, "riley.referrer")
    url = f"/api/v1/cases/{case_id}/messages/"
    unknown = client.post(url + "case_closed", json={}, headers=referrer)
    assert unknown.status_code == 404
    assert "safeguarding_concern" in unknown.get_json()["message"]
    empty = client.post(url + "safeguarding_concern", json={"concern": " "}, headers=referrer)
    assert empty.status_code == 422
    assert empty.get_json()["errors"] == {"concern": "This field is required."}
    withdrawn = client.post(
        url + "consent_withdrawn", json={"reason": "The family moved away."}, headers=referrer
    )
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["referral"]["consent_withdrawn_reason"] == "The family moved away."
    late = client.post(url + "safeguarding_concern", json={"concern": "Late"}, headers=referrer)
    assert late.status_code == 409
    assert (
        "not waiting" in late.get_json()["message"] or "nothing more" in late.get_json()["message"]
    )


def test_the_referral_form_schema_is_served(client, tokens):
    import json

    from tests.conftest import REPO

    answer = client.get("/api/v1/forms/referral", headers=as_(tokens, "riley.referrer"))
    assert answer.status_code == 200
    assert answer.get_json() == json.loads((REPO / "forms" / "referral.json").read_text())
    missing = client.get("/api/v1/forms/no_such_form", headers=as_(tokens, "riley.referrer"))
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "Not found"


def test_a_task_on_a_case_i_cannot_see_answers_exactly_like_one_that_never_was(app, client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    task_id = open_task(client, tokens, "morgan.manager", case_id, "acknowledge_referral")["id"]
    mel = as_(tokens, "mel.manager")  # a manager of the other team
    attempts = [("get", "", None), ("post", "/claim", None), ("post", "/complete", ACKNOWLEDGED)]
    for method, suffix, body in attempts:
        ask = {"method": method, "json": body, "headers": mel}
        hidden = client.open(f"/api/v1/tasks/{task_id}{suffix}", **ask)
        never = client.open(f"/api/v1/tasks/987654{suffix}", **ask)
        assert (hidden.status_code, never.status_code) == (404, 404)
        assert hidden.get_json()["message"] == f"Task {task_id} does not exist."
        assert never.get_json()["message"] == "Task 987654 does not exist."
    with app.app_context():
        looks = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.username == "mel.manager")
        ).all()
    assert looks == []  # a task they were refused is not recorded as one they looked at
    # Refusing Mel changed nothing: the task still waits for Morgan's team.
    still = open_task(client, tokens, "morgan.manager", case_id, "acknowledge_referral")
    assert (still["id"], still["assignee"]) == (task_id, None)


def test_completing_answers_with_the_case_as_it_now_stands(client, tokens):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    manager = as_(tokens, "morgan.manager")
    for element, data in [
        ("acknowledge_referral", ACKNOWLEDGED),
        ("screen_referral", ACCEPT),
    ]:
        task = open_task(client, tokens, "morgan.manager", case_id, element)
        client.post(f"/api/v1/tasks/{task['id']}/complete", json=data, headers=manager)
    task = open_task(client, tokens, "morgan.manager", case_id, "allocate_coordinator")
    claimed = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=manager).get_json()
    assert claimed["task"]["assignee"] == "morgan.manager"
    before = client.get(f"/api/v1/cases/{case_id}", headers=manager).get_json()["case"]
    assert before["stage"] == "Screening and allocation"
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete", json=ALLOCATION, headers=manager
    ).get_json()
    # Allocation ends screening: the pathway's next stage is the coordinator's baseline.
    assert done["task"]["state"] == "completed"
    assert done["task"]["completed_by"] == "morgan.manager"
    assert done["case"]["stage"] == "Baseline meeting and whole-family assessment"
    after = client.get(f"/api/v1/cases/{case_id}", headers=manager).get_json()
    assert done["case"] == after["case"]
    assert done["case"]["updated_at"] > before["updated_at"]
    assert [t["id"] for t in done["next_tasks"]] == [t["id"] for t in after["open_tasks"]]
    assert done["next_tasks"] and all(t["state"] == "ready" for t in done["next_tasks"])


def test_a_manager_moved_to_another_team_stops_seeing_the_old_teams_tasks_at_once(
    app, client, tokens
):
    case_id = refer(client, tokens).get_json()["case"]["id"]
    task_id = open_task(client, tokens, "morgan.manager", case_id, "acknowledge_referral")["id"]
    morgan = as_(tokens, "morgan.manager")
    assert client.get(f"/api/v1/tasks/{task_id}", headers=morgan).status_code == 200

    def move_morgan_to_the_team_of(username):
        with app.app_context():
            session = db.session()
            find_user(session, "morgan.manager").team_id = find_user(session, username).team_id
            session.commit()

    move_morgan_to_the_team_of("mel.manager")
    assert client.get(f"/api/v1/tasks/{task_id}", headers=morgan).status_code == 404
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=morgan).status_code == 404
    listed = client.get("/api/v1/tasks?scope=available", headers=morgan).get_json()
    assert listed["tasks"] == []
    move_morgan_to_the_team_of("casey.coordinator")  # back to the referral's team
    claimed = client.post(f"/api/v1/tasks/{task_id}/claim", headers=morgan)
    assert claimed.status_code == 200
    assert claimed.get_json()["task"]["assignee"] == "morgan.manager"
