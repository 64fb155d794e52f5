"""Process versions through the API: validating and deploying uploads, listing versions, and
moving running cases, as another system (or a process owner's script) would.

Uploads are multipart: diagrams as ``file``, forms as ``forms``. Validation answers 200 for any
upload, however malformed; deploying and migrating are for process owners only.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import schemathesis
from sqlalchemy import select

from engine.accounts import find_user
from engine.audit import AuditEntry
from engine.deploy import latest_version
from engine.models import Case
from engine.tokens import create_token
from tests.conftest import FIXTURES
from tests.test_api_openapi import _fuzz
from tests.test_miwg import DIAGRAMS, MIWG
from tests.web import family_at
from webapp.api.versions import MAX_UPLOAD_BYTES
from webapp.extensions import db

CASEWORK = FIXTURES / "migration" / "v1"


@pytest.fixture
def tokens(app, workers) -> dict[str, str]:
    with app.app_context():
        session = db.session()
        names = ("pat.owner", "morgan.manager", "riley.referrer")
        return {n: create_token(session, find_user(session, n), "tests")[1] for n in names}


def as_(tokens: dict[str, str], username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[username]}"}


def upload(files: dict[str, str | bytes]) -> dict[str, list]:
    """A multipart body: diagrams and DMN tables as ``file``, forms as ``forms``."""
    parts: dict[str, list] = {"file": [], "forms": []}
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        part, filename = ("forms", name[6:]) if name.startswith("forms/") else ("file", name)
        parts[part].append((io.BytesIO(data), filename))
    return {k: v for k, v in parts.items() if v}


def folder_files(folder: Path) -> dict[str, str]:
    files = {p.name: p.read_text() for p in folder.glob("*.bpmn")}
    return files | {f"forms/{p.name}": p.read_text() for p in (folder / "forms").glob("*.json")}


def post(client, path: str, tokens, username: str, data) -> object:
    return client.post(
        path, data=data, headers=as_(tokens, username), content_type="multipart/form-data"
    )


# -- validate -------------------------------------------------------------------------------


def test_any_signed_in_worker_can_validate_a_process(client, tokens):
    answer = post(
        client,
        "/api/v1/versions/validate",
        tokens,
        "riley.referrer",
        upload(folder_files(CASEWORK)),
    )
    assert answer.status_code == 200
    assert answer.get_json() == {"ok": True, "problems": []}


def test_validation_names_each_problem_with_its_file_and_element(client, tokens):
    files = folder_files(CASEWORK)
    files["casework.bpmn"] = files["casework.bpmn"].replace(
        'camunda:formKey="closure"', 'camunda:formKey="no_such_form"'
    )
    answer = post(client, "/api/v1/versions/validate", tokens, "pat.owner", upload(files))
    body = answer.get_json()
    assert answer.status_code == 200 and body["ok"] is False
    [problem] = body["problems"]
    assert problem["file"] == "casework.bpmn"
    assert "close_case" in problem["element"]
    assert "no_such_form" in problem["message"]
    assert isinstance(problem["line"], int)


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ([], "No BPMN diagram was sent"),
        ([("file", b"", "empty.bpmn")], "empty.bpmn"),
        ([("file", bytes(range(256)) * 40, "junk.bpmn")], "junk.bpmn"),
        ([("file", b"<x/>", "notes.txt")], "'notes.txt' (part 'file') is not"),
        ([("file", b"<x/>", "")], "has no file name"),
        ([("file", "<bpmn/>", None)], "'file' was sent as text"),
        ([("diagram", b"<x/>", "a.bpmn")], "The part 'diagram' is not used"),
        ([("forms", b"{}", "Bad Key.json")], "is not a form file"),
        ([("file", "caf\xe9".encode("latin-1"), "a.bpmn")], "not UTF-8"),
        ([("file", "nul\x00here", None)], "'file' was sent as text"),
    ],
    ids=[
        "nothing",
        "empty-file",
        "binary-junk",
        "wrong-kind",
        "no-name",
        "text-part",
        "unknown-part",
        "bad-form-name",
        "latin-1",
        "nul-in-text",
    ],
)
def test_validation_answers_200_with_problems_for_any_upload(client, tokens, parts, named):
    data = {
        part: content if filename is None else (io.BytesIO(content), filename)
        for part, content, filename in parts
    }
    answer = post(client, "/api/v1/versions/validate", tokens, "pat.owner", data)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["ok"] is False
    assert any(named in p["message"] or named == p["file"] for p in body["problems"]), body


def test_validation_of_a_request_that_is_not_multipart_says_what_is_missing(client, tokens):
    answer = client.post(
        "/api/v1/versions/validate", json={"file": "x"}, headers=as_(tokens, "pat.owner")
    )
    assert answer.status_code == 200
    assert "No BPMN diagram was sent" in answer.get_json()["problems"][0]["message"]


def test_an_upload_over_the_limit_is_refused_naming_the_limit(client, tokens):
    for path in ("/api/v1/versions/validate", "/api/v1/versions"):
        big = {"file": (io.BytesIO(b" " * (MAX_UPLOAD_BYTES + 1)), "big.bpmn")}
        answer = post(client, path, tokens, "pat.owner", big)
        assert answer.status_code == 413
        body = answer.get_json()
        assert body["error"] == "Upload too large"
        assert "at most 5 MB" in body["message"]


def test_validate_needs_a_token(client):
    answer = client.post("/api/v1/versions/validate", data={}, content_type="multipart/form-data")
    assert answer.status_code == 401


@pytest.mark.skipif(not DIAGRAMS, reason=f"MIWG reference diagrams not found in {MIWG}")
def test_every_miwg_diagram_validates_through_the_api_without_a_server_error(client, tokens):
    for diagram in DIAGRAMS:
        data = {"file": (io.BytesIO(diagram.read_bytes()), diagram.name)}
        answer = post(client, "/api/v1/versions/validate", tokens, "pat.owner", data)
        assert answer.status_code == 200, diagram.name
        body = answer.get_json()
        assert isinstance(body["ok"], bool), diagram.name
        assert body["ok"] or body["problems"], diagram.name
        for problem in body["problems"]:
            assert problem["message"].strip(), diagram.name
            assert "Traceback" not in problem["message"], diagram.name


# -- deploy and list ------------------------------------------------------------------------


def test_a_process_owner_deploys_and_the_same_files_again_change_nothing(app, client, tokens):
    data = upload(folder_files(CASEWORK))
    created = post(client, "/api/v1/versions", tokens, "pat.owner", data)
    assert created.status_code == 201, created.get_json()
    [version] = created.get_json()["versions"]
    assert (version["process_id"], version["version"], version["created"]) == (
        "casework",
        1,
        True,
    )
    assert version["deployed_by"] == "pat.owner"

    again = post(client, "/api/v1/versions", tokens, "pat.owner", upload(folder_files(CASEWORK)))
    assert again.status_code == 200
    assert again.get_json()["versions"][0] | {"created": True} == version

    listed = client.get("/api/v1/versions", headers=as_(tokens, "riley.referrer")).get_json()
    assert version | {"created": None} in [v | {"created": None} for v in listed["versions"]]
    with app.app_context():
        actions = db.session().scalars(select(AuditEntry.action)).all()
    assert "deploy_version" in actions


def test_only_process_owners_deploy(client, tokens):
    answer = post(
        client, "/api/v1/versions", tokens, "morgan.manager", upload(folder_files(CASEWORK))
    )
    assert answer.status_code == 403
    assert "process_owner" in answer.get_json()["message"]


def test_invalid_files_are_not_deployed_and_every_problem_is_listed(client, tokens):
    files = folder_files(CASEWORK)
    del files["forms/closure.json"]
    answer = post(client, "/api/v1/versions", tokens, "pat.owner", upload(files))
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["ok"] is False and body["problems"]
    assert any("close_case" in (p["element"] or "") for p in body["problems"])
    listed = client.get("/api/v1/versions", headers=as_(tokens, "pat.owner")).get_json()
    assert "casework" not in {v["process_id"] for v in listed["versions"]}


def test_the_version_list_counts_running_cases(app, client, tokens):
    family_at(app, "Okafor", "acknowledge_referral")
    listed = client.get("/api/v1/versions", headers=as_(tokens, "pat.owner")).get_json()
    [pathway] = [v for v in listed["versions"] if v["process_id"] == "fgc_pathway"]
    assert pathway["running_cases"] == 1


# -- migrate --------------------------------------------------------------------------------


def pathway_upload(app, form_change: bool = True) -> dict[str, list]:
    """Every file of the deployed pathway, the baseline meeting's form given one more field."""
    with app.app_context():
        files = dict(latest_version(db.session(), "fgc_pathway").files)
    form = json.loads(files["forms/baseline_meeting.json"])
    form["properties"]["venue"] = {"type": "string", "title": "Venue"}
    files["forms/baseline_meeting.json"] = json.dumps(form)
    return upload(files)


