"""Five people at once on the embedded default, SQLite in WAL mode with a busy timeout:
never a "database is locked", never a server error (and the same workload on PostgreSQL).

The workload is benchmarks/sqlite_users.py (sign in, list tasks, open one, save a draft,
claim it, complete it, start a case when none is left), here for a few steps per person in
threads, each with its own test client, on the test's database file. The benchmark runs it
for a minute and reports requests and latency; here only the behaviour is asserted.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from benchmarks.sqlite_users import add_people, run_people
from engine.db import begin_write, make_engine
from engine.models import HumanTask, TaskState
from tests.fuzz_support import PROCESS, deploy_all_forms, ready_task
from tests.test_forms import EXAMPLES
from tests.web import team_id
from webapp.extensions import db, runtime

STEPS = 6  # per person: about 150 requests in all


def test_five_people_at_once_get_no_locked_database_and_no_server_error(app, tmp_path):
    with app.app_context():
        deploy_all_forms(db.session(), runtime(), tmp_path)
    team = team_id(app, "Central FGC")
    people = add_people(app)
    with app.app_context():
        ready_task(db.session(), runtime(), "referral", team)  # one case open to begin with
    tally, _ = run_people(app, people, EXAMPLES, PROCESS, lambda steps: steps < STEPS)
    assert tally.errors == []
    assert tally.requests >= len(people) * STEPS * 2
    with app.app_context():
        completed = db.session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.state == TaskState.COMPLETED)
        )
        done_twice = db.session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.completed_by.is_(None))
            .where(HumanTask.state == TaskState.COMPLETED)
        )
    # Every completion the workers were told succeeded is stored, and none without its author.
    assert tally.completed > 0
    assert completed == tally.completed
    assert done_twice == 0


def test_a_transaction_that_read_first_waits_for_the_lock_instead_of_failing(tmp_path):
    """The heart of it, without the app: a deferred transaction that reads, then writes after
    another connection committed, used to fail at once with "database is locked"."""
    engine = make_engine(f"sqlite:///{tmp_path / 'two.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    reader, other = Session(engine), Session(engine)
    assert reader.scalar(text("SELECT count(*) FROM notes")) == 0  # deferred: a read snapshot
    begin_write(other)
    other.execute(text("INSERT INTO notes (body) VALUES ('first')"))
    finished = threading.Event()

    def commit_later() -> None:
        finished.wait(0.2)
        other.commit()

    threading.Thread(target=commit_later).start()
    reader.execute(text("INSERT INTO notes (body) VALUES ('second')"))  # waits, then writes
    finished.set()
    reader.commit()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM notes")) == 2
    reader.close()
    other.close()
    engine.dispose()
