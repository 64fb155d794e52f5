"""Deleting the dated records past retention: audit log entries, notifications, emails and
drafts (engine/retention_purge.py, the Retention page's delete forms, ``kinflow retention
--purge``).

Today is Monday 2 March 2026 throughout. With the default periods a record past retention
today was started on or before: 2 March 2020 for the audit log (6 years), 2 March 2025 for
notifications and the outbox (1 year), 2 December 2025 for drafts (90 days: 28 days back to
2 February, 31 more to 2 January, 31 more to 2 December). So the cutoffs are the starts of
3 March 2020, 3 March 2025 and 3 December 2025.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.audit import AuditEntry
from engine.drafts import TaskDraft
from engine.errors import KinflowError
from engine.models import Base
from engine.notifications.models import Notification, OutboxMessage
from engine.retention import RetentionPolicy
from engine.retention_purge import CountChanged, purge_dated
from tests.web import csrf_token, login
from webapp.extensions import db

DEFAULTS = RetentionPolicy.from_settings({})
TODAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MODELS = {
    "audit_log": AuditEntry,
    "notifications": Notification,
    "outbox": OutboxMessage,
    "drafts": TaskDraft,
}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def dated(kind: str, at: datetime, n: int) -> Base:
    """One fictional record of ``kind`` started at ``at`` (``n`` keeps unique keys apart)."""
    if kind == "audit_log":
        return AuditEntry(at=at, username=f"worker{n}", action="view_case", target="", via="web")
    if kind == "notifications":
        return Notification(
            username="casey.coordinator",
            kind="due_soon",
            title="Task due soon",
            body="Prepare the Ashdown family meeting is due tomorrow.",
            created_at=at,
        )
    if kind == "outbox":
        return OutboxMessage(
            to_address="casey.coordinator@example.org",
            subject="Task due soon",
            body="Prepare the Ashdown family meeting is due tomorrow.",
            status="sent",
            next_attempt_at=at,
            created_at=at,
        )
    return TaskDraft(
        form_key="referral", username=f"worker{n}", data={"family_name": "Ashdown"}, saved_at=at
    )


def add_rows(session, kind: str, *moments: str) -> list[int]:
    rows = [dated(kind, moment(text), n) for n, text in enumerate(moments)]
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows]


def ids(session, kind: str) -> list[int]:
    model = MODELS[kind]
    return list(session.scalars(select(model.id).order_by(model.id)))


def purges(session) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "purge_records")
    return list(session.scalars(query.order_by(AuditEntry.id)))


# For each kind: two records past retention today (long ago, and the last moment of the last
# day due), two kept (the first moment of the next day, and this morning), and how the audit
# entry and summary word the cutoff.
EDGES = [
    (
        "audit_log",
        "2019-07-01 10:00",
        "2020-03-02 23:59:59",
        "2020-03-03 00:00",
        "written before 2020-03-03",
    ),
    (
        "notifications",
        "2024-11-05 08:30",
        "2025-03-02 23:59:59",
        "2025-03-03 00:00",
        "made before 2025-03-03",
    ),
    (
        "outbox",
        "2024-11-05 08:30",
        "2025-03-02 23:59:59",
        "2025-03-03 00:00",
        "written before 2025-03-03",
    ),
    (
        "drafts",
        "2025-06-30 16:00",
        "2025-12-02 23:59:59",
        "2025-12-03 00:00",
        "last saved before 2025-12-03",
    ),
]


@pytest.mark.parametrize(("kind", "old", "last_due", "first_kept", "cutoff"), EDGES)
def test_records_started_before_the_cutoff_are_deleted_and_the_rest_kept(
    session, frozen_clock, kind, old, last_due, first_kept, cutoff
):
    old_id, due_id, kept_id, new_id = add_rows(
        session, kind, old, last_due, first_kept, "2026-03-02 08:00"
    )
    done = purge_dated(session, kind, DEFAULTS, "dana.data", via="cli")

    assert done.count == 2
    entry = purges(session)[0]
    assert (entry.username, entry.case_id, entry.via, entry.at) == ("dana.data", None, "cli", TODAY)
    assert entry.target == f"{kind}: 2 {cutoff}"
    left = ids(session, kind)
    assert old_id not in left and due_id not in left
    # The audit log keeps the purge's own entry, written today.
    expected = [kept_id, new_id, entry.id] if kind == "audit_log" else [kept_id, new_id]
    assert left == expected
    assert done.summary().endswith(f"deleted ({cutoff})")


def test_the_summary_names_the_records_in_words(session, frozen_clock):
    add_rows(session, "audit_log", "2019-07-01 10:00", "2020-01-01 10:00")
    add_rows(session, "drafts", "2025-06-30 16:00")
    entries = purge_dated(session, "audit_log", DEFAULTS, "dana.data")
    drafts = purge_dated(session, "drafts", DEFAULTS, "dana.data")
    assert entries.summary() == "2 audit log entries deleted (written before 2020-03-03)"
    assert drafts.summary() == "1 form draft deleted (last saved before 2025-12-03)"


def test_deleting_nothing_is_still_recorded(session, frozen_clock):
    kept = add_rows(session, "outbox", "2026-01-15 10:00")
    done = purge_dated(session, "outbox", DEFAULTS, "dana.data")
    assert done.count == 0
    assert ids(session, "outbox") == kept
    assert [e.target for e in purges(session)] == ["outbox: 0 written before 2025-03-03"]


def test_a_shorter_period_moves_the_cutoff(session, frozen_clock):
    # Drafts kept 30 days: due on or before 31 January 2026, so before 1 February.
    policy = RetentionPolicy.from_settings({"drafts": "30d"})
    gone, kept = add_rows(session, "drafts", "2026-01-31 18:00", "2026-02-01 00:00")
    assert purge_dated(session, "drafts", policy, "dana.data").count == 1
    assert ids(session, "drafts") == [kept]


@pytest.mark.parametrize("kind", ["case", "declined_referral", "family_names"])
def test_case_types_and_unknown_types_are_refused_by_name(session, frozen_clock, kind):
    add_rows(session, "drafts", "2025-06-30 16:00")
    with pytest.raises(KinflowError, match=f"'{kind}' is not a record type deleted by date"):
        purge_dated(session, kind, DEFAULTS, "dana.data")
    assert len(ids(session, "drafts")) == 1
    assert purges(session) == []


def test_a_confirmed_number_that_is_not_the_number_due_deletes_nothing(session, frozen_clock):
    rows = add_rows(session, "notifications", "2024-11-05 08:30", "2025-01-05 08:30")
    with pytest.raises(CountChanged) as refused:
        purge_dated(session, "notifications", DEFAULTS, "dana.data", expected=3)
    assert str(refused.value) == (
        "Past retention today: 2 in-app notifications, not 3. "
        "Nothing was deleted: check the figure and confirm again."
    )
    assert ids(session, "notifications") == rows
    assert purges(session) == []
    assert purge_dated(session, "notifications", DEFAULTS, "dana.data", expected=2).count == 2


# -- the page and the command ----------------------------------------------------------------


@pytest.fixture
def old_drafts(app, workers):
    """Two drafts past retention today and one due on 3 March 2026 (saved 3 December 2025)."""
    with app.app_context():
        saved = ("2025-06-30 16:00", "2025-11-20 09:00", "2025-12-03 10:00")
        return add_rows(db.session(), "drafts", *saved)


@pytest.fixture
def today():
    with clock.using(clock.FrozenClock(TODAY)):
        yield


def drafts_left(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(TaskDraft))


def test_a_data_officer_deletes_the_drafts_by_typing_their_number(app, client, old_drafts, today):
    login(client, "dana.data")
    page = client.get("/retention").get_data(as_text=True)
    assert "Type 2 to confirm" in page and "Delete 2 form drafts" in page
    token = csrf_token(client, "/retention")

    answer = client.post("/retention/drafts/purge", data={"csrf_token": token, "confirm": "2"})
    assert answer.status_code == 303
    page = client.get("/retention").get_data(as_text=True)
    assert "2 form drafts deleted (last saved before 2025-12-03)" in page
    assert "Delete 2 form drafts" not in page
    with app.app_context():
        assert ids(db.session(), "drafts") == [old_drafts[2]]
        entry = purges(db.session())[0]
    assert (entry.username, entry.via) == ("dana.data", "web")


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "Confirm: type the number of form drafts past retention today, as shown"),
        ("yes", "Confirm: type the number of form drafts past retention today, as shown"),
        ("3", "Past retention today: 2 form drafts, not 3. Nothing was deleted"),
    ],
)
def test_a_wrong_or_missing_confirmation_deletes_nothing(
    app, client, old_drafts, today, typed, said
):
    login(client, "dana.data")
    token = csrf_token(client, "/retention")
    client.post("/retention/drafts/purge", data={"csrf_token": token, "confirm": typed})
    page = client.get("/retention").get_data(as_text=True)
    assert said in page and "Nothing was deleted" in page
    assert drafts_left(app) == 3


def test_the_delete_forms_count_today_whichever_day_the_report_previews(
    app, client, old_drafts, today
):
    login(client, "dana.data")
    page = client.get("/retention?on=2026-03-03").get_data(as_text=True)
    # On 3 March the draft saved on 3 December is due too; only two may go today.
    assert "Records past retention on 2026-03-03: 3 in all" in page
    assert "Type 2 to confirm" in page and "Type 3 to confirm" not in page


@pytest.mark.parametrize("username", ["ada.admin", "casey.coordinator"])
def test_only_data_officers_may_delete(app, client, old_drafts, today, username):
    login(client, username)
    if username == "ada.admin":
        page = client.get("/retention").get_data(as_text=True)
        assert "Records past retention on 2026-03-02: 2 in all" in page
        assert "Type 2 to confirm" not in page
    token = csrf_token(client, "/account/tokens")
    answer = client.post("/retention/drafts/purge", data={"csrf_token": token, "confirm": "2"})
    assert answer.status_code == 403
    assert drafts_left(app) == 3


@pytest.mark.parametrize("kind", ["case", "everything"])
def test_a_type_that_is_not_dated_is_not_found(app, client, old_drafts, today, kind):
    login(client, "dana.data")
    token = csrf_token(client, "/retention")
    answer = client.post(f"/retention/{kind}/purge", data={"csrf_token": token, "confirm": "2"})
    assert answer.status_code == 404
    assert drafts_left(app) == 3


def test_deleting_needs_the_forms_csrf_token(app, client, old_drafts, today):
    login(client, "dana.data")
    answer = client.post("/retention/drafts/purge", data={"confirm": "2"})
    assert answer.status_code == 400
    assert drafts_left(app) == 3


def test_the_command_deletes_only_with_confirm(app, old_drafts, today):
    runner = app.test_cli_runner()
    unconfirmed = runner.invoke(args=["retention", "--purge", "drafts"])
    assert unconfirmed.exit_code == 2
    assert "Deleting the form drafts cannot be undone: add --confirm" in unconfirmed.output
    unknown = runner.invoke(args=["retention", "--purge", "case", "--confirm"])
    assert unknown.exit_code == 2 and "'case' is not one of" in unknown.output
    both = runner.invoke(args=["retention", "--purge", "drafts", "--erase", "1", "--confirm"])
    assert both.exit_code == 2 and "Give one of --dry-run" in both.output
    previewed = runner.invoke(args=["retention", "--purge", "drafts", "--on", "2026-06-01"])
    assert previewed.exit_code == 2 and "--on is for --dry-run" in previewed.output
    assert drafts_left(app) == 3

    done = runner.invoke(args=["retention", "--purge", "drafts", "--confirm", "--by", "dana.data"])
    assert done.exit_code == 0, done.output
    assert done.output == "2 form drafts deleted (last saved before 2025-12-03)\n"
    assert drafts_left(app) == 1
    with app.app_context():
        entry = purges(db.session())[0]
    assert (entry.username, entry.via, entry.target) == (
        "dana.data",
        "cli",
        "drafts: 2 last saved before 2025-12-03",
    )
