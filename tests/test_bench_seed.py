"""``kinflow bench-seed`` at a small N: what it writes, and that seeded cases really work."""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.accounts import Team, User
from engine.actors import Actor
from engine.bench_seed import ARCHETYPES, bench_seed, check_may_seed
from engine.deploy import latest_version
from engine.errors import KinflowError
from engine.models import Case, CaseEvent, HumanTask, StageVisit, TaskCandidate, TaskState
from engine.projection import ready_ids
from engine.queries import get_case, get_task
from engine.record import models as record
from engine.seed_people import PASSWORD, STAFF, teams_and_users
from tests.web import login
from webapp.cli import main
from webapp.extensions import db

N = 200


@pytest.fixture
def seeded(app):
    """The app's database with N seeded families; yields (session, runtime, counts)."""
    with app.app_context():
        session = db.session()
        runtime = app.extensions["kinflow_runtime"]
        version = latest_version(session, "fgc_pathway")
        counts = bench_seed(session, runtime, version, N, batch=80)
        yield session, runtime, counts


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_rows_by_table_and_stages(seeded):
    session, _, counts = seeded
    archetypes = len(ARCHETYPES)
    assert _count(session, Case) == N + archetypes
    assert counts["cases"] == N
    for model in (record.Referral, HumanTask, TaskCandidate, StageVisit, CaseEvent):
        assert _count(session, model) >= counts[model.__tablename__] > 0
    assert counts["referrals"] == N
    # Every family has its adult and one to three children.
    assert 2 * N <= counts["people"] <= 4 * N
    users = session.scalar(select(func.count()).select_from(db.metadata.tables["users"]))
    assert users == counts["users"] == 200
    tasks_per_case = counts["human_tasks"] / N
    assert 6 <= tasks_per_case <= 14, tasks_per_case
    stages = Counter(session.scalars(select(Case.stage).where(Case.id > archetypes)))
    # Cases wait at many stages, and some have finished or wait for a date.
    assert len([s for s in stages if s]) >= 6, stages
    assert stages[None] > 0
    statuses = Counter(session.scalars(select(Case.status)))
    assert statuses["active"] > statuses["completed"] > 0


def test_every_task_belongs_to_a_case_and_matches_its_state(seeded):
    session, runtime, _ = seeded
    orphans = session.scalar(
        select(func.count(HumanTask.id)).where(HumanTask.case_id.not_in(select(Case.id)))
    )
    assert orphans == 0
    ready = session.scalars(select(HumanTask).where(HumanTask.state == TaskState.READY)).all()
    by_case: dict[int, set[str]] = {}
    for task in ready:
        by_case.setdefault(task.case_id, set()).add(task.spiff_task_id)
    assert len(by_case) > N // 10  # two years of referrals: most have finished
    for case_id, spiff_ids in by_case.items():
        case = get_case(session, case_id)
        workflow = runtime.codec.load_workflow(
            case.state, runtime.store.version(session, case.version_id).specs
        )
        assert ready_ids(workflow) == spiff_ids, case_id
    # No case shows a stage its workflow is not at, nor waits without an open task or a timer.
    stuck = session.scalar(
        select(func.count(Case.id)).where(
            Case.status == "active",
            Case.next_wake_at.is_(None),
            Case.id.not_in(select(HumanTask.case_id).where(HumanTask.state == TaskState.READY)),
        )
    )
    assert stuck == 0


# Form data for the open tasks a small seed is sure to have, and who may do them.
DONE_BY = {
    "hold_review": (
        {
            "held_on": "2026-11-20",
            "progress": [],
            "family_view": "Calmer.",
            "another_review": False,
        },
        "coordinator",
        "close_case",
    ),
    "acknowledge_referral": ({"acknowledged_on": "2026-11-20"}, "fgc_manager", "screen_referral"),
}


def test_a_seeded_task_completes_through_the_engine(seeded):
    session, runtime, _ = seeded
    ready = select(HumanTask).where(
        HumanTask.state == TaskState.READY, HumanTask.case_id > len(ARCHETYPES)
    )
    task = session.scalars(ready.where(HumanTask.element_id.in_(DONE_BY)).limit(1)).one()
    data, role, following = DONE_BY[task.element_id]
    form = runtime.task_form(session, task.id)
    assert form.task.id == task.id and form.schema
    runtime.complete_task(session, task.id, data, Actor.of(task.assignee or "manager.t0", role))
    open_now = session.scalars(
        select(HumanTask.element_id).where(
            HumanTask.case_id == task.case_id, HumanTask.state == TaskState.READY
        )
    ).all()
    assert open_now == [following]
    assert get_task(session, task.id).state == TaskState.COMPLETED


def test_seeded_case_and_task_pages_render(seeded, app):
    session, _, _ = seeded
    task = (
        session.scalars(
            select(HumanTask)
            .where(
                HumanTask.element_id == "hold_review",
                HumanTask.state == TaskState.READY,
                HumanTask.case_id > len(ARCHETYPES),
            )
            .limit(1)
        ).first()
        or session.scalars(
            select(HumanTask).where(
                HumanTask.state == TaskState.READY, HumanTask.role == "coordinator"
            )
        ).first()
    )
    client = app.test_client()
    response = login(client, task.assignee, PASSWORD)
    assert response.status_code == 302
    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200, page.data[:500]
    assert task.title.encode() in page.data
    case_page = client.get(f"/cases/{task.case_id}")
    assert case_page.status_code == 200
    inbox = client.get("/tasks")
    assert inbox.status_code == 200 and f"/tasks/{task.id}".encode() in inbox.data


