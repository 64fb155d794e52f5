"""Five people at once on the embedded default (SQLite in WAL mode with a busy timeout).

Each simulated worker signs in, then loops: lists the tasks open to them (API), opens one
(the task page, which is audited), saves a draft and claims it (web forms, with the CSRF
token a browser would send), and completes it with a valid example answer (API); when no
task is left it starts a new case. Requests run through the app in-process, one Flask test
client per thread, against one SQLite file, so every write contends for the one database
lock. Counted: requests, expected refusals (someone else claimed or completed the task
first: 403/409), errors (any 5xx or a "database is locked" anywhere) and latency.

tests/test_sqlite_concurrency.py runs this briefly and asserts zero errors; run it longer
with ``python -m benchmarks.sqlite_users`` (``--seconds 60``, ``--write`` to store the
figures in ``benchmarks/results.json``).
"""

from __future__ import annotations

import logging
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine.accounts import User, get_or_create_team, set_password
from engine.tokens import create_token

USERS = 5
PASSWORD = "five people share one file"
TEAM = "Central FGC"
LOCKED = "database is locked"
EXPECTED_REFUSALS = (403, 409)


@dataclass
class Tally:
    """What the workers saw; shared by the threads under ``lock``."""

    requests: int = 0
    refusals: int = 0
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self, seconds: float) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms) or [0.0]
        return {
            "users": USERS,
            "seconds": round(seconds, 1),
            "requests": self.requests,
            "requests_per_second": round(self.requests / seconds, 1) if seconds else 0,
            "tasks_completed": self.completed,
            "expected_refusals": self.refusals,
            "errors": len(self.errors),
            "median_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "worst_ms": round(ordered[-1], 1),
        }


class LockedWatcher(logging.Handler):
    """Catches "database is locked" in anything the app logs (a 500 logs its traceback)."""

    def __init__(self, tally: Tally) -> None:
        super().__init__(logging.WARNING)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
        if record.levelno < logging.ERROR and LOCKED not in text:
            return
        with self.tally.lock:
            self.tally.errors.append(f"logged: {text[:300]}")


def add_people(app: Flask, count: int = USERS) -> list[tuple[str, str]]:
    """``count`` managers of one team who may also start cases; (username, API token) each."""
    from webapp.extensions import db

    with app.app_context():
        session = db.session()
        team = get_or_create_team(session, TEAM)
        holder = User()
        set_password(holder, PASSWORD)
        people = []
        for n in range(1, count + 1):
            person = User(
                username=f"sam{n}.concurrent",
                display_name=f"Sam Concurrent {n}",
                roles=["fgc_manager", "process_owner"],
                team_id=team.id,
                active=True,
                failed_logins=0,
                password_hash=holder.password_hash,
            )
            session.add(person)
            session.commit()
            people.append((person.username, create_token(session, person, "concurrency")[1]))
        return people


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    return found.group(1) if found else ""


