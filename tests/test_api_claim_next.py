"""Claim my next task (``POST /api/v1/tasks/next/claim``): the most urgent task the caller may
pick up, in one request, and never the same task for two callers at once.

The frozen clock is Monday 2 March 2026, 09:00 UTC. A standard referral gives the manager 2
working days to acknowledge it (due Wednesday 4 March, 09:00), a pre-proceedings one 1 working
day (due Tuesday 3 March, 09:00): workflows/timescales.dmn.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from werkzeug.serving import make_server

from benchmarks import load_client, load_data
from benchmarks.invariants import check
from engine import next_task
from engine.accounts import create_user
from engine.audit import AuditEntry
from engine.db import make_sessionmaker
from engine.errors import ConcurrentChange
from engine.models import HumanTask
from engine.runtime import Runtime
from engine.tokens import create_token
from tests.test_api import as_, open_task, refer
from tests.test_api import tokens as tokens  # the fixture: a token for every worker
from tests.test_pathway_walkthrough import ACKNOWLEDGED, REFERRAL
from tests.web import TEAM, login
from webapp.extensions import db

NEXT = "/api/v1/tasks/next/claim"
URGENT = {"referral_type": "pre_proceedings"}  # 1 working day to acknowledge, not 2
TUESDAY_9 = "2026-03-03T09:00:00+00:00"
WEDNESDAY_9 = "2026-03-04T09:00:00+00:00"


def referral(client, tokens, family: str, username: str = "riley.referrer", **changes) -> int:
    """A referral of ``family`` (its case's team is the referrer's); returns the case id."""
    data = REFERRAL | {"family_name": family} | changes
    answer = refer(client, tokens, username, data)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["case"]["id"]


def claim_next(client, headers: dict[str, str], **filters: str):
    return client.post(NEXT, query_string=filters, headers=headers)


def acknowledgement(client, tokens, case_id: int) -> dict:
    return open_task(client, tokens, "morgan.manager", case_id, "acknowledge_referral")


@pytest.fixture
def second_manager(app, tokens) -> dict[str, str]:
    """Max, a second manager of Morgan's team, with a token (added to ``tokens``)."""
    with app.app_context():
        session = db.session()
        user = create_user(session, "max.manager", "Max Manager", ["fgc_manager"], TEAM)
        tokens["max.manager"] = create_token(session, user, "tests")[1]
    return as_(tokens, "max.manager")


def test_the_next_task_is_the_most_urgent_i_may_pick_up_and_each_claim_gets_another(
    client, tokens, frozen_clock
):
    routine = referral(client, tokens, "Ashdown")
    urgent = referral(client, tokens, "Brook", **URGENT)  # made later, due sooner
    # Mel's referral is her own team's (North): the most urgent of all, but not Morgan's.
    north = referral(client, tokens, "Carr", "mel.manager", **URGENT)
    morgan = as_(tokens, "morgan.manager")

    first = client.post(NEXT, headers=morgan)
    assert first.status_code == 200
    body = first.get_json()
    assert body["task"]["id"] == acknowledgement(client, tokens, urgent)["id"]
    assert (body["task"]["element_id"], body["task"]["assignee"]) == (
        "acknowledge_referral",
        "morgan.manager",
    )
    assert body["task"]["due_at"] == TUESDAY_9
    # As GET /tasks/<id> shows it: the case, the form to fill in, no draft yet.
    assert body["case"]["id"] == urgent
    assert "acknowledged_on" in body["form_schema"]["properties"]
    assert body["draft"] is None

    second = client.post(NEXT, headers=morgan).get_json()
    assert second["task"]["id"] == acknowledgement(client, tokens, routine)["id"]
    assert second["task"]["due_at"] == WEDNESDAY_9

    nothing = client.post(NEXT, headers=morgan)
    assert nothing.status_code == 204
    assert nothing.get_data() == b""

    # North's task waited for North's manager all along.
    mels = client.post(NEXT, headers=as_(tokens, "mel.manager")).get_json()
    assert (mels["case"]["id"], mels["task"]["assignee"]) == (north, "mel.manager")