def test_a_process_owner_moves_running_cases_after_a_dry_run(app, client, tokens):
    waiting = family_at(app, "Okafor", "hold_baseline_meeting")
    done = family_at(app, "Brennan", "whole_family_assessment")
    deployed = post(client, "/api/v1/versions", tokens, "pat.owner", pathway_upload(app))
    [v2] = [v for v in deployed.get_json()["versions"] if v["process_id"] == "fgc_pathway"]
    path = f"/api/v1/versions/{v2['id']}/migrate"
    refused = (
        "'Hold the baseline meeting' (hold_baseline_meeting) was changed after this case "
        "had completed it"
    )
    expected = [
        {"case_id": waiting, "from_version": 1, "moved": True, "reason": None},
        {"case_id": done, "from_version": 1, "moved": False, "reason": refused},
    ]

    trial = client.post(path, json={"dry_run": True}, headers=as_(tokens, "pat.owner"))
    assert trial.status_code == 200
    assert trial.get_json()["results"] == expected
    assert trial.get_json()["dry_run"] is True
    with app.app_context():
        assert db.session().get(Case, waiting).version_id != v2["id"]

    moved = client.post(path, json={}, headers=as_(tokens, "pat.owner"))
    assert moved.status_code == 200
    assert moved.get_json()["results"] == expected
    assert moved.get_json()["version"]["running_cases"] == 1
    with app.app_context():
        session = db.session()
        assert session.get(Case, waiting).version_id == v2["id"]
        assert session.get(Case, done).version_id != v2["id"]
        audited = session.scalars(
            select(AuditEntry.case_id).where(AuditEntry.action == "migrate_case")
        ).all()
    assert audited == [waiting]


