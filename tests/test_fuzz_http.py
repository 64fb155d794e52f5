"""Hostile input through HTTP: fuzzed form posts to the task page and the API, and fuzzed
bodies to every endpoint of the API that reads JSON.

tests/test_forms.py fuzzes the form check itself; schemathesis (tests/test_api_openapi.py)
sends bodies shaped by the OpenAPI document. These send what neither does: posts as a browser
or a careless script would send them (odd text, wrong types, NULs, huge values, deep nesting,
bytes that are not UTF-8, the wrong content type), through the whole app. Whatever arrives,
the answer is never a server error, a refusal names the field or the problem, and a refused
post leaves the task open and the case exactly as it was stored.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.accounts import find_user
from engine.models import TaskState
from engine.tokens import create_token
from tests.fuzz_support import (
    CONTENT_TYPES,
    ENDPOINTS,
    FORM_KEYS,
    RAW_BODIES,
    SCHEMAS,
    after,
    api_submissions,
    deploy_all_forms,
    field_names,
    open_task,
    page_posts,
    post_api,
    post_endpoint,
    post_page,
)
from tests.web import csrf_token, login, team_id
from webapp.extensions import db, runtime

# Function-scoped fixtures are shared by a test's examples on purpose: one app and one signed-in
# worker, with the all-forms case reused until its tasks run out. No example database: it
# would litter the repository with a .hypothesis folder. The strategies and the checks are in
# tests/fuzz_support.py, shared with benchmarks/fuzz_http.py (many more examples, `make bench`).
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def forms_app(app, workers, tmp_path):
    """The app with the all-forms process deployed; returns the manager's team id."""
    with app.app_context():
        deploy_all_forms(db.session(), runtime(), tmp_path)
    return team_id(app)


@pytest.fixture
def tokens(app, workers) -> dict[str, str]:
    with app.app_context():
        session = db.session()
        names = ("pat.owner", "morgan.manager", "riley.referrer")
        return {n: create_token(session, find_user(session, n), "fuzz")[1] for n in names}


@pytest.fixture
def signed_in(client) -> str:
    """The manager signed in on ``client``; returns the CSRF token their pages carry."""
    login(client, "morgan.manager")
    return csrf_token(client, "/tasks")


@FUZZ
@given(post=page_posts())
def test_task_page_answers_every_post_without_a_server_error_and_keeps_the_case(
    app, client, forms_app, signed_in, post
):
    key, pairs = post
    event(f"status {post_page(app, client, signed_in, forms_app, key, pairs)}")


def test_task_page_refuses_bytes_that_are_not_utf8_without_losing_the_task(app, client, forms_app):
    task_id, before = open_task(app, "referral", forms_app)
    login(client, "morgan.manager")
    token = csrf_token(client, f"/tasks/{task_id}")
    body = f"csrf_token={token}&family_name=%FF%FE%00&referrer_name=\xff".encode("latin-1")
    response = client.post(
        f"/tasks/{task_id}", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (400, 422)
    assert after(app, task_id) == (TaskState.READY, before)


def test_every_shipped_form_refuses_a_wrong_answer_in_each_field_and_keeps_the_case(
    app, client, forms_app, tokens
):
    """Not left to chance: every form, through the page and the API, each field given a
    value of the wrong kind; each refusal names fields of that form."""
    login(client, "morgan.manager")
    headers = {"Authorization": f"Bearer {tokens['morgan.manager']}"}
    for key in FORM_KEYS:
        props = SCHEMAS[key]["properties"]
        task_id, before = open_task(app, key, forms_app)
        token = csrf_token(client, f"/tasks/{task_id}")
        odd = {name: "\u202e" + "é" * 5000 + " 31/02/2026" for name in field_names(SCHEMAS[key])}
        page = client.post(f"/tasks/{task_id}", data={"csrf_token": token, **odd})
        assert page.status_code == 422, key
        assert 'class="error-summary"' in page.get_data(as_text=True)
        assert after(app, task_id) == (TaskState.READY, before), key
        wrong = {name: {"nested": [[[]]]} for name in props}
        api = client.post(f"/api/v1/tasks/{task_id}/complete", json=wrong, headers=headers)
        assert api.status_code == 422, key
        errors = api.get_json()["errors"]
        assert errors and {path.split(".")[0] for path in errors} <= set(props) | {"(form)"}
        assert after(app, task_id) == (TaskState.READY, before), key


# -- the same forms through the API -----------------------------------------------------------


@FUZZ
@given(submission=api_submissions())
def test_api_completion_refuses_bad_answers_by_field_and_keeps_the_case(
    app, client, forms_app, tokens, submission
):
    key, data = submission
    event(f"status {post_api(app, client, tokens['morgan.manager'], forms_app, key, data)}")


# -- every endpoint that reads a JSON body ------------------------------------------------------


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), raw=RAW_BODIES, content_type=CONTENT_TYPES)
def test_every_json_endpoint_answers_any_body_with_a_readable_json_error(
    app, client, forms_app, tokens, endpoint, raw, content_type
):
    status = post_endpoint(app, client, tokens, forms_app, endpoint, raw, content_type)
    event(f"status {status}")
