"""Sends the email outbox: each message claimed by a conditional update, then sent, with retries.

Messages are written to the ``outbox`` table in the same transaction as the change that caused
them; the ``Postman`` sends them later. Delivery is at-least-once: a message is claimed (its
attempt counted and its next attempt pushed back) and committed before the server is spoken to,
so two senders never send it at once, and a sender that dies mid-send leaves it to be retried
after the back-off, which may deliver it twice but never loses it.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import clock
from engine.db import begin_write
from engine.errors import KinflowError, NotFound
from engine.notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger("kinflow.email")
STATUSES = (OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED)


class Transport(Protocol):
    name: str

    def send(self, to_address: str, subject: str, body: str) -> None: ...


@dataclass
class SmtpTransport:
    """Plain-text UTF-8 email through an SMTP server; ``send`` raises when it is not accepted."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 30
    name = "smtp"

    def send(self, to_address: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to_address
        message["Subject"] = subject
        message["Date"] = format_datetime(clock.now())
        # make_msgid() without a domain asks DNS for this host's name, which can hang.
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or "localhost")
        # Quoted-printable keeps the message 7-bit, so servers without 8BITMIME take it too.
        message.set_content(body, cte="quoted-printable")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class LogTransport:
    """Development without an SMTP server: a message is "sent" by writing it to the log."""

    name = "log"

    def send(self, to_address: str, subject: str, body: str) -> None:
        log.info("Email to %s\nSubject: %s\n\n%s", to_address, subject, body)


def transport_from_env(env: Mapping[str, str]) -> SmtpTransport | LogTransport:
    """The transport the ``KINFLOW_SMTP_*`` settings describe; no host means the log."""
    host = env.get("KINFLOW_SMTP_HOST", "").strip()
    if not host:
        return LogTransport()
    starttls_text = env.get("KINFLOW_SMTP_STARTTLS", "0").strip() or "0"
    if starttls_text not in ("0", "1"):
        raise KinflowError(f"KINFLOW_SMTP_STARTTLS must be 1 or 0, not {starttls_text!r}.")
    starttls = starttls_text == "1"
    port_text = env.get("KINFLOW_SMTP_PORT", "").strip()
    if not port_text:
        port = 587 if starttls else 25
    elif port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise KinflowError(
            f"KINFLOW_SMTP_PORT must be a port number (1 to 65535), not {port_text!r}."
        )
    return SmtpTransport(
        host,
        port,
        env.get("KINFLOW_MAIL_FROM", "").strip() or "kinflow@localhost",
        username=env.get("KINFLOW_SMTP_USERNAME") or None,
        password=env.get("KINFLOW_SMTP_PASSWORD") or None,
        starttls=starttls,
    )


def backoff(attempt: int) -> timedelta:
    """Wait after the ``attempt``-th try: 1 minute, doubling, at most an hour."""
    return min(timedelta(minutes=2 ** min(max(attempt, 1) - 1, 6)), timedelta(hours=1))


class Postman:
    """Sends due outbox messages through ``transport``; failed for good after ``max_attempts``."""

    def __init__(
        self, sessions: sessionmaker[Session], transport: Transport, max_attempts: int = 10
    ):
        self.sessions = sessions
        self.transport = transport
        self.max_attempts = max_attempts

    def next_due(self) -> datetime | None:
        """When the earliest pending message is next due (None: nothing pending)."""
        with self.sessions() as session:
            return session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.status == OutboxStatus.PENDING
                )
            )

    def send_due(self, limit: int = 100) -> int:
        """Send up to ``limit`` due messages, oldest due first; returns how many were sent."""
        now = clock.now()
        with self.sessions() as session:
            due = session.execute(
                select(OutboxMessage.id, OutboxMessage.attempts)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            ).all()
        sent = 0
        for message_id, seen in due:
            claimed = self._claim(message_id, seen)
            if claimed is None:
                continue  # another sender has it
            try:
                self.transport.send(*claimed)
            except Exception as error:
                reason = describe(error)
                log.warning("Email %s not sent: %s", message_id, reason)
                self._failed(message_id, reason)
                if _server_down(error):
                    self._defer_due(reason)
                    break
                continue
            self._write(
                OutboxMessage.id == message_id,
                status=OutboxStatus.SENT,
                sent_at=clock.now(),
                sent_via=self.transport.name,
                last_error=None,
            )
            sent += 1
        return sent

    def _claim(self, message_id: int, seen: int) -> tuple[str, str, str] | None:
        now = clock.now()
        with self.sessions() as session:
            begin_write(session)
            claimed = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.attempts == seen,
                    OutboxMessage.next_attempt_at <= now,
                )
                .values(attempts=seen + 1, next_attempt_at=now + backoff(seen + 1))
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                session.rollback()
                return None
            message = session.get_one(OutboxMessage, message_id, populate_existing=True)
            fields = (message.to_address, message.subject, message.body)
            session.commit()
            return fields

    def _failed(self, message_id: int, reason: str) -> None:
        gave_up = OutboxMessage.attempts >= self.max_attempts
        self._write(
            OutboxMessage.id == message_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            last_error=reason,
            status=case((gave_up, OutboxStatus.FAILED), else_=OutboxMessage.status),
        )

    def _defer_due(self, reason: str) -> None:
        # The server is down: the rest would fail the same way, so rather than each being
        # tried in turn they all wait a first back-off, without an attempt counted.
        now = clock.now()
        self._write(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            next_attempt_at=now + backoff(1),
            last_error=reason,
        )

    def _write(self, *where: ColumnElement[bool], **values: object) -> None:
        with self.sessions() as session:
            begin_write(session)
            session.execute(
                update(OutboxMessage)
                .where(*where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            session.commit()


def _server_down(error: Exception) -> bool:
    """Whether the server could not be reached at all (rather than refusing one message)."""
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


# Most specific first: SMTPException is itself an OSError.
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "SMTP server refused connection"),
    (TimeoutError, "SMTP server did not answer in time"),
    (smtplib.SMTPAuthenticationError, "SMTP server refused the login"),
    (smtplib.SMTPRecipientsRefused, "SMTP server refused the recipient"),
    (smtplib.SMTPException, "SMTP error"),
    (OSError, "Could not reach the SMTP server"),
)


def describe(error: Exception) -> str:
    """A short, one-line reason for the outbox page."""
    prefix = next((p for kind, p in _REASONS if isinstance(error, kind)), type(error).__name__)
    return " ".join(f"{prefix}: {error}".split())[:500]


def list_messages(
    session: Session, status: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    """Outbox messages, newest first, optionally only those with ``status``."""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status is not None:
        if status not in STATUSES:
            raise KinflowError(f"Unknown outbox status {status!r}: use pending, sent or failed.")
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query.limit(limit)))


def counts(session: Session) -> dict[str, int]:
    """How many messages are pending, sent and failed (every status present)."""
    found = dict(
        session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    return {status: found.get(status, 0) for status in STATUSES}


def retry(session: Session, message_id: int) -> OutboxMessage:
    """Put a failed (or pending) message back in the queue, due now, with its attempts reset."""
    begin_write(session)
    # Locked, so a sender marking it sent meanwhile cannot be undone by this (PostgreSQL).
    message = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    if message is None:
        session.rollback()
        raise NotFound(f"There is no outbox message {message_id}.")
    if message.status == OutboxStatus.SENT:
        session.rollback()
        raise KinflowError(f"Message {message_id} was already sent; it is not sent again.")
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = clock.now()
    session.commit()
    return message
