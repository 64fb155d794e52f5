"""The process owner's page for moving running cases to a newer version, as a browser uses it.

The small casework process of tests/fixtures/migration (see tests/test_migration.py) runs three
cases on version 1: two waiting at intake and one past it. Version 2 adds a review after the
home visit and a field to the intake form, so the case past intake cannot move (a step it
completed changed) while the two at intake can.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from engine.audit import AuditEntry
from engine.authoring import deploy_files
from engine.chronology import case_events
from engine.models import Case, ProcessVersion
from tests.people import OWNER
from tests.test_migration import MIGRATION, at_record_visit, folder_files, snapshot, start
from tests.web import csrf_token, family_at, login
from webapp.extensions import db, runtime

REFUSED = "'Take the referral in' (intake) was changed after this case had completed it"


@dataclass(frozen=True)
class Casework:
    v1: int
    v2: int
    okafor: int  # at intake: can move
    brennan: int  # past intake: cannot move
    achebe: int  # at intake: can move

    @property
    def page(self) -> str:
        return f"/modeller/versions/{self.v2}/migrate"

    @property
    def keep_url(self) -> str:
        return f"/modeller/versions/{self.v2}/keep"


@pytest.fixture
def casework(app, workers) -> Casework:
    with app.app_context():
        session, engine = db.session(), runtime()
        [v1] = deploy_files(session, folder_files(MIGRATION / "v1"), OWNER.username, engine.codec)
        okafor = start(session, engine, v1.version, "Okafor").id
        brennan = at_record_visit(session, engine, v1.version, "Brennan").id
        achebe = start(session, engine, v1.version, "Achebe").id
        files = folder_files(MIGRATION / "v2")
        files["forms/intake.json"] = files["forms/intake.json"].replace(
            '"properties": {', '"properties": {"school": {"type": "string", "title": "School"}, '
        )
        [v2] = deploy_files(session, files, OWNER.username, engine.codec)
        return Casework(v1.version.id, v2.version.id, okafor, brennan, achebe)


def owner(client, casework: Casework) -> str:
    login(client, "pat.owner")
    return csrf_token(client, casework.page)


def rows(page: str) -> dict[int, str]:
    """Each case's table row as text a person reads (tags dropped, spaces collapsed)."""
    found = re.findall(r'<tr id="case-(\d+)">(.*?)</tr>', page, re.S)
    return {int(case_id): text(row) for case_id, row in found}


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def movable_boxes(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'name="case" value="(\d+)"', page)}


def versions(app, casework: Casework) -> dict[int, int]:
    """Which version each case is on: 1 or 2."""
    numbers = {casework.v1: 1, casework.v2: 2}
    with app.app_context():
        found = db.session.execute(select(Case.id, Case.version_id)).all()
    return {case_id: numbers.get(version_id) for case_id, version_id in found}


def audited_moves(app) -> list[int]:
    with app.app_context():
        query = select(AuditEntry.case_id).where(AuditEntry.action == "migrate_case")
        return sorted(db.session.scalars(query))


def states(app, casework: Casework) -> list[tuple]:
    with app.app_context():
        session = db.session()
        return [snapshot(session, c) for c in (casework.okafor, casework.brennan, casework.achebe)]


# -- who may use it -------------------------------------------------------------------------


def test_a_signed_out_visitor_is_sent_to_sign_in(client, casework):
    answer = client.get(casework.page)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["casey.coordinator", "morgan.manager", "ada.admin"])
def test_only_process_owners_may_preview_or_move_cases(app, client, casework, username):
    login(client, username)
    assert client.get(casework.page).status_code == 403
    token = csrf_token(client, "/tasks")
    answer = client.post(casework.page, data={"csrf_token": token, "move": "all"})
    assert answer.status_code == 403
    answer = client.post(
        casework.keep_url, data={"csrf_token": token, "keep": str(casework.okafor)}
    )
    assert answer.status_code == 403
    assert set(versions(app, casework).values()) == {1}


def test_every_form_needs_the_csrf_token(app, client, casework):
    owner(client, casework)
    assert client.post(casework.page, data={"move": "all"}).status_code == 400
    assert client.post(casework.keep_url, data={"keep": str(casework.okafor)}).status_code == 400
    assert set(versions(app, casework).values()) == {1}
    assert "Release" not in client.get(casework.page).get_data(as_text=True)


# -- the preview ----------------------------------------------------------------------------