def test_a_task_someone_holds_is_never_handed_out(client, tokens, second_manager, frozen_clock):
    older = referral(client, tokens, "Ashdown")
    newer = referral(client, tokens, "Brook")  # due at the same moment: the older goes first
    morgan = as_(tokens, "morgan.manager")
    held = acknowledgement(client, tokens, older)["id"]
    assert client.post(f"/api/v1/tasks/{held}/claim", headers=morgan).status_code == 200

    maxs = client.post(NEXT, headers=second_manager).get_json()
    assert maxs["task"]["id"] == acknowledgement(client, tokens, newer)["id"]
    assert maxs["task"]["assignee"] == "max.manager"
    # Morgan already holds the older one: it is in his inbox, not offered to him again.
    assert client.post(NEXT, headers=morgan).status_code == 204


def test_roles_that_pick_up_none_of_the_waiting_tasks_get_nothing(client, tokens):
    referral(client, tokens, "Ashdown")  # waits for an FGC manager of the Central team
    for username in ("dana.data", "casey.coordinator", "riley.referrer", "ada.admin"):
        assert client.post(NEXT, headers=as_(tokens, username)).status_code == 204, username
    morgan = as_(tokens, "morgan.manager")
    # Narrowed to a role's tasks, Morgan gets only tasks offered to that role as well as his.
    assert claim_next(client, morgan, role="coordinator").status_code == 204
    assert client.post(NEXT, headers=morgan).status_code == 200


def test_without_a_valid_token_nothing_is_claimed(app, client, tokens):
    case_id = referral(client, tokens, "Ashdown")
    for headers in ({}, {"Authorization": "Bearer kf_not-a-real-token"}):
        answer = client.post(NEXT, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="kinflow"')
    assert acknowledgement(client, tokens, case_id)["assignee"] is None


def test_filters_narrow_the_next_task_and_bad_ones_are_named(client, tokens, frozen_clock):
    waiting = referral(client, tokens, "Ashdown")
    screened = referral(client, tokens, "Brook")
    morgan = as_(tokens, "morgan.manager")
    ack = acknowledgement(client, tokens, screened)
    done = client.post(f"/api/v1/tasks/{ack['id']}/complete", json=ACKNOWLEDGED, headers=morgan)
    assert done.status_code == 200
    # Brook's screening is due Wednesday 09:00 like Ashdown's acknowledgement, which is older
    # and so first; the filters pass over Ashdown's.
    picked = claim_next(client, morgan, family="brOOK").get_json()
    assert (picked["case"]["id"], picked["task"]["element_id"]) == (screened, "screen_referral")
    assert claim_next(client, morgan, stage="Screening and allocation").status_code == 204
    assert claim_next(client, morgan, due="none").status_code == 204
    last = claim_next(client, morgan, stage="Referral and eligibility").get_json()
    assert (last["case"]["id"], last["task"]["element_id"]) == (waiting, "acknowledge_referral")

    refused = {
        "scope": "mine",
        "assignee": "morgan.manager",
        "role": "wizard",
        "due": "yesterday",
        "stage": "Screening\x00",
    }
    for name, value in refused.items():
        answer = claim_next(client, morgan, **{name: value})
        assert answer.status_code == 400, name
        assert answer.get_json()["message"].startswith(f"{name}: "), name


def test_the_claimed_task_is_in_my_inbox_and_the_chronology_says_i_claimed_it(app, client, tokens):
    case_id = referral(client, tokens, "Ashdown")
    morgan = as_(tokens, "morgan.manager")
    task = client.post(NEXT, headers=morgan).get_json()["task"]

    mine = client.get("/api/v1/tasks", headers=morgan).get_json()
    assert [(t["id"], t["assignee"]) for t in mine["tasks"]] == [(task["id"], "morgan.manager")]
    available = client.get("/api/v1/tasks?scope=available", headers=morgan).get_json()
    assert available["tasks"] == []
    assert login(client, "morgan.manager").status_code == 302
    assert "Ashdown" in client.get("/tasks").get_data(as_text=True)  # the inbox page, mine

    record = client.get(f"/api/v1/cases/{case_id}", headers=morgan).get_json()
    lines = [(e["actor"], e["summary"]) for e in record["chronology"]]
    assert ("morgan.manager", "morgan.manager claimed 'Acknowledge the referral'.") in lines
    with app.app_context():
        looks = db.session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.via == "api")
        )
        assert ("morgan.manager", "claim_task") in {(e.username, e.action) for e in looks}


