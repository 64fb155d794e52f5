"""The inbox page (/tasks) through the Flask test client, as workers and managers use it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from engine import audit
from engine.accounts import create_user, find_user
from engine.assignment import claim
from engine.chronology import case_events
from engine.deploy import latest_version
from engine.models import HumanTask, TaskCandidate
from engine.queries import get_case, get_task, list_tasks
from engine.saved_filters import filters_of
from tests.people import MANAGER, REFERRER
from tests.test_pathway_walkthrough import ACCEPT, ACKNOWLEDGED, ALLOCATION, REFERRAL, do
from tests.web import TEAM, csrf_token, login, team_id
from webapp.extensions import db, runtime


def refer(app, family="Ashdown", team=None):
    """A referral on the team's books, waiting for the manager's acknowledgement."""
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        case = runtime().start_case(
            session,
            version,
            {"eligibility_rule": "stronger_families"},
            REFERRER,
            title=f"{family} family",
            team_id=team_id(app, team) if team else team_id(app),
        )
        referral = REFERRAL | {"family_name": family}
        do(runtime(), session, case, "submit_referral", referral, REFERRER)
        return case.id


def allocate(app, case_id, coordinator="casey.coordinator"):
    """Accept and allocate: the coordinator then holds the baseline meeting task."""
    with app.app_context():
        session = db.session()
        case = get_case(session, case_id)
        do(runtime(), session, case, "acknowledge_referral", ACKNOWLEDGED, MANAGER)
        do(runtime(), session, case, "screen_referral", ACCEPT, MANAGER)
        allocation = ALLOCATION | {"coordinator": coordinator}
        do(runtime(), session, case, "allocate_coordinator", allocation, MANAGER)
        return list_tasks(session, case_id=case_id)[0].id


def open_task(app, case_id):
    with app.app_context():
        return list_tasks(db.session(), case_id=case_id)[0].id


def holder(app, task_id):
    with app.app_context():
        return get_task(db.session(), task_id).assignee


def page(client, path="/tasks"):
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def post(client, path, data=None, back="/tasks"):
    token = csrf_token(client, "/tasks")
    return client.post(
        path, data={"csrf_token": token, "next": back, **(data or {})}, follow_redirects=True
    )


def table_rows(html):
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def families(html):
    return [re.search(r"<td>(?:<span[^>]*>)?([^<]*)", row).group(1) for row in table_rows(html)]


def chronology(app, case_id):
    with app.app_context():
        return [e.summary for e in case_events(db.session(), case_id)]


def audited(app, action):
    with app.app_context():
        return [
            (e.username, e.case_id)
            for e in audit.entries(db.session(), audit.AuditFilter(action=action))
        ]


def test_the_inbox_needs_a_signed_in_user(client):
    for path in ("/tasks", "/tasks?scope=available"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login?next=" in response.headers["Location"]


def test_my_tasks_and_available_tasks_are_separate_tabs(app, client, frozen_clock):
    mine = refer(app, "Ashdown")
    refer(app, "Bexley")
    baseline = allocate(app, mine)
    login(client, "casey.coordinator")
    status, html = page(client)
    assert status == 200
    assert families(html) == ["Ashdown"]
    assert f'href="/tasks/{baseline}"' in html
    assert "Hold the baseline meeting" in html
    assert 'My tasks <span class="tab-count">(1)</span>' in html
    assert "Give back" in html and "Claim" not in html

    manager = app.test_client()
    login(manager, "morgan.manager")
    _, html = page(manager, "/tasks?scope=available")
    assert families(html) == ["Bexley"]
    assert "Acknowledge the referral" in html and ">Claim<" in html


def test_someone_in_another_team_does_not_see_the_task(app, client, frozen_clock):
    case_id = refer(app, "Ashdown")
    task_id = open_task(app, case_id)
    login(client, "mel.manager")
    for scope in ("mine", "available", "team"):
        _, html = page(client, f"/tasks?scope={scope}")
        assert "Ashdown" not in html
    response = client.post(
        f"/tasks/{task_id}/claim", data={"csrf_token": csrf_token(client, "/tasks")}
    )
    assert response.status_code == 404
    assert holder(app, task_id) is None


def test_overdue_and_due_soon_are_tagged_and_counted(app, client, frozen_clock):
    refer(app, "Ashdown")  # acknowledgement due Wednesday 09:00
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=available")
    assert "04 Mar 2026" in html
    assert "Due soon</span>" not in html and "Overdue</span>" not in html
    frozen_clock.advance(timedelta(hours=2))
    _, html = page(client, "/tasks?scope=available")
    assert '<span class="tag tag-due-soon">Due soon</span>' in html
    assert "<strong>1</strong> due soon" in html and "<strong>0</strong> overdue" in html
    frozen_clock.advance(timedelta(days=2))
    _, html = page(client, "/tasks?scope=available")
    assert '<span class="tag tag-overdue">Overdue</span>' in html
    assert "<strong>1</strong> overdue" in html and "<strong>0</strong> due soon" in html


def test_tasks_are_sorted_by_due_date(app, client, frozen_clock):
    refer(app, "Later")
    frozen_clock.advance(timedelta(hours=-48))  # Saturday: due on Tuesday, before Later's
    refer(app, "Sooner")
    frozen_clock.advance(timedelta(hours=48))
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=available")
    assert families(html) == ["Sooner", "Later"]


def test_each_filter_narrows_the_list(app, client, frozen_clock):
    allocate(app, refer(app, "Ashdown"))
    refer(app, "Bexley")
    frozen_clock.advance(timedelta(days=3))
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=team")
    assert sorted(families(html)) == ["Ashdown", "Bexley"]
    assert '<option value="Baseline meeting and whole-family assessment">' in html
    checks = {
        "stage=Screening+and+allocation": [],
        "stage=Baseline+meeting+and+whole-family+assessment": ["Ashdown"],
        "role=fgc_manager": ["Bexley"],
        "role=coordinator": ["Ashdown"],
        "due=overdue": ["Bexley"],
        "due=none": [],
        "family=bex": ["Bexley"],
    }
    for query, expected in checks.items():
        _, html = page(client, f"/tasks?scope=team&{query}")
        assert families(html) == expected, query


def test_a_bad_filter_value_gets_a_message_not_an_error_page(app, client):
    login(client, "casey.coordinator")
    status, html = page(client, "/tasks?due=yesterday")
    assert status == 400
    assert "That filter could not be used" in html
    assert "due: choose one of overdue, today, week, none." in html
    status, html = page(client, "/tasks?page=minus-one")
    assert status == 400 and "page:" in html


def test_a_saved_filter_is_listed_reapplied_and_deleted(app, client, frozen_clock):
    refer(app, "Ashdown")
    refer(app, "Bexley")
    login(client, "morgan.manager")
    response = post(
        client,
        "/tasks/filters",
        {"name": "Bexley family", "scope": "available", "family": "Bex"},
    )
    html = response.get_data(as_text=True)
    assert "Saved the filter &#39;Bexley family&#39;." in html
    assert families(html) == ["Bexley"]
    _, html = page(client)
    link = re.search(r'<a href="([^"]+)">Bexley family</a>', html).group(1)
    _, html = page(client, link.replace("&amp;", "&"))
    assert families(html) == ["Bexley"]

    with app.app_context():
        [saved] = filters_of(db.session(), "morgan.manager")
    response = post(client, f"/tasks/filters/{saved.id}/delete")
    assert "Bexley family</a>" not in response.get_data(as_text=True)


def test_a_saved_filter_needs_a_name(app, client):
    login(client, "morgan.manager")
    response = post(client, "/tasks/filters", {"name": " ", "due": "week"})
    assert "name: give the filter a name" in response.get_data(as_text=True)


def test_claim_and_give_back_are_recorded(app, client, frozen_clock):
    case_id = refer(app, "Ashdown")
    task_id = open_task(app, case_id)
    login(client, "morgan.manager")
    html = post(client, f"/tasks/{task_id}/claim").get_data(as_text=True)
    assert "You claimed &#39;Acknowledge the referral&#39;." in html
    assert holder(app, task_id) == "morgan.manager"
    assert "morgan.manager claimed 'Acknowledge the referral'." in chronology(app, case_id)
    assert audited(app, "claim_task") == [("morgan.manager", case_id)]

    post(client, f"/tasks/{task_id}/give-back")
    assert holder(app, task_id) is None
    assert "morgan.manager gave back 'Acknowledge the referral'." in chronology(app, case_id)
    assert audited(app, "give_back_task") == [("morgan.manager", case_id)]


def test_someone_else_claiming_first_is_explained(app, client, frozen_clock):
    case_id = refer(app, "Ashdown")
    task_id = open_task(app, case_id)
    with app.app_context():
        create_user(db.session(), "max.manager", "Max Manager", ["fgc_manager"], TEAM)
        find_user(db.session(), "max.manager").password_hash = find_user(
            db.session(), "morgan.manager"
        ).password_hash
        db.session.commit()
    login(client, "max.manager")
    _, html = page(client, "/tasks?scope=available")
    assert "Acknowledge the referral" in html
    with app.app_context():
        claim(db.session(), task_id, MANAGER)  # Morgan, a moment earlier
    html = post(client, f"/tasks/{task_id}/claim").get_data(as_text=True)
    assert "Someone else claimed &#39;Acknowledge the referral&#39; first." in html
    assert holder(app, task_id) == "morgan.manager"


def test_the_holder_delegates_to_a_colleague_with_the_role(app, client, frozen_clock):
    case_id = refer(app, "Ashdown")
    task_id = allocate(app, case_id)
    login(client, "casey.coordinator")
    _, html = page(client)
    options = re.search(r'<select id="delegate-\d+" name="to">(.*?)</select>', html, re.S)
    assert "cam.coordinator" in options.group(1) and "morgan.manager" not in options.group(1)
    html = post(client, f"/tasks/{task_id}/assign", {"to": "cam.coordinator"}).get_data(
        as_text=True
    )
    assert "is now with Cam Coordinator" in html
    assert holder(app, task_id) == "cam.coordinator"
    assert (
        "casey.coordinator assigned 'Hold the baseline meeting' to cam.coordinator."
        in chronology(app, case_id)
    )
    assert audited(app, "delegate_task") == [("casey.coordinator", case_id)]
    response = post(client, f"/tasks/{task_id}/assign", {"to": "casey.coordinator"})
    assert response.status_code == 403  # no longer Casey's to hand on


def test_delegating_to_someone_without_the_role_is_refused(app, client, frozen_clock):
    task_id = allocate(app, refer(app, "Ashdown"))
    login(client, "casey.coordinator")
    response = post(client, f"/tasks/{task_id}/assign", {"to": "riley.referrer"})
    assert response.status_code == 400
    assert "to: choose a colleague" in response.get_data(as_text=True)
    assert holder(app, task_id) == "casey.coordinator"


def test_a_manager_reassigns_a_task_of_the_team(app, client, frozen_clock):
    case_id = refer(app, "Ashdown")
    task_id = allocate(app, case_id)
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=team")
    assert f'id="reassign-{task_id}"' in html
    post(client, f"/tasks/{task_id}/assign", {"to": "cam.coordinator"})
    assert holder(app, task_id) == "cam.coordinator"
    assert audited(app, "reassign_task") == [("morgan.manager", case_id)]
    other = app.test_client()
    login(other, "mel.manager")  # another team's manager cannot reach it
    response = post(other, f"/tasks/{task_id}/assign", {"to": "cam.coordinator"})
    assert response.status_code == 404


def test_the_team_view_offers_each_task_to_colleagues_with_its_role_but_not_its_holder(
    app, client, frozen_clock
):
    caseys = allocate(app, refer(app, "Ashdown"))
    cams = allocate(app, refer(app, "Bexley"), "cam.coordinator")
    unclaimed = open_task(app, refer(app, "Carver"))  # the manager's acknowledgement
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=team")

    def offered(select_id: str) -> list[str]:
        found = re.search(rf'<select id="{select_id}" name="to">(.*?)</select>', html, re.S)
        return re.findall(r'<option value="([^"]+)">', found.group(1))

    assert offered(f"reassign-{caseys}") == ["cam.coordinator"]
    assert offered(f"reassign-{cams}") == ["casey.coordinator"]
    assert offered(f"assign-{unclaimed}") == ["morgan.manager"]


def test_reassign_all_moves_a_persons_tasks_and_records_each(app, client, frozen_clock):
    first, second = refer(app, "Ashdown"), refer(app, "Bexley")
    tasks = [allocate(app, first), allocate(app, second)]
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=team")
    assert "Casey Coordinator (2 open tasks)" in html
    response = post(
        client,
        "/tasks/reassign-all",
        {"from": "casey.coordinator", "to": "cam.coordinator"},
        back="/tasks?scope=team",
    )
    assert "Moved 2 tasks from casey.coordinator to cam.coordinator." in response.get_data(
        as_text=True
    )
    assert [holder(app, t) for t in tasks] == ["cam.coordinator", "cam.coordinator"]
    for case_id in (first, second):
        assert (
            "morgan.manager reassigned 'Hold the baseline meeting' from casey.coordinator "
            "to cam.coordinator." in chronology(app, case_id)
        )
    assert sorted(audited(app, "reassign_task")) == [
        ("morgan.manager", first),
        ("morgan.manager", second),
    ]


def test_non_managers_get_403_for_the_team_view_and_reassign_all(app, client, frozen_clock):
    task_id = allocate(app, refer(app, "Ashdown"))
    login(client, "cam.coordinator")
    assert client.get("/tasks?scope=team").status_code == 403
    response = post(
        client, "/tasks/reassign-all", {"from": "casey.coordinator", "to": "cam.coordinator"}
    )
    assert response.status_code == 403
    assert holder(app, task_id) == "casey.coordinator"
    _, html = page(client)
    assert ">Team <span" not in html


def test_a_deactivated_workers_tasks_need_reassignment(app, client, frozen_clock):
    allocate(app, refer(app, "Ashdown"))
    with app.app_context():
        find_user(db.session(), "casey.coordinator").active = False
        db.session.commit()
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=team")
    [row] = table_rows(html)
    assert "Casey Coordinator" in row
    assert '<span class="tag tag-reassign">Needs reassignment</span>' in row
    assert "Casey Coordinator (1 open task, account deactivated)" in html


def test_an_action_posted_without_its_csrf_token_is_refused(app, client, frozen_clock):
    task_id = open_task(app, refer(app, "Ashdown"))
    login(client, "morgan.manager")
    response = client.post(f"/tasks/{task_id}/claim")
    assert response.status_code == 400
    assert holder(app, task_id) is None
    response = client.post("/tasks/filters", data={"name": "x", "due": "week"})
    assert response.status_code == 400


def test_fifty_tasks_a_page_with_next_and_previous_links(app, client, frozen_clock):
    case_id = refer(app, "Ashdown")
    with app.app_context():
        session = db.session()
        for n in range(55):
            task = HumanTask(
                case_id=case_id,
                spiff_task_id=f"00000000-0000-0000-0000-{n:012d}",
                process_id="fgc_pathway",
                element_id=f"extra_{n}",
                title=f"Extra task {n:02d}",
                candidate_groups=["fgc_manager"],
                due_at=None,
            )
            task.candidates = [TaskCandidate(role="fgc_manager")]
            session.add(task)
        session.commit()
    login(client, "morgan.manager")
    _, html = page(client, "/tasks?scope=available")
    assert len(table_rows(html)) == 50
    assert "page 1 of 2" in html and 'rel="next"' in html and 'rel="prev"' not in html
    next_link = re.search(r'<a href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    _, html = page(client, next_link)
    assert len(table_rows(html)) == 6
    assert 'rel="prev"' in html and "Extra task 54" in html


@pytest.mark.parametrize("path", ["/tasks", "/tasks?scope=team&due=week"])
def test_the_inbox_page_is_labelled_for_assistive_technology(app, client, path):
    refer(app, "Ashdown")
    login(client, "morgan.manager")
    _, html = page(client, path)
    assert "<caption>" in html or "No tasks" in html
    for field in re.findall(r'<(?:select|input) [^>]*id="([^"]+)"', html):
        assert f'for="{field}"' in html, field
