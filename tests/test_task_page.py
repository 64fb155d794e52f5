"""The task page (/tasks/<id>): a task's instructions and form, completed through the browser.

Cases are put in a stage with the walkthrough's helpers and data; workers then open, fill in
and send the forms as a browser would (tests/test_schema_form.py's ``browser_post``). The
clock is frozen at Monday 2 March 2026, 09:00 (UK time too: summer time starts later).
"""

from __future__ import annotations

import re

import lxml.html
from lxml.html import HtmlElement
from werkzeug.datastructures import MultiDict

from engine import audit
from engine.accounts import create_user, get_or_create_team, set_password
from engine.drafts import load_draft
from engine.queries import get_case, get_task, list_tasks
from tests.people import MANAGER
from tests.test_pathway_walkthrough import (
    ACCEPT,
    ASSESSMENT,
    LEAD,
    do,
)
from tests.test_schema_form import browser_post, pressed
from tests.web import PASSWORD, TEAM, csrf_token, family_at, login
from webapp.extensions import db, runtime

# -- putting a case in a stage --------------------------------------------------------------


def referred(app, family: str = "Ashdown") -> int:
    """A referral submitted and acknowledged: the manager's screening task is open."""
    return family_at(app, family, "screen_referral")


def at_assessment(app) -> int:
    """Screened, allocated and the baseline meeting held: the assessment is open."""
    return family_at(app, "Ashdown", "whole_family_assessment")


def _case(case_id: int):
    return get_case(db.session(), case_id)


def task_of(app, case_id: int, element_id: str) -> int:
    with app.app_context():
        tasks = {t.element_id: t.id for t in list_tasks(db.session(), case_id=case_id)}
    assert element_id in tasks, sorted(tasks)
    return tasks[element_id]


def second_manager(app, username: str = "mo.manager") -> str:
    """Another FGC manager in the same team, to race against."""
    with app.app_context():
        session = db.session()
        team = get_or_create_team(session, TEAM)
        user = create_user(session, username, "Mo Manager", ["fgc_manager"], team)
        set_password(user, PASSWORD)
        session.commit()
    return username


def draft_of(app, task_id: int, username: str) -> dict | None:
    with app.app_context():
        found = load_draft(db.session(), task_id, username)
        return dict(found.data) if found else None


def get_task_state(app, task_id: int) -> str:
    with app.app_context():
        return get_task(db.session(), task_id).state


def audited(app, action: str) -> list[tuple[str, int | None, str]]:
    with app.app_context():
        found = audit.entries(db.session(), audit.AuditFilter(action=action))
        return [(e.username, e.case_id, e.target) for e in found]


# -- reading and sending the page ------------------------------------------------------------


def open_page(client, task_id: int) -> tuple[int, str]:
    response = client.get(f"/tasks/{task_id}")
    return response.status_code, response.get_data(as_text=True)


def task_form(html: str) -> HtmlElement:
    """The form that completes the task."""
    found = lxml.html.fromstring(html).xpath("//form[@data-draft-url]")
    assert found, "the page has no form to complete the task"
    return found[0]


def value_of(html: str, name: str) -> str:
    doc = lxml.html.fromstring(html)
    [control] = doc.xpath("//*[@name=$name][not(@type='hidden')]", name=name)
    return control.value if control.tag != "textarea" else (control.text or "").strip()


def send(client, task_id: int, post: MultiDict, follow: bool = False):
    return client.post(f"/tasks/{task_id}", data=post, follow_redirects=follow)


def filled(html: str, click: str | None = None, **answers: str) -> MultiDict:
    """The form as a browser posts it, with some answers typed or chosen."""
    post = browser_post(task_form(html), click)
    for name, value in answers.items():
        post.setlist(name.replace("__", "."), [value])
    return post


# -- opening a task -----------------------------------------------------------------------------


