"""Shared by the HTTP fuzz tests and the fuzz benchmark: a process that opens one task for every
shipped form at once, a snapshot of what a case has stored, hypothesis strategies for hostile
form posts and bodies, and the checks each post must pass.

One case of the all-forms process gives a ready task per form, so each form can be posted to
through the real pages and API without walking the pathway up to it. The strategies and the
checks live here, not in tests/test_fuzz_http.py, so that ``benchmarks/fuzz_http.py`` runs the
very same properties with many more examples (``make bench``) than the suite can afford.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from engine.actors import Actor
from engine.chronology import case_events
from engine.deploy import deploy_paths, latest_version
from engine.models import Case, HumanTask, TaskState
from engine.runtime import Runtime
from tests.databases import REPO

FORMS = REPO / "forms"
FORM_KEYS = sorted(p.stem for p in FORMS.glob("*.json"))
PROCESS = "all_forms"
ROLE = "fgc_manager"


def all_forms_bpmn() -> str:
    """A process whose start splits into one user task per shipped form, for ``ROLE``."""
    tasks, flows = [], []
    for key in FORM_KEYS:
        tasks.append(
            f'<bpmn:userTask id="t_{key}" name="Fill in {key}" camunda:formKey="{key}" '
            f'camunda:candidateGroups="{ROLE}" />'
        )
        flows.append(f'<bpmn:sequenceFlow id="in_{key}" sourceRef="split" targetRef="t_{key}" />')
        flows.append(f'<bpmn:sequenceFlow id="out_{key}" sourceRef="t_{key}" targetRef="join" />')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs_all_forms" targetNamespace="http://kinflow.example/test">
  <bpmn:process id="{PROCESS}" name="Every shipped form" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    {"".join(tasks)}
    {"".join(flows)}
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f_end" sourceRef="join" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_all_forms(session: Session, runtime: Runtime, folder: Path) -> None:
    path = folder / "all_forms.bpmn"
    path.write_text(all_forms_bpmn(), encoding="utf-8")
    deploy_paths(session, [path], "pat.owner", runtime.codec, FORMS)
    session.commit()


def ready_task(session: Session, runtime: Runtime, key: str, team_id: int) -> int:
    """A ready task of form ``key``, starting a new all-forms case when every one is done."""
    found = session.scalar(
        select(HumanTask.id)
        .where(HumanTask.form_key == key, HumanTask.state == TaskState.READY)
        .limit(1)
    )
    if found is not None:
        return found
    version = latest_version(session, PROCESS)
    actor = Actor.of("pat.owner", "process_owner")
    runtime.start_case(session, version, {}, actor, "Fuzz family", team_id)
    session.commit()
    return ready_task(session, runtime, key, team_id)


def stored(session: Session, task_id: int) -> dict[str, Any]:
    """Everything a refused post must leave as it was: the task, its case's saved workflow
    state and version counter, every task of the case, and the chronology."""
    session.expire_all()
    task = session.get(HumanTask, task_id)
    assert task is not None
    case = session.get(Case, task.case_id)
    assert case is not None
    tasks = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))
    columns = [c.key for c in Case.__table__.columns if c.key != "updated_at"]
    return {
        "case": {c: _digest(getattr(case, c, None)) for c in columns},
        "tasks": sorted((t.id, str(t.state), t.assignee, t.completed_by) for t in tasks),
        "events": [(e.id, e.kind, _digest(e.summary)) for e in case_events(session, case.id)],
    }


def _digest(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# Text a browser or a script could send: ordinary and odd unicode, control characters and
# NULs, numbers and booleans as text, very long values.
ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "0",
            "-1",
            "1e309",
            "NaN",
            "Infinity",
            "true",
            "null",
            "[]",
            "{}",
            "2026-02-30",
            "9999-12-31",
            "\u202eevil",
            "\ufeff",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "£1,000.50",
            "x" * 300_000,
            "é" * 100_000,
        ]
    ),
)
SCHEMAS = {key: json.loads((FORMS / f"{key}.json").read_text("utf-8")) for key in FORM_KEYS}
JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    ODD_TEXT,
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=10,
)


def open_task(app: Flask, key: str, team: int) -> tuple[int, dict[str, Any]]:
    """A ready task of form ``key`` and what its case has stored, before a post."""
    from webapp.extensions import db, runtime

    with app.app_context():
        session = db.session()
        task_id = ready_task(session, runtime(), key, team)
        return task_id, stored(session, task_id)


def after(app: Flask, task_id: int) -> tuple[TaskState, dict[str, Any]]:
    """The task's state and what its case has stored, after a post."""
    from webapp.extensions import db

    with app.app_context():
        session = db.session()
        snapshot = stored(session, task_id)
        task = session.get(HumanTask, task_id)
        assert task is not None
        return task.state, snapshot


