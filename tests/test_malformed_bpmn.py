"""The malformed-BPMN corpus (tests/fixtures/malformed/corpus.py) through every way in:
``POST /api/v1/versions/validate``, ``POST /api/v1/versions`` and ``kinflow validate``.

tests/test_validation.py checks each fault at the engine; this checks what the person who sent
the file sees: the problem names the file and, where there is one, the element, the answer is
never a server error, and nothing is deployed. Time and memory per file are measured by
benchmarks/malformed_bpmn.py, not asserted here.
"""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.accounts import find_user
from engine.models import ProcessVersion
from engine.tokens import create_token
from tests.fixtures.malformed.corpus import CORPUS, Malformed
from webapp.api.versions import MAX_UPLOAD_BYTES
from webapp.cli import validate_command
from webapp.extensions import db

ENTRIES = [pytest.param(entry, id=entry.name) for entry in CORPUS]
BUILT = {entry.name: entry.build() for entry in CORPUS}


@pytest.fixture
def owner(app, workers) -> dict[str, str]:
    with app.app_context():
        session = db.session()
        token = create_token(session, find_user(session, "pat.owner"), "tests")[1]
    return {"Authorization": f"Bearer {token}"}


def explained(problems: list[dict], entry: Malformed) -> bool:
    """Some problem names the file and says what the entry promises, at its element."""
    for p in problems:
        text = p["message"].lower()
        names_file = p["file"] == entry.name or entry.name in p["message"]
        at_element = entry.element is None or entry.element in (p["element"] or "")
        if names_file and at_element and all(word in text for word in entry.words):
            return True
    return False


def versions(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ProcessVersion))


def send(client, path: str, entry: Malformed, headers: dict[str, str]):
    body = {"file": (io.BytesIO(BUILT[entry.name]), entry.name)}
    return client.post(path, data=body, headers=headers, content_type="multipart/form-data")


@pytest.mark.parametrize("entry", ENTRIES)
def test_validation_api_explains_each_malformed_file(client, owner, entry):
    response = send(client, "/api/v1/versions/validate", entry, owner)
    body = response.get_json()
    if len(BUILT[entry.name]) > MAX_UPLOAD_BYTES:
        assert response.status_code == 413
        assert "too large" in body["message"] and f"{MAX_UPLOAD_BYTES:,}" in body["message"]
        return
    assert response.status_code == 200
    if entry.words:
        assert body["ok"] is False
        assert explained(body["problems"], entry), body["problems"]


@pytest.mark.parametrize("entry", ENTRIES)
def test_deploying_a_malformed_file_is_refused_and_deploys_nothing(app, client, owner, entry):
    before = versions(app)
    response = send(client, "/api/v1/versions", entry, owner)
    body = response.get_json()
    assert response.status_code < 500
    if len(BUILT[entry.name]) > MAX_UPLOAD_BYTES:
        assert response.status_code == 413 and "too large" in body["message"]
        assert versions(app) == before
        return
    if not entry.words:  # no promise of a problem: deployed (201) or refused (422), no crash
        assert response.status_code in (201, 422)
        return
    assert response.status_code == 422
    assert explained(body["problems"], entry), body["problems"]
    assert versions(app) == before


@pytest.mark.parametrize("entry", ENTRIES)
def test_kinflow_validate_explains_each_malformed_file(tmp_path, entry):
    path = tmp_path / entry.name
    path.write_bytes(BUILT[entry.name])
    result = CliRunner().invoke(validate_command, [str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if not entry.words:
        assert result.exit_code in (0, 1)
        return
    assert result.exit_code == 1
    output = result.output.lower()
    assert entry.name in result.output
    assert all(word in output for word in entry.words), result.output
    if entry.element:
        assert entry.element in result.output
