"""The fictional service of the bulk seeds: five teams and their 181 workers, and surnames.

Shared by ``kinflow bench-seed`` (``engine.bench_seed``) and the benchmarks, which sign in as
these users with ``PASSWORD``; it lives in the engine because the shipped command needs it.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.accounts import Team, User, set_password

TEAMS = ("Central FGC", "North FGC", "South FGC", "East FGC", "West FGC")
TEAM_WEIGHTS = (2, 1, 1, 1, 1)
PASSWORD = "bench-only"
FAMILIES = (
    "Ashdown", "Bexley", "Carver", "Dunmore", "Ellery", "Fairbank", "Gorton", "Hollins",
    "Ingram", "Jessop", "Kettering", "Lumley", "Marsden", "Norcott", "Oakley", "Pendry",
    "Quarry", "Rowntree", "Selwood", "Thorne", "Underhill", "Varley", "Whitmore", "Yardley",
)  # fmt: skip


def teams_and_users(session: Session) -> list[int]:
    """Add the five teams and their users (once: existing ones are reused); the team ids."""
    existing = {t.name: t.id for t in session.scalars(select(Team).where(Team.name.in_(TEAMS)))}
    if len(existing) == len(TEAMS):
        return [existing[name] for name in TEAMS]
    holder = User()
    set_password(holder, PASSWORD)
    team_ids = []
    users = [
        _user("data.officer", "data_officer", None, holder.password_hash),
    ]
    for n, name in enumerate(TEAMS):
        team = Team(name=name)
        session.add(team)
        session.flush()
        team_ids.append(team.id)
        users.append(_user(f"manager.t{n}", "fgc_manager", team.id, holder.password_hash))
        for role, prefix, count in (
            ("coordinator", "coord", 20),
            ("lead_practitioner", "lead", 5),
            ("referrer", "referrer", 10),
        ):
            for i in range(count):
                users.append(_user(f"{prefix}.t{n}.{i}", role, team.id, holder.password_hash))
    for user in users:
        if user["username"] == "coord.t0.7":  # left the service: their tasks need reassigning
            user["active"] = False
    session.execute(insert(User.__table__), users)
    return team_ids


def _user(username: str, role: str, team_id: int | None, password_hash: str | None) -> dict:
    return {
        "username": username,
        "display_name": username.replace(".", " ").title(),
        "roles": [role],
        "team_id": team_id,
        "active": True,
        "password_hash": password_hash,
        "failed_logins": 0,
    }