def test_the_preview_lists_movable_and_refused_cases_with_the_reason(client, casework):
    owner(client, casework)
    page = client.get(casework.page).get_data(as_text=True)

    listed = rows(page)
    assert list(listed) == [casework.okafor, casework.brennan, casework.achebe]
    assert listed[casework.okafor].startswith("Move case")
    assert f"Case {casework.okafor} Okafor family 1 Can move" in listed[casework.okafor]
    assert f"1 Cannot move: {REFUSED}" in listed[casework.brennan]
    assert "Leave on version 1 for good" in listed[casework.brennan]
    # Only a case that can move can be ticked.
    assert movable_boxes(page) == {casework.okafor, casework.achebe}
    # A process owner may not open case pages, so none is linked.
    assert "/cases/" not in page
    assert "Check only, change nothing" in page


def test_the_modeller_links_a_new_version_to_its_running_cases(client, casework):
    owner(client, casework)
    page = client.get("/modeller").get_data(as_text=True)
    assert f'href="{casework.page}">Running cases on older versions' in page
    assert "Running cases on older versions" in client.get(casework.page).get_data(as_text=True)


def test_a_version_with_no_older_running_cases_says_so(app, client, casework):
    owner(client, casework)
    page = client.get(f"/modeller/versions/{casework.v1}/migrate").get_data(as_text=True)
    assert "No running case of Casework is on a version older than 1." in page


# -- moving ---------------------------------------------------------------------------------


def test_move_selected_moves_only_the_ticked_cases(app, client, casework):
    token = owner(client, casework)
    answer = client.post(
        casework.page,
        data={"csrf_token": token, "move": "selected", "case": [str(casework.okafor)]},
    )
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "1 of 1 case moved" in text(page)
    assert rows(page)[casework.okafor] == f"Case {casework.okafor} Okafor family 1 Moved"

    on = versions(app, casework)
    assert (on[casework.okafor], on[casework.brennan], on[casework.achebe]) == (2, 1, 1)
    assert audited_moves(app) == [casework.okafor]
    with app.app_context():
        assert case_events(db.session(), casework.okafor)[-1].summary == (
            "Moved from version 1 to version 2 of Casework by pat.owner."
        )
    # The moved case has left the list; the others are still offered.
    left = client.get(casework.page).get_data(as_text=True)
    assert list(rows(left)) == [casework.brennan, casework.achebe]


def test_move_all_moves_every_case_that_can_and_leaves_the_refused_one_intact(
    app, client, casework
):
    token = owner(client, casework)
    before = states(app, casework)[1]
    answer = client.post(casework.page, data={"csrf_token": token, "move": "all"})

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "2 of 3 cases moved" in text(page)
    assert rows(page) == {
        casework.okafor: f"Case {casework.okafor} Okafor family 1 Moved",
        casework.brennan: f"Case {casework.brennan} Brennan family 1 Not moved: {REFUSED}",
        casework.achebe: f"Case {casework.achebe} Achebe family 1 Moved",
    }
    on = versions(app, casework)
    assert (on[casework.okafor], on[casework.brennan], on[casework.achebe]) == (2, 1, 2)
    assert states(app, casework)[1] == before
    assert audited_moves(app) == sorted([casework.okafor, casework.achebe])


def test_a_case_that_fails_while_moving_stays_on_its_version_with_the_reason(
    app, client, casework, monkeypatch
):
    store = app.extensions["kinflow_runtime"].store
    save = store.save

    def fail_for_achebe(session, case, *args, **kwargs):
        save(session, case, *args, **kwargs)  # the row is written, then the disk fails
        if case.id == casework.achebe:
            raise OSError("No space left on device")

    monkeypatch.setattr(store, "save", fail_for_achebe)
    token = owner(client, casework)
    before = states(app, casework)[2]
    ticked = [str(casework.okafor), str(casework.achebe)]
    answer = client.post(
        casework.page, data={"csrf_token": token, "move": "selected", "case": ticked}
    )

    assert answer.status_code == 200
    listed = rows(answer.get_data(as_text=True))
    assert listed[casework.okafor].endswith("Moved")
    assert listed[casework.achebe].endswith(
        "Not moved: the case could not be moved (OSError: No space left on device)"
    )
    on = versions(app, casework)
    assert (on[casework.okafor], on[casework.achebe]) == (2, 1)
    assert states(app, casework)[2] == before
    assert audited_moves(app) == [casework.okafor]


