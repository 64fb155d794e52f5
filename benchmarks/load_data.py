"""What the load run works on: the shipped pathway, managers with API tokens, referred cases.

Each case is started and its referral submitted through the engine, as the referral page does,
so it waits on the manager's three steps (acknowledge, screen, allocate): the work the load's
simulated managers race for. After allocation the case waits on its coordinator, whom the load
never plays, so a case gives exactly three completions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from engine.accounts import create_user
from engine.actors import Actor
from engine.deploy import deploy_paths
from engine.models import ProcessVersion
from engine.queries import list_tasks
from engine.runtime import Runtime
from engine.tokens import create_token
from tests.test_pathway_walkthrough import ACCEPT, ACKNOWLEDGED, ALLOCATION, REFERRAL

ROOT = Path(__file__).resolve().parent.parent
ONE_TIMER = Path(__file__).parent / "diagrams" / "one_timer"
REFERRER = Actor.of("load.referrer", "referrer")
COORDINATOR = "load.coordinator"
OWNER = "load.owner"

# The valid body for each step the simulated managers do, by element id (the walkthrough's).
ANSWERS: dict[str, dict[str, Any]] = {
    "acknowledge_referral": ACKNOWLEDGED,
    "screen_referral": ACCEPT,
    "allocate_coordinator": ALLOCATION | {"coordinator": COORDINATOR},
}


@dataclass
class LoadData:
    """The pathway and the managers' tokens (by username) in one database."""

    pathway: ProcessVersion
    tokens: dict[str, str] = field(default_factory=dict)


def schema_url(base_url: str, engine: Engine) -> str:
    """A URL another process can use to reach the same schema as ``engine``."""
    with engine.connect() as conn:
        schema = conn.execute(text("SHOW search_path")).scalar_one()
    joiner = "&" if "?" in base_url else "?"
    return f"{base_url}{joiner}options=-csearch_path%3D{schema}"


def prepare(sessions: sessionmaker[Session], runtime: Runtime, managers: int) -> LoadData:
    """Deploy the shipped diagrams; add the referrer, a coordinator and token-holding managers."""
    with sessions() as session:
        deployed = deploy_paths(session, [ROOT / "workflows"], OWNER, runtime.codec, ROOT / "forms")
        [pathway] = [d.version for d in deployed if d.version.process_id == "fgc_pathway"]
        create_user(session, REFERRER.username, "Load Referrer", ["referrer"])
        create_user(session, COORDINATOR, "Load Coordinator", ["coordinator"])
        data = LoadData(pathway)
        for n in range(managers):
            name = f"load.manager{n:02d}"
            user = create_user(session, name, f"Load Manager {n:02d}", ["fgc_manager"])
            data.tokens[name] = create_token(session, user, "load")[1]
        session.commit()
    return data


def refer(sessions: sessionmaker[Session], runtime: Runtime, pathway: ProcessVersion) -> int:
    """One referred case waiting on its manager; returns the case id."""
    with sessions() as session:
        case = runtime.start_case(
            session, pathway, {"eligibility_rule": "stronger_families"}, REFERRER, "Load family"
        )
        [task] = list_tasks(session, case_id=case.id)
        runtime.complete_task(session, task.id, REFERRAL, REFERRER)
        session.commit()
        return case.id


def timer_case(sessions: sessionmaker[Session], runtime: Runtime, due_at: datetime) -> int:
    """A case of the one-timer diagram whose timer falls due at ``due_at``; returns its id."""
    folder = ONE_TIMER
    with sessions() as session:
        [deployed] = deploy_paths(session, [folder], OWNER, runtime.codec, folder / "forms")
        case = runtime.start_case(
            session, deployed.version, {"due_at": due_at.isoformat()}, REFERRER, "Timer"
        )
        session.commit()
        return case.id
