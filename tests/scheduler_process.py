"""One scheduler in a process of its own, as ``kinflow scheduler`` runs it, until it is killed.

tests/test_scheduler_processes.py starts two of these against one database:
``python -m tests.scheduler_process DATABASE_URL SMTP_PORT MARKER``. The file ``MARKER`` is
created the first time this process becomes the active scheduler, so the test knows which of
the two to kill.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path

from engine.db import make_engine, make_sessionmaker
from engine.notifications.outbox import Postman, SmtpTransport
from engine.runtime import Runtime
from engine.scheduler import Scheduler, run_forever

SENDER = "kinflow@council.example"
LOOK_EVERY = timedelta(milliseconds=200)


def announce_leadership(scheduler: Scheduler, marker: Path) -> None:
    """Create ``marker`` once this scheduler holds the lock (it never says so otherwise)."""
    hold = scheduler.leadership.hold

    def hold_and_tell() -> bool:
        held = hold()
        if held and not marker.exists():
            marker.touch()
        return held

    scheduler.leadership.hold = hold_and_tell  # type: ignore[method-assign]


def main(url: str, smtp_port: int, marker: Path) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    postman = Postman(sessions, SmtpTransport("127.0.0.1", smtp_port, SENDER, timeout=10))
    scheduler = Scheduler(engine, sessions, Runtime(), postman, look_every=LOOK_EVERY)
    announce_leadership(scheduler, marker)
    run_forever(scheduler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
