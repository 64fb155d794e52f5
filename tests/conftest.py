"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

Set ``TEST_POSTGRES_URL`` (CI does) to run the PostgreSQL half; each test then gets a schema of
its own, so tests never see each other's rows.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from engine import clock
from engine.db import make_engine, make_sessionmaker, upgrade
from engine.deploy import deploy_paths
from engine.runtime import Runtime
from tests.people import OWNER

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
if os.environ.get("KINFLOW_REQUIRE_POSTGRES") and not POSTGRES_URL:
    raise RuntimeError("KINFLOW_REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not")


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():
    """Argon2 with small settings: the suite signs in hundreds of times. Production keeps the
    library's settings (tests/test_accounts.py checks what a stored hash looks like)."""
    from argon2 import PasswordHasher

    from engine import accounts

    accounts.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
        ),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of each kind (PostgreSQL: a schema of the test's own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kinflow.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty database of each kind."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db_engine: Engine):
    return make_sessionmaker(db_engine)


@pytest.fixture
def session(sessions) -> Iterator[Session]:
    with sessions() as s:
        yield s


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    """Monday 2 March 2026, 09:00 UTC, moved only by the test."""
    fake = clock.FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with clock.using(fake):
        yield fake


@pytest.fixture
def runtime() -> Runtime:
    return Runtime()


@pytest.fixture
def two_lanes(session: Session, runtime: Runtime):
    """The two-lane test process, deployed."""
    folder = FIXTURES / "two_lanes"
    deployed = deploy_paths(session, [folder], OWNER.username, runtime.codec, folder / "forms")
    return deployed[0].version


@functools.cache
def shipped_bundle():
    """The shipped workflows and forms, validated once per run (they do not change)."""
    from engine.validation import validate_paths

    return validate_paths([REPO / "workflows"], forms_dir=REPO / "forms")


@pytest.fixture
def app(db_url: str):
    """The web app on an empty, migrated database of each kind, with the pathway deployed."""
    from engine.deploy import deploy_bundle
    from webapp import create_app
    from webapp.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "SECRET_KEY": "test",
            "KINFLOW_DEPLOY_ON_START": False,
            "TESTING": True,
        }
    )
    with app.app_context():
        upgrade(db.engine)
        codec = app.extensions["kinflow_runtime"].codec
        deploy_bundle(db.session(), shipped_bundle(), OWNER.username, codec)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def workers(app):
    """The fictional workers of tests/web.py, by username."""
    from tests.web import add_workers
    from webapp.extensions import db

    with app.app_context():
        return {name: user.id for name, user in add_workers(db.session()).items()}


@pytest.fixture
def client(app, workers):
    return app.test_client()
