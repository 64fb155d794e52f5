"""Database connections and schema migrations, for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine tuned for Kinflow's write pattern on either database."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    tune(engine)
    return engine


WRITE_OPTION = "kinflow_write"


def tune(engine: Engine) -> None:
    """Register per-connection settings; call before the engine's first connection.

    SQLite gets WAL (readers never block the writer) and a busy timeout. Transactions that
    will write start with BEGIN IMMEDIATE (see ``begin_write``): a deferred transaction that
    read first and writes later fails at once with "database is locked" when another writer
    got in between, whereas an immediate one waits its turn. Writes that do not go through
    ``begin_write`` (an audit row after a page's reads, a draft, a sign-in) get the same by
    ``_sqlite_first_write``.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_first_write)


def begin_write(session: Session) -> None:
    """End any transaction the session holds and start one that is going to write."""
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    writing = bool(connection.get_execution_options().get(WRITE_OPTION))
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")
    connection.info[_HOLDS_WRITE_LOCK] = writing


_HOLDS_WRITE_LOCK = "kinflow_holds_write_lock"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_SCHEMA_CHANGES = ("CREATE", "ALTER", "DROP")


def _sqlite_first_write(connection: Any, cursor: Any, statement: str, *_args: Any) -> None:
    """Restart a transaction that has only read as BEGIN IMMEDIATE before its first write.

    In WAL mode a deferred transaction that read and then writes fails at once with "database
    is locked" whenever another connection committed in between: the busy timeout does not
    apply to that upgrade. Requests that read, then write an audit row or a draft, hit it with
    only a few people at once. What was read is not lost by the restart (nothing was written
    yet); the write then waits its turn like every ``begin_write``. Not inside a SAVEPOINT,
    which a COMMIT would end.
    """
    if connection.info.get(_HOLDS_WRITE_LOCK, True) or connection.in_nested_transaction():
        return
    verb = statement.lstrip()[:7].upper()
    if verb.startswith(_SCHEMA_CHANGES):
        # A migration's DDL takes the write lock itself; committing before it would split
        # the migration's transaction.
        connection.info[_HOLDS_WRITE_LOCK] = True
        return
    if not verb.startswith(_WRITES):
        return
    raw = connection.connection.dbapi_connection
    raw.execute("COMMIT")
    raw.execute("BEGIN IMMEDIATE")
    connection.info[_HOLDS_WRITE_LOCK] = True


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations to ``engine``'s database (idempotent)."""
    command.upgrade(alembic_config(engine), revision)
