"""The modeller's pages and the JSON its script sends, as a browser would send them.

The page's script (frontend/modeller.js) posts ``{revision, file, xml}`` with the CSRF token in
the ``X-CSRFToken`` header; the browser tests (tests/browser/test_modeller.py) drive the real
page. Here: who may use it, drafts made and removed, autosave and its conflicts, validation,
deploys, and the comparison of two versions.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select

from engine import authoring
from engine.audit import AuditEntry
from engine.compare import compare_files
from engine.deploy import latest_version
from engine.models import ProcessVersion
from engine.xmlsafe import parse_xml
from tests.conftest import REPO
from tests.people import REFERRER
from tests.web import csrf_token, login
from webapp.extensions import db, runtime

PATHWAY = "fgc_pathway.bpmn"
LANE_REF = "<bpmn:flowNodeRef>fgc_started</bpmn:flowNodeRef>"
START = '<bpmn:startEvent id="fgc_started"'


def with_task(xml: str, form_key: str | None = None) -> str:
    """The pathway with one more user task in the FGC Manager lane (not connected: never run)."""
    key = f' camunda:formKey="{form_key}"' if form_key else ""
    xml = xml.replace(LANE_REF, LANE_REF + "<bpmn:flowNodeRef>check_kinship</bpmn:flowNodeRef>")
    task = f'<bpmn:userTask id="check_kinship" name="Check kinship"{key} />'
    return xml.replace(START, task + START)


def page_data(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="kf-modeller-data">(.*?)</script>', html, re.S
    )
    assert found, "the modeller page carries its data"
    return json.loads(found.group(1))


def owner(client) -> str:
    login(client, "pat.owner")
    return csrf_token(client, "/modeller")


def opened_pathway(app, client) -> tuple[int, dict]:
    """A draft of the deployed pathway, opened as the process owner would: its id and page data."""
    with app.app_context():
        version_id = latest_version(db.session(), "fgc_pathway").id
    token = owner(client)
    answer = client.post(f"/modeller/versions/{version_id}/open", data={"csrf_token": token})
    assert answer.status_code == 302
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    return draft_id, page_data(page.get_data(as_text=True))


def send(client, url: str, body: dict):
    token = csrf_token(client, "/modeller")
    return client.post(url, json=body, headers={"X-CSRFToken": token})


# -- who may use it -------------------------------------------------------------------------


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    answer = client.get("/modeller")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["casey.coordinator", "morgan.manager", "ada.admin"])
def test_only_process_owners_may_use_the_modeller(app, client, username):
    draft_id, _ = opened_pathway(app, client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/modeller")})
    login(client, username)
    token = csrf_token(client, "/tasks")
    assert client.get("/modeller").status_code == 403
    assert client.get(f"/modeller/drafts/{draft_id}").status_code == 403
    assert client.get("/modeller/compare").status_code == 403
    saved = client.post(
        f"/modeller/drafts/{draft_id}/deploy",
        json={"revision": 1, "file": PATHWAY, "xml": "<x/>"},
        headers={"X-CSRFToken": token},
    )
    assert saved.status_code == 403
    assert "Modeller" not in client.get("/tasks").get_data(as_text=True)


def test_the_menu_shows_the_modeller_to_a_process_owner(client):
    owner(client)
    html = client.get("/tasks").get_data(as_text=True)
    assert 'href="/modeller">Modeller</a>' in html


def test_another_owners_draft_is_not_found(app, client):
    draft_id, _ = opened_pathway(app, client)
    with app.app_context():
        draft = authoring.get_draft(db.session(), "pat.owner", draft_id)
        draft.owner = "someone.else"
        db.session.commit()
    assert client.get(f"/modeller/drafts/{draft_id}").status_code == 404
    saved = send(
        client, f"/modeller/drafts/{draft_id}/save", {"revision": 1, "file": PATHWAY, "xml": "<x/>"}
    )
    assert saved.status_code == 404
    assert "no draft" in saved.get_json()["message"]


# -- drafts ---------------------------------------------------------------------------------


def test_opening_a_version_makes_a_draft_of_its_files_on_its_main_diagram(app, client):
    draft_id, page = opened_pathway(app, client)
    assert page["file"] == PATHWAY
    assert page["revision"] == 1
    assert 'id="fgc_pathway"' in page["xml"]
    assert "review.bpmn" in page["files"]
    listed = client.get("/modeller").get_data(as_text=True)
    assert f"/modeller/drafts/{draft_id}" in listed
    assert "FGC pathway (from version 1)" in listed


def test_another_diagram_of_the_draft_opens_by_name_and_a_wrong_name_says_so(app, client):
    draft_id, _ = opened_pathway(app, client)
    page = page_data(
        client.get(f"/modeller/drafts/{draft_id}?file=review.bpmn").get_data(as_text=True)
    )
    assert page["file"] == "review.bpmn"
    assert 'id="review"' in page["xml"]
    wrong = client.get(f"/modeller/drafts/{draft_id}?file=nothing.bpmn")
    assert wrong.status_code == 404
    assert "no diagram named" in wrong.get_data(as_text=True)


def test_a_new_diagram_is_an_executable_camunda_process_with_a_start_event(app, client):
    token = owner(client)
    answer = client.post(
        "/modeller/new", data={"csrf_token": token, "title": "Kinship care review"}
    )
    assert answer.status_code == 302
    page = page_data(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert page["file"] == "kinship_care_review.bpmn"
    root = parse_xml(page["xml"].encode(), page["file"]).getroot()
    assert root.nsmap["camunda"] == "http://camunda.org/schema/1.0/bpmn"
    process = root.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}process")
    assert process.get("id") == "kinship_care_review"
    assert process.get("isExecutable") == "true"
    assert process.get("name") == "Kinship care review"
    assert process.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}startEvent") is not None


def test_a_new_diagram_never_takes_the_id_of_a_deployed_process(client):
    token = owner(client)
    answer = client.post("/modeller/new", data={"csrf_token": token, "title": "FGC pathway"})
    page = page_data(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert page["file"] == "fgc_pathway_2.bpmn"


def test_an_imported_file_becomes_a_draft_exactly_as_it_was(app, client):
    original = REPO / "workflows" / "review.bpmn"
    data = original.read_bytes().replace(b'name="Review"', b'name="Review \xc3\xa9dition"', 1)
    assert "Review édition" in data.decode()
    token = owner(client)
    answer = client.post(
        "/modeller/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), "review.bpmn")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        draft = authoring.get_draft(db.session(), "pat.owner", draft_id)
        assert draft.files == {"review.bpmn": data.decode()}
        assert draft.title == "review"
        assert draft.main_file == "review.bpmn"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.txt", b"<x/>", "is not a .bpmn file"),
        ("broken.bpmn", b"<bpmn:definitions", "not well-formed XML"),
        ("form.bpmn", b'{"type": "object"}', "not well-formed XML"),
        (
            "dmn.bpmn",
            b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>',
            "not a BPMN 2.0",
        ),
        (
            "evil.bpmn",
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
            "DOCTYPE",
        ),
    ],
)
def test_an_import_that_is_not_a_bpmn_diagram_is_refused_naming_the_field(
    client, name, data, message
):
    token = owner(client)
    answer = client.post(
        "/modeller/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "file: " in html
    assert message in html
    assert "My drafts" in html  # the page itself, not an error page


def test_an_import_without_a_file_says_so(client):
    answer = client.post("/modeller/import", data={"csrf_token": owner(client)})
    assert answer.status_code == 400
    assert "file: choose a .bpmn file" in answer.get_data(as_text=True)


def test_a_deleted_draft_is_gone(app, client):
    draft_id, _ = opened_pathway(app, client)
    token = csrf_token(client, "/modeller")
    answer = client.post(f"/modeller/drafts/{draft_id}/delete", data={"csrf_token": token})
    assert answer.status_code == 302
    listed = client.get("/modeller").get_data(as_text=True)
    assert "deleted" in listed
    assert f"/modeller/drafts/{draft_id}" not in listed
    assert client.get(f"/modeller/drafts/{draft_id}").status_code == 404


# -- autosave -------------------------------------------------------------------------------


def test_autosave_stores_the_diagram_and_reopening_shows_it(app, client, frozen_clock):
    draft_id, page = opened_pathway(app, client)
    changed = with_task(page["xml"], "review")
    answer = send(
        client,
        f"/modeller/drafts/{draft_id}/save",
        {"revision": 1, "file": PATHWAY, "xml": changed},
    )
    assert answer.status_code == 200
    assert answer.get_json() == {"revision": 2, "saved_at": "09:00"}
    reopened = page_data(client.get(f"/modeller/drafts/{draft_id}").get_data(as_text=True))
    assert reopened["xml"] == changed
    assert reopened["revision"] == 2


def test_a_save_from_a_window_that_missed_another_save_is_refused_and_overwrites_nothing(
    app, client
):
    draft_id, page = opened_pathway(app, client)
    url = f"/modeller/drafts/{draft_id}/save"
    first = with_task(page["xml"], "review")
    assert send(client, url, {"revision": 1, "file": PATHWAY, "xml": first}).status_code == 200
    second = send(client, url, {"revision": 1, "file": PATHWAY, "xml": page["xml"]})
    assert second.status_code == 409
    assert "saved from another window" in second.get_json()["message"]
    reopened = page_data(client.get(f"/modeller/drafts/{draft_id}").get_data(as_text=True))
    assert reopened["xml"] == first


def test_the_same_work_sent_twice_is_no_conflict(app, client):
    """Leaving the page sends a last save; a reopened page may restore and send the same work."""
    draft_id, page = opened_pathway(app, client)
    url = f"/modeller/drafts/{draft_id}/save"
    work = with_task(page["xml"], "review")
    assert send(client, url, {"revision": 1, "file": PATHWAY, "xml": work}).status_code == 200
    again = send(client, url, {"revision": 1, "file": PATHWAY, "xml": work})
    assert again.status_code == 200
    assert again.get_json()["revision"] == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"file": PATHWAY, "xml": "<x/>"}, "revision:"),
        ({"revision": "1", "file": PATHWAY, "xml": "<x/>"}, "revision:"),
        ({"revision": 1, "xml": "<x/>"}, "file:"),
        ({"revision": 1, "file": "other.bpmn", "xml": "<x/>"}, "file: this draft has no diagram"),
        (
            {"revision": 1, "file": "forms/review.json", "xml": "<x/>"},
            "file: this draft has no diagram",
        ),
        ({"revision": 1, "file": PATHWAY, "xml": "  "}, "xml: the diagram is empty"),
        ({"revision": 1, "file": PATHWAY, "xml": "<x>\x00</x>"}, "xml: contains a NUL"),
    ],
)
def test_a_bad_save_is_refused_naming_the_field(app, client, body, message):
    draft_id, _ = opened_pathway(app, client)
    answer = send(client, f"/modeller/drafts/{draft_id}/save", body)
    assert answer.status_code == 400
    assert answer.get_json()["message"].startswith(message)


def test_a_save_that_is_not_json_is_refused_with_a_message(app, client):
    draft_id, _ = opened_pathway(app, client)
    token = csrf_token(client, "/modeller")
    answer = client.post(
        f"/modeller/drafts/{draft_id}/save", data="revision=1", headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 400
    assert "must be JSON" in answer.get_json()["message"]


def test_a_save_without_the_csrf_token_is_refused(app, client):
    draft_id, page = opened_pathway(app, client)
    answer = client.post(
        f"/modeller/drafts/{draft_id}/save",
        json={"revision": 1, "file": PATHWAY, "xml": page["xml"]},
    )
    assert answer.status_code == 400
    with app.app_context():
        assert authoring.get_draft(db.session(), "pat.owner", draft_id).revision == 1


# -- validate and deploy --------------------------------------------------------------------


def test_validate_lists_problems_with_the_element_they_are_on(app, client):
    draft_id, page = opened_pathway(app, client)
    answer = send(
        client,
        f"/modeller/drafts/{draft_id}/validate",
        {"file": PATHWAY, "xml": with_task(page["xml"])},
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ok"] is False
    assert body["problems"] == [
        {
            "file": PATHWAY,
            "element": "userTask 'check_kinship'",
            "element_id": "check_kinship",
            "line": body["problems"][0]["line"],
            "message": "has no form: set a form key naming forms/<key>.json",
        }
    ]
    fixed = send(
        client,
        f"/modeller/drafts/{draft_id}/validate",
        {"file": PATHWAY, "xml": with_task(page["xml"], "review")},
    )
    assert fixed.get_json() == {"ok": True, "problems": []}


def test_validate_never_fails_on_a_broken_diagram_and_keeps_the_draft(app, client):
    draft_id, page = opened_pathway(app, client)
    answer = send(
        client,
        f"/modeller/drafts/{draft_id}/validate",
        {"file": PATHWAY, "xml": "<bpmn:definitions"},
    )
    assert answer.status_code == 200
    problem = answer.get_json()["problems"][0]
    assert problem["file"] == PATHWAY
    assert "not well-formed" in problem["message"]
    assert problem["element_id"] is None
    reopened = page_data(client.get(f"/modeller/drafts/{draft_id}").get_data(as_text=True))
    assert reopened["xml"] == page["xml"]


def test_a_refused_deploy_saves_the_draft_and_lists_the_problems(app, client):
    draft_id, page = opened_pathway(app, client)
    broken = with_task(page["xml"], "no_such_form")
    answer = send(
        client,
        f"/modeller/drafts/{draft_id}/deploy",
        {"revision": 1, "file": PATHWAY, "xml": broken},
    )
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["revision"] == 2
    assert [(p["element_id"], p["message"]) for p in body["problems"]] == [
        ("check_kinship", "form 'no_such_form' not found in forms/")
    ]
    with app.app_context():
        assert latest_version(db.session(), "fgc_pathway").version == 1
        assert authoring.get_draft(db.session(), "pat.owner", draft_id).files[PATHWAY] == broken


def test_deploy_makes_a_new_version_that_new_cases_start_on(app, client, workers):
    draft_id, page = opened_pathway(app, client)
    answer = send(
        client,
        f"/modeller/drafts/{draft_id}/deploy",
        {"revision": 1, "file": PATHWAY, "xml": with_task(page["xml"], "review")},
    )
    assert answer.status_code == 200
    body = answer.get_json()
    entry = next(v for v in body["versions"] if v["process_id"] == "fgc_pathway")
    assert (entry["version"], entry["created"]) == (2, True)
    assert entry["compare_url"].startswith("/modeller/compare?")
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        assert version.id == entry["id"]
        assert "check_kinship" in version.user_tasks["fgc_pathway"]
        case = runtime().start_case(
            session, version, {"eligibility_rule": "stronger_families"}, REFERRER
        )
        assert case.version_id == entry["id"]
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "deploy_version")
        ).all()
        assert [(a.username, a.target) for a in audited] == [("pat.owner", "fgc_pathway version 2")]


def test_deploying_unchanged_files_says_the_version_already_exists(app, client):
    draft_id, page = opened_pathway(app, client)
    answer = send(
        client,
        f"/modeller/drafts/{draft_id}/deploy",
        {"revision": 1, "file": PATHWAY, "xml": page["xml"]},
    )
    assert answer.status_code == 200
    entry = next(v for v in answer.get_json()["versions"] if v["process_id"] == "fgc_pathway")
    assert (entry["version"], entry["created"]) == (1, False)


def test_a_deploy_from_a_stale_window_is_refused_before_anything_is_deployed(app, client):
    draft_id, page = opened_pathway(app, client)
    url = f"/modeller/drafts/{draft_id}"
    assert (
        send(
            client, url + "/save", {"revision": 1, "file": PATHWAY, "xml": page["xml"]}
        ).status_code
        == 200
    )
    answer = send(
        client,
        url + "/deploy",
        {"revision": 1, "file": PATHWAY, "xml": with_task(page["xml"], "review")},
    )
    assert answer.status_code == 409
    assert "another window" in answer.get_json()["message"]
    with app.app_context():
        assert latest_version(db.session(), "fgc_pathway").version == 1


# -- compare --------------------------------------------------------------------------------


def deployed_change(app, client) -> tuple[int, int]:
    """Version 2 of the pathway: a task added, the start renamed, one end event removed."""
    draft_id, page = opened_pathway(app, client)
    xml = with_task(page["xml"], "review").replace(
        'name="Family referred"', 'name="Family referred to FGC"'
    )
    answer = send(
        client, f"/modeller/drafts/{draft_id}/deploy", {"revision": 1, "file": PATHWAY, "xml": xml}
    )
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():
        ids = db.session.scalars(
            select(ProcessVersion.id)
            .where(ProcessVersion.process_id == "fgc_pathway")
            .order_by(ProcessVersion.version)
        ).all()
    return ids[0], ids[1]


def test_compare_lists_and_marks_added_and_changed_elements(app, client):
    older, newer = deployed_change(app, client)
    answer = client.get(f"/modeller/compare?from={older}&to={newer}")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    marks = json.loads(re.search(r'id="kf-compare-data">(.*?)</script>', html, re.S).group(1))
    assert marks["added"] == ["check_kinship"]
    assert set(marks["changed"]) == {"fgc_started", "fgc_pathway_lane_fgc_manager"}
    assert "name &#39;Family referred&#39; → &#39;Family referred to FGC&#39;" in html
    assert "members: +check_kinship" in html
    assert 'id="fgc_pathway"' in marks["xml"]


def test_compare_the_other_way_lists_the_task_as_removed(app, client):
    older, newer = deployed_change(app, client)
    html = client.get(f"/modeller/compare?from={newer}&to={older}").get_data(as_text=True)
    removed = html.split('id="removed-heading"')[1]
    assert "Check kinship" in removed
    assert "check_kinship" in removed


def test_compare_with_a_version_that_does_not_exist_names_the_field(client):
    owner(client)
    answer = client.get("/modeller/compare?from=1&to=999")
    assert answer.status_code == 400
    assert "to: there is no version 999" in answer.get_data(as_text=True)


def test_compare_without_versions_shows_the_choice(client):
    owner(client)
    answer = client.get("/modeller/compare")
    assert answer.status_code == 200
    assert "Older version" in answer.get_data(as_text=True)


# -- engine.compare on its own (no database) ------------------------------------------------

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:timerEventDefinition id="{timer_id}">
      <bpmn:timeDuration>"{duration}"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{target}" />
    <bpmn:userTask id="a" name="A" camunda:candidateGroups="{groups}" />
    {extra}
  </bpmn:process>
</bpmn:definitions>"""