# -- form fields as a browser posts them ------------------------------------------------------


def field_names(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every input name the task page could show for `schema`, two entries per repeat."""
    names: list[str] = []
    for key, sub in (schema.get("properties") or {}).items():
        name = f"{prefix}.{key}" if prefix else key
        kind = sub.get("type")
        items = sub.get("items") or {}
        if kind == "object":
            names += field_names(sub, name)
        elif kind == "array" and "enum" not in items:
            for i in (0, 1):
                entry = f"{name}.{i}"
                names += field_names(items, entry) if items.get("type") == "object" else [entry]
        else:
            names.append(name)
    return names


def arrays(schema: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, sub in (schema.get("properties") or {}).items():
        name = f"{prefix}.{key}" if prefix else key
        if sub.get("type") == "array":
            found.append(name)
        if sub.get("type") == "object":
            found += arrays(sub, name)
    return found


@st.composite
def page_posts(draw, key: str | None = None) -> tuple[str, list[tuple[str, str]]]:
    """A form's fields as a browser could post them; any shipped form unless ``key`` is given
    (the benchmark fuzzes each form in turn)."""
    key = key or draw(st.sampled_from(FORM_KEYS))
    schema = SCHEMAS[key]
    names = field_names(schema)
    chosen = draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True))
    pairs = [
        (name, value)
        for name in chosen
        for value in draw(st.lists(ODD_TEXT, min_size=1, max_size=3))
    ]
    pairs += [(name, draw(ODD_TEXT)) for name in draw(st.lists(st.text(max_size=20), max_size=2))]
    pairs += [("__present__", name) for name in draw(st.lists(st.sampled_from(names), max_size=3))]
    buttons = [f"add:{a}" for a in arrays(schema)] + [f"remove:{a}.0" for a in arrays(schema)]
    buttons += ["add:nothing", "remove:x.999999999", "remove:", "add"]
    if draw(st.booleans()):
        pairs.append(("__action", draw(st.sampled_from(buttons))))
    return key, pairs


def post_page(
    app: Flask, client: FlaskClient, csrf: str, team: int, key: str, pairs: list[tuple[str, str]]
) -> int:
    """Post ``pairs`` to an open task of form ``key``; the status, after checking that it is
    no server error and that a refused post left the task open and its case as stored."""
    task_id, before = open_task(app, key, team)
    body = MultiDict([("csrf_token", csrf), *pairs])
    response = client.post(f"/tasks/{task_id}", data=body)
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 302, 400, 413, 422), page[:500]
    state, now = after(app, task_id)
    if response.status_code == 302:
        assert state == TaskState.COMPLETED
        return response.status_code
    assert state == TaskState.READY
    assert now == before
    if response.status_code == 422:
        assert 'class="error-summary"' in page
    if response.status_code == 400:
        assert "cannot be stored" in page  # names the field holding the NUL
    return response.status_code


# -- the same forms through the API -----------------------------------------------------------


@st.composite
def api_submissions(draw, key: str | None = None) -> tuple[str, Any]:
    """A JSON answer to a form, any shipped form unless ``key`` is given."""
    key = key or draw(st.sampled_from(FORM_KEYS))
    names = sorted(SCHEMAS[key].get("properties") or {})
    # Field names are never blank here: a blank name nests as "0" in the error paths of
    # webapp/api/body.py (reported, not fixed here).
    fields = draw(st.lists(st.sampled_from(names) | st.text(min_size=1, max_size=12), max_size=6))
    return key, {name: draw(JSON_VALUE) for name in fields}


def post_api(app: Flask, client: FlaskClient, token: str, team: int, key: str, data: Any) -> int:
    """Complete an open task of form ``key`` through the API with ``data``; the status, after
    checking that a refusal names fields and left the task open and its case as stored."""
    task_id, before = open_task(app, key, team)
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(f"/api/v1/tasks/{task_id}/complete", json=data, headers=headers)
    assert response.status_code in (200, 400, 413, 422), response.get_data(as_text=True)[:500]
    state, now = after(app, task_id)
    if response.status_code == 200:
        assert state == TaskState.COMPLETED
        return response.status_code
    assert state == TaskState.READY
    assert now == before
    body = response.get_json()
    assert body["message"]
    if response.status_code == 422:
        known = set(SCHEMAS[key].get("properties") or {}) | {"(form)", "(body)"}
        assert body["errors"]
        for path, message in body["errors"].items():
            assert message and isinstance(message, str)
            fields = known | {name or '""' for name in data}  # webapp/api/body.py's naming
            assert any(path == f or path.startswith(f + ".") for f in fields), path
    return response.status_code


# -- every endpoint that reads a JSON body ------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"   ",
            b"null",
            b"[]",
            b'"text"',
            b"12",
            b"{",
            b'{"a": 1,}',
            b'{"data": "\xff\xfe"}',
            b"\xef\xbb\xbf{}",
            b'{"concern": "\\u0000"}',
            b'{"concern": "\\ud800"}',
            b'{"\\u0000": 1}',
            b'{"case_ids": [1e400]}',
            b'{"case_ids": "all", "dry_run": "yes"}',
            b'{"process": {"$ne": 1}}',
            b'{"process": "all_forms", "data": [], "title": 5}',
            DEEP,
            DEEP_OBJECT,
            b'{"x": "' + b"y" * 1_200_000 + b'"}',
        ]
    ),
    JSON_VALUE.map(lambda v: json.dumps(v).encode()),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
)
# (who posts, where): the workers of tests/web.py.
ENDPOINTS = [
    ("riley.referrer", "/api/v1/cases"),
    ("pat.owner", "/api/v1/cases"),
    ("morgan.manager", "/api/v1/cases/{case}/messages/safeguarding_concern"),
    ("morgan.manager", "/api/v1/cases/{case}/messages/consent_withdrawn"),
    ("morgan.manager", "/api/v1/tasks/{task}/complete"),
    ("morgan.manager", "/api/v1/tasks/{task}/claim"),
    ("pat.owner", "/api/v1/versions/{version}/migrate"),
]


def post_endpoint(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    team: int,
    endpoint: tuple[str, str],
    raw: bytes,
    content_type: str,
) -> int:
    """Post ``raw`` to one of ``ENDPOINTS``; the status, after checking that the answer is JSON,
    no server error, a refusal says why, and a refused completion left the case as stored."""
    from webapp.extensions import db

    user, template = endpoint
    task_id, before = open_task(app, "referral", team)
    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        case_id = task.case_id
        version_id = db.session.get(Case, case_id).version_id
    path = template.format(case=case_id, task=task_id, version=version_id)
    headers = {"Authorization": f"Bearer {tokens[user]}"}
    response = client.post(path, data=raw, content_type=content_type, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert response.is_json, response.get_data(as_text=True)[:500]
    body = response.get_json()
    if response.status_code >= 400:
        assert isinstance(body["message"], str) and body["message"]
    if response.status_code in (400, 413, 422) and path.endswith("/complete"):
        assert after(app, task_id) == (TaskState.READY, before)
    return response.status_code
