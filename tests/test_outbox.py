"""The email outbox sender against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from engine import clock
from engine.errors import KinflowError
from engine.notifications.models import OutboxMessage, OutboxStatus
from engine.notifications.outbox import (
    LogTransport,
    Postman,
    SmtpTransport,
    backoff,
    counts,
    list_messages,
    retry,
    transport_from_env,
)

SENDER = "kinflow@council.example"
REFUSED = "nobody@council.example"


class Collector:
    """An aiosmtpd handler that keeps every message it accepts and refuses one address."""

    def __init__(self) -> None:
        self.envelopes = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def received(self) -> list[tuple[list[str], str, str]]:
        """(recipients, subject, text) of every message, in arrival order."""
        parsed = []
        for envelope in self.envelopes:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert message.get_content_type() == "text/plain"
            assert message.get_content_charset() == "utf-8"
            text = message.get_content().replace("\r\n", "\n")  # SMTP lines end in CRLF
            parsed.append((envelope.rcpt_tos, message["Subject"], text))
        return parsed


class Server:
    """A loopback SMTP server on a port chosen up front, so it can be down, then up."""

    def __init__(self, **smtp_options) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.collector = Collector()
        self.smtp_options = smtp_options
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.collector,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="mail.council.example",
            **self.smtp_options,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def transport(self, **options) -> SmtpTransport:
        return SmtpTransport("127.0.0.1", self.port, SENDER, timeout=10, **options)


@pytest.fixture
def server() -> Iterator[Server]:
    """A server that is not running until the test starts it."""
    down = Server()
    yield down
    down.stop()


@pytest.fixture
def smtp(server: Server) -> Server:
    server.start()
    return server


def queue(sessions, *subjects: str, to: str = "casey.bright@council.example") -> list[int]:
    with sessions() as session:
        messages = [
            OutboxMessage(to_address=to, subject=s, body=f"{s}\n\n/tasks/17") for s in subjects
        ]
        session.add_all(messages)
        session.commit()
        return [m.id for m in messages]


def load(sessions, message_id: int) -> OutboxMessage:
    with sessions() as session:
        return session.get_one(OutboxMessage, message_id)


def test_a_message_arrives_with_its_recipient_subject_and_utf8_text(sessions, frozen_clock, smtp):
    [message_id] = queue(sessions, "Siân's review is due on 9 March", to="sian@council.example")

    assert Postman(sessions, smtp.transport()).send_due() == 1

    [(recipients, subject, text)] = smtp.collector.received()
    assert recipients == ["sian@council.example"]
    assert subject == "Siân's review is due on 9 March"
    assert text == "Siân's review is due on 9 March\n\n/tasks/17\n"
    assert smtp.collector.envelopes[0].mail_from == SENDER
    sent = load(sessions, message_id)
    assert (sent.status, sent.sent_via, sent.sent_at) == ("sent", "smtp", frozen_clock.now())
    assert sent.last_error is None


def test_while_the_server_is_down_nothing_is_lost_and_each_is_delivered_once(
    sessions, frozen_clock, server
):
    ids = queue(sessions, "Task 1 due", "Task 2 due", "Task 3 due")
    postman = Postman(sessions, server.transport())

    assert postman.send_due() == 0
    for message_id in ids:
        waiting = load(sessions, message_id)
        assert waiting.status == OutboxStatus.PENDING
        assert waiting.last_error.startswith("SMTP server refused connection")
        assert waiting.next_attempt_at == frozen_clock.now() + timedelta(minutes=1)
    assert postman.next_due() == frozen_clock.now() + timedelta(minutes=1)

    server.start()
    assert postman.send_due() == 0  # still inside the back-off: nothing is tried
    assert server.collector.envelopes == []

    frozen_clock.advance(minutes=1)
    assert postman.send_due() == 3
    assert postman.send_due() == 0
    assert sorted(s for _, s, _ in server.collector.received()) == [
        "Task 1 due",
        "Task 2 due",
        "Task 3 due",
    ]
    assert {load(sessions, i).status for i in ids} == {"sent"}
    assert postman.next_due() is None


def test_one_refused_message_does_not_stop_the_rest(sessions, frozen_clock, smtp):
    [refused] = queue(sessions, "Overdue: task 4", to=REFUSED)
    [fine] = queue(sessions, "Overdue: task 5")

    assert Postman(sessions, smtp.transport()).send_due() == 1

    assert [s for _, s, _ in smtp.collector.received()] == ["Overdue: task 5"]
    assert load(sessions, fine).status == "sent"
    kept = load(sessions, refused)
    assert kept.status == "pending"
    assert kept.last_error.startswith("SMTP server refused the recipient")
    assert "\n" not in kept.last_error
    assert kept.next_attempt_at == frozen_clock.now() + timedelta(minutes=1)


def test_after_max_attempts_a_message_fails_and_retry_sends_it(
    sessions, session, frozen_clock, server
):
    [message_id] = queue(sessions, "Conference in 3 days")
    postman = Postman(sessions, server.transport(), max_attempts=3)

    for attempt in (1, 2, 3):
        postman.send_due()
        assert load(sessions, message_id).attempts == attempt
        frozen_clock.advance(backoff(attempt))
    failed = load(sessions, message_id)
    assert failed.status == OutboxStatus.FAILED
    assert failed.last_error.startswith("SMTP server refused connection")
    assert postman.next_due() is None
    assert counts(session) == {"pending": 0, "sent": 0, "failed": 1}

    server.start()
    assert postman.send_due() == 0  # a failed message waits for a person
    again = retry(session, message_id)
    assert (again.status, again.attempts, again.next_attempt_at) == (
        "pending",
        0,
        frozen_clock.now(),
    )
    assert postman.send_due() == 1
    assert [s for _, s, _ in server.collector.received()] == ["Conference in 3 days"]

    with pytest.raises(KinflowError, match=f"Message {message_id} was already sent"):
        retry(session, message_id)
    with pytest.raises(KinflowError, match="no outbox message 999"):
        retry(session, 999)


def test_two_postmen_racing_deliver_each_message_exactly_once(sessions, frozen_clock, smtp):
    subjects = [f"Review due for case {n}" for n in range(40)]
    queue(sessions, *subjects)
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with clock.using(frozen_clock):
                postman = Postman(sessions, smtp.transport())
                start.wait()
                results.append(postman.send_due())
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(results) == 40
    assert sorted(s for _, s, _ in smtp.collector.received()) == sorted(subjects)
    with sessions() as session:
        assert counts(session) == {"pending": 0, "sent": 40, "failed": 0}


# Loopback in a test: TLS would prove nothing here, so AUTH is allowed without it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_uses_the_configured_account(sessions, frozen_clock):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"right"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    server = Server(authenticator=authenticate, auth_required=True, auth_require_tls=False)
    server.start()
    try:
        [wrong] = queue(sessions, "Wrong password")
        Postman(sessions, server.transport(username="kinflow", password="wrong")).send_due()
        assert load(sessions, wrong).last_error.startswith("SMTP server refused the login")

        [right] = queue(sessions, "Right password")
        Postman(sessions, server.transport(username="kinflow", password="right")).send_due()
        assert load(sessions, right).status == "sent"
        assert [s for _, s, _ in server.collector.received()] == ["Right password"]
    finally:
        server.stop()


def test_starttls_against_a_server_without_it_is_a_visible_error(sessions, frozen_clock, smtp):
    [message_id] = queue(sessions, "Plan review")
    Postman(sessions, smtp.transport(starttls=True)).send_due()

    kept = load(sessions, message_id)
    assert kept.status == "pending"
    assert "STARTTLS" in kept.last_error
    assert smtp.collector.envelopes == []


def test_without_smtp_a_message_is_written_to_the_log_and_marked_sent(
    sessions, frozen_clock, caplog
):
    [message_id] = queue(sessions, "Task 9 is overdue", to="idris.noor@council.example")

    with caplog.at_level(logging.INFO, logger="kinflow.email"):
        assert Postman(sessions, LogTransport()).send_due() == 1

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "kinflow.email")
    assert "idris.noor@council.example" in logged
    assert "Task 9 is overdue" in logged
    assert "/tasks/17" in logged
    sent = load(sessions, message_id)
    assert (sent.status, sent.sent_via) == ("sent", "log")


def test_list_and_counts_for_the_outbox_page(session, sessions, frozen_clock):
    first, second = queue(sessions, "Older", "Middle")
    frozen_clock.advance(minutes=5)
    [newest] = queue(sessions, "Newest")
    Postman(sessions, LogTransport()).send_due(limit=1)  # sends "Older", due first

    assert [m.subject for m in list_messages(session)] == ["Newest", "Middle", "Older"]
    assert [m.id for m in list_messages(session, status="pending")] == [newest, second]
    assert [m.id for m in list_messages(session, status="sent")] == [first]
    assert counts(session) == {"pending": 2, "sent": 1, "failed": 0}
    with pytest.raises(KinflowError, match="'lost'"):
        list_messages(session, status="lost")


def test_backoff_doubles_from_a_minute_up_to_an_hour():
    assert [backoff(n) for n in (1, 2, 3, 6, 7, 8, 50)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 32, 60, 60, 60)
    ]


@pytest.mark.parametrize(
    ("env", "host", "port", "starttls", "sender", "username"),
    [
        (
            {"KINFLOW_SMTP_HOST": "mail.example"},
            "mail.example",
            25,
            False,
            "kinflow@localhost",
            None,
        ),
        (
            {"KINFLOW_SMTP_HOST": "mail.example", "KINFLOW_SMTP_STARTTLS": "1"},
            "mail.example",
            587,
            True,
            "kinflow@localhost",
            None,
        ),
        (
            {
                "KINFLOW_SMTP_HOST": "mail.example",
                "KINFLOW_SMTP_PORT": "2525",
                "KINFLOW_SMTP_USERNAME": "fgc",
                "KINFLOW_SMTP_PASSWORD": "secret",
                "KINFLOW_MAIL_FROM": "fgc@council.example",
            },
            "mail.example",
            2525,
            False,
            "fgc@council.example",
            "fgc",
        ),
    ],
)
def test_transport_from_env_reads_the_smtp_settings(env, host, port, starttls, sender, username):
    transport = transport_from_env(env)
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.starttls) == (host, port, starttls)
    assert (transport.sender, transport.username) == (sender, username)


def test_transport_from_env_without_a_host_writes_to_the_log():
    assert isinstance(transport_from_env({}), LogTransport)
    assert isinstance(transport_from_env({"KINFLOW_SMTP_HOST": " "}), LogTransport)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KINFLOW_SMTP_PORT", "smtp"),
        ("KINFLOW_SMTP_PORT", "70000"),
        ("KINFLOW_SMTP_STARTTLS", "yes"),
    ],
)
def test_transport_from_env_names_a_bad_setting(name, value):
    with pytest.raises(KinflowError, match=f"{name} must be .*'{value}'"):
        transport_from_env({"KINFLOW_SMTP_HOST": "mail.example", name: value})
