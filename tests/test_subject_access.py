"""Subject access: one family's whole record as a chronology, redaction marks, who may ask,
and the audit of every view, export and disclosure (engine/subject_access.py,
engine/redaction.py, webapp/subject_access.py)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine.actors import Actor
from engine.audit import AuditEntry
from engine.case_notes import add_note
from engine.deploy import latest_version
from engine.models import Case, CaseEvent
from engine.record.models import Person, Redaction
from engine.redaction import mark
from engine.subject_access import build_export
from tests import test_pathway_walkthrough as walk
from tests.web import csrf_token, family_at, login, team_id
from webapp.extensions import db, runtime

OTHER_REFERRAL = walk.REFERRAL | {
    "family_name": "Brackley",
    "people": [
        {
            "name": "Kit Brackley",
            "date_of_birth": "1988-01-02",
            "is_child": False,
            "relationship_to_child": "father",
            "parental_responsibility": True,
        },
        {
            "name": "Ola Brackley",
            "date_of_birth": "2014-05-06",
            "is_child": True,
            "relationship_to_child": "child",
            "parental_responsibility": False,
        },
    ],
    "why_now": "Ola has been excluded twice this year.",
    "consent_given_by": "Kit Brackley",
}
NOTE = "Jo rang to say the school bus route has changed."
OTHER_NOTE = "Kit asked for the meeting to be moved to a Saturday."


@pytest.fixture
def families(app, workers):
    """Two Central-team families: the Ashdowns at plan acceptance, with a note and a
    safeguarding concern; the Brackleys just screened, with a note of their own."""
    ashdown = family_at(app, "Ashdown", "review_family_plan")
    with app.app_context():
        session = db.session()
        add_note(session, ashdown, walk.COORDINATOR, NOTE)
        runtime().send_message(session, ashdown, "safeguarding_concern", walk.CONCERN, walk.LEAD)
        version = latest_version(session, "fgc_pathway")
        start = {"eligibility_rule": "stronger_families"}
        other = runtime().start_case(
            session, version, start, walk.REFERRER, "Brackley family", team_id=team_id(app)
        )
        walk.do(runtime(), session, other, "submit_referral", OTHER_REFERRAL, walk.REFERRER)
        walk.do(runtime(), session, other, "acknowledge_referral", walk.ACKNOWLEDGED, walk.MANAGER)
        add_note(session, other.id, walk.MANAGER, OTHER_NOTE)
        return ashdown, other.id


def review_json(client, case_id: int) -> dict:
    answer = client.get(f"/cases/{case_id}/subject-access.json?marks=1")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def passages_of(document: dict) -> dict[str, dict]:
    found = {}
    for part in ("people", "network", "chronology"):
        for item in document[part]:
            found.update({p["key"]: p for p in item["passages"]})
    return found


def post_mark(client, case_id: int, passage: str, reason: str, copies: bool = False):
    """The mark form; ``copies``: its "also withhold the other places" box ticked."""
    token = csrf_token(client, f"/cases/{case_id}/subject-access")
    data = {"passage": passage, "reason": reason, "csrf_token": token}
    if copies:
        data["copies"] = "1"
    return client.post(f"/cases/{case_id}/subject-access/marks", data=data)


def audit_rows(app, case_id: int | None = None) -> list[tuple[str, str, str, str]]:
    with app.app_context():
        query = select(AuditEntry).order_by(AuditEntry.id)
        if case_id is not None:
            query = query.where(AuditEntry.case_id == case_id)
        rows = db.session().scalars(query).all()
        return [(e.username, e.action, e.target, e.via) for e in rows]


def test_the_export_holds_every_event_of_the_case_and_nothing_of_another_family(
    app, client, families
):
    ashdown, brackley = families
    login(client, "dana.data")
    document = review_json(client, ashdown)
    with app.app_context():
        session = db.session()
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == ashdown)).all()
        others = session.scalars(select(CaseEvent).where(CaseEvent.case_id == brackley)).all()
        other_people = session.scalars(select(Person).where(Person.case_id == brackley)).all()
    exported = {i["event_id"]: i for i in document["chronology"] if "event_id" in i}
    assert set(exported) == {e.id for e in events}  # every row of the case, and only those
    for event in events:
        assert exported[event.id]["passages"][0]["text"] == event.summary
    assert any(i["key"].startswith("note:") for i in document["chronology"])
    text = json.dumps(document)
    assert NOTE in text and "Bruising seen at school" in text  # the note and the concern
    assert "Jo Ashdown" in text and "Nan Ashdown" in text  # people and network
    assert "Sam wants to stay at home" in text  # an answer kept only on its form's event
    for leak in ["Brackley", OTHER_NOTE, "Ola has been excluded", *(p.name for p in other_people)]:
        assert leak not in text
    assert not {e.id for e in others} & set(exported)
    assert document["case"]["case_number"] == ashdown
    assert document["case"]["family_name"] == "Ashdown"
    assert document["case"]["team"] == "Central FGC"


def test_the_chronology_runs_oldest_first_and_leaves_out_internal_fields(app, client, families):
    ashdown, _ = families
    login(client, "morgan.manager")
    document = review_json(client, ashdown)
    times = [item["at"] for item in document["chronology"]]
    assert times == sorted(times)
    keys = passages_of(document)
    assert not any(k.endswith((":task_id", ":form_key")) for k in keys)
    assert "state" not in json.dumps(document["case"])
    sources = {item["source"] for item in document["chronology"]}
    assert {"event", "note", "referral", "screening", "allocation", "conference"} <= sources
    assert {"plan", "concern"} <= sources
    assert not any(item.get("source") == "audit" for item in document["chronology"])


def test_a_marked_passage_is_withheld_on_release_and_kept_for_the_reviewer(app, client, families):
    ashdown, _ = families
    login(client, "morgan.manager")
    document = review_json(client, ashdown)
    note_key = next(i["key"] for i in document["chronology"] if i["key"].startswith("note:"))
    needs = next(k for k, p in passages_of(document).items() if p["text"] == "Routine")
    assert needs.startswith("person:") and needs.endswith(":needs")
    assert post_mark(client, ashdown, note_key, "Third party information").status_code == 303
    assert post_mark(client, ashdown, needs, "Health details of a child").status_code == 303

    release = client.get(f"/cases/{ashdown}/subject-access.json").get_json()
    found = passages_of(release)
    assert found[note_key]["text"] == "[Redacted: Third party information]"
    assert found[needs]["text"] == "[Redacted: Health details of a child]"
    assert NOTE not in json.dumps(release)
    assert release["redactions"] == 2 and release["version"] == "release"

    page = client.get(f"/cases/{ashdown}/subject-access?release=1").get_data(as_text=True)
    assert "[Redacted: Third party information]" in page and NOTE not in page
    assert "Mark to withhold" not in page

    reviewer = passages_of(review_json(client, ashdown))
    assert reviewer[note_key]["text"] == f"Note from casey.coordinator: {NOTE}"
    assert reviewer[note_key]["redaction"]["reason"] == "Third party information"
    assert reviewer[needs]["redaction"]["marked_by"] == "morgan.manager"
    review_page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert NOTE in review_page and "Marked to withhold:</strong> Third party information" in (
        review_page
    )
    marked = [a for a in audit_rows(app, ashdown) if a[1] == "mark_redaction"]
    assert marked == [
        ("morgan.manager", "mark_redaction", note_key, "web"),
        ("morgan.manager", "mark_redaction", needs, "web"),
    ]


def test_marking_a_whole_entry_withholds_every_passage_and_unmarking_restores_it(
    app, client, families
):
    ashdown, _ = families
    login(client, "dana.data")
    document = review_json(client, ashdown)
    referral = next(i for i in document["chronology"] if i["key"] == "referral")
    assert len(referral["passages"]) > 5
    post_mark(client, ashdown, "referral", "Held back pending a decision")
    release = client.get(f"/cases/{ashdown}/subject-access.json").get_json()
    shown = next(i for i in release["chronology"] if i["key"] == "referral")
    assert {p["text"] for p in shown["passages"]} == {"[Redacted: Held back pending a decision]"}

    token = csrf_token(client, f"/cases/{ashdown}/subject-access")
    answer = client.post(
        f"/cases/{ashdown}/subject-access/marks/remove",
        data={"passage": "referral", "csrf_token": token},
    )
    assert answer.status_code == 303
    release = client.get(f"/cases/{ashdown}/subject-access.json").get_json()
    assert release["redactions"] == 0
    assert ("dana.data", "remove_redaction", "referral", "web") in audit_rows(app, ashdown)


def test_a_mark_without_a_reason_or_on_an_unknown_passage_is_refused_with_the_field(
    app, client, families
):
    ashdown, _ = families
    login(client, "morgan.manager")
    answer = post_mark(client, ashdown, "referral", "   ")
    assert answer.status_code == 303
    page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert "Give the reason the passage is withheld" in page
    post_mark(client, ashdown, "event:999999", "A reason")
    page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert "Choose a passage of this family&#39;s export to mark." in page
    no_token = client.post(
        f"/cases/{ashdown}/subject-access/marks", data={"passage": "referral", "reason": "x"}
    )
    assert no_token.status_code == 400
    with app.app_context():
        assert db.session().scalars(select(Redaction)).all() == []


def test_two_reviewers_marking_the_same_passage_leave_one_mark(app, families, monkeypatch):
    ashdown, _ = families
    with app.app_context():
        first, second = db.session(), db.session.session_factory()
        case = first.get(Case, ashdown)
        export = build_export(first, case)
        mark(first, export, "referral", "First reason", "morgan.manager")
        # The second reviewer read "no mark yet" just before the first one's insert committed.
        real_scalar = second.scalar
        calls = {"n": 0}

        def stale_first_read(statement, *args, **kwargs):
            calls["n"] += 1
            return None if calls["n"] == 1 else real_scalar(statement, *args, **kwargs)

        monkeypatch.setattr(second, "scalar", stale_first_read)
        row = mark(second, export, "referral", "Second reason", "dana.data")
        assert (row.reason, row.marked_by) == ("Second reason", "dana.data")
        second.close()
        marks = first.scalars(select(Redaction).where(Redaction.case_id == ashdown)).all()
        first.expire_all()
        assert [(m.passage, m.reason) for m in marks] == [("referral", "Second reason")]


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("riley.referrer", 403),
        ("casey.coordinator", 403),
        ("lee.practitioner", 403),
        ("ada.admin", 403),
        ("mel.manager", 404),  # another team's manager: the case does not exist for them
        ("morgan.manager", 200),
        ("dana.data", 200),
    ],
)
def test_only_data_officers_and_the_teams_managers_may_open_it(
    app, client, families, username, status
):
    ashdown, _ = families
    login(client, username)
    assert client.get(f"/cases/{ashdown}/subject-access").status_code == status
    assert client.get(f"/cases/{ashdown}/subject-access.json").status_code == status
    refused = post_mark(client, ashdown, "referral", "A reason") if status == 200 else None
    if refused is None:
        token = csrf_token(client, "/tasks")
        answer = client.post(
            f"/cases/{ashdown}/subject-access/marks",
            data={"passage": "referral", "reason": "x", "csrf_token": token},
        )
        assert answer.status_code == status


def test_every_view_and_export_is_audited_and_a_release_records_a_disclosure(app, client, families):
    ashdown, _ = families
    login(client, "dana.data")
    client.get(f"/cases/{ashdown}/subject-access")
    client.get(f"/cases/{ashdown}/subject-access.json?marks=1")
    to = "Jo Ashdown (mother)"
    client.get(f"/cases/{ashdown}/subject-access?release=1&to={to}&why=Her+request+of+1+May")
    client.get(f"/cases/{ashdown}/subject-access.json")
    rows = [r for r in audit_rows(app, ashdown) if r[0] == "dana.data"]
    actions = [r[1] for r in rows]
    assert actions == [
        "view_subject_access",
        "view_subject_access",
        "export_subject_access",
        "disclosure",
        "export_subject_access",
        "disclosure",
    ]
    disclosures = [r[2] for r in rows if r[1] == "disclosure"]
    assert disclosures[0] == (
        f"subject access export of case {ashdown} (printed, 0 passages redacted) to "
        "Jo Ashdown (mother); why: Her request of 1 May"
    )
    assert disclosures[1].endswith("to the family (the data subject); why: subject access request")
    too_long = client.get(f"/cases/{ashdown}/subject-access.json?to={'x' * 81}")
    assert too_long.status_code == 400
    assert "Disclosed to: at most 80 characters." in too_long.get_data(as_text=True)


def test_the_case_page_links_to_it_for_the_teams_manager_only(app, client, families):
    ashdown, _ = families
    login(client, "morgan.manager")
    link = f'href="/cases/{ashdown}/subject-access"'
    assert link in client.get(f"/cases/{ashdown}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks")})
    login(client, "casey.coordinator")
    assert link not in client.get(f"/cases/{ashdown}").get_data(as_text=True)


def test_a_data_officer_finds_a_case_by_number(app, client, families):
    ashdown, _ = families
    login(client, "dana.data")
    assert client.get("/subject-access").status_code == 200
    found = client.get(f"/subject-access?case={ashdown}")
    assert found.status_code == 302 and found.location.endswith(f"/cases/{ashdown}/subject-access")
    page = client.get("/subject-access?case=abc").get_data(as_text=True)
    assert "Case number: give the number as digits" in page
    page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert re.search(r"<h1[^>]*>Subject access review: the Ashdown family</h1>", page)


def test_a_note_written_by_a_worker_keeps_its_author(app, families):
    ashdown, _ = families
    with app.app_context():
        session = db.session()
        add_note(session, ashdown, Actor.of("morgan.manager", "fgc_manager"), "A second note.")
        case = session.get(Case, ashdown)
        export = build_export(session, case)
    last = [i for i in export.chronology if i.source == "note"][-1]
    assert (last.by, last.passages[0].text) == (
        "Morgan Manager",
        "Note from morgan.manager: A second note.",
    )