def diagram(**changes: str) -> dict[str, str]:
    values = {
        "timer_id": "t1",
        "duration": "P1D",
        "target": "a",
        "groups": "coordinator",
        "extra": "",
    }
    return {"p.bpmn": DIAGRAM.format(**(values | changes))}


def test_the_same_diagram_has_no_changes_even_with_new_ids_on_nested_parts():
    assert compare_files(diagram(), diagram(timer_id="TimerEventDefinition_0x1")).same


def test_camunda_attributes_connections_and_timers_count_as_changes():
    extra = '<bpmn:userTask id="b" name="B" />'
    result = compare_files(
        diagram(extra=extra), diagram(groups="fgc_manager", target="b", duration="P2D", extra=extra)
    )
    changed = {c.element_id: c.details for c in result.changed}
    assert changed["a"] == (
        "camunda:candidateGroups 'coordinator' → 'fgc_manager'",
        "incoming f1 → none",
    )
    assert changed["b"] == ("incoming none → f1",)
    assert changed["f1"] == ("targetRef 'a' → 'b'",)
    assert changed["start"] == (
        "settings changed (a condition, timer, script or extension elements)",
    )
    assert not result.added and not result.removed


def test_an_unreadable_file_is_reported_not_raised():
    result = compare_files(diagram(), {"p.bpmn": "<bpmn:definitions"})
    assert result.problems and "not well-formed" in result.problems[0]
    assert [c.element_id for c in result.removed] == ["p", "start", "f1", "a"]


def test_changed_forms_are_listed_by_file():
    older = diagram() | {"forms/review.json": "{}"}
    newer = diagram() | {"forms/review.json": '{"type": "object"}', "forms/new.json": "{}"}
    assert compare_files(older, newer).changed_files == ["forms/new.json", "forms/review.json"]


def test_a_version_number_too_large_for_the_database_is_not_found(client):
    token = owner(client)
    assert client.get("/modeller/compare?from=99999999999&to=1").status_code == 400
    opened = client.post("/modeller/versions/99999999999/open", data={"csrf_token": token})
    assert opened.status_code == 404
