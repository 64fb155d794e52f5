"""The OpenAPI document at /api/v1/openapi.json says what the API really does.

The document is checked against the OpenAPI 3.1 meta-schema, compared with the routes Flask
serves, then schemathesis sends generated and hand-picked requests with a real token and
checks every answer against it: a documented status, the documented body and headers, and
never a server error.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from engine.accounts import find_user
from engine.tokens import create_token
from tests.test_pathway_walkthrough import ACKNOWLEDGED, REFERRAL
from webapp.extensions import db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_PER_OPERATION = 12


def served_document(client) -> dict:
    answer = client.get("/api/v1/openapi.json")  # no token: documentation is public
    assert answer.status_code == 200
    return answer.get_json()


def test_the_document_is_valid_openapi_and_needs_no_token(client):
    document = served_document(client)
    assert document["openapi"].startswith("3.1")
    problems = [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(document)]
    assert problems == []
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises naming the keyword at fault
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    schemathesis.openapi.from_dict(document)  # refs resolve, operations parse


def test_the_document_describes_exactly_the_routes_of_the_api(app, client):
    document = served_document(client)
    prefix = document["servers"][0]["url"]
    documented = {
        (prefix + path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path != "/openapi.json":
                assert "401" in operation["responses"], (method, path)
                assert "security" not in operation, (method, path)


@pytest.fixture
def api(app, client):
    """A referral made through the API, the manager's token, and the API loaded by schemathesis."""
    with app.app_context():
        session = db.session()
        referrer = create_token(session, find_user(session, "riley.referrer"), "tests")[1]
        manager = create_token(session, find_user(session, "morgan.manager"), "tests")[1]
    made = client.post(
        "/api/v1/cases", json=REFERRAL, headers={"Authorization": f"Bearer {referrer}"}
    )
    assert made.status_code == 201
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return schema, {"Authorization": f"Bearer {manager}"}, made.get_json()


def hand_picked(record: dict) -> dict[tuple[str, str], list[dict]]:
    """Requests that succeed, so the documented 200 and 201 bodies are checked too."""
    case_id = record["case"]["id"]
    [task] = record["open_tasks"]
    task_ids = {"task_id": task["id"]}
    return {
        ("GET", "/tasks"): [{"query": {"scope": "all"}}, {"query": {"due": "week", "limit": 5}}],
        ("POST", "/versions/validate"): [{}],
        ("GET", "/versions"): [{}],
        ("GET", "/reports/kpis"): [{}, {"query": {"from": "2026-01-01", "to": "2026-01-31"}}],
        ("POST", "/versions"): [{}],
        ("POST", "/versions/{version_id}/migrate"): [
            {"path_parameters": {"version_id": 1}, "body": {"dry_run": True}}
        ],
        ("GET", "/tasks/{task_id}"): [{"path_parameters": task_ids}],
        ("POST", "/tasks/{task_id}/claim"): [{"path_parameters": task_ids}] * 2,
        ("POST", "/tasks/{task_id}/complete"): [
            {"path_parameters": task_ids, "body": {"acknowledged_on": "someday"}},
            {"path_parameters": task_ids, "body": ACKNOWLEDGED},
            {"path_parameters": task_ids, "body": ACKNOWLEDGED},
        ],
        # Tasks for fgc_manager wait (the referral below); none is offered to data officers.
        ("POST", "/tasks/next/claim"): [{}, {"query": {"role": "data_officer"}}],
        ("GET", "/forms/{key}"): [{"path_parameters": {"key": "referral"}}],
        ("POST", "/cases"): [{"body": REFERRAL}, {"body": {"process": "fgc_pathway"}}],
        ("GET", "/cases/{case_id}"): [{"path_parameters": {"case_id": case_id}}],
        ("POST", "/cases/{case_id}/messages/{name}"): [
            {
                "path_parameters": {"case_id": case_id, "name": "safeguarding_concern"},
                "body": {"concern": "Bruising seen at school"},
            },
            {"path_parameters": {"case_id": case_id, "name": "consent_withdrawn"}, "body": {}},
        ],
    }


def test_real_answers_match_the_document(api):
    schema, headers, record = api
    picked = hand_picked(record)
    statuses: dict[str, set[int]] = {}
    # "Claim my next task" goes last, once the referral made below waits for the manager:
    # earlier, it would take the very task the claim and complete requests are about.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: operation.path == "/tasks/next/claim",
    )
    for operation in operations:
        key = (operation.method.upper(), operation.path)
        seen = statuses.setdefault(f"{key[0]} {key[1]}", set())
        for values in picked.pop(key):
            answer = operation.Case(**values).call_and_validate(headers=headers, checks=CHECKS)
            seen.add(answer.status_code)
        _fuzz(operation, headers, seen)
    assert picked == {}, "hand-picked requests for operations the document lacks"
    # The hand-picked requests reached the successful answers, not only errors.
    assert 200 in statuses["GET /tasks/{task_id}"]
    assert {200, 409} <= statuses["POST /tasks/{task_id}/claim"]
    assert {200, 204} <= statuses["POST /tasks/next/claim"]
    assert {422, 200, 409} <= statuses["POST /tasks/{task_id}/complete"]
    assert 201 in statuses["POST /cases"]
    assert {200, 422} <= statuses["POST /cases/{case_id}/messages/{name}"]


def _fuzz(operation, headers: dict[str, str], seen: set[int]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def generated(case) -> None:
        seen.add(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    generated()
