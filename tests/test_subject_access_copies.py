"""Subject access: a withheld passage is not disclosed through its copy elsewhere in the export
(engine/passage_copies.py, engine/redaction.py, webapp/subject_access.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from engine.passage_copies import SameText
from engine.record.models import Redaction
from engine.subject_access import SubjectAccessExport
from engine.subject_access_record import Item, Passage
from tests import test_pathway_walkthrough as walk
from tests import test_subject_access
from tests.test_subject_access import audit_rows, passages_of, post_mark, review_json
from tests.web import csrf_token, login
from webapp.extensions import db

families = test_subject_access.families  # the two Central-team families, as a fixture here
CONCERN = walk.CONCERN["concern"]  # "Bruising seen at school": 23 characters
FLAG = "Same text as a withheld passage: not withheld here."


def concern_places(document: dict) -> tuple[str, str]:
    """The concern's own passage and the chronology entry that recorded it (whose summary,
    "Safeguarding concern raised by ...: Bruising seen at school", quotes it)."""
    keys = passages_of(document)
    own = next(k for k in keys if k.startswith("concern:") and k.endswith(":concern"))
    event = next(k for k in keys if k.startswith("event:") and k.endswith(":concern"))
    return own, event.removesuffix(":concern")


def release_of(client, case_id: int) -> tuple[dict, str, str]:
    document = client.get(f"/cases/{case_id}/subject-access.json").get_json()
    page = client.get(f"/cases/{case_id}/subject-access?release=1").get_data(as_text=True)
    return document, json.dumps(document), page


def test_marking_a_concern_with_its_copies_withholds_every_place_it_is_written(
    app, client, families
):
    ashdown, _ = families
    login(client, "morgan.manager")
    document = review_json(client, ashdown)
    own, event = concern_places(document)
    found = passages_of(document)
    # The entry's summary quotes the concern, so its copy is the whole entry, which also
    # covers the entry's own "concern" answer.
    assert [c["key"] for c in found[own]["copies"]] == [event]
    assert found[own]["copies"][0]["whole_item"] is True
    page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert "Also withhold the 1 other place with the same text" in page

    answer = post_mark(client, ashdown, own, "Police enquiry under way", copies=True)
    assert answer.status_code == 303
    page = client.get(answer.location).get_data(as_text=True)
    assert "Marked, with the 1 other place holding the same text" in page

    release, text, html = release_of(client, ashdown)
    shown = passages_of(release)
    assert shown[own]["text"] == "[Redacted: Police enquiry under way]"
    entry = next(i for i in release["chronology"] if i["key"] == event)
    assert {p["text"] for p in entry["passages"]} == {"[Redacted: Police enquiry under way]"}
    assert release["redactions"] == 2
    assert CONCERN not in text and CONCERN not in html
    assert html.count("[Redacted: Police enquiry under way]") == len(entry["passages"]) + 1
    assert FLAG not in html and "Also withhold" not in html
    assert "copies" not in text and "same_text_withheld" not in text
    marked = [a for a in audit_rows(app, ashdown) if a[1] == "mark_redaction"]
    assert marked == [
        ("morgan.manager", "mark_redaction", own, "web"),
        ("morgan.manager", "mark_redaction", event, "web"),
    ]


def test_without_the_option_one_place_is_marked_and_the_reviewer_sees_the_copies_flagged(
    app, client, families
):
    ashdown, _ = families
    login(client, "dana.data")
    own, event = concern_places(review_json(client, ashdown))
    post_mark(client, ashdown, own, "Police enquiry under way")

    release, text, html = release_of(client, ashdown)
    assert release["redactions"] == 1
    assert CONCERN in text  # the leak the flag is there to show
    assert FLAG not in html

    reviewer = passages_of(review_json(client, ashdown))
    # The entry's summary and its "concern" answer both still show the text.
    flagged = {k for k, p in reviewer.items() if "same_text_withheld" in p}
    assert flagged == {event, f"{event}:concern"}
    assert [w["key"] for w in reviewer[event]["same_text_withheld"]] == [own]
    page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert page.count(FLAG) == 2
    assert page.count(f'href="#p-{own.replace(":", "-")}"') >= 2
    with app.app_context():
        assert [r.passage for r in db.session().scalars(select(Redaction))] == [own]


def test_short_common_answers_are_not_treated_as_copies(app, client, families):
    ashdown, _ = families
    login(client, "morgan.manager")
    document = review_json(client, ashdown)
    found = passages_of(document)
    # "English" is the mother's first language and the conference's language: 7 characters.
    language = next(k for k in found if k.startswith("person:") and k.endswith(":first_language"))
    assert (
        found[language]["text"] == "English" and found["conference:language"]["text"] == "English"
    )
    assert "copies" not in found[language]
    post_mark(client, ashdown, language, "Not asked for", copies=True)
    reviewer = passages_of(review_json(client, ashdown))
    assert "same_text_withheld" not in reviewer["conference:language"]
    assert "redaction" not in reviewer["conference:language"]
    assert review_json(client, ashdown)["redactions"] == 1


def test_the_threshold_and_the_normalising_decide_what_is_the_same_text():
    at = datetime(2026, 5, 1, tzinfo=UTC)
    texts = {
        "a:1": "Yes",
        "a:2": "Children's Services",  # 19 characters: too short to count
        "a:3": "Bruising seen at school",
        "b:1": "Yes",
        "b:2": "Children's Services",
        "b:3": "  Bruising seen\n at   school ",  # the same once whitespace is collapsed
        "c:1": "bruising seen at school",  # case kept: not the same
        "c:2": "Raised by the school: Bruising seen at school, on Monday.",
    }
    items = tuple(
        Item(
            name,
            "Entry",
            tuple(Passage(k, "Text", t) for k, t in texts.items() if k[0] == name),
            at,
        )
        for name in "abc"
    )
    export = SubjectAccessExport(1, "Test", None, "Open", None, at, None, (), (), items, at)
    same = SameText(export)
    assert same.same_text("a:1") == [] and same.same_text("a:2") == []
    assert [p.key for p in same.same_text("a:3")] == ["b:3", "c:2"]
    assert [p.key for p in same.same_text("c:2")] == ["a:3", "b:3"]
    assert same.same_text("c:1") == []
    # Marking entry "a" whole: the copies are outside it.
    assert [p.key for p in same.copies_of("a")] == ["b:3", "c:2"]


def test_unmarking_one_place_leaves_the_copys_mark_and_flags_the_text_again(app, client, families):
    ashdown, _ = families
    login(client, "morgan.manager")
    own, event = concern_places(review_json(client, ashdown))
    post_mark(client, ashdown, own, "Police enquiry under way", copies=True)
    page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert "Removing this mark leaves the 1 other place with the same text withheld." in page

    token = csrf_token(client, f"/cases/{ashdown}/subject-access")
    answer = client.post(
        f"/cases/{ashdown}/subject-access/marks/remove", data={"passage": own, "csrf_token": token}
    )
    assert answer.status_code == 303
    release, _, _ = release_of(client, ashdown)
    shown = passages_of(release)
    assert shown[own]["text"] == CONCERN
    assert shown[event]["text"] == "[Redacted: Police enquiry under way]"
    reviewer = passages_of(review_json(client, ashdown))
    assert [w["key"] for w in reviewer[own]["same_text_withheld"]] == [event]
    page = client.get(f"/cases/{ashdown}/subject-access").get_data(as_text=True)
    assert page.count(FLAG) == 1 and f'href="#p-{event.replace(":", "-")}"' in page


def test_withholding_the_referral_with_its_copies_withholds_its_form_answers(app, client, families):
    ashdown, _ = families
    login(client, "dana.data")
    post_mark(client, ashdown, "referral", "Referrer's account", copies=True)
    _, text, html = release_of(client, ashdown)
    for said in (walk.REFERRAL["why_now"], walk.REFERRAL["what_needs_to_change"]):
        assert said not in text and said not in html


def test_a_copy_already_marked_keeps_its_own_reason(app, client, families):
    ashdown, _ = families
    login(client, "morgan.manager")
    own, event = concern_places(review_json(client, ashdown))
    post_mark(client, ashdown, event, "Third party information")
    post_mark(client, ashdown, own, "Police enquiry under way", copies=True)
    with app.app_context():
        rows = db.session().scalars(select(Redaction).order_by(Redaction.id)).all()
        assert [(r.passage, r.reason) for r in rows] == [
            (event, "Third party information"),
            (own, "Police enquiry under way"),
        ]


def test_another_teams_manager_cannot_mark_copies(app, client, families):
    ashdown, _ = families
    login(client, "mel.manager")
    token = csrf_token(client, "/tasks")
    answer = client.post(
        f"/cases/{ashdown}/subject-access/marks",
        data={"passage": "referral", "reason": "x", "copies": "1", "csrf_token": token},
    )
    assert answer.status_code == 404
    with app.app_context():
        assert db.session().scalars(select(Redaction)).all() == []
