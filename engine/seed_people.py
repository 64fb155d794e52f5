"""The fictional service of the bulk seeds: five teams and their 200 workers, and surnames.

Shared by ``kinflow bench-seed`` (``engine.bench_seed``) and the benchmarks, which sign in as
these users with ``PASSWORD``; it lives in the engine because the shipped command needs it.

The staff is shaped like a real FGC service, so pages that list people (the reassign list, the
board's coordinators, a manager's team) show what a service of issue 8's size shows: each team
has a manager and a deputy, twenty coordinators, lead practitioners and referrers from the
agencies that refer; the service as a whole has data officers, process owners and an admin.
Names describe the job and the team ("Coordinator 3, Central FGC"), so no one can mistake a
seeded worker for a real person. Usernames other code relies on stay as they were:
``coord.t{team}.{0-19}`` (``engine.seed_walk`` allocates cases to them), ``referrer.t{team}.0``,
``manager.t{team}``, ``data.officer``, ``coord.t0.3`` (the benchmarks sign in as them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.accounts import Team, User, set_password
from engine.roles import (
    ADMIN,
    COORDINATOR,
    DATA_OFFICER,
    FGC_MANAGER,
    LEAD_PRACTITIONER,
    PROCESS_OWNER,
    REFERRER,
)

TEAMS = ("Central FGC", "North FGC", "South FGC", "East FGC", "West FGC")
TEAM_WEIGHTS = (2, 1, 1, 1, 1)
PASSWORD = "bench-only"
FAMILIES = (
    "Ashdown", "Bexley", "Carver", "Dunmore", "Ellery", "Fairbank", "Gorton", "Hollins",
    "Ingram", "Jessop", "Kettering", "Lumley", "Marsden", "Norcott", "Oakley", "Pendry",
    "Quarry", "Rowntree", "Selwood", "Thorne", "Underhill", "Varley", "Whitmore", "Yardley",
)  # fmt: skip
# Twenty a team whatever the team's size: engine.seed_walk allocates to coord.t{team}.0-19.
COORDINATORS_PER_TEAM = 20
# Where referrals come from; a referrer's name says which agency they work for.
AGENCIES = ("social care", "school", "health visiting", "police", "housing")
# Who left the service: their open tasks are what a manager reassigns (tests and benchmarks).
LEFT = frozenset({"coord.t0.7"})


@dataclass(frozen=True)
class Worker:
    """One seeded user; ``team`` is an index into ``TEAMS``, None for service-wide roles."""

    username: str
    display_name: str
    role: str
    team: int | None

    @property
    def active(self) -> bool:
        return self.username not in LEFT


def _team_staff(n: int) -> list[Worker]:
    """A team's workers. Central carries twice the families (``TEAM_WEIGHTS``), so it has twice
    the lead practitioners and half as many referrers again as the other teams."""
    team = TEAMS[n]
    central = TEAM_WEIGHTS[n] > 1
    people = [
        Worker(f"manager.t{n}", f"FGC manager, {team}", FGC_MANAGER, n),
        Worker(f"deputy.t{n}", f"Deputy FGC manager, {team}", FGC_MANAGER, n),
    ]
    people += [
        Worker(f"coord.t{n}.{i}", f"Coordinator {i}, {team}", COORDINATOR, n)
        for i in range(COORDINATORS_PER_TEAM)
    ]
    people += [
        Worker(f"lead.t{n}.{i}", f"Lead practitioner {i}, {team}", LEAD_PRACTITIONER, n)
        for i in range(10 if central else 5)
    ]
    people += [
        Worker(
            f"referrer.t{n}.{i}",
            f"Referrer {i} ({AGENCIES[i % len(AGENCIES)]}), {team}",
            REFERRER,
            n,
        )
        for i in range(15 if central else 10)
    ]
    return people


STAFF: tuple[Worker, ...] = (
    Worker("data.officer", "Data officer 1", DATA_OFFICER, None),
    Worker("data.officer.2", "Data officer 2", DATA_OFFICER, None),
    Worker("process.owner", "Process owner 1", PROCESS_OWNER, None),
    Worker("process.owner.2", "Process owner 2", PROCESS_OWNER, None),
    Worker("service.admin", "Service admin", ADMIN, None),
    *(worker for n in range(len(TEAMS)) for worker in _team_staff(n)),
)


def teams_and_users(session: Session) -> list[int]:
    """Add the five teams and their users, each only if missing (a database seeded with fewer
    workers is topped up, and a second seed adds no one); the team ids in ``TEAMS`` order."""
    teams = {t.name: t for t in session.scalars(select(Team).where(Team.name.in_(TEAMS)))}
    for name in TEAMS:
        teams.setdefault(name, Team(name=name))
    session.add_all(teams.values())
    session.flush()
    team_ids = [teams[name].id for name in TEAMS]
    usernames = [w.username for w in STAFF]
    present = set(session.scalars(select(User.username).where(User.username.in_(usernames))))
    missing = [w for w in STAFF if w.username not in present]
    if missing:
        holder = User()
        set_password(holder, PASSWORD)  # argon2 is slow on purpose: hash once for everyone
        rows = [_user(w, team_ids, holder.password_hash) for w in missing]
        session.execute(insert(User.__table__), rows)
    return team_ids


def seeded_users(session: Session) -> int:
    """How many of ``STAFF`` the database holds (the command's output states it)."""
    usernames = [w.username for w in STAFF]
    return len(session.scalars(select(User.id).where(User.username.in_(usernames))).all())


def _user(worker: Worker, team_ids: list[int], password_hash: str | None) -> dict:
    return {
        "username": worker.username,
        "display_name": worker.display_name,
        "roles": [worker.role],
        "team_id": None if worker.team is None else team_ids[worker.team],
        "active": worker.active,
        "password_hash": password_hash,
        "failed_logins": 0,
    }