def test_the_manager_opens_the_screening_task_with_its_instructions_and_form(
    app, client, frozen_clock
):
    case_id = referred(app)
    task_id = task_of(app, case_id, "screen_referral")
    login(client, "morgan.manager")
    status, html = open_page(client, task_id)
    assert status == 200
    assert "<h1>Screen the referral</h1>" in html
    assert "Read the referral and the eligibility result, then accept it" in html
    assert f'href="/cases/{case_id}"' in html and "Ashdown" in html
    assert "Screening and allocation" in html
    assert "Wednesday 4 March 2026 at 09:00" in html  # two working days
    assert "Anyone with the role FGC manager (not claimed yet)" in html
    assert "Eligible</strong>: 2 of 6 Stronger Families problems" in html
    form = task_form(html)
    assert form.xpath(".//fieldset[legend[contains(., 'What is your decision?')]]")
    assert form.xpath(".//button[@class='primary'][normalize-space()='Complete task']")
    assert form.xpath(".//button[normalize-space()='Save draft']")
    assert audited(app, "view_task") == [("morgan.manager", case_id, f"task {task_id}")]


def test_the_instructions_are_escaped_and_keep_their_line_breaks(app, client, frozen_clock):
    task_id = task_of(app, referred(app), "screen_referral")
    with app.app_context():
        task = get_task(db.session(), task_id)
        task.instructions = "Read it <b>first</b>.\nThen decide.\n\nAsk if unsure."
        db.session.commit()
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    assert "<p>Read it &lt;b&gt;first&lt;/b&gt;.\nThen decide.</p><p>Ask if unsure.</p>" in html


def test_the_assessment_opens_with_the_people_named_on_the_referral(app, client, frozen_clock):
    task_id = task_of(app, at_assessment(app), "whole_family_assessment")
    login(client, "lee.practitioner")
    status, html = open_page(client, task_id)
    assert status == 200
    assert value_of(html, "members.0.name") == "Jo Ashdown"
    assert value_of(html, "members.1.name") == "Sam Ashdown"


def test_an_overdue_task_says_so_in_words(app, client, frozen_clock):
    task_id = task_of(app, referred(app), "screen_referral")
    frozen_clock.advance(days=3)
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    assert '<span class="tag tag-overdue">Overdue</span>' in html


# -- sending the form -------------------------------------------------------------------------


