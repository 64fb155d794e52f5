"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

Set ``TEST_POSTGRES_URL`` (CI does) to run the PostgreSQL half; each test then gets a schema of
its own, so tests never see each other's rows. Migrated databases are copies of templates built
once per test process (see tests/databases.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine import clock
from engine.db import make_engine, make_sessionmaker, upgrade
from engine.deploy import deploy_paths
from engine.runtime import Runtime
from tests.databases import DEPLOYED, MIGRATED, Templates, TestDatabase
from tests.databases import REPO as REPO  # tests import REPO and shipped_bundle from here
from tests.databases import shipped_bundle as shipped_bundle
from tests.people import OWNER

FIXTURES = Path(__file__).parent / "fixtures"
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


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """The migrated (and deployed) databases this test process copies for each test."""
    templates = Templates(tmp_path_factory.mktemp("templates"), POSTGRES_URL)
    yield templates
    templates.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
        ),
    ]
)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, database_templates: Templates
) -> Iterator[TestDatabase]:
    """The test's own database of each kind; ``db_url``, ``db_engine`` and ``app`` fill it."""
    database = TestDatabase(request.param, tmp_path, database_templates)
    yield database
    database.close()


@pytest.fixture
def db_url(database: TestDatabase) -> str:
    """The URL of an empty database of each kind (PostgreSQL: a schema of the test's own);
    the same database that ``db_engine`` or ``app`` migrate when the test uses them too."""
    return database.empty()


@pytest.fixture
def db_engine(database: TestDatabase) -> Iterator[Engine]:
    """A migrated, empty database of each kind."""
    engine = make_engine(database.at_least(MIGRATED))
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_from_scratch(db_url: str) -> Iterator[Engine]:
    """An empty database of each kind that the Alembic migrations are run on here, in the
    test, rather than copied from a template; for the tests of the migrations themselves."""
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


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, shared by every test's app for the whole run: each new app
    would compile every page it renders again, a third of a page test's time. Jinja compares
    each template's source with the checksum kept here, so an edited template is recompiled."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


@pytest.fixture
def app(database: TestDatabase):
    """The web app on an empty, migrated database of each kind, with the pathway deployed."""
    from webapp import create_app
    from webapp.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database.at_least(DEPLOYED),
            "SECRET_KEY": "test",
            "KINFLOW_DEPLOY_ON_START": False,
            "TESTING": True,
        }
    )
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
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