def test_check_only_changes_nothing(app, client, casework):
    token = owner(client, casework)
    before = states(app, casework)
    answer = client.post(casework.page, data={"csrf_token": token, "move": "all", "dry_run": "1"})

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Checked only: nothing was changed" in page
    assert rows(page)[casework.okafor].endswith("Can move")
    assert rows(page)[casework.brennan].endswith(f"Cannot move: {REFUSED}")
    ticked = {"csrf_token": token, "move": "selected", "case": str(casework.okafor), "dry_run": "1"}
    assert client.post(casework.page, data=ticked).status_code == 200
    keep = {"csrf_token": token, "keep": str(casework.okafor), "dry_run": "1"}
    assert client.post(casework.keep_url, data=keep).status_code == 302

    assert states(app, casework) == before
    assert set(versions(app, casework).values()) == {1}
    assert audited_moves(app) == []


# -- leaving a case on its version ----------------------------------------------------------


def test_a_case_left_on_its_version_is_listed_as_kept_and_not_moved_by_move_all(
    app, client, casework
):
    token = owner(client, casework)
    answer = client.post(
        casework.keep_url, data={"csrf_token": token, "keep": str(casework.okafor)}
    )
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Case {casework.okafor} stays on version 1 for good" in page
    assert (
        f"Kept: left on version 1 by pat.owner Release case {casework.okafor}"
        in (rows(page)[casework.okafor])
    )
    assert movable_boxes(page) == {casework.achebe}

    moved = client.post(casework.page, data={"csrf_token": token, "move": "all"})
    assert rows(moved.get_data(as_text=True))[casework.okafor].endswith(
        "Not moved: left on version 1 by pat.owner"
    )
    on = versions(app, casework)
    assert (on[casework.okafor], on[casework.achebe]) == (1, 2)

    released = client.post(
        casework.keep_url, data={"csrf_token": token, "release": str(casework.okafor)}
    )
    assert released.status_code == 302
    page = client.get(casework.page).get_data(as_text=True)
    assert "Can move Leave on version 1 for good" in rows(page)[casework.okafor]
    assert movable_boxes(page) == {casework.okafor}


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"move": "selected"}, "case: tick at least one case to move"),
        ({"move": "selected", "case": "abc"}, "case: 'abc' is not a case number."),
        ({"move": "selected", "case": "99999999999"}, "case: '99999999999' is not a case"),
        ({"move": "selected", "case": "9999"}, "case 9999: not a running case on an older"),
        ({"move": "sideways"}, "Press 'Move selected' or 'Move all that can move'."),
        ({}, "Press 'Move selected' or 'Move all that can move'."),
    ],
)
def test_bad_input_to_a_move_is_named_and_changes_nothing(app, client, casework, form, message):
    token = owner(client, casework)
    answer = client.post(casework.page, data={"csrf_token": token, **form})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert message in html.unescape(page)
    assert "Nothing was changed" in page
    assert set(versions(app, casework).values()) == {1}


def test_a_case_not_on_an_older_version_is_refused(app, client, casework):
    with app.app_context():
        session = db.session()
        newest = start(session, runtime(), session.get(ProcessVersion, casework.v2), "Zhou").id
    other_process = family_at(app, "Mensah", "acknowledge_referral")
    token = owner(client, casework)
    for case_id in (newest, other_process):
        for url, field in ((casework.page, "case"), (casework.keep_url, "keep")):
            data = {"csrf_token": token, "move": "selected", field: str(case_id)}
            answer = client.post(url, data=data)
            assert answer.status_code == 400
            expected = f"case {case_id}: not a running case on an older version of Casework"
            assert expected in html.unescape(answer.get_data(as_text=True))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "case: press 'Leave on version' or 'Release' beside one case."),
        ({"keep": "1", "release": "2"}, "case: press 'Leave on version' or 'Release'"),
        ({"keep": "x"}, "case: 'x' is not a case number."),
        ({"release": "9999"}, "case 9999: not a running case on an older version"),
    ],
)
def test_bad_input_to_keep_is_named(app, client, casework, form, message):
    token = owner(client, casework)
    answer = client.post(casework.keep_url, data={"csrf_token": token, **form})
    assert answer.status_code == 400
    assert message in html.unescape(answer.get_data(as_text=True))


@pytest.mark.parametrize("version_id", ["9999", "99999999999"])
def test_an_unknown_version_is_404(client, casework, version_id):
    token = owner(client, casework)
    assert client.get(f"/modeller/versions/{version_id}/migrate").status_code == 404
    answer = client.post(
        f"/modeller/versions/{version_id}/migrate", data={"csrf_token": token, "move": "all"}
    )
    assert answer.status_code == 404