def test_a_form_that_needs_changes_comes_back_with_the_message_beside_the_field(
    app, client, frozen_clock
):
    task_id = task_of(app, referred(app), "screen_referral")
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    typed = "The family has moved out of the area."
    response = send(
        client, task_id, filled(html, screening_decision="decline", screening_note=typed)
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    doc = lxml.html.fromstring(page)
    [message] = doc.xpath("//*[@id='f-decline_reason-error']")
    assert "This field is required." in message.text_content()
    assert message.xpath("ancestor::fieldset[legend[contains(., 'Why are you declining')]]")
    [link] = doc.xpath("//div[@class='error-summary']//a")
    assert link.get("href") == "#f-decline_reason"
    assert doc.xpath("//input[@name='screening_decision'][@value='decline'][@checked]")
    assert value_of(page, "screening_note") == typed
    assert draft_of(app, task_id, "morgan.manager") == {
        "screening_decision": "decline",
        "screening_note": typed,
    }
    assert get_task_state(app, task_id) == "ready"


def test_entries_are_added_and_removed_without_javascript_keeping_what_was_typed(
    app, client, frozen_clock
):
    task_id = task_of(app, at_assessment(app), "whole_family_assessment")
    login(client, "lee.practitioner")
    _, html = open_page(client, task_id)
    views = "Sam wants to see his nan more."
    added = send(client, task_id, filled(html, "add:members", child_views=views))
    assert added.status_code == 200
    html = added.get_data(as_text=True)
    assert value_of(html, "members.2.name") == ""
    assert value_of(html, "child_views") == views
    post = filled(html, members__2__name="Nan Ashdown", members__0__needs="Rest")
    removed = send(client, task_id, pressed(post, "remove:members.1"))
    html = removed.get_data(as_text=True)
    names = [value_of(html, f"members.{i}.name") for i in range(2)]
    assert names == ["Jo Ashdown", "Nan Ashdown"]
    assert value_of(html, "members.0.needs") == "Rest"
    assert 'name="members.2.name"' not in html
    kept = draft_of(app, task_id, "lee.practitioner")
    assert [m["name"] for m in kept["members"]] == ["Jo Ashdown", "Nan Ashdown"]
    assert get_task_state(app, task_id) == "ready"


def test_completing_the_form_moves_the_case_on_and_deletes_the_draft(app, client, frozen_clock):
    case_id = referred(app)
    task_id = task_of(app, case_id, "screen_referral")
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    client.post(f"/tasks/{task_id}/draft", data=filled(html, screening_note="Half way"))
    assert draft_of(app, task_id, "morgan.manager") is not None
    response = send(client, task_id, filled(html, screening_decision="accept"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks"
    allocate = task_of(app, case_id, "allocate_coordinator")
    assert get_task_state(app, task_id) == "completed"
    assert draft_of(app, task_id, "morgan.manager") is None
    assert audited(app, "complete_task") == [("morgan.manager", case_id, f"task {task_id}")]
    inbox = client.get("/tasks").get_data(as_text=True)
    assert "Done: Screen the referral. Next: " in inbox
    assert f'<a href="/tasks/{allocate}">Allocate a coordinator</a>' in inbox
    _, again = open_page(client, task_id)
    assert "You completed this task at 09:00 on 2 Mar." in again
    assert f'<a href="/cases/{case_id}">case page</a>' in again
    assert 'name="screening_decision"' not in again


def test_a_worker_whose_case_moves_away_is_not_shown_what_comes_next(app, client, frozen_clock):
    case_id = referred(app)
    with app.app_context():
        do(runtime(), db.session(), _case(case_id), "screen_referral", ACCEPT, MANAGER)
    task_id = task_of(app, case_id, "allocate_coordinator")
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    post = filled(html, coordinator="casey.coordinator")
    inbox = send(client, task_id, post, follow=True).get_data(as_text=True)
    assert "Done: Allocate a coordinator." in inbox
    assert "Next:" not in inbox  # the baseline meeting is Casey's, not the manager's


def test_a_second_worker_completing_first_gets_409_and_keeps_their_answers(
    app, client, frozen_clock
):
    task_id = task_of(app, referred(app), "screen_referral")
    rival = app.test_client()
    login(rival, second_manager(app))
    login(client, "morgan.manager")
    _, mine = open_page(client, task_id)
    _, theirs = open_page(rival, task_id)
    frozen_clock.advance(minutes=5)
    assert send(rival, task_id, filled(theirs, screening_decision="accept")).status_code == 302

    note = "My own notes on the family."
    late = send(client, task_id, filled(mine, screening_decision="decline", screening_note=note))
    assert late.status_code == 409
    page = late.get_data(as_text=True)
    assert (
        "Mo Manager completed this task at 09:05 on 2 Mar before you sent yours. "
        "Your answers are kept below as a draft so you can copy them."
    ) in page
    doc = lxml.html.fromstring(page)
    assert not doc.xpath("//form[@data-draft-url]")  # nothing left to complete
    [notes] = doc.xpath("//textarea[@name='screening_note']")
    assert notes.get("readonly") is not None and note in notes.text
    assert draft_of(app, task_id, "morgan.manager") == {
        "screening_decision": "decline",
        "screening_note": note,
    }
    # Opening the task again later still shows the draft, and who completed it.
    _, again = open_page(client, task_id)
    assert "Restored your draft saved at 09:05 on 2 Mar" in again
    assert "Mo Manager completed this task at 09:05 on 2 Mar." in again
    assert note in again


# -- who may see and do it ----------------------------------------------------------------


def test_someone_outside_the_case_gets_404_as_for_a_task_that_does_not_exist(
    app, client, frozen_clock
):
    case_id = referred(app)
    task_id = task_of(app, case_id, "screen_referral")
    login(client, "mel.manager")  # the North team's manager
    token = csrf_token(client, "/tasks")
    status, html = open_page(client, task_id)
    assert status == 404 and f"Task {task_id} does not exist." in html
    assert "Ashdown" not in html and f"Case {case_id}" not in html
    posted = client.post(f"/tasks/{task_id}", data={"csrf_token": token})
    assert posted.status_code == 404
    missing, html = open_page(client, 999_999)
    assert missing == 404 and "Task 999999 does not exist." in html
    assert get_task_state(app, task_id) == "ready"


def test_a_form_posted_without_its_csrf_token_is_refused(app, client, frozen_clock):
    task_id = task_of(app, referred(app), "screen_referral")
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    post = filled(html, screening_decision="accept")
    del post["csrf_token"]
    assert send(client, task_id, post).status_code == 400
    assert get_task_state(app, task_id) == "ready"


def test_a_worker_without_the_role_reads_the_task_but_cannot_complete_it(app, client, frozen_clock):
    task_id = task_of(app, referred(app), "screen_referral")
    login(client, "riley.referrer")  # sees the case: she referred it
    status, html = open_page(client, task_id)
    assert status == 200
    assert "This task is for FGC manager: only someone with that role can complete it." in html
    doc = lxml.html.fromstring(html)
    assert not doc.xpath("//form[@data-draft-url]")
    assert "Complete task" not in html and "Claim this task" not in html
    radios = doc.xpath("//input[@name='screening_decision']")
    assert radios and all(r.get("disabled") is not None for r in radios)
    token = csrf_token(client, f"/tasks/{task_id}")
    post = {"csrf_token": token, "screening_decision": "accept"}
    refused = client.post(f"/tasks/{task_id}", data=post)
    assert refused.status_code == 403
    assert "only someone with that role can complete it" in refused.get_data(as_text=True)
    assert get_task_state(app, task_id) == "ready"


def test_a_task_held_by_a_colleague_is_read_only_and_says_who_has_it(app, client, frozen_clock):
    case_id = at_assessment(app)
    with app.app_context():
        session = db.session()
        do(runtime(), session, _case(case_id), "whole_family_assessment", ASSESSMENT, LEAD)
    task_id = task_of(app, case_id, "prepare_network")
    login(client, "cam.coordinator")
    status, _ = open_page(client, task_id)
    assert status == 404  # Casey's case: Cam does not work on it
    manager = app.test_client()
    login(manager, "morgan.manager")  # manages the team, so sees it
    status, html = open_page(manager, task_id)
    assert status == 200
    assert "This task is with Casey Coordinator: only they can complete it." in html
    assert "Complete task" not in html


def test_an_unclaimed_task_can_be_claimed_from_its_page_or_just_completed(
    app, client, frozen_clock
):
    task_id = task_of(app, referred(app), "screen_referral")
    login(client, "morgan.manager")
    _, html = open_page(client, task_id)
    doc = lxml.html.fromstring(html)
    [claim] = doc.xpath("//form[.//button[normalize-space()='Claim this task']]")
    assert claim.get("action") == f"/tasks/{task_id}/claim"
    post = {i.get("name"): i.get("value") for i in claim.xpath(".//input")}
    landed = client.post(claim.get("action"), data=post, follow_redirects=True)
    assert landed.request.path == f"/tasks/{task_id}"
    page = landed.get_data(as_text=True)
    assert "You claimed 'Screen the referral'." in lxml.html.fromstring(page).text_content()
    assert "Claim this task" not in page and "Give this task back" in page
    assert re.search(r"<dt>Waiting for</dt>\s*<dd>You</dd>", page)
