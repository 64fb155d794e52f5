"""A worker's notifications: the count in the header, the list, marking read, the email choice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import event, select

from engine.accounts import find_user
from engine.audit import AuditFilter, entries
from engine.errors import KinflowError, NotFound
from engine.notifications import reading
from engine.notifications.models import Notification, Preference
from tests.web import add_workers, csrf_token, login


def notify(app, username: str, title: str, **fields) -> int:
    """A notification made as the delivery job would, straight in the database."""
    from webapp.extensions import db

    with app.app_context():
        row = Notification(
            username=username,
            kind=fields.pop("kind", "due_soon"),
            title=title,
            body=fields.pop("body", f"{title}: see the task."),
            **fields,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def read_at(app, notification_id: int):
    from webapp.extensions import db

    with app.app_context():
        return db.session.get(Notification, notification_id).read_at


def preference_of(app, username: str) -> str:
    from webapp.extensions import db

    with app.app_context():
        return find_user(db.session(), username).email_preference


def header(html: str) -> str:
    return html.split("<main", 1)[0]


def post(client, path: str, data: dict | None = None, follow: bool = True):
    token = csrf_token(client, "/notifications")
    return client.post(path, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


def test_the_header_counts_unread_notifications_and_the_count_drops_when_one_is_read(
    app, client, frozen_clock
):
    first = notify(app, "casey.coordinator", "Task due tomorrow")
    notify(app, "casey.coordinator", "Conference in 7 days")
    notify(app, "casey.coordinator", "Already seen", read_at=frozen_clock.now())
    notify(app, "lee.practitioner", "Someone else's reminder")
    login(client, "casey.coordinator")

    top = header(client.get("/tasks").get_data(as_text=True))
    assert 'href="/notifications"' in top
    assert "(2)</strong>" in top and ", 2 unread</span>" in top

    frozen_clock.advance(minutes=5)
    done = post(client, f"/notifications/{first}/read")
    assert done.status_code == 200
    assert "Marked &#39;Task due tomorrow&#39; as read." in done.get_data(as_text=True)
    assert ", 1 unread</span>" in header(done.get_data(as_text=True))
    assert read_at(app, first) == frozen_clock.now()


def test_the_header_count_costs_one_indexed_count_query(app, client):
    from webapp.extensions import db

    notify(app, "casey.coordinator", "Task due tomorrow")
    login(client, "casey.coordinator")
    statements: list[str] = []

    def seen(*args) -> None:
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        client.get("/account/tokens")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    about_notifications = [s for s in statements if "notifications" in s]
    assert len(about_notifications) == 1
    assert "count(" in about_notifications[0].lower()


def test_the_list_shows_a_workers_own_notifications_newest_first_with_links(
    app, client, frozen_clock
):
    notify(app, "casey.coordinator", "Review due", link="/cases/4", kind="review_due")
    frozen_clock.advance(hours=1)
    notify(
        app,
        "casey.coordinator",
        "Task overdue: Hold the baseline meeting",
        body="Case 4: the baseline meeting was due on 2 Mar 2026.",
        link="/tasks/17",
        escalation=True,
    )
    notify(app, "lee.practitioner", "Lee's own reminder", link="/tasks/99")
    login(client, "casey.coordinator")

    html = client.get("/notifications").get_data(as_text=True)
    main = html.split("<main", 1)[1]
    assert main.index("Task overdue: Hold the baseline meeting") < main.index("Review due")
    assert "Case 4: the baseline meeting was due on 2 Mar 2026." in main
    assert "2 Mar 2026, 10:00" in main  # the `when` of the newer one, London time
    assert re.search(r'<a href="/notifications/\d+/open">Open task', main)
    assert re.search(r'<a href="/notifications/\d+/open">Open case', main)
    assert main.count('<span class="tag tag-overdue">Escalation</span>') == 1
    assert main.count('<span class="tag tag-unread">Unread</span>') == 2
    assert "Lee&#39;s own reminder" not in html and "/tasks/99" not in html


def test_opening_a_notifications_link_marks_it_read_and_goes_to_the_task(app, client):
    opened = notify(app, "casey.coordinator", "Task due soon", link="/tasks/17")
    other = notify(app, "casey.coordinator", "Review due", link="/cases/4")
    login(client, "casey.coordinator")

    response = client.get(f"/notifications/{opened}/open")

    assert response.status_code == 302 and response.headers["Location"] == "/tasks/17"
    assert read_at(app, opened) is not None and read_at(app, other) is None
    assert "(1)" in header(client.get("/notifications").get_data(as_text=True))


def test_another_workers_notification_link_cannot_be_opened(app, client):
    theirs = notify(app, "lee.practitioner", "Lee's own reminder", link="/tasks/99")
    login(client, "casey.coordinator")
    assert client.get(f"/notifications/{theirs}/open").status_code == 404
    assert read_at(app, theirs) is None


def test_a_notification_with_an_outside_link_opens_the_list(app, client):
    odd = notify(app, "casey.coordinator", "Odd link", link="https://example.com/phish")
    login(client, "casey.coordinator")
    response = client.get(f"/notifications/{odd}/open")
    assert response.headers["Location"] == "/notifications"
    assert read_at(app, odd) is not None


def test_a_link_to_another_site_is_not_shown(app, client):
    notify(app, "casey.coordinator", "Odd link", link="https://example.com/phish")
    notify(app, "casey.coordinator", "Protocol-relative", link="//example.com/phish")
    login(client, "casey.coordinator")
    html = client.get("/notifications").get_data(as_text=True)
    assert "Odd link" in html and "Protocol-relative" in html
    assert "example.com" not in html


def test_the_unread_filter_hides_what_was_read(app, client, frozen_clock):
    notify(app, "casey.coordinator", "Still to read")
    notify(app, "casey.coordinator", "Read yesterday", read_at=frozen_clock.now())
    login(client, "casey.coordinator")
    unread = client.get("/notifications?show=unread").get_data(as_text=True)
    assert "Still to read" in unread and "Read yesterday" not in unread
    everything = client.get("/notifications").get_data(as_text=True)
    assert "Still to read" in everything and "Read yesterday" in everything

    refused = client.get("/notifications?show=bogus")
    assert refused.status_code == 400
    assert "Show: choose all or unread notifications." in refused.get_data(as_text=True)


def test_mark_all_as_read_clears_the_count_and_returns_to_the_same_view(app, client):
    ids = [notify(app, "casey.coordinator", f"Reminder {n}") for n in range(3)]
    other = notify(app, "lee.practitioner", "Lee's reminder")
    login(client, "casey.coordinator")

    done = post(client, "/notifications/read-all", {"show": "unread"}, follow=False)
    assert done.status_code == 302
    assert done.headers["Location"] == "/notifications?show=unread"
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Marked 3 notifications as read." in html
    assert "You have no unread notifications." in html
    assert " unread</span>" not in header(html)
    assert all(read_at(app, i) is not None for i in ids)
    assert read_at(app, other) is None

    again = post(client, "/notifications/read-all")
    assert "You had no unread notifications." in again.get_data(as_text=True)


def test_another_workers_notification_can_be_neither_seen_nor_marked(app, client):
    theirs = notify(app, "lee.practitioner", "Lee's reminder about case 4")
    login(client, "casey.coordinator")
    assert "Lee&#39;s reminder" not in client.get("/notifications").get_data(as_text=True)
    refused = post(client, f"/notifications/{theirs}/read", follow=False)
    assert refused.status_code == 404
    assert post(client, "/notifications/999999/read", follow=False).status_code == 404
    assert read_at(app, theirs) is None


def test_an_empty_list_says_so(client):
    login(client, "dana.data")
    html = client.get("/notifications").get_data(as_text=True)
    assert "You have no notifications yet." in html
    assert "Mark all as read" not in html


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in ("/notifications", "/notifications/settings"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/login")
    assert 'href="/notifications"' not in client.get("/login").get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(app, client):
    mine = notify(app, "casey.coordinator", "Task due tomorrow")
    login(client, "casey.coordinator")
    assert client.post(f"/notifications/{mine}/read").status_code == 400
    assert client.post("/notifications/read-all").status_code == 400
    refused = client.post("/notifications/settings", data={"email_preference": "digest"})
    assert refused.status_code == 400
    assert read_at(app, mine) is None
    assert preference_of(app, "casey.coordinator") == Preference.IMMEDIATE


def test_the_email_preference_is_saved_and_audited(app, client):
    login(client, "casey.coordinator")
    page = client.get("/notifications/settings").get_data(as_text=True)
    for label in Preference.LABELS.values():
        assert str(escape(label)) in page
    assert re.search(r'value="immediate"\s+checked', page)
    assert "You have no email address in Kinflow, so nothing is emailed to you" in page

    token = csrf_token(client, "/notifications/settings")
    saved = client.post(
        "/notifications/settings",
        data={"csrf_token": token, "email_preference": Preference.DIGEST},
        follow_redirects=True,
    )
    html = saved.get_data(as_text=True)
    assert "Email preference saved: One email a day with everything since the last." in html
    assert re.search(r'value="digest"\s+checked', html)
    assert preference_of(app, "casey.coordinator") == Preference.DIGEST

    from webapp.extensions import db

    with app.app_context():
        logged = entries(db.session(), AuditFilter(username="casey.coordinator"))
        assert [e.target for e in logged if e.action == "set_email_preference"] == [
            "email preference digest"
        ]


def test_a_refused_email_preference_names_the_field_and_changes_nothing(app, client):
    login(client, "casey.coordinator")
    token = csrf_token(client, "/notifications/settings")
    for value in ("weekly", ""):
        refused = client.post(
            "/notifications/settings", data={"csrf_token": token, "email_preference": value}
        )
        assert refused.status_code == 422
        html = refused.get_data(as_text=True)
        assert "Email preference: choose one of immediate, digest, escalations." in html
        assert 'aria-invalid="true"' in html
    assert preference_of(app, "casey.coordinator") == Preference.IMMEDIATE


def test_the_settings_page_shows_the_address_emails_go_to(app, client):
    from webapp.extensions import db

    with app.app_context():
        find_user(db.session(), "lee.practitioner").email = "lee.practitioner@example.org"
        db.session.commit()
    login(client, "lee.practitioner")
    html = client.get("/notifications/settings").get_data(as_text=True)
    assert "Emails go to <strong>lee.practitioner@example.org</strong>" in html
    assert "You have no email address" not in html


# The engine functions alone, on a session without the web app.


@pytest.fixture
def people(session):
    return add_workers(session)


def test_reading_touches_only_the_workers_own_rows(session, people, frozen_clock):
    session.add_all(
        [
            Notification(username="casey.coordinator", kind="k", title="A", body="a"),
            Notification(username="lee.practitioner", kind="k", title="B", body="b"),
        ]
    )
    session.commit()
    frozen_clock.advance(minutes=1)
    session.add(Notification(username="casey.coordinator", kind="k", title="C", body="c"))
    session.commit()

    assert [n.title for n in reading.notifications_for(session, "casey.coordinator")] == ["C", "A"]
    assert reading.unread_count(session, "casey.coordinator") == 2
    theirs = session.scalar(select(Notification.id).where(Notification.title == "B"))
    with pytest.raises(NotFound, match="not yours"):
        reading.mark_read(session, "casey.coordinator", theirs)

    assert reading.mark_all_read(session, "casey.coordinator") == 2
    assert reading.unread_count(session, "casey.coordinator") == 0
    assert reading.unread_count(session, "lee.practitioner") == 1
    assert reading.notifications_for(session, "casey.coordinator", unread_only=True) == []


def test_reading_one_twice_keeps_the_first_time(session, people, frozen_clock):
    row = Notification(username="casey.coordinator", kind="k", title="A", body="a")
    session.add(row)
    session.commit()
    first = reading.mark_read(session, "casey.coordinator", row.id).read_at
    frozen_clock.advance(timedelta(hours=2))
    assert reading.mark_read(session, "casey.coordinator", row.id).read_at == first


def test_an_unknown_email_preference_is_refused(session, people):
    casey = people["casey.coordinator"]
    with pytest.raises(KinflowError, match="email preference: choose one of immediate"):
        reading.set_preference(session, casey, "hourly")
    reading.set_preference(session, casey, Preference.ESCALATIONS)
    session.expire_all()
    assert find_user(session, "casey.coordinator").email_preference == Preference.ESCALATIONS