def test_only_process_owners_migrate(client, tokens):
    answer = client.post(
        "/api/v1/versions/1/migrate", json={"dry_run": True}, headers=as_(tokens, "morgan.manager")
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"case_ids": "all"}, "case_ids"),
        ({"case_ids": [1, True]}, "case_ids"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"everything": True}, "everything"),
    ],
)
def test_a_migration_request_is_checked_field_by_field(client, tokens, body, field):
    answer = client.post("/api/v1/versions/1/migrate", json=body, headers=as_(tokens, "pat.owner"))
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]


def test_migrating_to_a_version_that_does_not_exist_is_404(client, tokens):
    answer = client.post(
        "/api/v1/versions/999/migrate", json={"dry_run": True}, headers=as_(tokens, "pat.owner")
    )
    assert answer.status_code == 404


# -- the answers match the OpenAPI document --------------------------------------------------


def test_answers_of_the_versions_endpoints_match_the_document(app, client, tokens):
    """Real uploads (schemathesis cannot name the files it sends) are checked against the
    document, then every operation is fuzzed with a process owner's token."""
    case_id = family_at(app, "Okafor", "hold_baseline_meeting")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    owner = as_(tokens, "pat.owner")

    def send(method: str, path: str, **kwargs):
        answer = client.open("/api/v1" + path, method=method, headers=owner, **kwargs)
        return answer

    casework = lambda: upload(folder_files(CASEWORK))  # noqa: E731 (a fresh body per request)
    picked = [
        ("POST", "/versions/validate", lambda: send("POST", "/versions/validate", data=casework())),
        ("POST", "/versions/validate", lambda: send("POST", "/versions/validate", data={})),
        ("POST", "/versions", lambda: send("POST", "/versions", data=casework())),
        ("POST", "/versions", lambda: send("POST", "/versions", data=casework())),
        ("POST", "/versions", lambda: send("POST", "/versions", data={})),
        ("GET", "/versions", lambda: send("GET", "/versions")),
        (
            "POST",
            "/versions/{version_id}/migrate",
            lambda: send("POST", "/versions/1/migrate", json={"case_ids": [case_id]}),
        ),
        (
            "POST",
            "/versions/{version_id}/migrate",
            lambda: send("POST", "/versions/999/migrate", json={"dry_run": True}),
        ),
    ]
    statuses: dict[str, set[int]] = {}
    for method, path, request in picked:
        answer = request()
        schema[path][method].validate_response(answer)
        statuses.setdefault(f"{method} {path}", set()).add(answer.status_code)
    assert statuses == {
        "POST /versions/validate": {200},
        "POST /versions": {201, 200, 422},
        "GET /versions": {200},
        "POST /versions/{version_id}/migrate": {200, 404},
    }
    for path in ("/versions/validate", "/versions", "/versions/{version_id}/migrate"):
        for operation in schema[path].values():
            _fuzz(operation, owner, set())
