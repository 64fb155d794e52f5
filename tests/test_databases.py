"""The tests' databases: a copied template is what the migrations and the deploy make, and no
test sees the rows, ids or changed tables of the test before it (tests/databases.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from engine import clock
from engine.accounts import Team
from engine.db import make_engine, make_sessionmaker
from engine.models import ProcessVersion
from tests.databases import DEPLOYED, MIGRATED, Templates, TestDatabase, build


def another(database: TestDatabase, templates: Templates, folder: Path) -> TestDatabase:
    folder.mkdir()
    return TestDatabase(database.kind, folder, templates)


def shape(engine: Engine) -> dict:
    """Tables with their columns, indexes, unique constraints and foreign keys, as reflected."""
    found = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)),
            sorted(str(u["column_names"]) for u in found.get_unique_constraints(table)),
            sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in found.get_foreign_keys(table)
            ),
        )
        for table in sorted(found.get_table_names())
    }


def contents(engine: Engine) -> dict:
    with engine.connect() as conn:
        versions = conn.execute(
            select(
                ProcessVersion.id,
                ProcessVersion.process_id,
                ProcessVersion.version,
                ProcessVersion.content_hash,
                ProcessVersion.deployed_by,
            ).order_by(ProcessVersion.id)
        ).all()
        stamp = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return {"versions": versions, "alembic": stamp}


def next_team_id(engine: Engine) -> int:
    """Add a team; its id is where the sequence (SQLite: the table's rowids) stands."""
    with make_sessionmaker(engine)() as session:
        team = Team(name=f"Probe FGC {uuid.uuid4().hex[:8]}")
        session.add(team)
        session.commit()
        return team.id


def test_a_copy_is_what_the_migrations_and_the_deploy_make(database, database_templates, tmp_path):
    scratch = make_engine(database.empty())
    build(scratch, DEPLOYED)
    copied = another(database, database_templates, tmp_path / "copy")
    copy = make_engine(copied.at_least(DEPLOYED))
    try:
        assert shape(copy) == shape(scratch)
        assert contents(copy) == contents(scratch)
        assert len(contents(copy)["versions"]) >= 1
        assert next_team_id(copy) == next_team_id(scratch) == 1
        with scratch.begin() as conn:
            conn.execute(text("DELETE FROM teams"))
        with copy.begin() as conn:
            conn.execute(text("DELETE FROM teams"))
        assert next_team_id(copy) == next_team_id(scratch)  # 2 on PostgreSQL, 1 on SQLite
    finally:
        copy.dispose()
        scratch.dispose()
        copied.close()


def test_the_next_test_sees_no_rows_and_no_ids_of_the_last(database, database_templates, tmp_path):
    first = another(database, database_templates, tmp_path / "first")
    engine = make_engine(first.at_least(DEPLOYED))
    for _ in range(3):
        next_team_id(engine)
    engine.dispose()
    first.close()

    second = another(database, database_templates, tmp_path / "second")
    engine = make_engine(second.at_least(MIGRATED))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM teams")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM process_versions")).scalar() == 0
        assert next_team_id(engine) == 1
    finally:
        engine.dispose()
        second.close()


def test_a_connection_left_open_cannot_reach_the_next_tests_schema(database_templates, tmp_path):
    if not database_templates.postgres_base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    first = TestDatabase("postgresql", tmp_path, database_templates)
    left_open = make_engine(first.at_least(MIGRATED)).connect()
    left_open.commit()
    first.close()
    second = TestDatabase("postgresql", tmp_path, database_templates)
    second.at_least(MIGRATED)
    try:
        with pytest.raises(SQLAlchemyError, match="teams"):
            left_open.execute(text("INSERT INTO teams (name) VALUES ('Stray FGC')"))
    finally:
        left_open.close()
        second.close()


def test_a_schema_whose_tables_a_test_changed_is_dropped_not_reused(database_templates, tmp_path):
    if not database_templates.postgres_base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    schemas = database_templates.postgres
    changed = TestDatabase("postgresql", tmp_path, database_templates)
    engine = make_engine(changed.at_least(MIGRATED))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE teams ADD COLUMN motto TEXT"))
    engine.dispose()
    spares = list(schemas.spares)
    with pytest.warns(UserWarning, match="changed the tables"):
        changed.close()
    assert schemas.spares == spares
    with schemas.admin.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :name"),
            {"name": changed.schema},
        ).scalar()
    assert found == 0


def test_versions_are_dated_when_the_fixture_ran_on_its_clock(
    database, database_templates, tmp_path
):
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with clock.using(clock.FrozenClock(moment)):
        engine = make_engine(database.at_least(DEPLOYED))
    try:
        with engine.connect() as conn:
            dates = conn.execute(select(ProcessVersion.deployed_at)).scalars().all()
        assert dates and set(dates) == {moment}
    finally:
        engine.dispose()
