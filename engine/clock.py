"""The engine's sense of time, injectable so tests drive timers without sleeping.

SpiffWorkflow's timer definitions call ``datetime.now(timezone.utc)`` inside their own module.
``install()`` swaps that module's ``datetime`` for a subclass whose ``now`` asks the current
clock, so timers, due dates and chronology all read one clock.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo


class Clock:
    """Wall-clock time, always timezone-aware (naive datetimes shift with the server's zone)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs timezone-aware times")
        self._now = moment


SYSTEM_CLOCK = Clock()
_current: contextvars.ContextVar[Clock] = contextvars.ContextVar(
    "kinflow_clock", default=SYSTEM_CLOCK
)


def now() -> datetime:
    """The current time on the active clock."""
    return _current.get().now()


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Run a block with ``clock`` as the active clock (for this thread or task only)."""
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


class _ClockDatetime(datetime):
    """``datetime`` whose ``now()`` reads the active Kinflow clock."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = _current.get().now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


def install() -> None:
    """Point SpiffWorkflow's timer module at the Kinflow clock (idempotent)."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _ClockDatetime
