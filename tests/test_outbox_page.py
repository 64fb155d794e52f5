"""The admin's email outbox: counts by status, the messages, a filter, and sending again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from engine.audit import AuditFilter, entries
from engine.notifications.models import OutboxMessage, OutboxStatus
from tests.web import csrf_token, login


def email(app, to: str, subject: str, status: str = OutboxStatus.PENDING, **fields) -> int:
    """An outbox row as the delivery job writes it, straight in the database."""
    from webapp.extensions import db

    with app.app_context():
        row = OutboxMessage(
            username=fields.pop("username", to.split("@")[0]),
            to_address=to,
            subject=subject,
            body=f"{subject}\n\nOpen Kinflow to see it.",
            status=status,
            **fields,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def message(app, message_id: int) -> OutboxMessage:
    from webapp.extensions import db

    with app.app_context():
        row = db.session.get(OutboxMessage, message_id)
        db.session.expunge(row)
        return row


@pytest.fixture
def outbox(app, frozen_clock):
    """Two sent, one waiting, one failed for good; returns their ids by name."""
    sent_at = frozen_clock.now() + timedelta(minutes=1)
    ids = {
        "sent": email(
            app,
            "casey@example.org",
            "Kinflow: task due tomorrow (case 12)",
            OutboxStatus.SENT,
            attempts=1,
            sent_at=sent_at,
            sent_via="smtp",
        ),
        "sent_log": email(
            app,
            "lee@example.org",
            "Kinflow: review due (case 9)",
            OutboxStatus.SENT,
            attempts=1,
            sent_at=sent_at,
            sent_via="log",
        ),
        "pending": email(app, "morgan@example.org", "Kinflow: daily digest"),
    }
    frozen_clock.advance(hours=1)
    ids["failed"] = email(
        app,
        "mel@example.org",
        "Kinflow: task overdue (case 3)",
        OutboxStatus.FAILED,
        attempts=10,
        last_error="SMTP server refused the recipient: mel@example.org",
    )
    return ids


def retry(client, message_id: int, **extra: str):
    token = csrf_token(client, "/admin/outbox")
    return client.post(f"/admin/outbox/{message_id}/retry", data={"csrf_token": token, **extra})


@pytest.mark.parametrize("username", ["casey.coordinator", "morgan.manager", "pat.owner"])
def test_only_admins_may_open_the_outbox_or_send_again(app, client, outbox, username):
    login(client, username)
    assert client.get("/admin/outbox").status_code == 403
    token = csrf_token(client, "/tasks")
    refused = client.post(f"/admin/outbox/{outbox['failed']}/retry", data={"csrf_token": token})
    assert refused.status_code == 403
    assert message(app, outbox["failed"]).status == OutboxStatus.FAILED
    assert "Email outbox" not in client.get("/tasks").get_data(as_text=True)


def test_an_admin_sees_counts_and_every_message_newest_first(client, outbox):
    login(client, "ada.admin")
    page = client.get("/admin/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    counts = re.findall(r"<li><strong>(\d+)</strong> ([a-z ]+)</li>", html)
    assert counts == [("1", "waiting to be sent"), ("2", "sent"), ("1", "failed")]
    body = html.split("<tbody>", 1)[1]
    assert body.index("mel@example.org") < body.index("casey@example.org")
    for text in (
        "Kinflow: task overdue (case 3)",
        "SMTP server refused the recipient: mel@example.org",
        "Log only (no SMTP server set)",
        "<td>SMTP server</td>",
        "2 Mar 2026, 09:01",  # sent at, London time
    ):
        assert text in body
    assert body.count(">Send again<") == 1
    # The menu marks the outbox as the current page, not the users' page beside it.
    assert re.search(r'href="/admin/outbox" aria-current="page">Email outbox', html)
    assert 'href="/admin/users" aria-current' not in html


def test_the_filter_shows_one_status_and_a_bad_status_is_explained(client, outbox):
    login(client, "ada.admin")
    failed = client.get("/admin/outbox?status=failed").get_data(as_text=True)
    body = failed.split("<tbody>", 1)[1]
    assert "mel@example.org" in body and "casey@example.org" not in body
    sent = client.get("/admin/outbox?status=sent").get_data(as_text=True)
    assert "casey@example.org" in sent and "mel@example.org" not in sent.split("<tbody>", 1)[1]

    refused = client.get("/admin/outbox?status=lost")
    assert refused.status_code == 400
    assert "Status: choose pending, sent or failed." in refused.get_data(as_text=True)


def test_an_empty_outbox_says_so(client):
    login(client, "ada.admin")
    assert "No emails have been written yet." in client.get("/admin/outbox").get_data(as_text=True)


def test_an_admin_sends_a_failed_message_again(app, client, outbox):
    login(client, "ada.admin")
    done = retry(client, outbox["failed"], status="failed")
    assert done.status_code == 302
    assert done.headers["Location"] == "/admin/outbox?status=failed"
    html = client.get("/admin/outbox").get_data(as_text=True)
    assert "The email to mel@example.org will be sent again shortly." in html
    again = message(app, outbox["failed"])
    assert (again.status, again.attempts) == (OutboxStatus.PENDING, 0)
    assert ">Send again<" not in html

    from webapp.extensions import db

    with app.app_context():
        logged = entries(db.session(), AuditFilter(username="ada.admin"))
        assert [e.target for e in logged if e.action == "admin_retry_email"] == [
            f"outbox message {outbox['failed']}"
        ]


def test_a_sent_or_unknown_message_is_not_sent_again_and_the_admin_is_told(app, client, outbox):
    login(client, "ada.admin")
    done = retry(client, outbox["sent"])
    assert done.status_code == 302
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Message {outbox['sent']} was already sent; it is not sent again." in html
    assert message(app, outbox["sent"]).status == OutboxStatus.SENT

    unknown = client.get(retry(client, 999_999).headers["Location"]).get_data(as_text=True)
    assert "There is no outbox message 999999." in unknown


def test_sending_again_needs_the_forms_csrf_token(app, client, outbox):
    login(client, "ada.admin")
    assert client.post(f"/admin/outbox/{outbox['failed']}/retry").status_code == 400
    assert message(app, outbox["failed"]).status == OutboxStatus.FAILED
