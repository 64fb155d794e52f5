"""Each test's own database, copied from templates that each test process builds once.

Running the Alembic migrations for every test cost ~0.3 s on SQLite and ~1.3 s on PostgreSQL
(whose DDL and ``DROP SCHEMA`` are slow), and nearly every test starts from the same point:
the migrated schema, often with the shipped pathway deployed. So each pytest process (each
xdist worker) builds those starting points once, with the real migrations and the real deploy,
and hands every test a copy of its own: on SQLite the template file, copied to the test's
``tmp_path`` (a millisecond); on PostgreSQL a schema of the test's own, renamed and refilled
from a template (tests/postgres_schemas.py).

Deployed versions get ``deployed_at`` set to the moment the test's fixture ran, on whatever
clock was active, as when the fixture deployed them itself. A database something already
wrote to is brought up the long way, as before. ``tests/test_schema.py`` still migrates an
empty database from scratch (``migrated_from_scratch``), as do the CLI's tests.
"""

from __future__ import annotations

import functools
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, update

from engine import clock
from engine.db import make_engine, make_sessionmaker, upgrade
from engine.deploy import deploy_bundle
from engine.models import ProcessVersion
from engine.state import StateCodec
from tests.people import OWNER

if TYPE_CHECKING:
    from tests.postgres_schemas import PostgresSchemas

REPO = Path(__file__).resolve().parents[1]
EMPTY, MIGRATED, DEPLOYED = "empty", "migrated", "deployed"
_LEVEL = {None: 0, EMPTY: 0, MIGRATED: 1, DEPLOYED: 2}


@functools.cache
def shipped_bundle():
    """The shipped workflows and forms, validated once per run (they do not change)."""
    from engine.validation import validate_paths

    return validate_paths([REPO / "workflows"], forms_dir=REPO / "forms")


@functools.cache
def _codec() -> StateCodec:
    return StateCodec()


def deploy_shipped(engine: Engine) -> None:
    """Deploy the shipped pathway as the web app's test fixture always has."""
    with make_sessionmaker(engine)() as session:
        deploy_bundle(session, shipped_bundle(), OWNER.username, _codec())


def build(engine: Engine, state: str) -> None:
    """Bring an empty database to ``state`` the long way: the migrations, then the deploy."""
    upgrade(engine)
    if state == DEPLOYED:
        deploy_shipped(engine)


def stamp_deployed_now(conn: Connection) -> None:
    """Date the deployed versions now, on the active clock, as a deploy in the test would."""
    conn.execute(update(ProcessVersion.__table__).values(deployed_at=clock.now()))


def postgres_url(base: str, schema: str) -> str:
    """The server's URL with ``schema`` first on the search path (unqualified names go there)."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


class SqliteTemplates:
    """Template files of this test process, one per state, built on first use."""

    def __init__(self, folder: Path):
        self.folder = folder

    @functools.cache  # noqa: B019  (one instance per test process, kept for the whole run)
    def file(self, state: str) -> Path:
        path = self.folder / f"{state}.db"
        engine = make_engine(f"sqlite:///{path}")
        build(engine, state)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        leftovers = [p for p in path.parent.glob(f"{path.name}-*") if p.stat().st_size]
        assert not leftovers, f"the template's journal was not emptied: {leftovers}"
        return path


class Templates:
    """The templates of this test process, for each kind of database."""

    def __init__(self, folder: Path, postgres: str | None):
        self.sqlite = SqliteTemplates(folder)
        self.postgres_base = postgres

    @functools.cached_property
    def postgres(self) -> PostgresSchemas:
        from tests.postgres_schemas import PostgresSchemas

        assert self.postgres_base, "TEST_POSTGRES_URL is not set"
        return PostgresSchemas(self.postgres_base)

    def close(self) -> None:
        if "postgres" in self.__dict__:
            self.postgres.close()


class TestDatabase:
    """One test's database: nothing until asked for, then empty, migrated or deployed."""

    __test__ = False  # not a test class, whatever pytest's name rules say

    def __init__(self, kind: str, tmp_path: Path, templates: Templates):
        self.kind = kind
        self.templates = templates
        self.state: str | None = None
        if kind == "sqlite":
            self.path = tmp_path / "kinflow.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.schema = f"t_{uuid.uuid4().hex[:12]}"
            self.url = postgres_url(templates.postgres_base or "", self.schema)

    def empty(self) -> str:
        """The URL of the database, made (empty) if nothing has made it yet."""
        if self.state is None:
            if self.kind == "postgresql":
                with self.templates.postgres.admin.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
            self.state = EMPTY
        return self.url

    def at_least(self, state: str) -> str:
        """Bring the database to ``state`` (migrated, or deployed too) and return its URL: from
        nothing by copying a template, otherwise by running the migrations and the deploy."""
        if _LEVEL[self.state] >= _LEVEL[state]:
            return self.url
        if _LEVEL[self.state] == 0 and self._copy_template(state):
            self.state = state
            return self.url
        self.empty()
        engine = make_engine(self.url)
        try:
            if self.state == EMPTY:
                upgrade(engine)
            if state == DEPLOYED:
                deploy_shipped(engine)
        finally:
            engine.dispose()
        self.state = state
        return self.url

    def _copy_template(self, state: str) -> bool:
        """Copy the template, unless something already wrote to this database."""
        if self.kind == "sqlite":
            if self.path.exists():
                return False
            shutil.copyfile(self.templates.sqlite.file(state), self.path)
            if state == DEPLOYED:
                engine = make_engine(self.url)
                with engine.begin() as conn:
                    stamp_deployed_now(conn)
                engine.dispose()
            return True
        try:
            self.templates.postgres.fill(self.schema, state)
        except RuntimeError:
            return False
        return True

    def close(self) -> None:
        """PostgreSQL: drop the schema, or reset it for the next test. (SQLite's file goes
        with ``tmp_path``.)"""
        if self.kind == "postgresql" and self.state is not None:
            if self.state == EMPTY:
                self.templates.postgres.drop(self.schema)
            else:
                self.templates.postgres.release(self.schema)