def test_two_managers_at_the_same_moment_get_different_tasks_and_no_409(
    app, client, tokens, second_manager
):
    cases = [referral(client, tokens, f"Family {n}") for n in range(6)]
    waiting = {acknowledgement(client, tokens, case_id)["id"] for case_id in cases}
    callers = [as_(tokens, "morgan.manager"), second_manager]
    rounds = len(waiting) // len(callers) + 1  # the last round finds nothing left
    together = threading.Barrier(len(callers))
    got: list[list[tuple[int, int | None]]] = [[] for _ in callers]
    failures: list[BaseException] = []

    def work(n: int) -> None:
        own = app.test_client()  # each caller its own client, as two systems would be
        try:
            for _ in range(rounds):
                together.wait(timeout=30)
                answer = own.post(NEXT, headers=callers[n])
                body = answer.get_json(silent=True)
                got[n].append((answer.status_code, body["task"]["id"] if body else None))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)
            together.abort()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(callers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    answers = [pair for mine in got for pair in mine]
    claimed = [task_id for status, task_id in answers if status == 200]
    assert sorted(status for status, _ in answers) == [200] * 6 + [204] * 2
    assert len(claimed) == len(set(claimed)) and set(claimed) == waiting
    with app.app_context():
        holders = db.session.scalars(select(HumanTask.assignee).where(HumanTask.id.in_(waiting)))
        assert sorted(holders) == sorted(
            ["morgan.manager" if (200, t) in got[0] else "max.manager" for t in waiting]
        )


def test_a_task_another_claim_has_locked_is_passed_over_without_waiting(
    app, client, tokens, database
):
    if database.kind != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite lets one writer in at a time")
    first = acknowledgement(client, tokens, referral(client, tokens, "Ashdown"))["id"]
    second = acknowledgement(client, tokens, referral(client, tokens, "Brook"))["id"]
    answers: list = []

    def claim() -> None:
        answers.append(client.post(NEXT, headers=as_(tokens, "morgan.manager")))

    with app.app_context(), db.engine.connect() as other:
        # Another claim in the middle of its transaction holds the first task's row.
        other.execute(
            text("SELECT id FROM human_tasks WHERE id = :id FOR UPDATE"), {"id": first}
        ).one()
        claiming = threading.Thread(target=claim)
        claiming.start()
        claiming.join(timeout=20)
        still_waiting = claiming.is_alive()
        other.rollback()  # lets a claim that waited finish, so the test ends either way
    claiming.join(timeout=60)
    assert not still_waiting, "the claim waited for the other transaction's lock"
    assert answers[0].status_code == 200
    assert answers[0].get_json()["task"]["id"] == second


def test_after_five_tasks_taken_under_it_the_caller_is_told_to_ask_again(
    app, client, tokens, monkeypatch
):
    case_id = referral(client, tokens, "Ashdown")
    tries: list[int] = []

    def always_taken(session, task, actor):
        tries.append(task.id)
        session.rollback()  # as the real claim does when its compare-and-set finds it taken
        raise ConcurrentChange(f"Task '{task.title}' was just claimed or changed by someone else.")

    monkeypatch.setattr(next_task, "claim_read", always_taken)
    answer = client.post(NEXT, headers=as_(tokens, "morgan.manager"))
    assert answer.status_code == 409
    assert "ask again" in answer.get_json()["message"]
    assert len(tries) == 5
    assert acknowledgement(client, tokens, case_id)["assignee"] is None


def test_the_load_benchmarks_workers_claiming_next_do_every_manager_step_once_without_a_409(
    app,
):
    """``python -m benchmarks.load --claim next``, in small: four managers, three cases."""
    runtime = app.extensions["kinflow_runtime"]
    with app.app_context():
        sessions = make_sessionmaker(db.engine)
    data = load_data.prepare(sessions, runtime, 4)
    for _ in range(3):
        load_data.refer(sessions, runtime, data.pathway)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tally = load_client.Tally()
        while len(tally.acknowledged) < 9 and tally.idle_lists < 20:
            load_client.run(server.port, list(data.tokens.values()), 1.0, tally, claim="next")
    finally:
        server.shutdown()
    assert tally.errors() == {}
    assert tally.statuses["list"] == {}  # nobody listed
    assert tally.statuses["claim"]["409"] == 0
    # Three manager steps a case (acknowledge, screen, allocate), each completed once.
    assert len(tally.acknowledged) == 9 == len(set(tally.acknowledged))
    with sessions() as session:
        assert check(session, Runtime(), tally.acknowledged) == []
