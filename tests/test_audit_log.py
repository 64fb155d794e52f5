"""The audit log page: who may read it, what each manager sees, filters, paging, UK times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from engine import audit
from engine.audit import AuditFilter, entries
from tests.test_admin import start_case
from tests.web import OTHER_TEAM, login


def record(app, username: str, action: str, case_id: int | None = None, target: str = "") -> None:
    from webapp.extensions import db

    with app.app_context():
        audit.record(db.session(), username, action, case_id, target)
        db.session.commit()


def shown(page) -> list[tuple[str, str]]:
    """(who, action) of each row of the log, top to bottom."""
    rows = re.findall(
        r"<tr>\s*<td>[^<]*</td>\s*<td>([^<]+)</td>\s*<td>[^<]*<span class=\"muted\">\((\w+)\)",
        page.get_data(as_text=True),
    )
    return [(who, action) for who, action in rows if action != "view_audit_log"]


@pytest.mark.parametrize(
    "username",
    ["riley.referrer", "casey.coordinator", "lee.practitioner", "dana.data", "pat.owner"],
)
def test_only_managers_and_admins_may_read_the_audit_log(client, username):
    login(client, username)
    assert client.get("/audit").status_code == 403


def test_managers_and_admins_read_it_and_reading_it_is_audited(app, client):
    login(client, "morgan.manager")
    assert client.get("/audit?action=view_case").status_code == 200
    login(app.test_client(), "ada.admin")
    from webapp.extensions import db

    with app.app_context():
        [reading] = entries(db.session(), AuditFilter(action="view_audit_log"))
    assert reading.username == "morgan.manager"
    assert reading.target == "audit log action=view_case"


def test_filters_by_user_case_action_and_dates(app, client, frozen_clock):
    ashdown, brook = start_case(app, "Ashdown family"), start_case(app, "Brook family")
    record(app, "casey.coordinator", "view_case", ashdown)
    frozen_clock.advance(timedelta(days=2))
    record(app, "casey.coordinator", "add_note", brook)
    record(app, "lee.practitioner", "view_case", brook)
    frozen_clock.advance(timedelta(days=2))
    login(client, "ada.admin")

    assert shown(client.get("/audit?username=Casey.Coordinator")) == [
        ("casey.coordinator", "add_note"),
        ("casey.coordinator", "view_case"),
    ]
    assert shown(client.get(f"/audit?case={brook}")) == [
        ("lee.practitioner", "view_case"),
        ("casey.coordinator", "add_note"),
    ]
    by_action = shown(client.get("/audit?action=view_case"))
    assert by_action == [("lee.practitioner", "view_case"), ("casey.coordinator", "view_case")]
    # 2 March 2026 only (the day the clock started), in UK days.
    assert shown(client.get("/audit?from=2026-03-02&to=02/03/2026&action=view_case")) == [
        ("casey.coordinator", "view_case")
    ]
    assert shown(client.get("/audit?from=2026-03-03&username=casey.coordinator")) == [
        ("casey.coordinator", "add_note")
    ]


def test_bad_filters_are_explained_and_show_nothing(client):
    login(client, "morgan.manager")
    page = client.get("/audit?case=forty-two&from=31/02/2026&username=no%20such%20user")
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Case number: type the case&#39;s number, such as 42." in text
    assert "From: give a date such as 02/03/2026." in text
    assert "Username: type a username such as sam.jones." in text
    assert 'value="forty-two"' in text
    assert "<table>" not in text
    backwards = client.get("/audit?from=2026-03-05&to=2026-03-01").get_data(as_text=True)
    assert "To: give a date on or after the From date." in backwards


def test_a_manager_of_another_team_does_not_see_our_cases(app, client):
    ours = start_case(app, "Ashdown family")
    theirs = start_case(app, "Dunmore family", team=OTHER_TEAM)
    record(app, "casey.coordinator", "view_case", ours)
    record(app, "lee.practitioner", "view_case", theirs)  # our worker on their case
    record(app, "mel.manager", "view_case", theirs)

    login(client, "mel.manager")
    seen = client.get("/audit?action=view_case").get_data(as_text=True)
    assert f"Case {theirs}" in seen
    assert f"Case {ours}<" not in seen and "casey.coordinator" not in seen
    assert client.get(f"/audit?case={ours}").get_data(as_text=True).count("<tbody>") == 0

    morgan = app.test_client()
    login(morgan, "morgan.manager")
    ours_seen = shown(morgan.get("/audit?action=view_case"))
    assert ("casey.coordinator", "view_case") in ours_seen
    assert ("lee.practitioner", "view_case") in ours_seen  # what our team's workers did
    assert ("mel.manager", "view_case") not in ours_seen


def test_entries_are_newest_first_in_pages_of_fifty(app, client, frozen_clock):
    for n in range(55):
        record(app, "casey.coordinator", "view_task", target=f"task {n}")
        frozen_clock.advance(timedelta(minutes=1))
    login(client, "ada.admin")
    first = client.get("/audit?action=view_task").get_data(as_text=True)
    targets = re.findall(r"<td>task (\d+)</td>", first)
    assert targets[:2] == ["54", "53"] and len(targets) == 50
    assert "Older entries" in first and "Newer entries" not in first
    second = client.get("/audit?action=view_task&page=2").get_data(as_text=True)
    assert re.findall(r"<td>task (\d+)</td>", second) == ["4", "3", "2", "1", "0"]
    assert "Older entries" not in second and "Newer entries" in second


def test_times_are_shown_in_uk_local_time(app, client, frozen_clock):
    frozen_clock.set(datetime(2026, 7, 1, 12, 5, tzinfo=UTC))
    record(app, "casey.coordinator", "view_task")
    login(client, "ada.admin")
    page = client.get("/audit?action=view_task").get_data(as_text=True)
    assert "<td>1 Jul 2026, 13:05</td>" in page  # British Summer Time


def test_an_entry_links_to_its_case_page(app, client):
    if "cases.show" not in app.view_functions:
        pytest.skip("the case page is not in this build")
    case_id = start_case(app)
    record(app, "casey.coordinator", "view_case", case_id)
    login(client, "morgan.manager")
    page = client.get("/audit?action=view_case").get_data(as_text=True)
    with app.test_request_context():
        from flask import url_for

        assert f'<a href="{url_for("cases.show", case_id=case_id)}">Case {case_id}</a>' in page