def test_refuses_a_database_with_cases_unless_appending(seeded):
    session, _, _ = seeded
    with pytest.raises(KinflowError, match="--append"):
        check_may_seed(session, append=False)
    check_may_seed(session, append=True)


def test_the_command_refuses_outside_development_and_on_cases(app):
    runner = CliRunner()
    app.config["KINFLOW_ENV"] = "production"
    result = runner.invoke(main, ["bench-seed", "--cases", "5"], obj=_script_info(app))
    assert result.exit_code == 1 and "--force" in result.output
    app.config["KINFLOW_ENV"] = "development"
    result = runner.invoke(main, ["bench-seed", "--cases", "5"], obj=_script_info(app))
    assert result.exit_code == 0, result.output
    assert "rows inserted" in result.output and "cases: 5" in result.output
    assert "users: 200" in result.output
    assert "200 users (5 teams and service-wide roles; coord.t0.7 has left" in result.output
    assert "sign in with the password 'bench-only'" in result.output
    again = runner.invoke(main, ["bench-seed", "--cases", "5"], obj=_script_info(app))
    assert again.exit_code == 1 and "--append" in again.output


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_appending_and_new_cases_after_the_seed(seeded):
    session, runtime, _ = seeded
    version = latest_version(session, "fgc_pathway")
    before = _count(session, Case)
    counts = bench_seed(session, runtime, version, 10)
    assert counts["cases"] == 10
    assert _count(session, Case) == before + 10 + len(ARCHETYPES)
    highest = session.scalar(select(func.max(Case.id)))
    referrer = Actor.of("referrer.t0.0", "referrer")
    start = {"eligibility_rule": "stronger_families"}
    case = runtime.start_case(session, version, start, referrer, "A new family")
    assert case.id > highest  # PostgreSQL's sequence was moved past the seeded ids
    [task] = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)).all()
    assert task.id > session.scalar(
        select(func.max(HumanTask.id)).where(HumanTask.case_id != case.id)
    )


def test_the_service_has_200_workers_across_its_teams_and_roles(session):
    teams = teams_and_users(session)
    session.commit()
    users = session.scalars(select(User)).all()
    assert len(users) == 200
    roles = Counter(role for u in users for role in u.roles)
    # Per team: 20 coordinators, a manager and a deputy; lead practitioners 5 (10 in Central,
    # which has twice the families), referrers 10 (15 in Central); then the service-wide 5.
    assert roles == {
        "coordinator": 5 * 20,
        "fgc_manager": 5 * 2,
        "lead_practitioner": 4 * 5 + 10,
        "referrer": 4 * 10 + 15,
        "data_officer": 2,
        "process_owner": 2,
        "admin": 1,
    }
    by_team = Counter(u.team_id for u in users)
    assert [by_team[t] for t in teams] == [2 + 20 + 10 + 15] + [2 + 20 + 5 + 10] * 4
    assert by_team[None] == 5
    names = {u.username: u for u in users}
    # The names engine.seed_walk and the benchmarks rely on.
    for n, team in enumerate(teams):
        assert {names[f"coord.t{n}.{i}"].team_id for i in range(20)} == {team}
        assert names[f"manager.t{n}"].roles == ["fgc_manager"]
        assert names[f"referrer.t{n}.0"].roles == ["referrer"]
    assert names["coord.t0.3"].active and names["coord.t0.3"].team_id == teams[0]
    assert names["data.officer"].roles == ["data_officer"] and names["data.officer"].team_id is None
    assert [u.username for u in users if not u.active] == ["coord.t0.7"]
    assert len({u.display_name for u in users}) == 200
    assert names["coord.t1.3"].display_name == "Coordinator 3, North FGC"
    assert names["referrer.t0.1"].display_name == "Referrer 1 (school), Central FGC"


def test_seeding_again_adds_no_one_and_tops_up_an_older_smaller_staff(session):
    teams = teams_and_users(session)
    session.commit()
    assert teams_and_users(session) == teams
    assert session.scalar(select(func.count(User.id))) == 200
    # A database seeded before the deputies and the service-wide roles existed.
    older = [
        w.username for w in STAFF if w.username.startswith(("deputy.", "process.", "service."))
    ]
    session.execute(User.__table__.delete().where(User.username.in_(older)))
    session.commit()
    assert session.scalar(select(func.count(User.id))) == 200 - 5 - 2 - 1
    assert teams_and_users(session) == teams
    session.commit()
    assert session.scalar(select(func.count(User.id))) == 200
    assert session.scalar(select(func.count(Team.id))) == 5


def test_a_worker_of_every_role_signs_in_and_the_leaver_cannot(app):
    with app.app_context():
        teams_and_users(db.session())
        db.session.commit()
    first = {}
    for worker in STAFF:
        first.setdefault(worker.role, worker.username)
    assert len(first) == 7
    for username in first.values():
        client = app.test_client()
        assert login(client, username, PASSWORD).status_code == 302, username
    refused = login(app.test_client(), "coord.t0.7", PASSWORD)
    assert refused.status_code != 302