class Worker:
    """One person in their own browser (a test client) with their own API token."""

    def __init__(self, app: Flask, username: str, token: str, tally: Tally, seed: int) -> None:
        self.client: FlaskClient = app.test_client()
        self.username, self.tally = username, tally
        self.api = {"Authorization": f"Bearer {token}"}
        self.random = random.Random(seed)
        self.csrf = ""

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        start = time.perf_counter()
        response = self.client.open(path, method=method, **kwargs)
        elapsed = (time.perf_counter() - start) * 1000
        body = response.get_data(as_text=True)
        with self.tally.lock:
            self.tally.requests += 1
            self.tally.latencies_ms.append(elapsed)
            if response.status_code >= 500 or LOCKED in body:
                self.tally.errors.append(f"{method} {path}: {response.status_code} {body[:200]}")
            elif response.status_code in EXPECTED_REFUSALS:
                self.tally.refusals += 1
        return response

    def sign_in(self) -> None:
        self.csrf = _csrf(self.call("GET", "/login").get_data(as_text=True))
        data = {"username": self.username, "password": PASSWORD, "csrf_token": self.csrf}
        self.call("POST", "/login", data=data)
        self.csrf = _csrf(self.call("GET", "/tasks").get_data(as_text=True)) or self.csrf

    def step(self, answers: Mapping[str, dict[str, Any]], process: str) -> None:
        listed = self.call("GET", "/api/v1/tasks?scope=available&limit=25", headers=self.api)
        tasks = (listed.get_json() or {}).get("tasks", [])
        if not tasks:
            body = {"process": process, "title": "Concurrent family"}
            self.call("POST", "/api/v1/cases", json=body, headers=self.api)
            return
        task = self.random.choice(tasks)
        task_id, key = task["id"], task["form_key"]
        self.call("GET", f"/tasks/{task_id}")
        draft = {"csrf_token": self.csrf, "note": f"typed by {self.username}"}
        self.call("POST", f"/tasks/{task_id}/draft", data=draft)
        self.call("POST", f"/tasks/{task_id}/claim", data={"csrf_token": self.csrf})
        done = self.call(
            "POST", f"/api/v1/tasks/{task_id}/complete", json=answers[key], headers=self.api
        )
        if done.status_code == 200:
            with self.tally.lock:
                self.tally.completed += 1


def run_people(
    app: Flask,
    people: list[tuple[str, str]],
    answers: Mapping[str, dict[str, Any]],
    process: str,
    keep_going: Callable[[int], bool],
) -> tuple[Tally, float]:
    """Every person in a thread of their own, stepping while ``keep_going(steps_done)``."""
    tally = Tally()
    watcher = LockedWatcher(tally)
    app.logger.addHandler(watcher)
    start = threading.Barrier(len(people))

    def work(index: int, username: str, token: str) -> None:
        worker = Worker(app, username, token, tally, seed=index)
        worker.sign_in()
        start.wait()
        steps = 0
        while keep_going(steps):
            worker.step(answers, process)
            steps += 1

    threads = [
        threading.Thread(target=work, args=(i, name, token))
        for i, (name, token) in enumerate(people)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.logger.removeHandler(watcher)
    return tally, time.perf_counter() - began


def measure(seconds: float, cases: int = 2) -> dict[str, Any]:
    """The workload for ``seconds`` on a fresh SQLite file with the all-forms process."""
    from engine.db import make_engine, upgrade
    from tests.fuzz_support import PROCESS, deploy_all_forms
    from tests.test_forms import EXAMPLES
    from webapp import create_app
    from webapp.extensions import db, runtime

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/users.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"}
        app = create_app(config | {"KINFLOW_DEPLOY_ON_START": False})
        with app.app_context():
            deploy_all_forms(db.session(), runtime(), Path(folder))
        people = add_people(app)
        deadline = time.perf_counter() + seconds
        tally, took = run_people(
            app, people, EXAMPLES, PROCESS, lambda _: time.perf_counter() < deadline
        )
        with app.app_context():
            db.engine.dispose()
    return tally.figures(took) | {"error_samples": tally.errors[:5]}


def summary_lines(results: dict[str, Any]) -> list[str]:
    r = results
    return [
        f"| {r['users']} people at once on SQLite (WAL, busy timeout) for {r['seconds']} s: "
        f"requests, tasks completed, errors (5xx or database locked), median / p95 "
        f"| {r['requests']:,} ({r['requests_per_second']}/s), {r['tasks_completed']:,}, "
        f"**{r['errors']}**, {r['median_ms']} / {r['p95_ms']} ms | zero errors |"
    ]


def run(postgres: bool = False, seconds: float = 60) -> dict[str, Any]:
    """For ``make bench``; ``postgres`` is ignored (this is the embedded default)."""
    return measure(seconds)


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--write", action="store_true", help="update benchmarks/results.json")
    args = parser.parse_args()
    figures = measure(args.seconds)
    print(json.dumps(figures, indent=2))
    if args.write:
        from benchmarks.malformed_bpmn import write

        write("sqlite_users", figures)
